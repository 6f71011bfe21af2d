"""The full-screen client (chatroom --tui), driven headless with Textual's pilot.

Most tests talk to `FakeServer`, a few lines of CHAT/1.0 on a thread that
records what it receives and sends what the test tells it to; one talks to
the real server in a child process. Nothing sleeps for a fixed time: every
wait is for a condition, with a deadline.

Regenerate the snapshot with `pytest tests/test_tui.py --snapshot-update`, and
the screenshot in the docs with
`CHATROOM_TUI_SCREENSHOT=docs/images/tui.svg pytest tests/test_tui.py -k docs_screenshot`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ParamSpec

import pytest

pytest.importorskip("textual")

from rich.style import Style
from rich.text import Text
from support.processes import ServerProcess
from support.procfs import unused_port
from textual.pilot import Pilot
from textual.widgets import Static

from chatroom.client import commands, render, tui_app
from chatroom.client.session import NoticeKind
from chatroom.client.tui import MISSING_TEXTUAL, run_tui, textual_missing
from chatroom.client.tui_app import (
    OFFER_TEXT,
    ChatApp,
    ChatInput,
    Farewell,
    Streams,
)
from chatroom.client.tui_text import (
    ERROR_STYLE,
    MENTION_STYLE,
    OWN_TEXT_STYLE,
    SERVER_STYLE,
    Phase,
    chat_text,
    incoming_text,
    name_style,
    notice_texts,
    status_text,
)
from chatroom.protocol.address import ChatAddress

ROOT = Path(__file__).resolve().parent.parent
REGISTER = "REGISTER alice CHAT/1.1"
DISCONNECT = "DISCONNECT alice CHAT/1.1"
WIDE = (120, 24)  # wide enough that no line of these tests wraps in the message pane
WAIT_S = 5.0  # deadline for any one condition; they normally hold within milliseconds
P = ParamSpec("P")


class FakeServer:
    """Just enough of a server: answers REGISTER with `reply` and records every line.

    It sends no events of its own; a test sends the CHAT/1.1 events it wants.
    With `only_chat_1_0` it is a server that knows only CHAT/1.0: anything but a
    CHAT/1.0 REGISTER is answered `400 Invalid registration` and closed.
    """

    def __init__(
        self, reply: bytes = b"200 Registration successful\n", *, only_chat_1_0: bool = False
    ) -> None:
        self.reply = reply
        self.only_chat_1_0 = only_chat_1_0
        self.lines: list[str] = []
        self.registrations = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._conn: socket.socket | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> ChatAddress:
        return ChatAddress("127.0.0.1", self.port)

    def send(self, data: bytes) -> None:
        assert self._conn is not None, "no client connected"
        self._conn.sendall(data)

    def drop(self) -> None:
        """Close the client's connection without a word."""
        assert self._conn is not None, "no client connected"
        self._conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        if self._conn is not None:
            self._conn.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conn = conn
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        pending = b""
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    self.lines.append(line.decode())
                    if line.startswith(b"REGISTER "):
                        self.registrations += 1
                        if self.only_chat_1_0 and not line.endswith(b" CHAT/1.0"):
                            conn.sendall(b"400 Invalid registration\n")
                            return  # and close, as such a server does
                        conn.sendall(self.reply)


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer()
    yield server
    server.close()


def async_test(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test function on a fresh event loop (no asyncio plugin needed)."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 20))

    return run


async def until(pilot: Pilot[int], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until `condition()` holds; fail after WAIT_S seconds."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await pilot.pause(0.01)


def pane_has(app: ChatApp, text: str) -> Callable[[], bool]:
    return lambda: any(text in line for line in app.pane_lines())


async def registered(pilot: Pilot[int], app: ChatApp) -> None:
    await until(pilot, lambda: app.phase is Phase.REGISTERED, "the app is registered")


async def type_line(pilot: Pilot[Any], line: str) -> None:
    """Put `line` into the input box (as a paste would; key by key is slow) and press Enter."""
    pilot.app.query_one(ChatInput).insert_text_at_cursor(line)
    await pilot.press("enter")


# Sessions against the fake server -------------------------------------------------------


@async_test
async def test_registering_shows_registered_in_the_status_bar(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        assert fake.lines == [REGISTER]
        assert pane_has(app, "Registration successful.  Ready for messaging!")()
        status = app.export_screenshot()
        assert "registered" in status and "alice" in status


@async_test
async def test_a_typed_line_is_sent_as_a_chat_line_and_shown_as_ones_own(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        await pilot.press(*"hi [b]bob[/b]!", "enter")
        await until(pilot, lambda: len(fake.lines) == 2, "the server got the line")
        assert fake.lines[1] == "@alice: hi [b]bob[/b]!"
        assert pane_has(app, "@alice: hi [b]bob[/b]!")()
        assert app.query_one(ChatInput).value == ""


@async_test
async def test_incoming_lines_of_one_read_appear_in_order(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        fake.send(b"@bob: hi\n@carol: hello @alice\n403 Not your username\n")
        await until(pilot, pane_has(app, "403 Not your username"), "the burst is shown")
        lines = app.pane_lines()
        bob, carol, notice = (
            lines.index("@bob: hi"),
            lines.index("@carol: hello @alice"),
            lines.index("403 Not your username"),
        )
        assert bob < carol < notice


@async_test
async def test_new_lines_follow_the_end_but_leave_a_scrolled_back_view_alone(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=(80, 20)) as pilot:
        await registered(pilot, app)
        pane = app.messages
        for burst in range(5):  # reads faster than the screen refreshes
            app.show([incoming_text(f"@bob: burst {burst} line {n}", "alice") for n in range(20)])
        assert pane.max_scroll_y > 0 and pane.scroll_offset.y == pane.max_scroll_y
        await pilot.pause()
        assert pane.scroll_offset.y == pane.max_scroll_y
        pane.scroll_home(animate=False)
        await pilot.pause()
        fake.send(b"@bob: while you read\n")
        await until(pilot, pane_has(app, "while you read"), "the line arrives")
        assert pane.scroll_offset.y == 0
        await type_line(pilot, "back to the end")  # your own line brings you back
        await pilot.pause()
        assert pane.scroll_offset.y == pane.max_scroll_y


@async_test
async def test_help_is_shown_and_nothing_is_sent(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        await type_line(pilot, "!help")
        await until(pilot, pane_has(app, "The client's commands (never sent to the server):"), "help shown")
        await type_line(pilot, "after")  # the server sees this line, and nothing before it
        await until(pilot, lambda: len(fake.lines) >= 2, "the server got a line")
        assert fake.lines == [REGISTER, "@alice: after"]


@async_test
async def test_a_command_for_the_server_is_sent_as_typed(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        await type_line(pilot, "!join #dev")
        await until(pilot, lambda: len(fake.lines) == 2, "the server got the line")
        assert fake.lines[1] == "@alice: !join #dev"


@async_test
async def test_the_status_bar_shows_the_room_once_the_server_says_we_are_in_it(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        assert app.room is None
        fake.send(b"210 You are now in #dev (1 member).\n")
        await until(pilot, lambda: app.room == "#dev", "the app knows the room")
        assert "│  #dev" in app._status().plain
        assert pane_has(app, "210 You are now in #dev (1 member).")()


@async_test
async def test_double_bang_sends_a_line_starting_with_one_bang(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        await type_line(pilot, "!!important")
        await until(pilot, lambda: len(fake.lines) == 2, "the server got the line")
        assert fake.lines[1] == "@alice: !!important"  # the server removes one '!'
        assert pane_has(app, "@alice: !important")()


@async_test
async def test_clear_empties_the_pane(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        await type_line(pilot, "!clear")
        await until(pilot, lambda: app.pane_lines() == [], "the pane is empty")
        assert fake.lines == [REGISTER]


@async_test
async def test_up_and_down_walk_through_the_lines_sent(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        entry = app.query_one(ChatInput)
        await type_line(pilot, "one")
        await type_line(pilot, "two")
        await pilot.press(*"new")
        seen = []
        for key in ("up", "up", "up", "down", "down"):
            await pilot.press(key)
            seen.append(entry.value)
        assert seen == ["two", "one", "one", "two", "new"]
        assert entry.cursor_position == len("new")
        assert entry.history == ["one", "two"]


@async_test
async def test_server_disconnect_is_shown_and_ends_the_session_with_status_0(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        pane = app.messages
        fake.send(b"@bob: bye all\nDISCONNECT CHAT/1.0\n")
        await until(pilot, lambda: app.return_value is not None, "the app exits")
    assert app.return_value == 0
    assert app.farewell is not None and not app.farewell.error
    assert app.farewell.text == "Disconnected from server ... exiting!"
    assert "@bob: bye all" in [strip.text for strip in pane.lines]


@pytest.mark.parametrize(
    "keys",
    [("ctrl+c",), ("ctrl+d",), ("ctrl+q",), (*"!exit", "enter")],
    ids=["ctrl-c", "ctrl-d", "ctrl-q", "!exit"],
)
@async_test
async def test_leaving_says_disconnect_and_exits_0(fake: FakeServer, keys: tuple[str, ...]) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        await pilot.press(*keys)
        await until(pilot, lambda: app.return_value is not None, "the app exits")
    assert app.return_value == 0
    assert app.farewell is None
    deadline = time.monotonic() + WAIT_S
    while DISCONNECT not in fake.lines and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.lines == [REGISTER, DISCONNECT]


@async_test
async def test_ctrl_d_deletes_when_the_line_is_not_empty(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        await pilot.press(*"abc", "home", "ctrl+d")
        assert app.query_one(ChatInput).value == "bc"
        assert app.return_value is None


@async_test
async def test_a_lost_connection_offers_reconnect_and_r_registers_again(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        fake.drop()
        await until(pilot, lambda: app.phase is Phase.DISCONNECTED, "the app sees the loss")
        assert pane_has(app, "Lost the connection: the server closed the connection.")()
        assert pane_has(app, OFFER_TEXT)()
        assert app.query_one(ChatInput).disabled
        await until(pilot, lambda: "Reconnect" in app.export_screenshot(), "the footer offers it too")
        await pilot.press("r")
        await registered(pilot, app)
        assert fake.registrations == 2
        assert app.attempts == 2
        await type_line(pilot, "back again")
        await until(pilot, lambda: fake.lines[-1:] == ["@alice: back again"], "the new session chats")


@async_test
async def test_quitting_after_a_lost_connection_exits_1(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        fake.drop()
        await until(pilot, lambda: app.phase is Phase.DISCONNECTED, "the app sees the loss")
        await pilot.press("q")
        await until(pilot, lambda: app.return_value is not None, "the app exits")
    assert app.return_value == 1
    assert app.farewell is not None and app.farewell.error
    assert app.farewell.text == "Lost the connection: the server closed the connection."


@async_test
async def test_r_and_q_are_typed_as_text_while_connected(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        await pilot.press("r", "q")
        assert app.query_one(ChatInput).value == "rq"
        assert app.attempts == 1 and app.return_value is None


@async_test
async def test_a_refused_registration_is_shown_and_quitting_exits_1() -> None:
    server = FakeServer(reply=b"401 Client already registered\n")
    try:
        app = ChatApp("alice", server.address)
        async with app.run_test(size=WIDE) as pilot:
            await until(pilot, lambda: app.phase is Phase.DISCONNECTED, "the refusal arrives")
            assert pane_has(app, "Registration refused: 401 Client already registered")()
            await pilot.press("ctrl+c")
            await until(pilot, lambda: app.return_value is not None, "the app exits")
        assert app.return_value == 1
    finally:
        server.close()


@async_test
async def test_a_refused_connection_says_so_in_one_sentence() -> None:
    port = unused_port()
    app = ChatApp("alice", ChatAddress("127.0.0.1", port))
    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: app.phase is Phase.DISCONNECTED, "the connection fails")
        assert pane_has(app, f"Cannot connect to 127.0.0.1:{port}: connection refused")()
        await pilot.press("q")
        await until(pilot, lambda: app.return_value is not None, "the app exits")
    assert app.return_value == 1


@async_test
async def test_any_failure_to_connect_is_one_sentence_not_a_traceback() -> None:
    async def broken(address: ChatAddress) -> Streams:
        raise UnicodeError("label too long")

    app = ChatApp("alice", ChatAddress("x" * 70 + ".example", 1), opener=broken)
    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: app.phase is Phase.DISCONNECTED, "the attempt fails")
        assert pane_has(app, "label too long.")()


# CHAT/1.1: rooms, members, kinds of lines ---------------------------------------------

LOBBY_ENTERED = (
    b"JOINED #lobby alice\nMEMBERS #lobby alice bob carol dave\nMEMBERS-END #lobby 4 on\n"
    b"HISTORY #lobby 2026-11-30T08:01:10Z bob anyone up?\nHISTORY-END #lobby 1\n"
)
DEV_ENTERED = (
    b"210 You are now in #dev (2 members).\nJOINED #dev alice\nMEMBERS #dev alice carol\n"
    b"MEMBERS-END #dev 2 on\nTOPIC #dev release on Friday\nHISTORY-END #dev 0\n"
)


def panel(app: ChatApp, which: str) -> str:
    """The plain text of the room list ('#rooms') or the member list ('#members')."""
    return str(app.query_one(which, Static).content)


async def in_two_rooms(pilot: Pilot[int], app: ChatApp, fake: FakeServer) -> None:
    await registered(pilot, app)
    fake.send(LOBBY_ENTERED)
    await until(pilot, lambda: app.room == "#lobby", "alice is in the lobby")
    fake.send(DEV_ENTERED)
    await until(pilot, lambda: app.room == "#dev", "and in #dev, which is shown")
    await until(
        pilot, pane_has(app, "* Topic of #dev: release on Friday"), "with its topic (the last line of it)"
    )


@async_test
async def test_the_room_list_and_the_member_list_follow_the_events(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=(100, 24)) as pilot:
        await registered(pilot, app)
        assert "(none yet)" in panel(app, "#rooms")
        fake.send(LOBBY_ENTERED)
        await until(pilot, lambda: "▸ #lobby" in panel(app, "#rooms"), "the lobby is listed")
        lobby = ["#lobby · 4", "alice", "bob", "carol", "dave"]
        await until(pilot, lambda: panel(app, "#members").split("\n") == lobby, "its members are listed")
        assert "│  #lobby  │  4 users" in app._status().plain
        fake.send(b"JOINED #lobby erin\nLEFT #lobby bob\n")
        await until(pilot, lambda: "erin" in panel(app, "#members"), "erin is listed")
        assert "bob" not in panel(app, "#members")
        assert pane_has(app, "* erin joined #lobby")() and pane_has(app, "* bob left #lobby")()
        fake.send(DEV_ENTERED)
        await until(pilot, lambda: "▸ #dev" in panel(app, "#rooms"), "#dev is shown")
        assert panel(app, "#rooms").split("\n") == ["Rooms", "  #lobby", "▸ #dev"]
        dev = ["#dev · 2", "alice", "carol"]
        await until(pilot, lambda: panel(app, "#members").split("\n") == dev, "with its members")


@async_test
async def test_each_room_has_its_own_pane_and_ctrl_n_switches_rooms(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=(100, 24)) as pilot:
        await in_two_rooms(pilot, app, fake)
        assert not pane_has(app, "anyone up?")(), "the lobby's lines are in the lobby's pane"
        fake.send(b"MSG #lobby bob over here\nMSG #lobby bob and here\n")
        await until(pilot, lambda: "#lobby 2" in panel(app, "#rooms"), "two unread lines in the lobby")
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.room == "#lobby", "the lobby is shown")
        await until(pilot, lambda: fake.lines[-1:] == ["@alice: !join #lobby"], "the server follows")
        assert pane_has(app, "@bob: over here")() and pane_has(app, "anyone up?")()
        assert "▸ #lobby" in panel(app, "#rooms") and "#dev" in panel(app, "#rooms")
        assert "#lobby 2" not in panel(app, "#rooms"), "read now"
        fake.send(b"210 You are now in #lobby (4 members).\n")  # the answer to the switch
        await type_line(pilot, "hi lobby")
        await until(pilot, lambda: fake.lines[-1:] == ["@alice #lobby: hi lobby"], "said in the lobby")
        assert not pane_has(app, "210 You are now in #lobby")(), "a switch's reply is not shown"
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.room == "#dev", "back in #dev")
        assert pane_has(app, "release on Friday")() and not pane_has(app, "hi lobby")()


@async_test
async def test_private_history_and_other_rooms_lines_look_distinct(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address, now=lambda: datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc))
    async with app.run_test(size=(100, 24)) as pilot:
        await in_two_rooms(pilot, app, fake)
        fake.send(b"PRIVATE bob psst\nFOLLOWED #ops dave deploy\n")
        await until(pilot, pane_has(app, "[private] @bob: psst"), "the private line")
        assert pane_has(app, "[#ops] @dave: deploy")()
        await pilot.press("ctrl+p")
        await until(pilot, pane_has(app, "[08:01] @bob: anyone up?"), "the history line with its time")


@async_test
async def test_tab_completes_in_the_input_box_and_a_second_tab_lists(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=(100, 24)) as pilot:
        await in_two_rooms(pilot, app, fake)
        entry = app.query_one(ChatInput)
        await pilot.press(*"!jo", "tab")
        assert entry.value == "!join "
        await pilot.press("#", "tab")
        assert entry.value == "!join #", "#dev and #lobby share only the #"
        await pilot.press("tab")
        await until(pilot, pane_has(app, "#dev  #lobby"), "the choices are listed")
        await pilot.press("l", "tab")
        assert entry.value == "!join #lobby "
        assert entry.has_focus, "Tab never moves the focus away"


@async_test
async def test_the_side_lists_are_hidden_when_the_terminal_is_narrow(fake: FakeServer) -> None:
    app = ChatApp("alice", fake.address)
    async with app.run_test(size=(60, 20)) as pilot:
        await registered(pilot, app)
        assert not app.query_one("#rooms").display and not app.query_one("#members").display
        await pilot.resize_terminal(100, 20)
        await until(pilot, lambda: bool(app.query_one("#rooms").display), "the lists come back")


@async_test
async def test_against_a_chat_1_0_server_the_app_registers_again_with_chat_1_0() -> None:
    server = FakeServer(only_chat_1_0=True)
    try:
        app = ChatApp("alice", server.address)
        async with app.run_test(size=(100, 24)) as pilot:
            await registered(pilot, app)
            assert server.lines == [REGISTER, "REGISTER alice CHAT/1.0"]
            assert app.pane_lines().count("The server speaks only CHAT/1.0; connecting again with it.") == 1
            server.send(b"210 You are now in #dev (2 members).\n")
            await until(pilot, lambda: app.room == "#dev", "the one room is known")
            assert panel(app, "#rooms").split("\n") == ["Rooms", "▸ #dev"]
            await pilot.press("ctrl+n")  # one room: nothing to switch to
            await type_line(pilot, "hello")
            await until(pilot, lambda: server.lines[-1:] == ["@alice: hello"], "CHAT/1.0's plain line")
            assert "@alice: !join" not in " ".join(server.lines)
    finally:
        server.close()


# Against the real server ----------------------------------------------------------------


@async_test
async def test_chatting_with_another_user_through_the_real_server(server: ServerProcess) -> None:
    bob = server.register("bob")
    app = ChatApp("alice", ChatAddress("127.0.0.1", server.port))
    async with app.run_test(size=WIDE) as pilot:
        await registered(pilot, app)
        bob.send_line("@bob: hi @alice")
        await until(pilot, pane_has(app, "@bob: hi @alice"), "bob's line arrives")
        await type_line(pilot, "hello bob")
        assert await asyncio.to_thread(bob.recv_line) == b"@alice: hello bob"
        await pilot.press("ctrl+c")
        await until(pilot, lambda: app.return_value is not None, "the app exits")
    assert app.return_value == 0
    server.wait_for_log("Disconnecting user alice")


@async_test
async def test_switching_rooms_with_a_key_through_the_real_server(server: ServerProcess) -> None:
    bob = server.register("bob")  # a CHAT/1.0 peer, in the lobby
    app = ChatApp("alice", ChatAddress("127.0.0.1", server.port))
    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: app.room == "#lobby", "alice is in the lobby")
        members = ["#lobby · 2", "alice", "bob"]
        await until(pilot, lambda: panel(app, "#members").split("\n") == members, "bob is listed")
        await type_line(pilot, "!join #dev")
        await until(pilot, lambda: app.room == "#dev", "alice is shown #dev")
        assert panel(app, "#rooms").split("\n") == ["Rooms", "  #lobby", "▸ #dev"]
        bob.send_line("@bob: lobby news")
        await until(pilot, lambda: "#lobby 1" in panel(app, "#rooms"), "an unread line in the lobby")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.room == "#lobby", "the lobby is shown")
        await until(pilot, pane_has(app, "@bob: lobby news"), "with its line")
        await type_line(pilot, "hi bob")
        assert await asyncio.to_thread(bob.recv_line) == b"@alice: hi bob"
        await type_line(pilot, "!list")  # about the server's current room, which followed the switch
        await until(pilot, pane_has(app, "213 2 members in #lobby."), "the lobby's members")
        assert not pane_has(app, "210 You are now in #lobby")(), "the switch's own reply is not shown"
        await pilot.press("ctrl+c")
        await until(pilot, lambda: app.return_value is not None, "the app exits")
    assert app.return_value == 0


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_the_client_command_runs_full_screen_in_a_terminal_and_restores_it(fake: FakeServer) -> None:
    import fcntl  # POSIX only, like the pseudo-terminal
    import struct
    import termios

    fd, child_end = os.openpty()
    fcntl.ioctl(child_end, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    client = subprocess.Popen(
        [sys.executable, "client.py", "--tui", "alice", str(fake.address)],
        cwd=ROOT,
        env={**os.environ, "TERM": "xterm-256color"},
        stdin=child_end,
        stdout=child_end,
        stderr=child_end,
        start_new_session=True,
    )
    os.close(child_end)
    screen = bytearray()

    def read_until(wanted: bytes) -> None:
        deadline = time.monotonic() + WAIT_S * 2  # a cold start imports Textual
        while wanted not in screen:
            assert time.monotonic() < deadline, f"no {wanted!r} on the terminal: {bytes(screen[-500:])!r}"
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the child is gone
                    chunk = b""
                assert chunk, f"the client ended before {wanted!r}: {bytes(screen[-500:])!r}"
                screen.extend(chunk)

    try:
        read_until(b"registered")
        os.write(fd, b"hello\r")
        deadline = time.monotonic() + WAIT_S
        while "@alice: hello" not in fake.lines and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.lines == [REGISTER, "@alice: hello"]
        fake.send(b"DISCONNECT CHAT/1.0\n")
        read_until(b"Disconnected from server ... exiting!")
        assert client.wait(timeout=WAIT_S) == 0
    finally:
        if client.poll() is None:  # a failed check above: do not leave it running
            client.kill()
            client.wait()
        os.close(fd)
    # The alternate screen was left before the farewell was printed, so the farewell stays.
    assert screen.rindex(b"\x1b[?1049l") < screen.index(b"Disconnected from server")


def test_run_tui_prints_the_last_word_after_the_screen_is_restored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def lost(self: ChatApp) -> int:
        self.farewell = Farewell("Lost the connection: the server closed the connection.", error=True)
        return 1

    monkeypatch.setattr(ChatApp, "run", lost)
    assert run_tui("alice", ChatAddress("localhost", 1)) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "Lost the connection: the server closed the connection.\n")


# What lines look like -------------------------------------------------------------------


def _style_of(text: Text, fragment: str) -> Style:
    """The combined style over the first character of `fragment` in a Rich Text."""
    start = text.plain.index(fragment)
    style = text.style if isinstance(text.style, Style) else Style.parse(text.style)
    for span in text.spans:
        if span.start <= start < span.end:
            style += span.style if isinstance(span.style, Style) else Style.parse(span.style)
    return style


def test_a_senders_colour_is_stable_and_is_the_line_clients_colour() -> None:
    assert name_style("bob") == name_style("bob")
    assert name_style("bob").color is not None
    expected = render.name_color("bob")  # "38;5;N"
    assert name_style("bob").color.number == int(expected.rsplit(";", 1)[1])  # type: ignore[union-attr]
    assert _style_of(chat_text("bob", "hi", "alice"), "@bob").color == name_style("bob").color


def test_a_line_mentioning_you_stands_out_but_your_own_does_not() -> None:
    mention = chat_text("bob", "ping @Alice", "alice")
    assert _style_of(mention, "ping") == MENTION_STYLE
    plain = chat_text("bob", "ping @alicex", "alice")
    assert _style_of(plain, "ping") == Style()
    own = chat_text("alice", "hi @alice", "alice", own=True)
    assert _style_of(own, "hi") == OWN_TEXT_STYLE
    assert _style_of(own, "@alice").bold


def test_server_notices_have_their_own_style() -> None:
    assert _style_of(incoming_text("403 Not your username", "alice"), "403") == ERROR_STYLE
    assert _style_of(incoming_text("Welcome to the room", "alice"), "Welcome") == SERVER_STYLE
    assert [t.plain for t in notice_texts("a\nb", NoticeKind.INFO)] == ["a", "b"]


def test_control_characters_from_the_network_are_shown_not_obeyed() -> None:
    assert incoming_text("@bob: \x1b[2Jgone", "alice").plain == "@bob: \\x1b[2Jgone"
    assert incoming_text("\x07ring", "alice").plain == "\\x07ring"


def test_the_status_bar_shows_the_user_count_only_when_known() -> None:
    address = ChatAddress("chat.example.org", 54307)
    unknown = status_text(address, "alice", Phase.REGISTERED, None).plain
    assert unknown == "chat://chat.example.org:54307  │  alice  │  ● registered"
    assert status_text(address, "alice", Phase.REGISTERED, 3).plain.endswith("│  3 users")
    assert status_text(address, "alice", Phase.CONNECTING, 1).plain.endswith("◌ connecting  │  1 user")


# Without Textual --------------------------------------------------------------------------


def test_without_textual_run_tui_says_how_to_install_it_and_returns_2() -> None:
    # -S: no site-packages, so Textual cannot be imported; the project itself is on the path.
    script = (
        "import sys\n"
        "from chatroom.protocol.address import ChatAddress\n"
        "from chatroom.client.tui import run_tui\n"
        "sys.exit(run_tui('alice', ChatAddress('localhost', 1)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stderr == MISSING_TEXTUAL + "\n"
    assert result.stdout == ""


def test_only_a_missing_textual_or_rich_counts_as_the_extra_missing() -> None:
    assert textual_missing(ModuleNotFoundError("No module named 'textual'", name="textual"))
    assert textual_missing(ImportError("cannot import name 'RichLog'", name="textual.widgets"))
    assert textual_missing(ModuleNotFoundError("No module named 'rich'", name="rich.style"))
    assert not textual_missing(ModuleNotFoundError("No module named 'chatroom.x'", name="chatroom.x"))
    assert not textual_missing(ImportError("partially initialised module"))


def test_help_text_mentions_every_command() -> None:
    for command in commands.Command:
        assert f"!{command.value}" in commands.HELP_TEXT
        assert f"!{command.value}" in tui_app.HELP_TEXT


def test_the_full_screen_help_leaves_ctrl_z_to_textual() -> None:
    assert "Ctrl-Z" not in tui_app.HELP_TEXT


# Pictures ---------------------------------------------------------------------------------

DEMO_ADDRESS = ChatAddress("chat.example.org", 54307)


DEMO_NOW = datetime(2026, 11, 30, 9, 30, tzinfo=timezone.utc)


def demo_app(fake: FakeServer) -> ChatApp:
    """An app that shows DEMO_ADDRESS in its status bar but talks to `server`, at a fixed time."""

    async def opener(address: ChatAddress) -> Streams:
        return await asyncio.open_connection("127.0.0.1", fake.port)

    return ChatApp("alice", DEMO_ADDRESS, opener=opener, now=lambda: DEMO_NOW)


def demo_script(fake: FakeServer) -> Callable[[Pilot[int]], Awaitable[None]]:
    """A short CHAT/1.1 conversation: history, others' lines in their colours, a mention, one's own line,
    a private line, a join, a second room with an unread line, a half-typed line."""

    async def play(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, ChatApp)
        app.query_one(ChatInput).cursor_blink = False
        await registered(pilot, app)
        fake.send(
            LOBBY_ENTERED
            + b"MSG #lobby bob morning all\nMSG #lobby carol has anyone seen the build logs?\n"
            + DEV_ENTERED
        )
        await until(pilot, lambda: app.room == "#dev", "alice is in #dev too")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.room == "#lobby", "the lobby is shown again")
        await type_line(pilot, "they are on the CI page")
        await until(
            pilot, lambda: fake.lines[-1:] == ["@alice #lobby: they are on the CI page"], "it is sent"
        )
        fake.send(
            b"MSG #lobby carol thanks @alice!\nMSG #dev carol release notes are up\n"
            b"PRIVATE dave lunch at noon?\nJOINED #lobby erin\n"
        )
        await until(pilot, pane_has(app, "erin joined"), "the rest arrives")
        await pilot.press(*"see you there")

    return play


def test_snapshot_of_a_conversation(snap_compare: Callable[..., bool], fake: FakeServer) -> None:
    assert snap_compare(demo_app(fake), terminal_size=(80, 20), run_before=demo_script(fake))


def test_docs_screenshot_shows_the_status_bar_and_the_conversation(fake: FakeServer) -> None:
    app = demo_app(fake)
    play = demo_script(fake)
    svg: list[str] = []

    async def scenario() -> None:
        async with app.run_test(size=(100, 20)) as pilot:
            await play(pilot)
            await pilot.pause()
            svg.append(app.export_screenshot(title="chatroom-client --tui alice"))

    asyncio.run(asyncio.wait_for(scenario(), 20))
    text = svg[0].replace("&#160;", " ")
    for expected in ("chat://chat.example.org:54307", "alice", "registered", "morning all", "thanks", "#dev"):
        assert expected in text, expected
    target = os.environ.get("CHATROOM_TUI_SCREENSHOT")
    if target:
        Path(ROOT, target).write_text(svg[0], encoding="utf-8")
