"""The real client in a real pseudo-terminal, read back through a terminal emulator (pyte).

Each test starts `server.py` (or a scripted fake server) and `client.py` with
a pty as its terminal, types bytes into the pty's master side as a keyboard
would, and reads the screen the client drew. Nothing sleeps for a fixed time:
every wait polls the screen or a socket until a deadline.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from typing import Any

import pyte
import pytest
from support.peer import DEADLINE_S, Peer
from support.processes import REPO_ROOT, ClientFactory, ServerProcess, child_env

from chatroom.client import render
from chatroom.client.frontend import Quit, Submit, Suspend
from chatroom.client.lineedit import display_width
from chatroom.client.shown import Shown, shown_for
from chatroom.client.terminal import TerminalFrontend, color_enabled
from chatroom.protocol.events import parse_event

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX pseudo-terminals")


def terminal_env() -> dict[str, str]:
    """The children's environment, as for every test, plus a terminal type; NO_COLOR unset."""
    env = child_env()
    env.pop("NO_COLOR", None)
    env.update(TERM="xterm", LANG="C.UTF-8")
    return env


def wait_until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def process_state(pid: int) -> str:
    """The one-letter state of a process from /proc/<pid>/stat: R, S, T (stopped), Z ..."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def address(server: ServerProcess) -> str:
    return f"chat://127.0.0.1:{server.port}"


class FakeServer:
    """A listening socket the test answers by hand, to see the client's exact bytes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(DEADLINE_S)
        self.address = f"chat://127.0.0.1:{self.listener.getsockname()[1]}"
        self.conn: socket.socket | None = None
        self.received = b""

    def accept_and_register(self) -> None:
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(DEADLINE_S)
        self.read_until(b"\n")
        self.conn.sendall(b"200 Registration successful\n")

    def read_until(self, marker: bytes) -> bytes:
        assert self.conn is not None
        deadline = time.monotonic() + DEADLINE_S
        while marker not in self.received:
            self.conn.settimeout(max(deadline - time.monotonic(), 0.01))
            chunk = self.conn.recv(65536)
            if not chunk:
                break
            self.received += chunk
        return self.received

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


# The client in a pty -------------------------------------------------------------------


def set_window_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class PtyClient:
    """client.py with a pseudo-terminal as its stdin, stdout and stderr, and pyte as the screen.

    The client runs in a session of its own, unless `job_control`: then, as a
    shell starts a job, in a process group of its own within ours, so that
    SIGTSTP can stop it (in an orphaned group, which a new session is, the
    kernel discards a stop signal).
    """

    def __init__(
        self,
        *args: str,
        rows: int = 24,
        cols: int = 80,
        env: dict[str, str] | None = None,
        job_control: bool = False,
    ) -> None:
        self.master, self.slave = os.openpty()
        set_window_size(self.slave, rows, cols)
        self.mode_before = termios.tcgetattr(self.slave)
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""
        self.proc = subprocess.Popen(
            [sys.executable, "client.py", *args],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            env=env if env is not None else terminal_env(),
            cwd=REPO_ROOT,
            start_new_session=not job_control,
            preexec_fn=os.setpgrp if job_control else None,
        )

    # -- reading the screen ------------------------------------------------------------

    def pump(self, timeout: float = 0.02) -> None:
        """Feed whatever the client wrote so far to the emulated screen."""
        while select.select([self.master], [], [], timeout)[0]:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: every slave descriptor is closed
                return
            if not data:
                return
            self.raw += data
            self.stream.feed(data)
            timeout = 0

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            if condition():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; screen:\n" + self.dump())

    def dump(self) -> str:
        lines = [f"{i:2}|{line.rstrip()}" for i, line in enumerate(self.screen.display)]
        return "\n".join(lines) + f"\ncursor at row {self.screen.cursor.y}, column {self.screen.cursor.x}"

    def row(self, offset: int = 0) -> str:
        """The screen line the cursor is on (offset -1: the one above), without trailing blanks."""
        return str(self.screen.display[self.screen.cursor.y + offset]).rstrip()

    def wait_for_prompt(self) -> None:
        self.wait_for(lambda: self.row() == ">" and self.screen.cursor.x == 2, "the prompt")

    def wait_for_input_line(self, text: str, cursor_col: int | None = None) -> None:
        expected_col = cursor_col if cursor_col is not None else 2 + display_width(text)
        self.wait_for(
            lambda: self.row() == f"> {text}".rstrip() and self.screen.cursor.x == expected_col,
            f"input line {text!r} with the cursor at column {expected_col}",
        )

    # -- the keyboard and the window ---------------------------------------------------

    def type(self, data: bytes | str) -> None:
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def resize(self, rows: int, cols: int) -> None:
        self.pump()
        set_window_size(self.slave, rows, cols)
        self.screen.resize(rows, cols)
        self.proc.send_signal(signal.SIGWINCH)

    # -- the end -----------------------------------------------------------------------

    def wait_exit(self) -> int:
        deadline = time.monotonic() + DEADLINE_S
        while self.proc.poll() is None:
            self.pump()
            if time.monotonic() > deadline:
                raise AssertionError("the client did not exit; screen:\n" + self.dump())
        self.pump(0)
        return self.proc.returncode

    def mode_now(self) -> list[Any]:
        return termios.tcgetattr(self.slave)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=DEADLINE_S)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    srv = FakeServer()
    yield srv
    srv.close()


@contextlib.contextmanager
def client_in_pty(*args: str, **kwargs: Any) -> Iterator[PtyClient]:
    client = PtyClient(*args, **kwargs)
    try:
        yield client
    finally:
        client.close()


@contextlib.contextmanager
def alice_and_bob(server: ServerProcess, *options: str, **kwargs: Any) -> Iterator[tuple[PtyClient, Peer]]:
    """Alice on the terminal, registered and at her prompt; Bob on a raw socket.

    Alice speaks CHAT/1.0 here: these tests are about the line editor, and
    CHAT/1.0 keeps the screen to what she types and Bob says (the `> ` prompt,
    no `* bob joined` lines). The CHAT/1.1 screen has tests of its own below.
    """
    with client_in_pty("--chat-1.0", *options, "alice", address(server), **kwargs) as alice:
        alice.wait_for_prompt()
        yield alice, server.register("bob")


LEFT, RIGHT, HOME, END, DELETE = b"\x1b[D", b"\x1b[C", b"\x1b[H", b"\x1b[F", b"\x1b[3~"


# Editing and sending -------------------------------------------------------------------


def test_a_line_edited_with_arrows_and_keys_is_sent_as_edited(server: ServerProcess) -> None:
    with alice_and_bob(server) as (alice, bob):
        alice.type(
            b"helo wrld" + LEFT * 3 + b"o" + HOME + RIGHT * 3 + b"l" + b"\x1bOF" + b"!" + HOME + DELETE + b"H"
        )
        alice.wait_for_input_line("Hello world!", cursor_col=3)
        alice.type(b"\x05\x17" + b"there\r")  # Ctrl-E, Ctrl-W: drop "world!"
        assert bob.recv_line() == b"@alice: Hello there"
        alice.wait_for(lambda: alice.row(-1) == "@alice: Hello there" and alice.row() == ">", "own line")


def test_up_arrow_brings_back_the_last_line(server: ServerProcess) -> None:
    with alice_and_bob(server) as (alice, bob):
        alice.type("first\r")
        assert bob.recv_line() == b"@alice: first"
        alice.type(b"\x1b[A again\r")
        assert bob.recv_line() == b"@alice: first again"


def test_a_message_arriving_mid_typing_leaves_the_typed_text_and_cursor_in_place(
    server: ServerProcess,
) -> None:
    with alice_and_bob(server) as (alice, bob):
        alice.type(b"half typed" + LEFT * 5)
        alice.wait_for_input_line("half typed", cursor_col=7)
        bob.send_line("@bob: hello alice")
        alice.wait_for(lambda: alice.row(-1) == "@bob: hello alice", "Bob's line above the input line")
        assert alice.row() == "> half typed"
        assert alice.screen.cursor.x == 7
        assert "Ready for messaging" in alice.row(-2)  # nothing overwritten above
        alice.type(b"_\r")
        assert bob.recv_line() == b"@alice: half _typed"


def test_the_prompt_shows_the_room_once_the_server_says_we_are_in_it(server: ServerProcess) -> None:
    with alice_and_bob(server) as (alice, bob):
        alice.type(b"!join #dev\r")
        alice.wait_for(lambda: alice.row() == "#dev>", "the room in the prompt")  # rows are rstripped
        assert alice.row(-1) == "210 You are now in #dev (1 member)."
        bob.send_line("@bob: !join #dev")
        assert bob.recv_line() == b"210 You are now in #dev (2 members)."
        alice.type(b"hi\r")
        assert bob.recv_line() == b"@alice: hi"
        alice.type(b"!leave\r")
        alice.wait_for(lambda: alice.row() == "#lobby>", "back in the lobby")


def test_a_burst_of_messages_scrolls_above_the_input_line(server: ServerProcess) -> None:
    with alice_and_bob(server) as (alice, bob):
        alice.type("draft")
        alice.wait_for_input_line("draft")
        for index in range(200):
            bob.send_line(f"@bob: line {index}")
        alice.wait_for(lambda: alice.row(-1) == "@bob: line 199", "the last line of the burst")
        assert alice.row() == "> draft" and alice.screen.cursor.x == 7
        assert alice.screen.cursor.y == alice.screen.lines - 1
        assert [
            alice.screen.display[i].rstrip() for i in range(alice.screen.lines - 4, alice.screen.lines - 1)
        ] == [
            "@bob: line 197",
            "@bob: line 198",
            "@bob: line 199",
        ]


def test_wide_characters_are_edited_and_drawn_in_two_columns(server: ServerProcess) -> None:
    with alice_and_bob(server) as (alice, bob):
        alice.type("漢字😀" + "\x1b[D\x1b[D")
        alice.wait_for_input_line("漢字😀", cursor_col=4)
        alice.type(b"\x7fx")
        alice.wait_for_input_line("x字😀", cursor_col=3)
        alice.type(END + "é".encode() + b"\r")
        assert bob.recv_line() == "@alice: x字😀é".encode()


def test_a_long_line_scrolls_sideways_and_never_wraps(server: ServerProcess) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(70))
    with alice_and_bob(server, cols=30) as (alice, bob):
        above = alice.row(-1)
        alice.type(text)
        alice.wait_for_input_line(text[-27:], cursor_col=29)
        assert alice.row(-1) == above  # nothing wrapped onto or over the line above
        alice.type(HOME)
        alice.wait_for_input_line(text[:27], cursor_col=2)
        alice.type(b"\r")
        assert bob.recv_line() == f"@alice: {text}".encode()


def test_a_resize_redraws_the_input_line_for_the_new_width(server: ServerProcess) -> None:
    text = "0123456789" * 5
    with alice_and_bob(server) as (alice, bob):
        alice.type(text)
        alice.wait_for_input_line(text)
        alice.resize(24, 30)
        alice.wait_for_input_line(text[-27:], cursor_col=29)
        alice.resize(24, 100)
        alice.wait_for_input_line(text)
        bob.send_line("@bob: after resize")
        alice.wait_for(lambda: alice.row(-1) == "@bob: after resize", "a line after the resize")
        assert alice.row() == f"> {text}"
        alice.type(b"\r")
        assert bob.recv_line() == f"@alice: {text}".encode()


def test_ctrl_l_clears_the_screen_and_keeps_the_line(server: ServerProcess) -> None:
    with alice_and_bob(server) as (alice, _bob):
        alice.type("keep me\x0c")
        alice.wait_for(
            lambda: alice.screen.cursor.y == 0 and alice.row() == "> keep me",
            "a cleared screen with the line",
        )
        assert all(not line.strip() for line in alice.screen.display[1:])


def test_colours_and_highlights_reach_the_screen(server: ServerProcess) -> None:
    with alice_and_bob(server, "--timestamps") as (alice, bob):
        bob.send_line("@bob: hey @alice")
        alice.wait_for(
            lambda: re.fullmatch(r"\[\d\d:\d\d\] @bob: hey @alice", alice.row(-1)) is not None, "line"
        )
        row = alice.screen.buffer[alice.screen.cursor.y - 1]
        name_col = alice.row(-1).index("@bob")
        text_col = alice.row(-1).index("hey")
        assert row[name_col].fg != "default"
        assert row[text_col].bold


def test_no_color_means_no_colour_on_screen(server: ServerProcess) -> None:
    with alice_and_bob(server, "--no-color") as (alice, bob):
        bob.send_line("@bob: plain please")
        alice.wait_for(lambda: alice.row(-1) == "@bob: plain please", "Bob's line")
        assert b"\x1b[38;5" not in alice.raw and b"\x1b[1;" not in alice.raw


def test_a_terminal_that_cannot_show_some_text_gets_replacements_not_a_dead_client(
    server: ServerProcess,
) -> None:
    env = {**terminal_env(), "PYTHONIOENCODING": "ascii"}
    with alice_and_bob(server, "--no-color", env=env) as (alice, bob):
        alice.type("draft")
        alice.wait_for_input_line("draft")
        bob.send_line("@bob: café 日本")
        alice.wait_for(lambda: alice.row(-1) == "@bob: caf? ??", "the line with replacements")
        assert alice.row() == "> draft"
        alice.type(b"\r")
        assert bob.recv_line() == b"@alice: draft"
        assert alice.proc.poll() is None


# Leaving, and the terminal afterwards ----------------------------------------------------


def test_ctrl_c_says_disconnect_and_exits_0_with_the_terminal_restored(fake_server: FakeServer) -> None:
    with client_in_pty("alice", fake_server.address) as alice:
        fake_server.accept_and_register()
        alice.wait_for_prompt()
        alice.type("unsent\x03")
        assert (
            fake_server.read_until(b"DISCONNECT") == b"REGISTER alice CHAT/1.1\nDISCONNECT alice CHAT/1.1\n"
        )
        assert alice.wait_exit() == 0
        assert alice.mode_now() == alice.mode_before


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param(b"!exit\r", id="exit-command"),
        pytest.param(b"\x04", id="ctrl-d"),
        pytest.param(b"\x03", id="ctrl-c"),
    ],
)
def test_every_way_out_restores_the_terminal(server: ServerProcess, keys: bytes) -> None:
    with alice_and_bob(server) as (alice, _bob):
        assert alice.mode_now() != alice.mode_before  # raw mode while chatting
        alice.type(keys)
        assert alice.wait_exit() == 0
        assert alice.mode_now() == alice.mode_before
        assert alice.row() == ""  # the prompt line was cleaned up for the shell


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGQUIT], ids=["SIGHUP", "SIGQUIT"])
def test_sighup_or_sigquit_says_disconnect_and_exits_0_with_the_terminal_restored(
    fake_server: FakeServer, signum: int
) -> None:
    with client_in_pty("alice", fake_server.address) as alice:
        fake_server.accept_and_register()
        alice.wait_for_prompt()
        alice.type("half typed")
        alice.wait_for_input_line("half typed")
        assert alice.mode_now() != alice.mode_before  # raw mode while chatting
        alice.proc.send_signal(signum)
        assert (
            fake_server.read_until(b"DISCONNECT") == b"REGISTER alice CHAT/1.1\nDISCONNECT alice CHAT/1.1\n"
        )
        assert alice.wait_exit() == 0
        assert alice.mode_now() == alice.mode_before
        assert alice.raw.rindex(render.BRACKETED_PASTE_OFF.encode()) > alice.raw.rindex(
            render.BRACKETED_PASTE_ON.encode()
        )
        assert b"Traceback" not in alice.raw


def test_a_hangup_with_the_terminal_gone_still_says_disconnect_and_exits_0(fake_server: FakeServer) -> None:
    with client_in_pty("alice", fake_server.address) as alice:
        fake_server.accept_and_register()
        alice.wait_for_prompt()
        # As when a window closes: the hangup signal and a dead terminal are both there when the client
        # next runs (stopped meanwhile, so it cannot leave on end of input before the signal arrives).
        alice.proc.send_signal(signal.SIGSTOP)
        wait_until(lambda: process_state(alice.proc.pid) == "T", "the client is stopped")
        os.close(alice.master)
        alice.master = os.open(os.devnull, os.O_RDONLY)  # so that close() has something to close
        alice.proc.send_signal(signal.SIGHUP)
        alice.proc.send_signal(signal.SIGCONT)
        assert fake_server.read_until(b"DISCONNECT").endswith(b"DISCONNECT alice CHAT/1.1\n")
        assert alice.proc.wait(timeout=DEADLINE_S) == 0


@pytest.mark.parametrize("how", ["ctrl-z", "kill-tstp"])
def test_suspending_restores_the_terminal_and_resuming_brings_back_raw_mode_and_the_line(
    fake_server: FakeServer, how: str
) -> None:
    paste_on, paste_off = render.BRACKETED_PASTE_ON.encode(), render.BRACKETED_PASTE_OFF.encode()
    with client_in_pty("alice", fake_server.address, job_control=True) as alice:
        fake_server.accept_and_register()
        alice.wait_for_prompt()
        alice.type("half typed" + "\x1b[D" * 2)
        alice.wait_for_input_line("half typed", cursor_col=10)
        raw_mode = alice.mode_now()
        assert raw_mode != alice.mode_before
        if how == "ctrl-z":
            alice.type(b"\x1a")
        else:
            alice.proc.send_signal(signal.SIGTSTP)
        wait_until(lambda: process_state(alice.proc.pid) == "T", "the client is stopped")
        assert alice.mode_now() == alice.mode_before
        alice.pump()
        assert alice.raw.rindex(paste_off) > alice.raw.rindex(paste_on)
        assert alice.row() == "" and alice.screen.cursor.x == 0  # a clean line for the shell
        suspended_at = len(alice.raw)

        alice.proc.send_signal(signal.SIGCONT)
        alice.wait_for(lambda: paste_on in alice.raw[suspended_at:], "bracketed paste on again")
        alice.wait_for_input_line("half typed", cursor_col=10)
        wait_until(lambda: alice.mode_now() == raw_mode, "raw mode again")
        alice.type(b"!\r")
        assert fake_server.read_until(b"!ed\n").endswith(b"@alice: half typ!ed\n")
        alice.type(b"\x04")
        assert alice.wait_exit() == 0
        assert alice.mode_now() == alice.mode_before


def test_server_shutdown_restores_the_terminal(server: ServerProcess) -> None:
    with alice_and_bob(server) as (alice, _bob):
        alice.type("typing")
        alice.wait_for_input_line("typing")
        server.proc.send_signal(signal.SIGTERM)  # the server says DISCONNECT to all
        assert alice.wait_exit() == 0
        assert b"Disconnected from server" in alice.raw
        assert alice.mode_now() == alice.mode_before


def test_a_vanished_server_restores_the_terminal(fake_server: FakeServer) -> None:
    with client_in_pty("alice", fake_server.address) as alice:
        fake_server.accept_and_register()
        alice.wait_for_prompt()
        assert fake_server.conn is not None
        fake_server.conn.close()
        fake_server.conn = None
        assert alice.wait_exit() == 1
        assert alice.mode_now() == alice.mode_before
        assert b"Traceback" not in alice.raw


def test_a_terminal_that_goes_away_ends_the_client(server: ServerProcess) -> None:
    with alice_and_bob(server) as (alice, _bob):
        os.close(alice.master)  # the terminal window is closed: reads fail from now on
        alice.master = os.open(os.devnull, os.O_RDONLY)  # so that close() has something to close
        assert alice.proc.wait(timeout=DEADLINE_S) == 0  # end of input: a polite goodbye


# CHAT/1.1 on the screen: the room in the prompt, Tab, private lines, history, presence -------------

STAMP = re.compile(r"\[\d\d:\d\d\] ")


@contextlib.contextmanager
def alice_in_the_lobby(server: ServerProcess, *options: str, **kwargs: Any) -> Iterator[PtyClient]:
    """Alice on the terminal, speaking CHAT/1.1 (the default), at her `#lobby> ` prompt."""
    with client_in_pty(*options, "alice", address(server), **kwargs) as alice:
        alice.wait_for(
            lambda: alice.row() == "#lobby>" and alice.screen.cursor.x == 8, "the lobby in the prompt"
        )
        yield alice


def style_at(alice: PtyClient, row_offset: int, text: str) -> Any:
    """The pyte character cell where `text` starts on the row `row_offset` from the cursor's."""
    row = alice.screen.buffer[alice.screen.cursor.y + row_offset]
    return row[alice.row(row_offset).index(text)]


def test_with_chat_1_1_the_prompt_names_the_lobby_at_once_and_arrivals_are_dim_star_lines(
    server: ServerProcess,
) -> None:
    with alice_in_the_lobby(server) as alice:
        bob = server.register("bob")
        alice.wait_for(lambda: alice.row(-1) == "* bob joined #lobby", "bob's arrival")
        assert b"\x1b[2m* bob joined #lobby\x1b[0m" in alice.raw  # dim
        bob.send_line("@bob: hi alice")
        alice.wait_for(lambda: alice.row(-1) == "@bob: hi alice", "bob's line, as in CHAT/1.0")
        assert style_at(alice, -1, "@bob").fg != "default", "the sender in their colour"
        alice.type("hello bob\r")
        assert bob.recv_line() == b"@alice: hello bob"
        bob.close()
        alice.wait_for(lambda: alice.row(-1) == "* bob left #lobby", "bob's departure")


def test_a_private_line_is_marked_private_in_bold_magenta(server: ServerProcess) -> None:
    with alice_in_the_lobby(server) as alice:
        bob = server.register("bob")
        bob.send_line("@bob: !msg alice psst, lunch?")
        assert bob.recv_line() == b"215 Sent to alice."
        alice.wait_for(lambda: alice.row(-1) == "[private] @bob: psst, lunch?", "the private line")
        mark = style_at(alice, -1, "[private]")
        assert mark.fg == "magenta" and mark.bold
        assert style_at(alice, -1, "psst").fg == "magenta"


def test_joining_a_room_replays_its_history_dimmed_with_the_time_and_the_prompt_follows(
    server: ServerProcess,
) -> None:
    bob = server.register("bob")
    bob.send_line("@bob: !join #dev")
    assert bob.recv_line() == b"210 You are now in #dev (1 member)."
    bob.send_line("@bob: the release is on Friday")
    with alice_in_the_lobby(server) as alice:
        alice.type("!join #dev\r")
        alice.wait_for(lambda: alice.row() == "#dev>", "the room in the prompt")
        alice.wait_for(
            lambda: any(
                STAMP.match(line) and line.rstrip().endswith("] @bob: the release is on Friday")
                for line in alice.screen.display
            ),
            "the history line with its time",
        )
        assert re.search(rb"\x1b\[2m\[\d\d:\d\d\] \x1b\[0m\x1b\[2;[0-9;]+m@bob", alice.raw), "dim throughout"
        alice.type("ship it\r")
        assert bob.recv_line() == b"@alice: ship it", "said in #dev, where bob is"
        alice.type("!leave\r")
        alice.wait_for(lambda: alice.row() == "#lobby>", "back in the lobby")


def test_a_line_from_a_room_not_shown_names_its_room(server: ServerProcess) -> None:
    with alice_in_the_lobby(server) as alice:
        alice.type("!join #dev\r")
        alice.wait_for(lambda: alice.row() == "#dev>", "in #dev")
        bob = server.register("bob")  # in the lobby, which alice is in too
        bob.send_line("@bob: lobby news")
        alice.wait_for(lambda: alice.row(-1) == "[#lobby] @bob: lobby news", "the line with its room")


def test_tab_completes_a_command_a_room_and_a_user_and_a_second_tab_lists(server: ServerProcess) -> None:
    for name in ("bob", "bobby"):
        server.register(name)
    carol = server.register("carol")
    carol.send_line("@carol: !join #design")
    assert carol.recv_line().startswith(b"210 ")
    with alice_in_the_lobby(server) as alice:
        alice.type("!roo\t")
        alice.wait_for(lambda: alice.row() == "#lobby> !rooms", "the command completed")
        alice.type("\r")
        alice.wait_for(lambda: alice.row(-1).startswith("211 "), "the rooms listed")
        alice.type("!jo\t#DE\t")
        alice.wait_for(lambda: alice.row() == "#lobby> !join #design", "a room completed")
        alice.type("\x15!msg b\t")  # Ctrl-U first
        alice.wait_for(lambda: alice.row() == "#lobby> !msg bob", "the common start of bob and bobby")
        alice.type("\t")
        alice.wait_for(lambda: alice.row(-1) == "bob  bobby", "the choices listed above the line")
        assert alice.row() == "#lobby> !msg bob"
        alice.type("\x15hi @BOBB\t")
        alice.wait_for(lambda: alice.row() == "#lobby> hi @bobby", "a name completed after @, any case")


def test_against_a_server_that_knows_only_chat_1_0_the_client_connects_again_and_says_so(
    fake_server: FakeServer,
) -> None:
    with client_in_pty("alice", fake_server.address) as alice:
        first, _ = fake_server.listener.accept()
        with first:
            first.settimeout(DEADLINE_S)
            assert first.recv(1024) == b"REGISTER alice CHAT/1.1\n"
            first.sendall(b"400 Invalid registration\n")
        fake_server.received = b""
        fake_server.accept_and_register()
        assert fake_server.received == b"REGISTER alice CHAT/1.0\n"
        alice.wait_for_prompt()
        screen = [line.rstrip() for line in alice.screen.display]
        assert screen.count("The server speaks only CHAT/1.0; connecting again with it.") == 1
        assert "Registration successful.  Ready for messaging!" in screen
        alice.type("hello\r")
        assert fake_server.read_until(b"hello\n").endswith(b"@alice: hello\n")


# Plain mode ------------------------------------------------------------------------------


def test_plain_mode_on_a_terminal_writes_no_escape_codes(server: ServerProcess) -> None:
    with client_in_pty("--plain", "alice", address(server)) as alice:
        alice.wait_for(lambda: b"Ready for messaging" in alice.raw, "registration")
        bob = server.register("bob")
        bob.send_line("@bob: hi @alice")
        alice.wait_for(lambda: b"@bob: hi @alice" in alice.raw, "Bob's line")
        alice.type("hello\r")
        assert bob.recv_line() == b"@alice: hello"
        alice.type("!exit\r")
        assert alice.wait_exit() == 0
        assert b"\x1b" not in alice.raw
        assert alice.mode_now() == alice.mode_before


def test_without_a_terminal_the_client_writes_no_escape_codes(
    server: ServerProcess, start_client: ClientFactory
) -> None:
    bob = server.register("bob")
    alice = start_client("alice", address(server))
    alice.wait_ready()
    alice.type_line("from a pipe")
    assert bob.recv_line() == b"@alice: from a pipe"
    bob.send_line("@bob: back at you")
    alice.stdout.wait_for("@bob: back at you")
    alice.close_input()
    assert alice.wait() == 0
    assert "\x1b" not in alice.stdout.text + alice.stderr.text


# TerminalFrontend in this process, on a pty --------------------------------------------


class CountingOutput(io.StringIO):
    """An output stream that counts the writes and flushes it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.flushes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def flush(self) -> None:
        self.flushes += 1


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, int]]:
    master, slave = os.openpty()
    yield master, slave
    for fd in (master, slave):
        with contextlib.suppress(OSError):
            os.close(fd)


def frontend_on(slave: int, out: io.StringIO, **options: Any) -> TerminalFrontend:
    return TerminalFrontend(
        options.pop("username", "alice"),
        stdin_fd=slave,
        stdout=out,
        get_width=options.pop("get_width", lambda: 40),
        colors256=True,
        **options,
    )


def arrived(*lines: str) -> list[Shown]:
    """`lines` from a CHAT/1.1 server as the session hands them to a frontend."""
    found = [shown_for(parse_event(line), line, "alice") for line in lines]
    return [line for line in found if line is not None]


def input_waiting(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def test_start_takes_raw_mode_and_close_gives_it_back_once(pty_pair: tuple[int, int]) -> None:
    _, slave = pty_pair
    before = termios.tcgetattr(slave)
    frontend = frontend_on(slave, CountingOutput())
    frontend.start()
    raw = termios.tcgetattr(slave)
    assert raw[3] & (termios.ICANON | termios.ECHO | termios.ISIG) == 0
    assert raw[1] & termios.OPOST  # \n still starts a new line
    frontend.close()
    assert termios.tcgetattr(slave) == before
    termios.tcsetattr(slave, termios.TCSANOW, raw)
    frontend.close()  # a second close changes nothing
    assert termios.tcgetattr(slave) == raw


def test_a_notice_after_close_is_a_plain_line_without_the_prompt(pty_pair: tuple[int, int]) -> None:
    _, slave = pty_pair
    out = CountingOutput()
    frontend = frontend_on(slave, out, color=False)
    frontend.start()
    frontend.set_ready(True)
    frontend.close()
    out.seek(0)
    out.truncate()
    frontend.show_notice("chatroom-client: unexpected error")
    assert out.getvalue() == "\r\x1b[Kchatroom-client: unexpected error\r\n\r\x1b[K\r"


def test_close_without_start_leaves_the_terminal_alone(pty_pair: tuple[int, int]) -> None:
    _, slave = pty_pair
    before = termios.tcgetattr(slave)
    out = CountingOutput()
    frontend_on(slave, out).close()
    assert termios.tcgetattr(slave) == before
    assert out.getvalue() == ""


def test_a_start_that_fails_halfway_restores_the_terminal(pty_pair: tuple[int, int]) -> None:
    _, slave = pty_pair
    before = termios.tcgetattr(slave)

    def broken_width() -> int:
        raise RuntimeError("no size today")

    frontend = frontend_on(slave, CountingOutput(), get_width=broken_width)
    with pytest.raises(RuntimeError):
        frontend.start()
    assert termios.tcgetattr(slave) == before


def test_a_batch_of_incoming_lines_is_one_write_and_one_flush(pty_pair: tuple[int, int]) -> None:
    _, slave = pty_pair
    out = CountingOutput()
    frontend = frontend_on(slave, out)
    frontend.start()
    frontend.set_ready(True)
    out.writes = out.flushes = 0
    lines = arrived(*(f"@user{i % 50}: message number {i}" for i in range(10_000)))
    started = time.perf_counter()
    frontend.show_incoming(lines)
    elapsed = time.perf_counter() - started
    counts = (out.writes, out.flushes)
    frontend.close()
    assert counts == (1, 1)
    assert out.getvalue().count("message number") == 10_000
    assert elapsed < 1.0, f"formatting 10,000 lines took {elapsed:.2f} s"


def test_reading_with_nothing_to_read_returns_at_once(pty_pair: tuple[int, int]) -> None:
    _, slave = pty_pair
    frontend = frontend_on(slave, CountingOutput())
    frontend.start()
    try:
        started = time.monotonic()
        assert frontend.read_input() == []
        assert time.monotonic() - started < 0.5
    finally:
        frontend.close()


def test_keys_from_the_terminal_become_actions(pty_pair: tuple[int, int]) -> None:
    master, slave = pty_pair
    frontend = frontend_on(slave, CountingOutput())
    frontend.start()
    try:
        frontend.set_ready(True)
        os.write(master, b"hi\x1b[Do\r!help\r")
        wait_until(lambda: input_waiting(slave), "input")
        assert frontend.read_input() == [Submit("hoi"), Submit("!help")]
        os.write(master, b"\x04")
        wait_until(lambda: input_waiting(slave), "input")
        assert frontend.read_input() == [Quit()]
    finally:
        frontend.close()


def test_a_closed_terminal_is_end_of_input(pty_pair: tuple[int, int]) -> None:
    master, slave = pty_pair
    frontend = frontend_on(slave, CountingOutput())
    frontend.start()
    try:
        os.close(master)
        assert frontend.read_input() == [Quit()]
        assert frontend.input_fileno() is None
    finally:
        frontend.close()


def test_suspend_gives_the_terminal_back_and_resume_takes_raw_mode_and_redraws(
    pty_pair: tuple[int, int],
) -> None:
    master, slave = pty_pair
    before = termios.tcgetattr(slave)
    out = CountingOutput()
    frontend = frontend_on(slave, out, color=False)
    frontend.start()
    try:
        frontend.set_ready(True)
        raw = termios.tcgetattr(slave)
        os.write(master, b"draft\x1a")
        wait_until(lambda: input_waiting(slave), "input")
        assert frontend.read_input() == [Suspend()]
        assert frontend.handle_signal(signal.SIGTSTP) == [Suspend()]
        out.seek(0)
        out.truncate()
        frontend.suspend()
        assert termios.tcgetattr(slave) == before
        assert out.getvalue() == render.CLEAR_LINE + render.BRACKETED_PASTE_OFF
        frontend.suspend()  # twice changes nothing
        assert termios.tcgetattr(slave) == before
        out.seek(0)
        out.truncate()
        frontend.resume()
        assert termios.tcgetattr(slave) == raw
        assert out.getvalue() == render.BRACKETED_PASTE_ON + "\r\x1b[K> draft\r\x1b[7C"
    finally:
        frontend.close()
    assert termios.tcgetattr(slave) == before


def test_continued_after_an_outside_stop_takes_raw_mode_again_and_redraws(pty_pair: tuple[int, int]) -> None:
    _, slave = pty_pair
    before = termios.tcgetattr(slave)
    out = CountingOutput()
    frontend = frontend_on(slave, out, color=False)
    frontend.start()
    try:
        frontend.set_ready(True)
        raw = termios.tcgetattr(slave)
        termios.tcsetattr(slave, termios.TCSANOW, before)  # a shell reset the terminal while we were stopped
        out.seek(0)
        out.truncate()
        assert frontend.handle_signal(signal.SIGCONT) == []
        assert termios.tcgetattr(slave) == raw
        assert out.getvalue() == render.BRACKETED_PASTE_ON + "\r\x1b[K> \r\x1b[2C"
    finally:
        frontend.close()


def test_signals_quit_or_redraw(pty_pair: tuple[int, int]) -> None:
    master, slave = pty_pair
    widths = iter([40, 12])
    out = CountingOutput()
    frontend = frontend_on(slave, out, get_width=lambda: next(widths))
    frontend.start()
    try:
        frontend.set_ready(True)
        os.write(master, b"abcdefghijklmnop")
        wait_until(lambda: input_waiting(slave), "input")
        frontend.read_input()
        out.seek(0)
        out.truncate()
        assert frontend.handle_signal(signal.SIGWINCH) == []
        assert out.getvalue() == "\r\x1b[K> hijklmnop\r\x1b[11C"
        assert frontend.handle_signal(signal.SIGINT) == [Quit()]
        assert frontend.handle_signal(signal.SIGTERM) == [Quit()]
    finally:
        frontend.close()


def test_the_bell_rings_for_a_mention_only_when_asked(pty_pair: tuple[int, int]) -> None:
    _, slave = pty_pair
    quiet, loud = CountingOutput(), CountingOutput()
    frontend_on(slave, quiet).show_incoming(arrived("@bob: hi @alice", "PRIVATE bob psst"))
    frontend_on(slave, loud, bell=True).show_incoming(arrived("@bob: hi @alice"))
    frontend_on(slave, loud, bell=True).show_incoming(arrived("@bob: hi @carol"))
    frontend_on(slave, loud, bell=True).show_incoming(arrived("PRIVATE bob psst"))
    assert "\a" not in quiet.getvalue()
    assert loud.getvalue().count("\a") == 2, "a mention and a private line ring it"


def test_without_colour_shown_lines_carry_no_escape_codes(pty_pair: tuple[int, int]) -> None:
    _, slave = pty_pair
    out = CountingOutput()
    frontend = frontend_on(slave, out, color=False, timestamps=True, clock=lambda: 0.0)
    frontend.show_incoming(arrived("@bob: hi @alice", "403 Not your username"))
    frontend.show_sent("mine")
    frontend.show_notice("Connecting ...")
    assert "\x1b" not in out.getvalue().replace("\x1b[K", "")
    printed = out.getvalue().replace("\x1b[K", "").replace("\r", "").split("\n")
    stamp = time.strftime("%H:%M", time.localtime(0.0))
    assert printed[:4] == [
        f"[{stamp}] @bob: hi @alice",
        f"[{stamp}] 403 Not your username",
        f"[{stamp}] @alice: mine",
        f"[{stamp}] Connecting ...",
    ]


def test_color_is_on_only_for_a_terminal_without_no_color(
    pty_pair: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, slave = pty_pair
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    with os.fdopen(os.dup(slave), "w") as tty:
        assert color_enabled(tty, False)
        assert not color_enabled(tty, True)
        monkeypatch.setenv("NO_COLOR", "")
        assert color_enabled(tty, False)  # empty means unset
        monkeypatch.setenv("NO_COLOR", "1")
        assert not color_enabled(tty, False)
        monkeypatch.setenv("NO_COLOR", "")
        monkeypatch.setenv("TERM", "dumb")
        assert not color_enabled(tty, False)
    assert not color_enabled(io.StringIO(), False)
