"""The client's side of a connection (chatroom/protocol/client_side.py), fed whatever a server sends.

Invariants: the first event answers the registration (Registered or
RegistrationRefused) unless the connection is lost first; at most one
Registered; after RegistrationRefused, ServerClosing or ConnectionLost
nothing more comes; an Incoming line holds no LF; the end of stream (b"")
always ends an open connection with ConnectionLost; the events are the same
in one read or many. Building a chat line from any text gives one line or
the documented LocalProtocolError, never anything else.
"""

from __future__ import annotations

from collections.abc import Iterator

from chatroom.protocol.client_side import (
    ClientConnection,
    ClientEvent,
    ConnectionLost,
    Incoming,
    Registered,
    RegistrationRefused,
    ServerClosing,
)
from chatroom.protocol.lines import VERSION, VERSION_1_1, LocalProtocolError
from fuzz._input import FuzzInput, split

ENDINGS = (RegistrationRefused, ServerClosing, ConnectionLost)


def run(reads: Iterator[bytes], max_line: int, version: bytes) -> list[ClientEvent]:
    conn = ClientConnection("alice", max_line, version)
    assert conn.register().endswith(b"\n")
    got: list[ClientEvent] = []
    for chunk in [*reads, b""]:
        for event in conn.receive(chunk):
            assert not any(isinstance(e, ENDINGS) for e in got), f"{event!r} after {got[-1]!r}"
            if isinstance(event, Registered | RegistrationRefused):
                assert not got, f"{event!r} after {got!r}"
            elif isinstance(event, Incoming):
                assert got and isinstance(got[0], Registered)
                assert "\n" not in event.line
            got.append(event)
    assert got and isinstance(got[-1], ENDINGS), got  # the end of stream ends it, if nothing did before
    return got


def test_one_input(data: bytes) -> None:
    source = FuzzInput(data)
    max_line = source.int_in(16, 80)
    version = VERSION_1_1 if source.flag() else VERSION
    cuts = source.cuts()
    stream = source.rest()
    assert run(split(stream, cuts), max_line, version) == run(iter([stream]), max_line, version)

    conn = ClientConnection("alice", max_line, version)
    conn.register()
    list(conn.receive(b"200 Registration successful\n"))
    text = stream.decode("utf-8", errors="replace")
    room, _, said = text.partition(" ")
    for target in (None, room):
        try:
            line = conn.chat(said, target)
        except LocalProtocolError:
            continue
        assert line.endswith(b"\n") and line.count(b"\n") == 1
