"""CHAT/1.0 and CHAT/1.1 as the hub sees them: a connection's lines become requests, messages lines.

The parsing is chatroom.protocol's ServerConnection; this module only
translates its events into hub requests, and encodes hub messages as lines:
CHAT/1.0's prose for a client that registered with CHAT/1.0, CHAT/1.1's
events (docs/PROTOCOL.md section 7) for one that asked for them. The CHAT/1.0
encoding is exact: a room line from alice is `@alice: text`, the same bytes
alice sent (valid UTF-8 decodes and encodes back to itself).
"""

from __future__ import annotations

import datetime
from collections.abc import Hashable, Iterator, Sequence

from chatroom.codecs.requests import Command, Ending, Leave, Refuse, Register, Request, Say
from chatroom.hub.message import (
    Event,
    FollowedLine,
    Joined,
    Left,
    MemberList,
    Message,
    PrivateLine,
    Renamed,
    Replay,
    RoomLine,
    TopicShown,
)
from chatroom.limits import LIST_NAMES_PER_LINE, MAX_LINE_BYTES
from chatroom.protocol import (
    INVALID_REGISTRATION,
    REGISTRATION_TIMEOUT,
    TOO_MANY_CONNECTIONS,
    VERSION_1_1,
    ChatMessage,
    LeaveRequest,
    RegisterRequest,
    RoomMessage,
    ServerConnection,
    ServerEvent,
    ServerState,
    chat_prefix,
    is_clean_text,
    server_disconnect_line,
)
from chatroom.protocol.events import format_time

TLS_HANDSHAKE_RECORD = b"\x16\x03"  # a TLS record of type handshake, version 3.x (TLS 1.0-1.3)

_ENDINGS = {
    Ending.REGISTRATION_TIMEOUT: REGISTRATION_TIMEOUT,
    Ending.TOO_MANY_CONNECTIONS: TOO_MANY_CONNECTIONS,
    Ending.FLOODING: b"429 Disconnected for flooding: you kept sending faster than this server reads\n",
}


class ChatWire:
    """Encodes hub messages as CHAT/1.0 lines; one instance serves every CHAT/1.0 connection."""

    __slots__ = ()

    events = False  # a CHAT/1.0 client gets no line it did not ask for

    @property
    def room_lines_key(self) -> Hashable:
        return self

    def encode(self, message: Message | Event) -> bytes:
        if type(message) is RoomLine:
            return f"@{message.sender}: {message.text}\n".encode()
        if isinstance(message, PrivateLine):  # never the bytes of an ordinary room line
            return f"@{message.sender} (private): {message.text}\n".encode()
        if isinstance(message, FollowedLine):
            return f"@{message.sender} ({message.room}): {message.text}\n".encode()
        return b""  # events are never routed here; if one were, it would say nothing

    def encode_reply(self, code: int, lines: Sequence[str]) -> bytes:
        return encode_reply(code, lines)

    def encode_notice(self, code: int, lines: Sequence[str]) -> bytes:
        return encode_reply(code, lines)


class ChatWire11:
    """Encodes hub messages and events as CHAT/1.1 lines (docs/PROTOCOL.md 7.3)."""

    __slots__ = ()

    events = True

    @property
    def room_lines_key(self) -> Hashable:
        return self

    def encode(self, message: Message | Event) -> bytes:
        if type(message) is RoomLine:
            return f"MSG {message.room} {message.sender} {message.text}\n".encode()
        if isinstance(message, PrivateLine):
            return f"PRIVATE {message.sender} {message.text}\n".encode()
        if isinstance(message, FollowedLine):
            return f"FOLLOWED {message.room} {message.sender} {message.text}\n".encode()
        if isinstance(message, Joined | Left):
            verb = "JOINED" if isinstance(message, Joined) else "LEFT"
            return "".join(f"{verb} {message.room} {chunk}\n" for chunk in _chunks(message.names)).encode()
        if isinstance(message, MemberList):
            lines = [f"MEMBERS {message.room} {chunk}\n" for chunk in _chunks(message.names)]
            presence = "on" if message.presence else "off"
            lines.append(f"MEMBERS-END {message.room} {message.count} {presence}\n")
            return "".join(lines).encode()
        if isinstance(message, TopicShown):
            return f"TOPIC {message.room} {message.text}\n".encode()
        if isinstance(message, Renamed):  # CHAT/1.1 has no rename: the old name left, the new one came
            return f"LEFT {message.room} {message.old}\nJOINED {message.room} {message.new}\n".encode()
        assert isinstance(message, Replay)
        room = message.room
        lines = [f"HISTORY {room} {_iso(when)} {sender} {text}\n" for when, sender, text in message.lines]
        lines.append(f"HISTORY-END {message.room} {len(message.lines)}\n")
        return "".join(lines).encode()

    def encode_reply(self, code: int, lines: Sequence[str]) -> bytes:
        return encode_reply(code, lines)

    def encode_notice(self, code: int, lines: Sequence[str]) -> bytes:
        return encode_reply(code, lines)


def _said(text: str, room: str | None = None) -> Say | Command:
    """What a chat line's text asks: a command when it starts with '!' (never relayed); '!!' says '!...'."""
    if not text.startswith("!"):
        return Say(text, room)
    return Say(text[1:], room) if text.startswith("!!") else Command(text, room)


def is_unambiguous_name(name: str) -> bool:
    """A valid name this server registers: not one ending in ':' (docs/PROTOCOL.md section 3).

    A user 'bob:' would reach CHAT/1.0 clients as '@bob: (private): hi', the
    very bytes of bob saying '(private): hi' in the room (the codecs fuzz
    harness found it). Clients still read such names from other servers.
    """
    return not name.endswith(":")


def encode_reply(code: int, lines: Sequence[str]) -> bytes:
    """One or more status lines with `code`, SMTP-style (docs/PROTOCOL.md 6.1)."""
    last = len(lines) - 1
    return "".join(f"{code}{' ' if n == last else '-'}{line}\n" for n, line in enumerate(lines)).encode()


def _chunks(names: list[str]) -> list[str]:
    step = LIST_NAMES_PER_LINE
    return [" ".join(names[i : i + step]) for i in range(0, len(names), step)]


def _iso(when: float) -> str:
    return format_time(datetime.datetime.fromtimestamp(when, datetime.timezone.utc))


CHAT_WIRE = ChatWire()
CHAT11_WIRE = ChatWire11()


class ChatCodec(ServerConnection):
    """The server's end of one CHAT/1.0 connection, speaking in hub requests.

    A ServerConnection that also translates: one object per connection, not
    two, because every idle user pays for each object it holds.
    """

    __slots__ = ("_text_start",)

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        super().__init__(max_line)
        self._text_start = 0  # where a chat line's text starts: after "@name: "

    @property
    def wire(self) -> ChatWire | ChatWire11:
        return CHAT11_WIRE if self.version is VERSION_1_1 else CHAT_WIRE

    @property
    def registered(self) -> bool:
        return self.state is ServerState.REGISTERED

    def said(self, data: bytes) -> str | None:
        if self.state is not ServerState.REGISTERED:
            return None
        line = self.framer.whole_line(data)
        if line is None or not line.startswith(self._prefix) or not is_clean_text(line):
            return None
        text = line[self._text_start :].decode()
        return None if text.startswith("!") else text

    def requests(self, data: bytes) -> Iterator[Request]:
        if self.state is ServerState.REGISTERED:
            text = self.said(data)  # most reads (a metered connection's too): one chat line
            if text is not None:  # said() took nothing, and feed() would leave nothing held
                return iter((Say(text),))
            return self._requests(self._events(self.framer.feed(data)))  # what receive() does when registered
        if data.startswith(TLS_HANDSHAKE_RECORD) and self.state is ServerState.AWAITING_REGISTER:
            return self._tls_on_plain_port()
        return self._requests(self.receive(data))

    def _tls_on_plain_port(self) -> Iterator[Request]:
        """A TLS ClientHello (chats:// to the plain port) is refused at once, not after the registration
        timeout, so its client's handshake fails at once on the 400. No REGISTER line starts so."""
        self.state = ServerState.CLOSED
        yield Refuse(INVALID_REGISTRATION, True, "a TLS handshake on the plain port")

    def waiting_requests(self) -> Iterator[Request]:
        return self._requests(self.resume())

    def _requests(self, events: Iterator[ServerEvent]) -> Iterator[Request]:
        for event in events:
            if type(event) is ChatMessage:
                yield _said(event.line[self._text_start :].decode())
            elif type(event) is RoomMessage:
                yield _said(event.text, event.room)
            elif isinstance(event, RegisterRequest):
                if not is_unambiguous_name(event.name):
                    self.close()
                    yield Refuse(INVALID_REGISTRATION, True, "name ends with ':'")
                    return
                yield Register(event.name, event.replay, event.credentials)
            elif isinstance(event, LeaveRequest):
                yield Leave()
            else:
                assert not isinstance(event, ChatMessage | RoomMessage)
                limit = "--max-line" if event.overflow else None
                yield Refuse(event.reply, event.fatal, event.reason, limit)

    def accept(self, name: str) -> bytes:
        reply = super().accept(name)
        self._text_start = len(chat_prefix(name))
        return reply

    def refuse_with(self, code: int, sentence: str) -> bytes:
        return self.refuse(encode_reply(code, [sentence]))

    def final_line(self, code: int, sentence: str) -> bytes:
        return encode_reply(code, [sentence])

    def ending(self, ending: Ending) -> bytes:
        if ending is Ending.SERVER_SHUTDOWN:
            return server_disconnect_line(self.version)
        return _ENDINGS[ending]
