"""The event loop's timers, before-sleep steps and containment of failures, with a hand-moved clock."""

from __future__ import annotations

import logging
import socket

import pytest

from chatroom.net.loop import EventLoop


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_timers_run_once_due_in_time_order_and_ties_in_the_order_they_were_set() -> None:
    clock = Clock()
    loop = EventLoop(clock)
    ran: list[str] = []
    loop.call_at(102.0, ran.append, "late")
    loop.call_at(101.0, ran.append, "first")
    loop.call_at(101.0, ran.append, "second")
    loop.run_once(0)
    assert ran == []
    clock.now = 101.5
    loop.run_once(0)
    assert ran == ["first", "second"]
    clock.now = 102.0
    loop.run_once(0)
    assert ran == ["first", "second", "late"]
    loop.close()


def test_the_loop_sleeps_until_the_next_timer_or_wake_up_and_no_longer() -> None:
    clock = Clock()
    loop = EventLoop(clock)
    assert loop._timeout(None) is None  # nothing to wait for: block until I/O
    assert loop._timeout(5.0) == 5.0
    loop.call_later(3.0, print, "x")
    assert loop._timeout(None) == pytest.approx(3.0)
    loop.wake_by(101.0)
    assert loop._timeout(None) == pytest.approx(1.0)
    assert loop._timeout(None) == pytest.approx(3.0), "a wake-up applies to one sleep only"
    loop.close()


def test_before_sleep_steps_run_every_turn_in_the_order_added_after_the_timers() -> None:
    clock = Clock()
    loop = EventLoop(clock)
    ran: list[str] = []
    loop.call_at(100.0, ran.append, "timer")
    loop.before_sleep(lambda: ran.append("deliver"))
    loop.before_sleep(lambda: ran.append("reap"))
    loop.run_once(0)
    loop.run_once(0)
    assert ran == ["timer", "deliver", "reap", "deliver", "reap"]
    loop.close()


class Exploding:
    def __init__(self) -> None:
        self.errors: list[Exception] = []

    def handle_io(self, mask: int) -> None:
        raise RuntimeError("bug in a handler")

    def handle_error(self, error: Exception) -> None:
        self.errors.append(error)


def test_a_handler_that_raises_is_told_and_the_loop_goes_on() -> None:
    loop = EventLoop(Clock())
    ours, theirs = socket.socketpair()
    theirs.send(b"ready")
    handler = Exploding()
    loop.watch(ours, 1, handler)
    ran: list[str] = []
    loop.before_sleep(lambda: ran.append("step"))
    loop.run_once(1.0)
    assert [str(error) for error in handler.errors] == ["bug in a handler"]
    assert ran == ["step"]
    loop.close()
    ours.close()
    theirs.close()


def test_a_timer_or_step_that_raises_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    loop = EventLoop(clock)
    handler = Exploding()

    def broken_timer(arg: Exploding) -> None:
        raise ValueError("bug in a timer")

    def broken_step() -> None:
        raise KeyError("bug in a step")

    ran: list[str] = []
    loop.call_at(100.0, broken_timer, handler)  # its argument is a handler: it is told
    loop.call_at(100.0, broken_timer, None)  # type: ignore[misc]
    loop.call_at(100.0, ran.append, "next timer")
    loop.before_sleep(broken_step)
    loop.before_sleep(lambda: ran.append("next step"))
    with caplog.at_level(logging.ERROR, logger="chatroom"):
        loop.run_once(0)
    assert [str(error) for error in handler.errors] == ["bug in a timer"]
    assert ran == ["next timer", "next step"]
    assert sum("still serving" in record.getMessage() for record in caplog.records) == 2
    loop.close()


class Counting:
    def __init__(self) -> None:
        self.masks: list[int] = []

    def handle_io(self, mask: int) -> None:
        self.masks.append(mask)

    def handle_error(self, error: Exception) -> None:
        raise AssertionError(error)


def test_a_handler_marked_readable_is_dispatched_next_turn_without_waiting() -> None:
    """For transports that hold bytes select() cannot see (decrypted TLS records)."""
    loop = EventLoop(Clock())
    handler = Counting()
    loop.mark_readable(handler)
    assert loop._timeout(None) == 0.0
    loop.run_once()  # would block forever if the mark did not stop it waiting
    assert handler.masks == [1]
    loop.run_once(0)
    assert handler.masks == [1], "a mark is for one turn"
    loop.close()
