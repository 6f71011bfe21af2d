"""The real server, started as `server.py`, spoken to over loopback sockets by raw CHAT/1.0 peers.

The peers (helpers.Peer) are a minimal CHAT/1.0 implementation of their own,
so these tests check the server against the protocol, not against its own
parser. Absence is checked by order, never by waiting: every sender's lines
arrive in order, so "the refused line was not relayed" is proved by the next
line a listener receives being the sender's following line.
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.peer import DEADLINE_S, Peer
from support.processes import REPO_ROOT, STARTUP_DEADLINE_S, ServerFactory, ServerProcess, child_env
from support.procfs import cpu_seconds, listening_addresses, resident_bytes

from chatroom.limits import SENDQ_MAX_BYTES

MAX_LINE = 8192


def users(server: ServerProcess, *names: str) -> list[Peer]:
    return [server.register(name) for name in names]


# -- starting -------------------------------------------------------------------------------


def test_without_arguments_the_server_listens_everywhere_on_a_picked_port_and_says_so_at_once(
    start_server: ServerFactory,
) -> None:
    server = start_server(bare=True)
    server.wait_for_log("Waiting for incoming client connections ...")
    assert server.proc.poll() is None, "the lines must arrive while the server runs (flushed into the pipe)"
    assert server.stdout.lines[:2] == [
        f"Will wait for client connections at port {server.port}",
        "Waiting for incoming client connections ...",
    ]
    assert 0 < server.port < 65536
    wildcard = {"0" * 8, "0" * 32}  # 0.0.0.0 and :: as /proc/net/tcp{,6} write them
    assert listening_addresses(server.port) & wildcard, listening_addresses(server.port)
    server.register("alice")


# -- registration -----------------------------------------------------------------------------


def test_register_is_answered_200_registration_successful(server: ServerProcess) -> None:
    alice = server.connect()
    alice.send_line(b"REGISTER alice CHAT/1.0")
    assert alice.recv_line() == b"200 Registration successful"


@pytest.mark.parametrize(
    "name",
    ["Zoë", "日本語", "a" * 32, "🎉" * 32, "al@ice", "a#b!c"],
    ids=["latin", "cjk", "32", "emoji", "at", "mid"],
)
def test_any_valid_username_registers_and_chats(server: ServerProcess, name: str) -> None:
    user, bob = users(server, name, "bob")
    user.send_line(f"@{name}: hi")
    assert bob.recv_line() == f"@{name}: hi".encode()


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"REGISTER alice CHAT/1.2",  # CHAT/1.1 is served since #9 (docs/PROTOCOL.md 7)
        b"REGISTER alice chat/1.0",
        b"register alice CHAT/1.0",
        b"HELLO alice CHAT/1.0",
        b"REGISTER alice",
        b"REGISTER",
        b"REGISTER alice CHAT/1.0 extra",
        b"REGISTER  alice CHAT/1.0",
        b" REGISTER alice CHAT/1.0",
        b"REGISTER \xff\xfe CHAT/1.0",
        b"REGISTER al\x00ice CHAT/1.0",
        b"REGISTER al\tice CHAT/1.0",
        b"REGISTER al\x1bice CHAT/1.0",
        b"REGISTER @alice CHAT/1.0",
        b"REGISTER #alice CHAT/1.0",
        b"REGISTER !alice CHAT/1.0",
        b"REGISTER " + b"a" * 33 + b" CHAT/1.0",
        b"@alice: hi",
        b"DISCONNECT alice CHAT/1.0",
        b"\x00\x01\x02\xff\xfe",
    ],
)
def test_malformed_registration_is_answered_400_and_closed(server: ServerProcess, line: bytes) -> None:
    peer = server.connect()
    peer.send(line + b"\n")
    assert peer.recv_line() == b"400 Invalid registration"
    peer.expect_closed()


@pytest.mark.parametrize("taken", ["alice", "Alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45"])
def test_a_name_in_use_is_answered_401_and_closed_and_the_owner_is_unaffected(
    server: ServerProcess, taken: str
) -> None:
    alice, bob = users(server, "alice", "bob")
    intruder = server.connect()
    intruder.send_line(f"REGISTER {taken} CHAT/1.0")
    assert intruder.recv_line() == b"401 Client already registered"
    intruder.expect_closed()
    alice.send_line("@alice: still me")
    assert bob.recv_line() == b"@alice: still me"


def test_chat_lines_pipelined_after_register_are_relayed_once_the_registration_succeeds(
    server: ServerProcess,
) -> None:
    (bob,) = users(server, "bob")
    alice = server.connect()
    alice.send(b"REGISTER alice CHAT/1.0\n@alice: one\n@alice: two\n")
    assert alice.recv_line() == b"200 Registration successful"
    assert bob.recv_lines(2) == [b"@alice: one", b"@alice: two"]


def test_chat_lines_pipelined_after_a_refused_register_are_not_relayed(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    intruder = server.connect()
    intruder.send(b"REGISTER alice CHAT/1.0\n@alice: forged\n")
    assert intruder.recv_line() == b"401 Client already registered"
    intruder.expect_closed()
    alice.send_line("@alice: real")
    assert bob.recv_line() == b"@alice: real"


# -- chatting ---------------------------------------------------------------------------------


def test_chat_line_is_relayed_to_every_other_registered_user_but_not_the_sender(
    server: ServerProcess,
) -> None:
    alice, bob, carol, dave = users(server, "alice", "bob", "carol", "dave")
    lurker = server.connect()  # connected, not registered
    alice.send_line("@alice: hello all")
    for listener in (bob, carol, dave):
        assert listener.recv_line() == b"@alice: hello all"
    bob.send_line("@bob: hi alice")
    assert alice.recv_line() == b"@bob: hi alice", "the sender must not get its own line back"
    lurker.send_line("REGISTER erin CHAT/1.0")
    assert lurker.recv_line() == b"200 Registration successful", "unregistered connections get no chat"


@pytest.mark.parametrize(
    ("sent", "relayed"),
    [
        (b"@alice: plain\n", b"@alice: plain\n"),
        (b"@alice: crlf ends it\r\n", b"@alice: crlf ends it\n"),
        (b"@alice: \n", b"@alice: \n"),
        (b"@alice:  two  spaces, trailing \n", b"@alice:  two  spaces, trailing \n"),
        (b"@alice: tab\there\n", b"@alice: tab\there\n"),
        ("@alice: ünïcödé and emoji 🎉\n".encode(), "@alice: ünïcödé and emoji 🎉\n".encode()),
        ("@alice: no-break\u00a0space\n".encode(), "@alice: no-break\u00a0space\n".encode()),
        (b"@alice: @bob: quoted\n", b"@alice: @bob: quoted\n"),
    ],
)
def test_chat_line_is_relayed_byte_for_byte_with_lf_and_without_cr(
    server: ServerProcess, sent: bytes, relayed: bytes
) -> None:
    alice, bob = users(server, "alice", "bob")
    alice.send(sent)
    assert bob.recv_line() + b"\n" == relayed


def test_a_line_arriving_one_byte_at_a_time_is_relayed_whole(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    for byte in b"@alice: slowly typed\r\n":
        alice.send(bytes([byte]))
    assert bob.recv_line() == b"@alice: slowly typed"


def test_every_receiver_gets_each_senders_lines_in_the_order_sent(server: ServerProcess) -> None:
    alice, bob, carol = users(server, "alice", "bob", "carol")
    count = 300
    alice_lines = [f"@alice: a{i}".encode() for i in range(count)]
    bob_lines = [f"@bob: b{i}".encode() for i in range(count)]
    for start in range(0, count, 50):  # interleave bursts from both senders
        alice.send(b"".join(line + b"\n" for line in alice_lines[start : start + 50]))
        bob.send(b"".join(line + b"\r\n" for line in bob_lines[start : start + 50]))
    received = carol.recv_lines(2 * count)
    assert [line for line in received if line.startswith(b"@alice")] == alice_lines
    assert [line for line in received if line.startswith(b"@bob")] == bob_lines
    assert alice.recv_lines(count) == bob_lines
    assert bob.recv_lines(count) == alice_lines


# -- lines that are refused while registered -------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [b"@bob: I am bob now", b"@Alice: other spelling", b"@carol: hi", b"DISCONNECT bob CHAT/1.0"],
)
def test_a_line_speaking_as_someone_else_is_answered_403_and_not_relayed(
    server: ServerProcess, line: bytes
) -> None:
    alice, bob = users(server, "alice", "bob")
    alice.send_line(line)
    assert alice.recv_line() == b"403 Not your username"
    alice.send_line("@alice: still connected")
    assert bob.recv_line() == b"@alice: still connected"


@pytest.mark.parametrize(
    "line", [b"hello", b"", b"\r", b"alice: hi", b"REGISTER alice CHAT/1.0", b"REGISTER bob CHAT/1.0"]
)
def test_a_line_that_is_not_a_chat_line_is_answered_400_invalid_message(
    server: ServerProcess, line: bytes
) -> None:
    alice, bob = users(server, "alice", "bob")
    alice.send(line + b"\n")
    assert alice.recv_line() == b"400 Invalid message"
    alice.send_line("@alice: still connected")
    assert bob.recv_line() == b"@alice: still connected"


@pytest.mark.parametrize(
    "text",
    [
        b"nul \x00",
        b"bell \x07",
        b"esc \x1b[2J",
        b"cr \r inside",
        b"vt \x0b",
        b"del \x7f",
        "c1 \u0085".encode(),
        "csi \u009b2J".encode(),
        b"bad \xff\xfe",
        b"cut \xe2\x82",
        b"surrogate \xed\xa0\x80",
    ],
    ids=["NUL", "BEL", "ESC", "CR", "VT", "DEL", "NEL", "CSI", "ff", "truncated", "surrogate"],
)
def test_a_chat_line_with_control_characters_or_invalid_utf8_is_answered_400_and_not_relayed(
    server: ServerProcess, text: bytes
) -> None:
    alice, bob = users(server, "alice", "bob")
    alice.send(b"@alice: " + text + b"\n")
    assert alice.recv_line() == b"400 Invalid message"
    alice.send_line("@alice: clean")
    assert bob.recv_line() == b"@alice: clean"


def test_random_bytes_from_a_registered_user_get_one_reply_per_line_and_nothing_is_relayed(
    server: ServerProcess,
) -> None:
    alice, bob = users(server, "alice", "bob")
    rng = random.Random(20240601)
    lines = [
        bytes(rng.randrange(256) for _ in range(rng.randrange(200))).replace(b"\n", b"") for _ in range(300)
    ]
    expected = []
    for line in lines:  # the protocol's rules, written out again independently of the server
        if line.endswith(b"\r"):
            line = line[:-1]
        words = line.split(b" ")
        leave_for_someone = len(words) == 3 and words[0] == b"DISCONNECT" and words[2] == b"CHAT/1.0"
        speaks_for_other = line.startswith(b"@") or (leave_for_someone and words[1] != b"")
        expected.append(b"403 Not your username" if speaks_for_other else b"400 Invalid message")
    alice.send(b"".join(line + b"\n" for line in lines))
    assert alice.recv_lines(len(lines)) == expected
    alice.send_line("@alice: survived")
    assert bob.recv_line() == b"@alice: survived"


def test_a_burst_of_bad_lines_gets_every_reply_in_order_and_one_log_line_per_read(
    server: ServerProcess,
) -> None:
    alice, bob = users(server, "alice", "bob")
    mark = server.log_mark()
    alice.send(b"\n" * 2000 + b"@bob: not me\n" + b"@alice: fine\n")
    assert alice.recv_lines(2001) == [b"400 Invalid message"] * 2000 + [b"403 Not your username"]
    assert bob.recv_line() == b"@alice: fine"
    # The console is read by another thread: wait for a line logged after every
    # refusal, so that all of them have been collected before counting.
    alice.send_line("DISCONNECT alice CHAT/1.0")
    server.wait_for_log("Disconnecting user alice", after=mark)
    refusals = [line for line in server.stdout.lines[mark:] if line.startswith("Refused")]
    assert 1 <= len(refusals) <= 10, refusals  # not one console line per bad line


# -- leaving ----------------------------------------------------------------------------------


def test_disconnect_closes_without_reply_and_the_name_is_free_at_once(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    alice.send_line("DISCONNECT alice CHAT/1.0")
    alice.expect_closed()
    again = server.register("alice")
    again.send_line("@alice: back")
    assert bob.recv_line() == b"@alice: back", "others are not told anything when a user leaves"


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"DISCONNECT bob CHAT/1.0", b"403 Not your username"),
        (b"DISCONNECT alice", b"400 Invalid message"),
        (b"DISCONNECT alice CHAT/2.0", b"400 Invalid message"),
        (b"DISCONNECT  alice CHAT/1.0", b"400 Invalid message"),
        (b"DISCONNECT alice CHAT/1.0 now", b"400 Invalid message"),
    ],
)
def test_a_disconnect_for_another_user_is_403_and_a_malformed_one_400_and_neither_closes(
    server: ServerProcess, line: bytes, reply: bytes
) -> None:
    alice, bob = users(server, "alice", "bob")
    alice.send(line + b"\n")
    assert alice.recv_line() == reply
    alice.send_line("@alice: still here")
    assert bob.recv_line() == b"@alice: still here"


def test_disconnect_with_crlf_is_accepted(server: ServerProcess) -> None:
    (alice,) = users(server, "alice")
    alice.send(b"DISCONNECT alice CHAT/1.0\r\n")
    alice.expect_closed()
    server.register("alice")


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_connection_that_ends_without_disconnect_frees_the_name(server: ServerProcess, how: str) -> None:
    alice, bob = users(server, "alice", "bob")
    mark = server.log_mark()
    if how == "close":
        alice.close()
    else:
        alice.reset()
    server.wait_for_log("Disconnecting user alice", after=mark)
    again = server.register("alice")
    again.send_line("@alice: back")
    assert bob.recv_line() == b"@alice: back"


# -- line length ------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_a_line_of_exactly_8192_bytes_is_relayed(server: ServerProcess, ending: bytes) -> None:
    alice, bob = users(server, "alice", "bob")
    line = b"@alice: " + b"x" * (MAX_LINE - len(b"@alice: "))
    assert len(line) == MAX_LINE
    alice.send(line + ending)
    assert bob.recv_line() == line


@pytest.mark.parametrize("ending", [b"\n", b""], ids=["with LF", "unfinished"])
def test_a_longer_line_from_a_user_is_answered_413_and_closed_and_others_are_unaffected(
    server: ServerProcess, ending: bytes
) -> None:
    alice, bob, carol = users(server, "alice", "bob", "carol")
    mark = server.log_mark()
    alice.send(b"@alice: " + b"x" * (MAX_LINE + 2 - len(b"@alice: ")) + ending)
    assert alice.recv_line() == b"413 Line too long"
    alice.expect_closed()
    server.wait_for_log("Disconnecting user alice", after=mark)
    bob.send_line("@bob: carry on")
    assert carol.recv_line() == b"@bob: carry on", "the long line must not be relayed"
    carol.send_line("@carol: sure")
    assert bob.recv_line() == b"@carol: sure"


def test_a_line_of_8193_bytes_is_too_long(server: ServerProcess) -> None:
    alice, _ = users(server, "alice", "bob")
    alice.send(b"@alice: " + b"x" * (MAX_LINE + 1 - len(b"@alice: ")) + b"\n")
    assert alice.recv_line() == b"413 Line too long"
    alice.expect_closed()


@pytest.mark.parametrize("ending", [b"\n", b""], ids=["with LF", "unfinished"])
def test_a_longer_line_before_registration_is_answered_400_and_closed(
    server: ServerProcess, ending: bytes
) -> None:
    (bob,) = users(server, "bob")
    peer = server.connect()
    peer.send(b"REGISTER " + b"a" * (MAX_LINE + 2) + ending)
    assert peer.recv_line() == b"400 Invalid registration"
    peer.expect_closed()
    server.register("alice").send_line("@alice: hi")
    assert bob.recv_line() == b"@alice: hi"


# -- registration timeout and slow peers --------------------------------------------------------


@pytest.mark.parametrize("sent", [b"", b"REGISTER alice CH"], ids=["silent", "half a REGISTER"])
def test_a_connection_that_does_not_register_in_time_is_answered_408_and_closed(
    start_server: ServerFactory, sent: bytes
) -> None:
    server = start_server("--registration-timeout", "0.5")
    started = time.monotonic()
    peer = server.connect()
    peer.send(sent)
    assert peer.recv_line() == b"408 Registration timeout"
    assert time.monotonic() - started >= 0.45
    peer.expect_closed()


def test_the_registration_timeout_counts_from_connecting_not_from_the_last_byte(
    start_server: ServerFactory,
) -> None:
    server = start_server("--registration-timeout", "0.5")
    peer = server.connect()
    started = time.monotonic()
    reply = None
    for byte in b"REGISTER slowloris-who-never-finishes":  # one byte every 0.1 s: 3.7 s in all
        peer.send(bytes([byte]))
        try:
            reply = peer.recv_line(timeout=0.1)
            break
        except AssertionError:
            continue
    assert reply == b"408 Registration timeout"
    assert time.monotonic() - started < 2.0
    peer.expect_closed()


def test_registered_users_are_not_subject_to_the_registration_timeout(start_server: ServerFactory) -> None:
    server = start_server("--registration-timeout", "0.5")
    alice, bob = users(server, "alice", "bob")
    late = server.connect()
    assert late.recv_line() == b"408 Registration timeout"  # the timeout has passed for alice too
    alice.send_line("@alice: still here")
    assert bob.recv_line() == b"@alice: still here"


def test_slow_and_silent_connections_delay_nobody_else(start_server: ServerFactory) -> None:
    server = start_server("--registration-timeout", "5")
    slow = [server.connect() for _ in range(20)]
    for index, peer in enumerate(slow):
        peer.send(b"REGISTER slow%d CHAT/1" % index if index % 2 else b"")
    started = time.monotonic()
    alice, bob = users(server, "alice", "bob")
    alice.send_line("@alice: not waiting for anyone")
    assert bob.recv_line() == b"@alice: not waiting for anyone"
    assert time.monotonic() - started < 2.0
    assert all(peer.has_nothing_to_read() for peer in slow)


# -- a user who does not read --------------------------------------------------------------------


def test_a_user_who_never_reads_is_disconnected_at_the_send_queue_cap_and_others_get_every_line(
    start_server: ServerFactory,
) -> None:
    server = start_server("--no-log-messages")
    sleeper = server.register("sleeper", rcvbuf=4096)
    alice, bob = users(server, "alice", "bob")
    text = b"y" * 8000
    batch = 16  # 128 KB in flight at most, so bob (who reads) never nears the cap
    sent = 0
    peak_rss = resident_bytes(server.pid)
    limit_hit = False
    while not limit_hit:
        assert sent < 32 * SENDQ_MAX_BYTES, "the server never dropped the user who does not read"
        lines = [b"@alice: %d " % (sent + i) + text for i in range(batch)]
        alice.send(b"".join(line + b"\n" for line in lines))
        assert bob.recv_lines(batch) == lines
        sent += batch
        peak_rss = max(peak_rss, resident_bytes(server.pid))
        limit_hit = any("Send queue full" in line for line in server.stdout.lines)
    warning = server.wait_for_log("Send queue full for user sleeper")
    assert str(SENDQ_MAX_BYTES) in warning
    server.wait_for_log("Disconnecting user sleeper")
    for _ in range(4):  # everyone else carries on
        lines = [b"@alice: after %d " % (sent + i) + text for i in range(batch)]
        alice.send(b"".join(line + b"\n" for line in lines))
        assert bob.recv_lines(batch) == lines
        sent += batch
    assert peak_rss < 100 * 1024 * 1024, f"server resident memory reached {peak_rss} bytes"
    sleeper.drain_until_closed()
    server.register("sleeper")


def test_a_user_who_goes_over_the_send_queue_cap_while_someone_registers_is_disconnected_not_skipped(
    start_server: ServerFactory,
) -> None:
    # With a long delivery interval every delivery after the first one happens
    # when a new user registers (lines read earlier go out first), so that is
    # where the sleeper's queue overflows.
    server = start_server("--no-log-messages", "--delivery-interval", "10000")
    sleeper = server.register("sleeper", rcvbuf=4096)
    alice = server.register("alice")
    text = b"w" * 8000
    count = 0
    for cycle in range(400):
        alice.send(b"".join(b"@alice: %d " % (count + i) + text + b"\n" for i in range(16)))
        count += 16
        newcomer = server.register(f"newcomer{cycle}")
        newcomer.send_line(f"DISCONNECT newcomer{cycle} CHAT/1.0")
        newcomer.drain_until_closed()
        if any("Send queue full for user sleeper" in line for line in server.stdout.lines):
            break
    else:
        raise AssertionError("the sleeper's send queue never filled up")
    alice.send_line("@alice: end")
    server.register("last")  # delivers "end"
    received: list[bytes] = []
    try:
        while (line := sleeper.recv_line()) != b"@alice: end":
            received.append(line)
    except AssertionError:
        return  # disconnected: what the send-queue cap promises
    numbers = [int(line.split()[1]) for line in received]
    assert numbers == list(range(count)), (
        f"the sleeper stayed connected but missed lines {sorted(set(range(count)) - set(numbers))[:3]}..."
    )


# -- bad peers ----------------------------------------------------------------------------------


def test_a_user_who_resets_while_output_is_queued_is_dropped_and_others_carry_on(
    server: ServerProcess,
) -> None:
    victim = server.register("victim", rcvbuf=4096)
    alice, bob = users(server, "alice", "bob")
    lines = [b"@alice: %d " % i + b"z" * 8000 for i in range(48)]
    alice.send(b"".join(line + b"\n" for line in lines))
    assert bob.recv_lines(len(lines)) == lines  # so the server has queued them for victim too
    mark = server.log_mark()
    victim.reset()
    alice.send(b"".join(line + b"\n" for line in lines))
    assert bob.recv_lines(len(lines)) == lines
    server.wait_for_log("Disconnecting user victim", after=mark)
    server.register("victim")


@pytest.mark.parametrize(
    "first", [b"REGISTER ghost CHAT/1.0\n", b"garbage\n", b"REGISTER ghost"], ids=["register", "bad", "half"]
)
def test_a_peer_that_resets_before_reading_the_reply_harms_nobody(
    server: ServerProcess, first: bytes
) -> None:
    alice, bob = users(server, "alice", "bob")
    ghost = server.connect()
    ghost.send(first)
    ghost.reset()
    alice.send_line("@alice: fine")
    assert bob.recv_line() == b"@alice: fine"
    register_eventually(server, "ghost")


def register_eventually(server: ServerProcess, name: str) -> Peer:
    """Register `name` as soon as the server has noticed that its previous owner is gone."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        peer = server.connect()
        peer.send_line(f"REGISTER {name} CHAT/1.0")
        reply = peer.recv_line()
        if reply == b"200 Registration successful":
            return peer
        assert reply == b"401 Client already registered", reply
        assert time.monotonic() < deadline, f"{name!r} is still taken after {DEADLINE_S:g} s"
        peer.close()


def test_the_server_keeps_serving_when_it_runs_out_of_file_descriptors(start_server: ServerFactory) -> None:
    def few_descriptors() -> None:  # soft and hard: the server raises soft to hard at start
        resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24))

    server = start_server("--log-level", "debug", preexec_fn=few_descriptors)
    alice, bob = users(server, "alice", "bob")
    mark = server.log_mark()
    flood = [Peer.connect(server.port) for _ in range(40)]
    server.wait_for_log("Cannot accept connections", after=mark)
    alice.send_line("@alice: still serving")
    assert bob.recv_line() == b"@alice: still serving"

    # About a second of being saturated, measured by the server's own retries
    # (it pauses accepting for 0.1 s after each failure; the warning is rate-limited,
    # each pause is logged at debug level).
    started, cpu_before = time.monotonic(), cpu_seconds(server.pid)
    server.stdout.wait_for_count("Accept paused", 8, after=server.log_mark())
    elapsed, cpu_used = time.monotonic() - started, cpu_seconds(server.pid) - cpu_before
    assert elapsed > 0.5
    assert cpu_used < 0.4 * elapsed, f"busy loop: {cpu_used:.2f} s CPU in {elapsed:.2f} s"

    for peer in flood:
        peer.close()
    carol = Peer.connect(server.port)
    server.peers.append(carol)
    carol.register("carol")
    carol.send_line("@carol: got in")
    assert alice.recv_line() == b"@carol: got in"


# -- shutting down ---------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_on_sigint_or_sigterm_every_user_gets_disconnect_and_the_server_exits_0(
    server: ServerProcess, signum: int
) -> None:
    alice, bob = users(server, "alice", "bob")
    alice.send_line("@alice: last words")
    assert bob.recv_line() == b"@alice: last words"
    server.proc.send_signal(signum)
    for peer in (alice, bob):
        assert peer.recv_line() == b"DISCONNECT CHAT/1.0"
        peer.expect_closed()
    assert server.wait() == 0
    assert "Interrupt received, shutting down ..." in server.stdout.lines
    assert "Traceback" not in server.stderr.text


def test_on_shutdown_queued_lines_are_delivered_before_disconnect(server: ServerProcess) -> None:
    backlog = server.register("backlog", rcvbuf=4096)
    alice, bob = users(server, "alice", "bob")
    lines = [b"@alice: %d " % i + b"q" * 8000 for i in range(64)]  # ~0.5 MiB, under the cap
    alice.send(b"".join(line + b"\n" for line in lines))
    assert bob.recv_lines(len(lines)) == lines
    server.proc.send_signal(signal.SIGTERM)
    assert backlog.recv_lines(len(lines)) == lines
    assert backlog.recv_line() == b"DISCONNECT CHAT/1.0"
    backlog.expect_closed()
    assert server.wait() == 0


@pytest.mark.parametrize(
    "signum",
    [signal.SIGINT, signal.SIGTERM],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_while_the_server_prints_its_port_still_exits_0(signum: int) -> None:
    # A full stdout pipe holds the server in its first print (the port banner),
    # which makes the window between "listening" and "handling signals" wide open.
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(write_end, b"x")
    os.set_blocking(write_end, True)  # the child inherits the pipe as it is
    proc = subprocess.Popen(
        [sys.executable, "server.py", "--port", "0"],
        cwd=REPO_ROOT,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=write_end,
        stderr=subprocess.PIPE,
    )
    os.close(write_end)
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while "pipe_write" not in Path(f"/proc/{proc.pid}/wchan").read_text():
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.skip("cannot see the server blocked writing to its stdout")
            time.sleep(0.01)  # polling the kernel's view of the child; nothing to wait on
        proc.send_signal(signum)
        with open(read_end, "rb") as output:  # let it write (and exit)
            banner = output.read()
        assert b"Will wait for client connections at port " in banner
        assert proc.wait(DEADLINE_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


# -- what the console shows ---------------------------------------------------------------------


def test_a_server_whose_console_reader_went_away_keeps_serving_without_a_traceback() -> None:
    # python3 server.py | head -2: after the banner nobody reads the console.
    proc = subprocess.Popen(
        [sys.executable, "server.py", "--port", "0"],
        cwd=REPO_ROOT,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        port = int(proc.stdout.readline().split()[-1])
        proc.stdout.close()
        alice, bob = Peer.connect(port), Peer.connect(port)
        alice.register("alice")
        bob.register("bob")
        for number in range(50):  # each one a console line the server cannot write
            alice.send_line(f"@alice: {number}")
            assert bob.recv_line() == f"@alice: {number}".encode()
        alice.close()
        bob.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(DEADLINE_S) == 0
        errors = proc.stderr.read().decode()
        assert errors == "", errors
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_console_shows_connections_registrations_messages_and_departures(start_server: ServerFactory) -> None:
    server = start_server("--log-messages")  # room lines are logged only when asked for
    mark = server.log_mark()
    alice = server.connect()
    alice.register("alice")
    (bob,) = users(server, "bob")
    alice.send_line("@alice: hello")
    assert bob.recv_line() == b"@alice: hello"
    alice.send_line("DISCONNECT alice CHAT/1.0")
    alice.expect_closed()
    server.wait_for_log("Disconnecting user alice", after=mark)
    log = server.stdout.lines[mark:]
    expected = [
        f"Accepted connection from client address: ('127.0.0.1', {alice.local_port})",
        "Connection to client established, waiting to receive messages from user 'alice'...",
        "Received message from user alice:  @alice: hello",
        "Disconnecting user alice",
    ]
    assert [line for line in log if line in expected] == expected


def test_room_lines_are_not_logged_by_default(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    mark = server.log_mark()
    alice.send_line("@alice: none of the operator's business")
    assert bob.recv_line() == b"@alice: none of the operator's business"
    alice.send_line("DISCONNECT alice CHAT/1.0")
    server.wait_for_log("Disconnecting user alice", after=mark)
    assert not any("business" in line for line in server.stdout.lines[mark:])


def test_with_no_log_messages_chat_lines_are_not_logged(start_server: ServerFactory) -> None:
    server = start_server("--no-log-messages")
    alice, bob = users(server, "alice", "bob")
    alice.send_line("@alice: secret")
    assert bob.recv_line() == b"@alice: secret"
    alice.send_line("DISCONNECT alice CHAT/1.0")
    server.wait_for_log("Disconnecting user alice")
    assert not [line for line in server.stdout.lines if "Received message" in line or "secret" in line]
