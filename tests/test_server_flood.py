"""Flood control and connection limits on the real server, over loopback sockets.

Loopback is exempt by default, so every server here that should apply the
limits is started with `--flood-exempt none`, and with small rates so that
each test takes a second or two.
"""

from __future__ import annotations

import re
import socket
import time

import pytest
from support.peer import Peer
from support.processes import ServerFactory, ServerProcess

NO_EXEMPTION = ("--flood-exempt", "none")

SLOW_DOWN = b"429 Slow down: "
NOT_SENT = b"429 Not sent: "
FLOODING = b"429 Disconnected for flooding"


def chat(peer: Peer, name: str, texts: list[str]) -> None:
    """Send every line of `texts` as `name`'s chat lines in one write (a paste)."""
    peer.send(b"".join(f"@{name}: {text}\n".encode() for text in texts))


def test_a_flood_is_delayed_not_lost_and_the_flooder_is_told_once(start_server: ServerFactory) -> None:
    server = start_server(*NO_EXEMPTION, "--flood-lines", "20/5")
    alice, bob, carol = (server.register(name) for name in ("alice", "bob", "carol"))
    texts = [f"line {n}" for n in range(30)]
    started = time.monotonic()
    chat(alice, "alice", texts)
    assert bob.recv_line() == b"@alice: line 0"
    chat(carol, "carol", ["meanwhile"])  # others are not delayed by alice's flood
    received = [b"@alice: line 0"]
    while b"@carol: meanwhile" not in received:
        received.append(bob.recv_line())
    while len([line for line in received if line.startswith(b"@alice")]) < 30:
        received.append(bob.recv_line())
    assert received.index(b"@carol: meanwhile") < received.index(b"@alice: line 29"), "carol waited"
    elapsed = time.monotonic() - started
    assert [line for line in received if line.startswith(b"@alice")] == [
        f"@alice: {text}".encode() for text in texts
    ]
    assert elapsed >= 0.8, f"25 lines over the burst at 20 a second went through in {elapsed:.2f} s"
    to_alice = alice.recv_lines(2)
    assert b"@carol: meanwhile" in to_alice
    notices = [line for line in to_alice if line.startswith(b"429")]
    assert len(notices) == 1 and notices[0].startswith(SLOW_DOWN) and b"20 lines" in notices[0]
    assert alice.has_nothing_to_read()  # once per episode
    server.wait_for_log("Throttling user alice")


def test_a_typing_rate_and_a_50_line_paste_are_never_throttled(start_server: ServerFactory) -> None:
    server = start_server(*NO_EXEMPTION)  # the default limits
    alice, bob = server.register("alice"), server.register("bob")
    paste = [f"pasted {n}" for n in range(50)]
    chat(alice, "alice", paste)
    assert bob.recv_lines(50, timeout=2) == [f"@alice: {text}".encode() for text in paste]
    for n in range(10):  # typing at 5 lines a second, which no person keeps up
        chat(alice, "alice", [f"typed {n}"])
        assert bob.recv_line(timeout=1) == f"@alice: typed {n}".encode()
        time.sleep(0.2)  # the typing rate itself is what is tested
    assert alice.has_nothing_to_read()
    assert "Throttling" not in server.stdout.text


def test_a_sustained_flood_is_disconnected_with_a_final_line_and_a_warning(
    start_server: ServerFactory,
) -> None:
    server = start_server(*NO_EXEMPTION, "--flood-lines", "20/5", "--flood-disconnect-after", "1")
    alice, bob = server.register("alice"), server.register("bob")
    chat(alice, "alice", [f"flood {n}" for n in range(2000)])  # 40 KB: the kernel takes it all
    assert alice.recv_line().startswith(SLOW_DOWN)
    assert alice.recv_line().startswith(FLOODING)
    alice.expect_closed()
    line = server.wait_for_log("for flooding")
    assert "alice" in line and "20/5" in line
    bob.send_line("@bob: !list")  # its reply comes after every line relayed before it
    seen = [bob.recv_line()]
    while not seen[-1].startswith(b"213 "):
        seen.append(bob.recv_line())
    relayed = [line for line in seen if line.startswith(b"@alice: flood ")]
    assert relayed == [f"@alice: flood {n}".encode() for n in range(len(relayed))]
    assert 4 <= len(relayed) < 100  # the burst, then 20 a second for about a second
    chat(bob, "bob", ["still here"])
    carol = server.register("carol")
    chat(bob, "bob", ["hello carol"])
    assert carol.recv_line() == b"@bob: hello carol"


def test_a_room_takes_only_so_many_lines_from_all_its_senders_together(start_server: ServerFactory) -> None:
    server = start_server(*NO_EXEMPTION, "--flood-room", "0.1/3")
    alice, bob, carol, dave = (server.register(name) for name in ("alice", "bob", "carol", "dave"))
    dave.send_line("@dave: !join #dev")
    assert dave.recv_line().startswith(b"210 ")
    chat(alice, "alice", ["one", "two"])
    assert carol.recv_lines(2) == [b"@alice: one", b"@alice: two"]
    assert bob.recv_lines(2) == [b"@alice: one", b"@alice: two"]
    chat(bob, "bob", ["three", "four"])
    assert carol.recv_line() == b"@bob: three"
    notice = bob.recv_line()
    assert notice.startswith(NOT_SENT) and b"#lobby" in notice
    server.wait_for_log("Room #lobby is over its line rate")
    chat(alice, "alice", ["five"])
    three, refused = alice.recv_lines(2)
    assert three == b"@bob: three" and refused.startswith(NOT_SENT)
    carol.send_line("@carol: !list")  # its reply comes after every line relayed before it
    seen = [carol.recv_line()]
    while not seen[-1].startswith(b"213 "):
        seen.append(carol.recv_line())
    assert not [line for line in seen if line.startswith(b"@")], seen  # neither "four" nor "five"
    erin = server.register("erin")
    erin.send_line("@erin: !join #dev")
    assert erin.recv_line().startswith(b"210 ")
    chat(erin, "erin", ["another room is not limited by #lobby"])
    assert dave.recv_line() == b"@erin: another room is not limited by #lobby"


def test_an_address_that_connects_too_often_is_refused_at_accept(start_server: ServerFactory) -> None:
    server = start_server(*NO_EXEMPTION, "--flood-connects", "0.1/3")
    users = [server.register(f"user{n}") for n in range(3)]
    refused = server.connect()
    reply = refused.recv_line()
    assert re.fullmatch(rb"429 Too many connections from your address lately; try again in \d+ s", reply)
    refused.expect_closed()
    server.wait_for_log("Too many new connections from 127.0.0.1")
    chat(users[0], "user0", ["the others stay"])
    assert users[1].recv_line() == b"@user0: the others stay"


def test_the_concurrent_limit_per_address_applies_to_addresses_not_exempt(
    start_server: ServerFactory,
) -> None:
    server = start_server(*NO_EXEMPTION, "--max-per-address", "2")
    first, second = server.register("first"), server.register("second")
    third = server.connect()
    assert third.recv_line() == b"429 Too many connections"
    third.expect_closed()
    third.close()
    second.send_line("DISCONNECT second CHAT/1.0")
    second.expect_closed()
    server.wait_for_log("Disconnecting user second")
    _register_when_reaped(server, "again", b"429 Too many connections")
    assert first.has_nothing_to_read()


def test_by_default_loopback_is_exempt_from_the_per_address_limit(start_server: ServerFactory) -> None:
    server = start_server("--max-per-address", "1")
    server.register("first")
    server.register("second")


def test_the_server_wide_cap_applies_to_every_address(start_server: ServerFactory) -> None:
    server = start_server("--max-connections", "2")  # loopback is exempt from flood limits, not this
    first, second = server.register("first"), server.register("second")
    third = server.connect()
    assert third.recv_line() == b"429 Server full; try again later"
    third.expect_closed()
    third.close()
    server.wait_for_log("Server full (2 connections, --max-connections)")
    second.send_line("DISCONNECT second CHAT/1.0")
    second.expect_closed()
    server.wait_for_log("Disconnecting user second")
    _register_when_reaped(server, "again", b"429 Server full; try again later")
    assert first.has_nothing_to_read()


def _register_when_reaped(server: ServerProcess, name: str, refusal: bytes) -> None:
    """Register `name` once the connections that left are no longer counted.

    The server closes a leaving connection at the end of its loop turn, so a
    connection made just after may still find it counted: retry on `refusal`
    (each retry waits for an event, the reply), a few times at most.
    """
    for _ in range(20):
        peer = server.connect()
        peer.send_line(f"REGISTER {name} CHAT/1.0")
        reply = peer.recv_line()
        if reply == b"200 Registration successful":
            return
        assert reply == refusal
        peer.close()
    raise AssertionError("the server stayed full after a user left")


def test_no_flood_control_turns_every_limit_off(start_server: ServerFactory) -> None:
    server = start_server(
        *NO_EXEMPTION, "--no-flood-control", "--flood-lines", "20/5", "--flood-connects", "0.1/1"
    )
    alice, bob = server.register("alice"), server.register("bob")
    extra = [server.register(f"extra{n}") for n in range(20)]  # past 16 per address, and the rate
    texts = [f"line {n}" for n in range(200)]
    chat(alice, "alice", texts)
    assert bob.recv_lines(200, timeout=2) == [f"@alice: {text}".encode() for text in texts]
    assert alice.has_nothing_to_read()
    assert extra[-1].recv_lines(200, timeout=2)[-1] == b"@alice: line 199"
    assert "Throttling" not in server.stdout.text


def test_loopback_is_exempt_by_default(server: ServerProcess) -> None:
    alice, bob = server.register("alice"), server.register("bob")
    texts = [f"line {n}" for n in range(3000)]  # 50 times the default burst, at once
    chat(alice, "alice", texts)
    assert bob.recv_lines(3000, timeout=5)[-1] == b"@alice: line 2999"
    assert alice.has_nothing_to_read()
    assert "Throttling" not in server.stdout.text


def test_exempt_networks_are_matched_for_ipv6_peers_too(start_server: ServerFactory) -> None:
    """::1 is loopback's IPv6 address: exempt by default, not when only 127.0.0.0/8 is."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    for exempt, throttled in (((), False), (("--flood-exempt", "127.0.0.0/8"), True)):
        server = start_server(*exempt, "--flood-lines", "20/5")
        try:
            alice, bob = Peer.connect(server.port, "::1"), Peer.connect(server.port, "::1")
        except OSError:
            pytest.skip("the server does not listen on ::1 here")
        server.peers += [alice, bob]
        alice.register("alice")
        bob.register("bob")
        chat(alice, "alice", [f"line {n}" for n in range(10)])
        assert bob.recv_lines(10)[-1] == b"@alice: line 9"
        alice.send_line("@alice: !help")  # its reply comes after the notice, if there is one
        first = alice.recv_line()
        assert first.startswith(SLOW_DOWN) is throttled, (exempt, first)
