"""The line client's loop in this process: a socket pair for the server, a recording frontend.

The child-process tests (test_client.py, test_terminal_pty.py) show what the
user sees; these look at what only shows from inside: the order in which the
terminal and the signal handlers are given back.
"""

from __future__ import annotations

import contextlib
import selectors
import signal
import socket
import time
from collections.abc import Iterator, Sequence

import pytest

from chatroom.client import cli
from chatroom.client.completion import Completer
from chatroom.client.connect import ClientError
from chatroom.client.frontend import PlainFrontend, Quit, Submit, Suspend, UserAction
from chatroom.client.line import ChatClient
from chatroom.client.session import FALLBACK, NoticeKind
from chatroom.client.shown import Shown
from chatroom.limits import CLIENT_SENDQ_MAX_BYTES

# The signals the client catches while it runs: leave, suspend and resume.
CAUGHT = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGTSTP, signal.SIGCONT)


class RecordingFrontend:
    """A frontend without a terminal that notes which signal handlers are in place when it is closed."""

    def __init__(self) -> None:
        self.started = False
        self.notices_at_start: list[str] | None = None
        self.closed = False
        self.handlers_at_close: dict[int, object] = {}
        self.notices: list[str] = []
        self.completer: Completer | None = None

    def start(self) -> None:
        self.started = True
        self.notices_at_start = list(self.notices)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.handlers_at_close = {signum: signal.getsignal(signum) for signum in CAUGHT}

    def suspend(self) -> None:
        pass

    def resume(self) -> None:
        pass

    def input_fileno(self) -> int | None:
        return None

    def read_input(self) -> list[UserAction]:
        return []

    def handle_signal(self, signum: int) -> list[UserAction]:
        return []

    def show_incoming(self, lines: Sequence[Shown]) -> None:
        pass

    def show_sent(self, text: str) -> None:
        pass

    def show_notice(self, text: str, kind: NoticeKind = NoticeKind.INFO) -> None:
        self.notices.append(text)

    def set_ready(self, ready: bool) -> None:
        pass

    def set_room(self, room: str) -> None:
        pass

    def set_completer(self, completer: Completer) -> None:
        self.completer = completer

    def clear(self) -> None:
        pass


@pytest.fixture
def server_end(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """The server's end of the connection `cli.main` gets instead of connecting."""
    client_end, server = socket.socketpair()
    client_end.setblocking(False)
    monkeypatch.setattr(cli, "connect", lambda address: client_end)
    yield server
    server.close()
    client_end.close()


def run_main(monkeypatch: pytest.MonkeyPatch, frontend: RecordingFrontend) -> int:
    monkeypatch.setattr(cli, "make_frontend", lambda args: frontend)
    return cli.main(["alice", "chat://localhost:1"])


def test_the_terminal_is_given_back_before_the_signal_handlers_are_released(
    monkeypatch: pytest.MonkeyPatch, server_end: socket.socket
) -> None:
    before: dict[int, object] = {signum: signal.getsignal(signum) for signum in CAUGHT}
    server_end.sendall(b"200 Registration successful\nDISCONNECT CHAT/1.0\n")
    frontend = RecordingFrontend()
    assert run_main(monkeypatch, frontend) == 0
    assert frontend.started and frontend.closed
    still_caught = {
        signal.Signals(signum).name: handler not in (before[signum], signal.SIG_DFL)
        for signum, handler in frontend.handlers_at_close.items()
    }
    assert all(still_caught.values()), f"released before the terminal was restored: {still_caught}"
    assert {signum: signal.getsignal(signum) for signum in CAUGHT} == before, "released afterwards"
    assert server_end.recv(1024) == b"REGISTER alice CHAT/1.1\n"


def test_the_terminal_is_taken_before_the_greeting_shows(
    monkeypatch: pytest.MonkeyPatch, server_end: socket.socket
) -> None:
    # A key pressed once the greeting is on screen must reach the editor: while the
    # terminal is still in line mode, the kernel turns a Ctrl-D into a NUL byte.
    server_end.sendall(b"200 Registration successful\nDISCONNECT CHAT/1.0\n")
    frontend = RecordingFrontend()
    assert run_main(monkeypatch, frontend) == 0
    assert frontend.notices_at_start is not None
    assert not any("Ready for messaging" in notice for notice in frontend.notices_at_start)
    assert any("Ready for messaging" in notice for notice in frontend.notices)


@pytest.mark.parametrize(
    ("signum", "actions"),
    [
        (signal.SIGINT, [Quit()]),
        (signal.SIGTERM, [Quit()]),
        (signal.SIGHUP, [Quit()]),
        (signal.SIGQUIT, [Quit()]),
        (signal.SIGTSTP, [Suspend()]),
        (signal.SIGCONT, []),
        (signal.SIGWINCH, []),
    ],
    ids=lambda value: signal.Signals(value).name if isinstance(value, int) else "",
)
def test_plain_mode_leaves_on_a_leave_signal_and_suspends_on_sigtstp(
    signum: int, actions: list[UserAction]
) -> None:
    assert PlainFrontend().handle_signal(signum) == actions


def test_typed_lines_wait_while_the_send_queue_is_full_and_none_is_lost() -> None:
    client_end, server_end = socket.socketpair()
    client_end.setblocking(False)
    server_end.setblocking(False)
    frontend = RecordingFrontend()
    client = ChatClient(client_end, "alice", frontend)
    try:
        client.selector.register(client_end, selectors.EVENT_READ, "socket")
        client._apply(client.session.start())
        client._apply(client.session.receive(b"200 Registration successful\n"))
        lines = [f"{n:03} " + "x" * 8000 for n in range(300)]  # 2.4 MB: more than the queue may hold
        client._on_actions([Submit(line) for line in lines])  # one read from a pipe, say
        assert client._pending, "the lines past the cap wait"
        received = bytearray()
        most_queued = len(client._out)
        deadline = time.monotonic() + 10
        while received.count(b"\n") < len(lines) + 1:  # REGISTER, then every line
            assert time.monotonic() < deadline, f"{len(received)} bytes arrived"
            client._flush()
            client._take_pending()
            most_queued = max(most_queued, len(client._out))
            with contextlib.suppress(BlockingIOError):
                received += server_end.recv(1 << 20)
        assert most_queued <= CLIENT_SENDQ_MAX_BYTES
        assert bytes(received).split(b"\n")[1:-1] == [f"@alice: {line}".encode() for line in lines]
        assert not [notice for notice in frontend.notices if notice.startswith("Not sent")]
    finally:
        client.selector.close()
        client_end.close()
        server_end.close()


def test_a_refused_chat_1_1_registration_is_made_again_with_chat_1_0_on_a_new_connection() -> None:
    first, first_server = socket.socketpair()
    second, second_server = socket.socketpair()
    for sock in (first, second):
        sock.setblocking(False)
    first_server.sendall(b"400 Invalid registration\n")
    second_server.sendall(b"200 Registration successful\nDISCONNECT CHAT/1.0\n")
    frontend = RecordingFrontend()
    try:
        client = ChatClient(first, "alice", frontend, connect_again=lambda: second)
        assert client.run() == 0
        assert first_server.recv(1024) == b"REGISTER alice CHAT/1.1\n"
        assert first_server.recv(1024) == b"", "the first connection is closed"
        assert second_server.recv(1024) == b"REGISTER alice CHAT/1.0\n"
        assert frontend.notices.count(FALLBACK) == 1
    finally:
        for sock in (first, first_server, second, second_server):
            sock.close()


def test_when_connecting_again_fails_the_client_says_why_and_exits_1() -> None:
    first, first_server = socket.socketpair()
    first.setblocking(False)
    first_server.sendall(b"400 Invalid registration\n")
    frontend = RecordingFrontend()

    def refused() -> socket.socket:
        raise ClientError("Cannot connect to localhost:1: connection refused (is the server running?).")

    try:
        assert ChatClient(first, "alice", frontend, connect_again=refused).run() == 1
        assert (
            frontend.notices[-1]
            == "Cannot connect to localhost:1: connection refused (is the server running?)."
        )
    finally:
        first.close()
        first_server.close()
