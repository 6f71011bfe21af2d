"""The real client, started as `client.py` with pipes for stdin and stdout (so: plain line mode).

Most tests run it against `StubServer`, a minimal server written here on
blocking sockets, so the exact bytes the client sends are visible and the
client is checked against the protocol rather than against our server; it
accepts the client's CHAT/1.1 registration and then speaks plain lines (the
client reads CHAT/1.0's forms in either version), or refuses it as a server
that knows only CHAT/1.0 would. A few run it against the real server to check
that the two work together.
"Not sent" is proved by order: after the line that must not be sent, the user
types an ordinary line, and that must be the next line the server receives.
"""

from __future__ import annotations

import re
import signal
import socket
from collections.abc import Iterator

import pytest
from support.peer import Peer
from support.processes import READY_LINE, STARTUP_DEADLINE_S, ClientFactory, ClientProcess, ServerProcess
from support.procfs import unused_port

GREETING = [
    "Connecting to server ...",
    "Connection to server established. Sending intro message...",
    "",
    READY_LINE,
]


class StubServer:
    """A minimal server for one client at a time: blocking sockets, the test drives it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.address = f"chat://127.0.0.1:{self.port}"
        self.peers: list[Peer] = []

    def accept(self) -> Peer:
        self.listener.settimeout(STARTUP_DEADLINE_S)
        sock, _ = self.listener.accept()
        peer = Peer(sock)
        self.peers.append(peer)
        return peer

    def accept_registration(
        self, name: str = "alice", reply: bytes = b"200 Registration successful", version: str = "CHAT/1.1"
    ) -> Peer:
        """Accept the next client, check its REGISTER line for `version` byte for byte, answer `reply`."""
        peer = self.accept()
        assert peer.recv_line(STARTUP_DEADLINE_S) == f"REGISTER {name} {version}".encode()
        peer.send_line(reply)
        return peer

    def close(self) -> None:
        for peer in self.peers:
            peer.close()
        self.listener.close()


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    try:
        yield server
    finally:
        server.close()


def chatting(
    start_client: ClientFactory, stub: StubServer, name: str = "alice"
) -> tuple[ClientProcess, Peer]:
    """A client registered with the stub server; returns it and the server's end of its connection."""
    client = start_client(name, stub.address)
    peer = stub.accept_registration(name)
    client.wait_ready()
    return client, peer


def assert_one_sentence_on_stderr(client: ClientProcess) -> str:
    lines = [line for line in client.stderr.lines if line.strip()]
    assert len(lines) == 1, client.stderr.text
    assert "Traceback" not in client.stderr.text
    return lines[0]


# -- together with the real server ------------------------------------------------------------


def test_client_greets_registers_and_relays_lines_both_ways_with_the_real_server(
    server: ServerProcess, start_client: ClientFactory
) -> None:
    bob = server.register("bob")
    client = start_client("alice", f"chat://localhost:{server.port}")
    client.wait_ready()
    assert client.stdout.lines[:4] == GREETING
    client.type_line("hello bob")
    assert bob.recv_line() == b"@alice: hello bob"
    bob.send_line("@bob: hi alice")
    client.stdout.wait_for("@bob: hi alice")
    client.type_line("")
    client.type_line("after an empty line")
    assert bob.recv_line() == b"@alice: after an empty line", "empty lines are not sent"
    mark = server.log_mark()
    client.close_input()
    assert client.wait() == 0
    server.wait_for_log("Disconnecting user alice", after=mark)
    assert "\x1b" not in client.stdout.text, "plain mode writes no escape codes"
    assert client.stderr.text == ""


def test_client_exits_0_with_a_notice_when_the_real_server_shuts_down(
    server: ServerProcess, start_client: ClientFactory
) -> None:
    client = start_client("alice", f"chat://127.0.0.1:{server.port}")
    client.wait_ready()
    server.proc.send_signal(signal.SIGTERM)
    assert client.wait() == 0
    assert client.stdout.lines[-1] == "Disconnected from server ... exiting!"
    assert server.wait() == 0


def test_client_with_a_name_in_use_prints_the_refusal_and_exits_nonzero(
    server: ServerProcess, start_client: ClientFactory
) -> None:
    server.register("Alice")
    client = start_client("alice", f"chat://127.0.0.1:{server.port}")
    assert client.wait(STARTUP_DEADLINE_S) != 0
    assert "401 Client already registered" in assert_one_sentence_on_stderr(client)


def test_client_says_so_in_one_sentence_when_the_real_server_vanishes(
    server: ServerProcess, start_client: ClientFactory
) -> None:
    client = start_client("alice", f"chat://127.0.0.1:{server.port}")
    client.wait_ready()
    server.kill()
    assert client.wait() != 0
    assert "connection" in assert_one_sentence_on_stderr(client).lower()


# -- the bytes on the wire (against the stub server) -----------------------------------------------


def test_client_sends_register_then_each_typed_line_as_a_chat_line_then_disconnect_at_end_of_input(
    start_client: ClientFactory, stub: StubServer
) -> None:
    client, peer = chatting(start_client, stub)
    assert client.stdout.lines[:4] == GREETING
    client.type_line("hello")
    client.type_text("crlf typed\r\n")
    client.type_line("ünïcödé 🎉 and\ttab")
    assert peer.recv_lines(3) == [
        b"@alice: hello",
        b"@alice: crlf typed",
        "@alice: ünïcödé 🎉 and\ttab".encode(),
    ]
    client.close_input()
    assert peer.recv_line() == b"DISCONNECT alice CHAT/1.1"
    peer.expect_closed()
    assert client.wait() == 0


def test_a_last_line_without_newline_is_still_sent_at_end_of_input(
    start_client: ClientFactory, stub: StubServer
) -> None:
    client, peer = chatting(start_client, stub)
    client.type_text("no newline")
    client.close_input()
    assert peer.recv_lines(2) == [b"@alice: no newline", b"DISCONNECT alice CHAT/1.1"]
    assert client.wait() == 0


@pytest.mark.parametrize("line", ["", "   ", "\t"], ids=["empty", "spaces", "tab"])
def test_empty_lines_are_not_sent(start_client: ClientFactory, stub: StubServer, line: str) -> None:
    client, peer = chatting(start_client, stub)
    client.type_line(line)
    client.type_line("next")
    assert peer.recv_line() == b"@alice: next"


@pytest.mark.parametrize(
    "signum",
    [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT],
    ids=["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"],
)
def test_on_a_leave_signal_the_client_sends_disconnect_and_exits_0(
    start_client: ClientFactory, stub: StubServer, signum: int
) -> None:
    client, peer = chatting(start_client, stub)
    client.signal(signum)
    assert peer.recv_line() == b"DISCONNECT alice CHAT/1.1"
    assert client.wait() == 0
    assert "Traceback" not in client.stderr.text


def test_incoming_lines_are_printed_as_they_arrive(start_client: ClientFactory, stub: StubServer) -> None:
    client, peer = chatting(start_client, stub)
    peer.send(b"@bob: one\n@bob: two\n")
    client.stdout.wait_for("@bob: two")
    peer.send(b"@bob: split ")
    peer.send(b"across packets\r\n")
    client.stdout.wait_for("@bob: split across packets")
    peer.send_line("403 Not your username")
    client.stdout.wait_for("403 Not your username")
    assert client.proc.poll() is None
    assert client.stdout.lines[4:] == [
        "@bob: one",
        "@bob: two",
        "@bob: split across packets",
        "403 Not your username",
    ]


def test_incoming_bad_bytes_are_shown_harmlessly(start_client: ClientFactory, stub: StubServer) -> None:
    client, peer = chatting(start_client, stub)
    peer.send(b"@bob: bad \xff\xfe utf8\n@bob: esc \x1b[2J clear\n@bob: nul \x00 bell \x07\n@bob: after\n")
    client.stdout.wait_for("@bob: after")
    shown = client.stdout.lines[4:8]
    assert shown[0].startswith("@bob: bad ") and shown[0].endswith(" utf8")
    assert shown[1].startswith("@bob: esc ") and shown[1].endswith("[2J clear")
    assert not any(ch in line for line in shown for ch in "\x1b\x00\x07")
    client.type_line("still alive")
    assert peer.recv_line() == b"@alice: still alive"


def test_server_disconnect_makes_the_client_say_so_and_exit_0(
    start_client: ClientFactory, stub: StubServer
) -> None:
    client, peer = chatting(start_client, stub)
    peer.send_line("@bob: last words")
    peer.send_line("DISCONNECT CHAT/1.1")
    assert client.wait() == 0
    assert client.stdout.lines[-2:] == ["@bob: last words", "Disconnected from server ... exiting!"]
    assert "Traceback" not in client.stderr.text


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_server_that_vanishes_is_reported_in_one_sentence_and_a_nonzero_exit(
    start_client: ClientFactory, stub: StubServer, how: str
) -> None:
    client, peer = chatting(start_client, stub)
    if how == "close":
        peer.close()
    else:
        peer.reset()
    assert client.wait() != 0
    sentence = assert_one_sentence_on_stderr(client)
    assert "connection" in sentence.lower()


@pytest.mark.parametrize(
    "reply",
    [
        b"401 Client already registered",
        b"408 Registration timeout",
        b"500 Something else",
    ],
)
def test_a_reply_other_than_200_is_printed_and_the_client_exits_nonzero(
    start_client: ClientFactory, stub: StubServer, reply: bytes
) -> None:
    client = start_client("alice", stub.address)
    stub.accept_registration("alice", reply)
    assert client.wait(STARTUP_DEADLINE_S) != 0
    assert reply.decode() in assert_one_sentence_on_stderr(client)
    assert READY_LINE not in client.stdout.lines


def test_a_server_that_knows_only_chat_1_0_gets_a_new_connection_registering_with_it(
    start_client: ClientFactory, stub: StubServer
) -> None:
    client = start_client("alice", stub.address)
    first = stub.accept_registration("alice", b"400 Invalid registration")
    first.close()  # as a CHAT/1.0 server does after its 400
    peer = stub.accept_registration("alice", version="CHAT/1.0")
    client.wait_ready()
    assert client.stdout.lines[:5] == [
        "Connecting to server ...",
        "Connection to server established. Sending intro message...",
        "The server speaks only CHAT/1.0; connecting again with it.",
        "",
        READY_LINE,
    ]
    client.type_line("hello")
    assert peer.recv_line() == b"@alice: hello"
    client.close_input()
    assert peer.recv_line() == b"DISCONNECT alice CHAT/1.0"
    assert client.wait() == 0
    assert client.stderr.text == ""


@pytest.mark.parametrize("options", [(), ("--chat-1.0",)], ids=["after-the-fallback", "with---chat-1.0"])
def test_a_400_to_chat_1_0_is_the_usual_refusal(
    start_client: ClientFactory, stub: StubServer, options: tuple[str, ...]
) -> None:
    client = start_client(*options, "alice", stub.address)
    if not options:
        stub.accept_registration("alice", b"400 Invalid registration").close()
    stub.accept_registration("alice", b"400 Invalid registration", version="CHAT/1.0")
    assert client.wait(STARTUP_DEADLINE_S) != 0
    assert "Registration refused: 400 Invalid registration" in assert_one_sentence_on_stderr(client)


def test_a_server_that_closes_before_replying_is_reported_in_one_sentence(
    start_client: ClientFactory, stub: StubServer
) -> None:
    client = start_client("alice", stub.address)
    peer = stub.accept()
    assert peer.recv_line(STARTUP_DEADLINE_S) == b"REGISTER alice CHAT/1.1"
    peer.close()
    assert client.wait(STARTUP_DEADLINE_S) != 0
    assert "connection" in assert_one_sentence_on_stderr(client).lower()


# -- client commands ------------------------------------------------------------------------------


def test_help_command_prints_the_commands_and_sends_nothing(
    start_client: ClientFactory, stub: StubServer
) -> None:
    client, peer = chatting(start_client, stub)
    mark = client.stdout.mark()
    client.type_line("!help")
    client.type_line("after help")
    assert peer.recv_line() == b"@alice: after help"
    client.stdout.wait_for("!!", after=mark)  # the help's last line
    help_text = "\n".join(client.stdout.lines[mark:])
    for command in ("!help", "!exit", "!clear", "!!"):
        assert command in help_text


def test_exit_command_sends_disconnect_and_exits_0(start_client: ClientFactory, stub: StubServer) -> None:
    client, peer = chatting(start_client, stub)
    client.type_line("!exit")
    assert peer.recv_line() == b"DISCONNECT alice CHAT/1.1"
    peer.expect_closed()
    assert client.wait() == 0


def test_clear_command_sends_nothing_and_is_no_error(start_client: ClientFactory, stub: StubServer) -> None:
    client, peer = chatting(start_client, stub)
    client.type_line("!clear")
    client.type_line("after clear")
    assert peer.recv_line() == b"@alice: after clear"
    client.close_input()
    assert client.wait() == 0
    assert client.stderr.text == ""


@pytest.mark.parametrize(("typed", "sent"), [("!!text", b"@alice: !!text"), ("!!help", b"@alice: !!help")])
def test_double_bang_is_sent_as_typed_for_the_server_to_strip_one_bang(
    start_client: ClientFactory, stub: StubServer, typed: str, sent: bytes
) -> None:
    client, peer = chatting(start_client, stub)
    client.type_line(typed)
    assert peer.recv_line() == sent


def test_a_command_the_client_does_not_know_goes_to_the_server_as_typed(
    start_client: ClientFactory, stub: StubServer
) -> None:
    client, peer = chatting(start_client, stub)
    client.type_line("!join #dev")
    assert peer.recv_line() == b"@alice: !join #dev"
    assert client.proc.poll() is None


def test_commands_work_with_the_real_server_and_their_replies_are_shown(
    start_client: ClientFactory, server: ServerProcess
) -> None:
    bob = server.register("bob")
    client = start_client("alice", f"chat://127.0.0.1:{server.port}")
    client.stdout.wait_for(READY_LINE)
    client.type_line("!join #dev")
    client.stdout.wait_for("210 You are now in #dev (1 member).")
    bob.send_line("@bob: !join #dev")
    assert bob.recv_line() == b"210 You are now in #dev (2 members)."
    client.type_line("!!hello from #dev")
    assert bob.recv_line() == b"@alice: !hello from #dev"


def test_plain_mode_prints_each_kind_of_line_in_words_one_line_each(
    start_client: ClientFactory, server: ServerProcess
) -> None:
    carol = server.register("carol")
    carol.send_line("@carol: !join #dev")
    assert carol.recv_line() == b"210 You are now in #dev (1 member)."
    carol.send_line("@carol: the release is on Friday")
    client = start_client("alice", f"chat://127.0.0.1:{server.port}")
    client.wait_ready()
    bob = server.register("bob")
    client.stdout.wait_for("* bob joined #lobby")
    bob.send_line("@bob: !msg alice psst")
    client.stdout.wait_for("[private] @bob: psst")
    client.type_line("!join #dev")
    history = client.stdout.wait_for("@carol: the release is on Friday")
    assert re.fullmatch(r"\[\d\d:\d\d\] @carol: the release is on Friday", history), history
    bob.send_line("@bob: still in the lobby")
    client.stdout.wait_for("[#lobby] @bob: still in the lobby")
    client.close_input()
    assert client.wait() == 0
    assert "\x1b" not in client.stdout.text
    assert not [line for line in client.stdout.lines if line.startswith(("JOINED", "MEMBERS", "HISTORY"))]


def test_a_typed_line_with_control_characters_is_not_sent(
    start_client: ClientFactory, stub: StubServer
) -> None:
    client, peer = chatting(start_client, stub)
    client.type_line("esc \x1b[31m red")
    client.type_line("clean")
    assert peer.recv_line() == b"@alice: clean"
    client.stderr.wait_for("control characters")


# -- bad command lines and unreachable servers -------------------------------------------------------


def test_help_explains_the_protocol_choice(start_client: ClientFactory) -> None:
    client = start_client("--help")
    assert client.wait() == 0
    text = " ".join(client.stdout.text.split())
    assert "--chat-1.0 speak CHAT/1.0 only" in text
    assert "connects again with CHAT/1.0 when the server knows only that" in text
    assert "Tab completes" in text


@pytest.mark.parametrize(
    "address",
    [
        "http://localhost:5000",
        "chat://localhost",
        "chat://localhost:0",
        "chat://localhost:65536",
        "chat://localhost:99999",
        "chat://localhost:port",
        "localhost:5000",
        "garbage",
        "",
    ],
)
def test_a_bad_address_is_one_line_showing_the_expected_form_and_exit_2(
    start_client: ClientFactory, address: str
) -> None:
    client = start_client("alice", address)
    assert client.wait(STARTUP_DEADLINE_S) == 2
    assert "chat://<host>:<port>" in assert_one_sentence_on_stderr(client)
    assert client.stdout.text == ""


@pytest.mark.parametrize(
    "name", ["", "@alice", "#alice", "!alice", "al ice", "a" * 33, "tab\there", "nul\x01"]
)
def test_an_invalid_username_is_one_line_showing_the_rules_and_exit_2(
    start_client: ClientFactory, name: str
) -> None:
    client = start_client(name, "chat://localhost:5000")
    assert client.wait(STARTUP_DEADLINE_S) == 2
    assert "1 to 32 characters" in assert_one_sentence_on_stderr(client)
    assert client.stdout.text == ""


def test_connection_refused_is_one_sentence_and_exit_1(start_client: ClientFactory) -> None:
    client = start_client("alice", f"chat://127.0.0.1:{unused_port()}")
    assert client.wait(STARTUP_DEADLINE_S) == 1
    assert "refused" in assert_one_sentence_on_stderr(client)


def test_an_unknown_host_is_one_sentence_and_exit_1(start_client: ClientFactory) -> None:
    client = start_client("alice", "chat://no-such-host.invalid:5000")
    assert client.wait(STARTUP_DEADLINE_S) == 1
    assert "no-such-host.invalid" in assert_one_sentence_on_stderr(client)


def test_a_typed_line_longer_than_the_protocol_allows_is_not_sent(
    start_client: ClientFactory, stub: StubServer
) -> None:
    client, peer = chatting(start_client, stub)
    client.type_text(b"x" * 70000 + b"\n")  # longer than one read, and than the line limit
    client.type_line("y" * 8190)  # fits in a read, but not in a line with its prefix
    client.type_line("after")
    assert peer.recv_line() == b"@alice: after"
    client.stderr.wait_for("Not sent")
    assert client.proc.poll() is None


# -- an output that is not UTF-8 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "shown"),
    [("ascii", "@bob: caf? ?? still here"), ("latin-1", "@bob: caf\ufffd ?? still here")],
    ids=["ascii", "latin-1"],
)
def test_text_the_output_cannot_encode_is_replaced_and_the_client_keeps_running(
    server: ServerProcess,
    start_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    encoding: str,
    shown: str,
) -> None:
    # The child's stdout speaks `encoding`; our reader decodes UTF-8, so Latin-1's é arrives as U+FFFD.
    monkeypatch.setenv("PYTHONIOENCODING", encoding)
    bob = server.register("bob")
    client = start_client("alice", f"chat://127.0.0.1:{server.port}")
    client.wait_ready()
    bob.send_line("@bob: café 日本 still here")
    bob.send_line("@bob: plain ascii after")
    client.stdout.wait_for("plain ascii after")
    assert shown in client.stdout.lines
    client.type_line("alive")
    assert bob.recv_line() == b"@alice: alive"
    assert client.proc.poll() is None
    client.close_input()
    assert client.wait() == 0
    assert client.stderr.text == ""
