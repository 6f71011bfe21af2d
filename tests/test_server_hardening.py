"""Server faults a review found, checked on the real server over loopback sockets.

Each test states the fixed behaviour in its name and docstring: replies queued
for a peer that half-closes, SIGHUP, a second Ctrl-C during the shutdown,
usernames that NFKC-then-casefold does not unite, a console that is not UTF-8,
bidi overrides in the operator's log, and the out-of-descriptors warning.
"""

from __future__ import annotations

import resource
import signal
import socket
import time
import unicodedata

import pytest
from support.peer import DEADLINE_S, Peer
from support.processes import ServerFactory, ServerProcess
from support.procfs import tcp_socket

MAX_LINE = 8192

SMALL_WINDOW = 4096
SMALL_SEGMENT = 1000
# A peer with a small receive buffer and small segments (see Peer.connect):
# the server's kernel then takes only about 100 KiB for it, so the rest of
# its output waits in the server's own send queue.

HALF_CLOSE_LINES = 30_000
# Each is answered "400 Invalid message\n": 600 KB of replies, several times
# what the kernels hold for the peer above, and well under the server's 1 MiB
# send-queue cap.


def users(server: ServerProcess, *names: str) -> list[Peer]:
    return [server.register(name) for name in names]


def slow_reader(server: ServerProcess, name: str) -> Peer:
    """A registered user whose output the server has to queue in its own memory once it stops reading."""
    return server.register(name, rcvbuf=SMALL_WINDOW, maxseg=SMALL_SEGMENT)


def reply_lines(received: bytes) -> list[bytes]:
    """`received` split into lines, an unfinished last one included as it is."""
    lines = received.split(b"\n")
    if not lines[-1]:
        lines.pop()
    return lines


def half_close_and_wait_until_the_server_has_read_it(server: ServerProcess, peer: Peer) -> None:
    """Shut down `peer`'s sending side; return once the server has read every byte of it.

    Only then does the peer start reading, as `nc -N` on a slow link would:
    the server meets the end of stream with its replies still queued, instead
    of the test racing the server through them.
    """
    peer.sock.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + DEADLINE_S
    while True:
        found = tcp_socket(server.port, peer.local_port)
        if found is None or (found.state != "ESTABLISHED" and found.receive_queue == 0):
            return  # our FIN has arrived (so has every byte before it) and nothing is left unread
        assert time.monotonic() < deadline, f"the server has not read our input: {found}"
        time.sleep(0.01)  # polling the kernel's view of the server's socket; nothing to wait on


def describe(lines: list[bytes], expected: bytes, count: int) -> str:
    others = sorted({line for line in lines if line != expected})[:3]
    return (
        f"{len(lines)} lines for {count} sent, {lines.count(expected)} of them {expected!r}; others: {others}"
    )


# -- a peer that half-closes (nc -N) -------------------------------------------------------------


def test_a_user_who_half_closes_gets_every_reply_queued_for_it_before_the_server_closes(
    server: ServerProcess,
) -> None:
    """On end of stream the server first writes everything it has queued for the peer, then closes."""
    peer = slow_reader(server, "alice")
    peer.send(b"not a chat line\n" * HALF_CLOSE_LINES)
    half_close_and_wait_until_the_server_has_read_it(server, peer)  # without reading a single reply
    replies = reply_lines(peer.recv_until_closed())
    assert replies == [b"400 Invalid message"] * HALF_CLOSE_LINES, describe(
        replies, b"400 Invalid message", HALF_CLOSE_LINES
    )


@pytest.mark.parametrize("ending", [b"\n", b""], ids=["with LF", "unfinished"])
def test_a_user_who_half_closes_after_a_long_line_gets_every_reply_then_413_then_the_close(
    server: ServerProcess, ending: bytes
) -> None:
    """A final reply queued behind other output is written out too when the peer's end of stream arrives."""
    peer = slow_reader(server, "alice")
    peer.send(b"not a chat line\n" * HALF_CLOSE_LINES)
    peer.send(b"@alice: " + b"x" * MAX_LINE + ending)
    half_close_and_wait_until_the_server_has_read_it(server, peer)
    replies = reply_lines(peer.recv_until_closed())
    assert replies[-1:] == [b"413 Line too long"], f"the last line received: {replies[-1:]!r}"
    assert replies[:-1] == [b"400 Invalid message"] * HALF_CLOSE_LINES, describe(
        replies[:-1], b"400 Invalid message", HALF_CLOSE_LINES
    )


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"REGISTER alice CHAT/2.0", b"400 Invalid registration"),
        (b"REGISTER Bob CHAT/1.0", b"401 Client already registered"),
    ],
    ids=["400", "401"],
)
def test_a_peer_that_half_closes_right_after_a_refused_register_still_gets_the_refusal(
    server: ServerProcess, line: bytes, reply: bytes
) -> None:
    """`printf 'REGISTER ...' | nc -N`: the refusal is written before the server closes."""
    users(server, "bob")
    peer = server.connect()
    peer.send(line + b"\n")
    peer.sock.shutdown(socket.SHUT_WR)
    assert peer.recv_until_closed() == reply + b"\n"


# -- SIGHUP ----------------------------------------------------------------------------------------


def test_sighup_is_logged_and_the_server_keeps_serving(server: ServerProcess) -> None:
    """SIGHUP (a closed terminal, a stray `kill -HUP`) no longer kills the server: it says so and goes on."""
    alice, bob = users(server, "alice", "bob")
    mark = server.log_mark()
    server.proc.send_signal(signal.SIGHUP)
    server.wait_for_log("SIGHUP", after=mark)
    alice.send_line("@alice: still here")
    assert bob.recv_line() == b"@alice: still here"
    bob.send_line("@bob: me too")
    assert alice.recv_line() == b"@bob: me too"
    assert server.proc.poll() is None, f"the server exited with status {server.proc.returncode}"


# -- a second Ctrl-C ---------------------------------------------------------------------------------


def test_a_second_sigint_during_the_polite_shutdown_ends_it_at_once_with_status_0(
    start_server: ServerFactory,
) -> None:
    """Ctrl-C again while the server waits for a slow reader exits now; fast readers were told already."""
    server = start_server("--shutdown-timeout", "60")
    slow_reader(server, "slow")  # it never reads
    alice, bob = users(server, "alice", "bob")
    lines = [b"@alice: %d " % i + b"s" * 8000 for i in range(64)]  # ~0.5 MiB, under the send-queue cap
    alice.send(b"".join(line + b"\n" for line in lines))
    assert bob.recv_lines(len(lines)) == lines  # so the server has queued them for slow too
    mark = server.log_mark()
    server.proc.send_signal(signal.SIGINT)
    server.wait_for_log("Interrupt received, shutting down ...", after=mark)
    server.proc.send_signal(signal.SIGINT)
    assert server.wait() == 0  # within DEADLINE_S; waiting for slow would take 60 s
    for peer in (alice, bob):
        assert peer.recv_line() == b"DISCONNECT CHAT/1.0"


# -- usernames ---------------------------------------------------------------------------------------


def nfkc_then_casefold(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def full_fold(name: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


FOLD_PAIRS = [
    # A precomposed small Greek letter with dialytika; a capital spelling of it.
    ("\u0390", "\u03aa\u0301"),  # iota with dialytika and tonos; capital iota with dialytika + acute
    ("\u03b0", "\u03ab\u0301"),  # upsilon with dialytika and tonos; capital upsilon with dialytika + acute
    ("\u1fd2", "\u03aa\u0300"),  # iota with dialytika and varia; capital iota with dialytika + grave
    ("\u1fd3", "\u0399\u0308\u0301"),  # iota with dialytika and oxia; capital iota + diaeresis + acute
    ("\u1fe7", "\u03a5\u0308\u0342"),  # upsilon with dialytika and perispomeni; capital upsilon + ...
]
# Found by a search over every code point for a valid one-character name
# whose casefold() is a string that NFKC changes again (the precomposed small
# letter folds to a decomposed sequence), paired with upper-case, NFC and NFD
# spellings that fold differently under NFKC-then-casefold but alike under
# NFKC(casefold(NFKC(name))). The search found only these Greek letters with
# dialytika (U+0390, U+03B0, U+1FD2, U+1FD3, U+1FE2, U+1FE3, U+1FD7, U+1FE7).


def code_points(name: str) -> str:
    return " ".join(f"U+{ord(ch):04X}" for ch in name)


@pytest.mark.parametrize("order", ["as listed", "reversed"])
@pytest.mark.parametrize(
    "pair", FOLD_PAIRS, ids=[f"{code_points(a)} vs {code_points(b)}" for a, b in FOLD_PAIRS]
)
def test_names_equal_under_nfkc_casefold_nfkc_are_one_user(
    server: ServerProcess, pair: tuple[str, str], order: str
) -> None:
    """Uniqueness is NFKC(casefold(NFKC(name))): the second spelling of a pair is answered 401."""
    first, second = pair if order == "as listed" else pair[::-1]
    assert nfkc_then_casefold(first) != nfkc_then_casefold(second), "the table is out of date"
    assert full_fold(first) == full_fold(second), "the table is out of date"
    owner, bob = users(server, first, "bob")
    intruder = server.connect()
    intruder.send_line(f"REGISTER {second} CHAT/1.0")
    assert intruder.recv_line() == b"401 Client already registered", (
        f"{code_points(second)} registered while {code_points(first)} is online"
    )
    intruder.expect_closed()
    owner.send_line(f"@{first}: still me")
    assert bob.recv_line() == f"@{first}: still me".encode()


# -- a console that is not UTF-8 ------------------------------------------------------------------


def assert_no_logging_error_once_stopped(server: ServerProcess) -> None:
    """Stop the server (so that everything it wrote has been collected); its stderr has no logging error."""
    assert server.stop() == 0
    errors = server.stderr.text
    count = errors.count("--- Logging error ---")
    reasons = [line for line in errors.splitlines() if "Error:" in line][:1]
    assert count == 0, f"{count} logging tracebacks on stderr, the first for: {reasons}"


def test_a_server_whose_console_is_not_utf8_logs_non_ascii_chat_lines_without_a_traceback(
    start_server: ServerFactory,
) -> None:
    """With an ASCII stdout a chat line is logged with what cannot be encoded replaced, and still relayed."""
    server = start_server("--log-messages", env={"PYTHONIOENCODING": "ascii"})
    alice, bob = users(server, "alice", "bob")
    line = "@alice: café 🎉 ünïcödé ok".encode()
    alice.send_line(line)
    assert bob.recv_line() == line
    alice.send_line("@alice: plain")
    assert bob.recv_line() == b"@alice: plain"
    server.wait_for_log("Received message from user alice:  @alice: plain")
    assert_no_logging_error_once_stopped(server)
    logged = [
        entry
        for entry in server.stdout.lines
        if entry.startswith("Received message from user alice:  @alice: caf") and entry.endswith(" ok")
    ]
    assert len(logged) == 1, f"no console line for the non-ASCII chat line: {server.stdout.lines[-5:]}"


def test_a_server_whose_console_is_not_utf8_logs_non_ascii_usernames_without_a_traceback(
    start_server: ServerFactory,
) -> None:
    """A non-ASCII username in the log (registration, departure) is replaced or escaped, never a traceback."""
    server = start_server("--log-messages", env={"PYTHONIOENCODING": "ascii"})
    zoe, bob = users(server, "Zoë", "bob")
    zoe.send_line("@Zoë: hi")
    assert bob.recv_line() == "@Zoë: hi".encode()
    zoe.send_line("DISCONNECT Zoë CHAT/1.0")
    zoe.expect_closed()
    bob.send_line("DISCONNECT bob CHAT/1.0")
    bob.expect_closed()
    server.wait_for_log("Disconnecting user bob")
    assert_no_logging_error_once_stopped(server)
    assert any(entry.startswith("Disconnecting user Zo") for entry in server.stdout.lines), (
        f"no console line for Zoë leaving: {server.stdout.lines[-8:]}"
    )


# -- what the operator's log shows ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\u202eevil", "\\u202eevil"),
        ("a\u2066b\u2067c\u2068d\u2069e", "a\\u2066b\\u2067c\\u2068d\\u2069e"),
        ("\u200fright to left mark", "\\u200fright to left mark"),
        ("soft\u00adhyphen", "soft\\xadhyphen"),
        ("line\u2028separator", "line\\u2028separator"),
        ("ünïcödé 日本語 🎉", "ünïcödé 日本語 🎉"),
    ],
    ids=["RLO", "isolates", "RLM", "soft hyphen", "line separator", "printable"],
)
def test_chat_text_is_logged_with_bidi_and_other_invisible_characters_escaped_and_relayed_unchanged(
    start_server: ServerFactory, text: str, shown: str
) -> None:
    """The console shows non-printable characters as \\xNN or \\uNNNN; the other users get the exact bytes."""
    server = start_server("--log-messages")
    alice, bob = users(server, "alice", "bob")
    line = f"@alice: {text}".encode()
    mark = server.log_mark()
    alice.send_line(line)
    assert bob.recv_line() == line
    logged = server.wait_for_log("Received message from user alice:", after=mark)
    assert logged == f"Received message from user alice:  @alice: {shown}"


# -- out of file descriptors ---------------------------------------------------------------------------


def test_running_out_of_file_descriptors_is_warned_about_at_most_once_in_ten_seconds(
    start_server: ServerFactory,
) -> None:
    """While accept() keeps failing with EMFILE the console gets one warning, not one per retry."""

    def few_descriptors() -> None:  # soft and hard: the server raises soft to hard at start
        resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24))

    server = start_server("--log-messages", preexec_fn=few_descriptors)
    alice, bob = users(server, "alice", "bob")
    mark = server.log_mark()
    flood = [Peer.connect(server.port) for _ in range(40)]  # more than the server can accept
    server.peers.extend(flood)
    server.wait_for_log("Cannot accept connections", after=mark)
    # The state under test lasts as long as the flood is connected; nothing
    # marks "1.5 s at the limit" but the clock. The old server warned 15 times.
    time.sleep(1.5)
    alice.send_line("@alice: still serving")
    assert bob.recv_line() == b"@alice: still serving"
    # Logged after every warning so far: once it is in, so are they.
    server.wait_for_log("Received message from user alice:  @alice: still serving", after=mark)
    warnings = [line for line in server.stdout.lines[mark:] if "Cannot accept connections" in line]
    assert len(warnings) <= 1, f"{len(warnings)} warnings in 1.5 s, the first: {warnings[0]!r}"
    for peer in flood:
        peer.close()
    carol = server.register("carol")
    carol.send_line("@carol: got in")
    assert alice.recv_line() == b"@carol: got in"
