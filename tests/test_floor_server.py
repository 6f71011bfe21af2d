"""scripts/floor_server.py, the floor peerbench compares us with, relays as W1 and W4 expect.

Its numbers are only a floor if it does the same work: every line, to every
other member of the sender's room and to no one else.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from support.peer import DEADLINE_S, Peer
from support.processes import REPO_ROOT, OutputLines, child_env


@pytest.fixture
def floor_port() -> Iterator[int]:
    proc = subprocess.Popen(
        [sys.executable, "scripts/floor_server.py"],
        cwd=REPO_ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = OutputLines(proc.stdout, "floor").wait_for("Server listening on port ", timeout=DEADLINE_S)
        yield int(line.rsplit(" ", 1)[1])
    finally:
        proc.kill()
        proc.wait()


def member(port: int, name: str, room: str | None = None) -> Peer:
    peer = Peer.connect(port)
    peer.send_line(f"REGISTER {name} CHAT/1.0")
    assert peer.recv_line() == b"200 Registration successful"
    if room is not None:
        peer.send_line(f"@{name}: !join {room}")
        assert peer.recv_line().startswith(b"2")
    return peer


def test_the_floor_relays_a_line_to_the_other_members_of_the_senders_room_only(floor_port: int) -> None:
    alice, bob, carol = (member(floor_port, name, "#r1") for name in ("alice", "bob", "carol"))
    dave = member(floor_port, "dave", "#r2")
    erin = member(floor_port, "erin")  # the lobby, as in W1
    frank = member(floor_port, "frank")
    alice.send_line("@alice: |1.1|1|hello")
    erin.send_line("@erin: in the lobby")
    assert bob.recv_line() == carol.recv_line() == b"@alice: |1.1|1|hello"
    assert frank.recv_line() == b"@erin: in the lobby"
    dave.send_line("@dave: alone in #r2")
    bob.send_line("@bob: last")
    assert alice.recv_line() == carol.recv_line() == b"@bob: last"
    for peer in (alice, dave, erin, bob, carol, frank):
        assert peer.has_nothing_to_read()
