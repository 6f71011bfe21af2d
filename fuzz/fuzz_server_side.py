"""The server's connection state machine (chatroom/protocol/server_side.py), fed any bytes.

The harness plays the server: each registration is accepted or refused, at
once or later (as an accounts store would answer), as the input decides.
Invariants: the only exception is none (the harness never misuses the API);
at most one registration is asked for, and only before any chat line; every
chat line yielded starts with the registered name's prefix, is clean text and
within the limit; a room line only comes from a CHAT/1.1 client, for a valid
room; every refusal is one known reply line; after a fatal refusal or a
DISCONNECT nothing more comes; and the events are the same whether the
stream arrives in one read or in many.
"""

from __future__ import annotations

from collections.abc import Iterator

from chatroom.protocol.lines import (
    ALREADY_REGISTERED,
    INVALID_MESSAGE,
    INVALID_REGISTRATION,
    LINE_TOO_LONG,
    NOT_YOUR_NAME,
    REGISTERED,
    VERSION,
    VERSION_1_1,
    chat_prefix,
    is_clean_text,
)
from chatroom.protocol.names import is_valid_room_name, is_valid_username
from chatroom.protocol.server_side import (
    ChatMessage,
    LeaveRequest,
    Refusal,
    RegisterRequest,
    RoomMessage,
    ServerConnection,
    ServerEvent,
    ServerState,
)
from fuzz._input import FuzzInput, split

REPLIES = frozenset({INVALID_MESSAGE, INVALID_REGISTRATION, LINE_TOO_LONG, NOT_YOUR_NAME})


class Decision:
    """How the harness answers a registration: accept or refuse, now or after the read."""

    def __init__(self, code: int) -> None:
        self.accept = not code & 1
        self.later = bool(code & 2)


def run(stream_reads: Iterator[bytes], max_line: int, decision: Decision) -> list[object]:
    """Everything that happened, in order: events, and the replies the decision produced."""
    conn = ServerConnection(max_line)
    happened: list[object] = []
    pending: str | None = None  # a name whose decision waits for the end of this read

    def decide(name: str) -> None:
        if decision.accept:
            reply = conn.accept(name)
            assert reply == REGISTERED
        else:
            reply = conn.refuse_taken()
            assert reply == ALREADY_REGISTERED
            assert conn.state is ServerState.CLOSED
        happened.append(reply)

    def consume(events: Iterator[ServerEvent]) -> None:
        nonlocal pending
        for event in events:
            check(conn, event, happened, max_line)
            happened.append(event)
            if isinstance(event, RegisterRequest):
                if decision.later:
                    assert conn.paused
                    pending = event.name
                else:
                    decide(event.name)

    for chunk in stream_reads:
        if conn.state is ServerState.CLOSED:
            break
        consume(conn.receive(chunk))
        if pending is not None:
            name, pending = pending, None
            decide(name)
            consume(conn.resume())
    return happened


def check(conn: ServerConnection, event: ServerEvent, before: list[object], max_line: int) -> None:
    ended = [e for e in before if isinstance(e, LeaveRequest) or (isinstance(e, Refusal) and e.fatal)]
    assert not ended, f"{event!r} after {ended[0]!r}"
    if isinstance(event, RegisterRequest):
        assert not any(isinstance(e, RegisterRequest) for e in before)
        assert is_valid_username(event.name)
        assert event.version in (VERSION, VERSION_1_1)
    elif isinstance(event, ChatMessage):
        assert conn.state is ServerState.REGISTERED
        assert event.line.startswith(chat_prefix(conn.name))
        assert is_clean_text(event.line) and len(event.line) <= max_line
    elif isinstance(event, RoomMessage):
        assert conn.state is ServerState.REGISTERED and conn.version is VERSION_1_1
        assert is_valid_room_name(event.room)
        assert is_clean_text(event.text.encode())
    elif isinstance(event, Refusal):
        assert event.reply in REPLIES, event
        assert event.reply.endswith(b"\n") and event.reply.count(b"\n") == 1
        if event.fatal:
            assert conn.state is ServerState.CLOSED
        if event.reply == LINE_TOO_LONG:
            assert event.fatal and conn.framer.overflowed
    else:
        assert isinstance(event, LeaveRequest)
        assert conn.state is ServerState.CLOSED


def test_one_input(data: bytes) -> None:
    source = FuzzInput(data)
    max_line = source.int_in(16, 80)
    decision = Decision(source.byte())
    cuts = source.cuts()
    stream = source.rest()
    whole = run(iter([stream]), max_line, decision)
    pieces = run(split(stream, cuts), max_line, decision)
    assert pieces == whole, (pieces, whole)
