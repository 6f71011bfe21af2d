"""The event loop: readiness from `selectors`, one timer heap, and steps run before each sleep.

Each turn waits for readiness or the next timer, lets every ready handler do
its I/O, runs the timers that are due, then runs the before-sleep steps in the
order they were added (the server delivers chat lines, drops recipients that
could not take them, and closes what was marked for closing there; batched
store writes will go there too). An exception while serving one handler is
that handler's alone: it is told (`handle_error`) and the loop goes on.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import selectors
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

log = logging.getLogger("chatroom.server")

T = TypeVar("T")


class Handler(Protocol):
    """Something the loop watches: a listener, a connection, the signal pipe."""

    def handle_io(self, mask: int) -> None:
        """The selector said it is ready for `mask` (EVENT_READ | EVENT_WRITE)."""

    def handle_error(self, error: Exception) -> None:
        """handle_io raised `error`: clean up this handler alone."""


class EventLoop:
    """One thread's loop. `clock` is injectable so tests can move time by hand."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.selector = selectors.DefaultSelector()
        self.clock = clock
        self._timers: list[tuple[float, int, Callable[[Any], None], Any]] = []
        self._sequence = itertools.count()  # ties in time run in the order they were set
        self._before_sleep: list[Callable[[], None]] = []
        self._wake_at: float | None = None
        self._ready: list[Handler] = []  # readable without select() knowing (bytes held in a transport)

    def close(self) -> None:
        self.selector.close()

    def now(self) -> float:
        return self.clock()

    # -- what is watched ---------------------------------------------------------------------

    def watch(self, fileobj: Any, events: int, handler: Handler) -> None:
        self.selector.register(fileobj, events, handler)

    def rewatch(self, fileobj: Any, events: int, handler: Handler) -> None:
        self.selector.modify(fileobj, events, handler)

    def unwatch(self, fileobj: Any) -> None:
        self.selector.unregister(fileobj)

    # -- time ----------------------------------------------------------------------------------

    def call_at(self, when: float, callback: Callable[[T], None], arg: T) -> None:
        """Run `callback(arg)` once `when` has passed (the callback checks whether it still applies).

        There is no cancelling: a timer that no longer applies finds that out
        when it runs, which costs less than removing it from the heap.
        """
        heapq.heappush(self._timers, (when, next(self._sequence), callback, arg))

    def call_later(self, delay: float, callback: Callable[[T], None], arg: T) -> None:
        self.call_at(self.clock() + delay, callback, arg)

    def wake_by(self, when: float) -> None:
        """Sleep no later than `when` this time (a before-sleep step that has work due then)."""
        if self._wake_at is None or when < self._wake_at:
            self._wake_at = when

    def mark_readable(self, handler: Handler) -> None:
        """Dispatch `handler` for reading next turn without waiting: its transport holds bytes
        already read from the socket (decrypted TLS records), which select() cannot see."""
        self._ready.append(handler)

    def before_sleep(self, step: Callable[[], None]) -> None:
        """Run `step` at the end of every turn, before the loop waits again."""
        self._before_sleep.append(step)

    # -- turning -------------------------------------------------------------------------------

    def run_once(self, max_wait: float | None = None) -> None:
        """One turn: wait (at most `max_wait`), do the ready I/O, run due timers, then the steps."""
        for key, mask in self.selector.select(self._timeout(max_wait)):
            handler = key.data
            try:
                handler.handle_io(mask)
            except Exception as error:
                self._contain(handler, error)
        if self._ready:
            ready, self._ready = self._ready, []
            for handler in ready:
                try:
                    handler.handle_io(selectors.EVENT_READ)
                except Exception as error:
                    self._contain(handler, error)
        self._run_timers()
        for step in self._before_sleep:
            try:
                step()
            except Exception:
                log.exception("Unexpected error in %s; still serving", getattr(step, "__qualname__", step))

    def _timeout(self, max_wait: float | None) -> float | None:
        wake_at, self._wake_at = self._wake_at, None
        if self._ready:
            return 0.0
        if self._timers:
            first = self._timers[0][0]
            wake_at = first if wake_at is None else min(wake_at, first)
        if wake_at is not None:
            wait = max(0.0, wake_at - self.clock())
            return wait if max_wait is None else min(wait, max_wait)
        return max_wait

    def _run_timers(self) -> None:
        timers = self._timers
        if not timers:
            return
        now = self.clock()
        while timers and timers[0][0] <= now:
            _, _, callback, arg = heapq.heappop(timers)
            try:
                callback(arg)
            except Exception as error:
                handle_error = getattr(arg, "handle_error", None)
                if handle_error is not None:
                    self._contain(arg, error)
                else:
                    log.exception("Unexpected error in a timer (%s); still serving", callback)

    def _contain(self, handler: Handler, error: Exception) -> None:
        try:
            handler.handle_error(error)
        except Exception:
            log.exception("Unexpected error while cleaning up after %r; still serving", handler)
