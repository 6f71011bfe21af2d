"""CHAT/1.0 as the hub sees it: a connection's lines become requests, messages become lines.

The parsing is chatroom.protocol's ServerConnection; this module only
translates its events into hub requests, and encodes hub messages as CHAT/1.0
lines. The encoding is exact: a room line from alice is `@alice: text`, the
same bytes alice sent (valid UTF-8 decodes and encodes back to itself).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from chatroom.codecs.requests import Command, Ending, Leave, Refuse, Register, Request, Say
from chatroom.hub.message import FollowedLine, Message, PrivateLine, RoomLine
from chatroom.limits import MAX_LINE_BYTES
from chatroom.protocol import (
    REGISTRATION_TIMEOUT,
    SERVER_DISCONNECT,
    TOO_MANY_CONNECTIONS,
    ChatMessage,
    LeaveRequest,
    RegisterRequest,
    ServerConnection,
    ServerEvent,
    ServerState,
    chat_prefix,
)

_ENDINGS = {
    Ending.REGISTRATION_TIMEOUT: REGISTRATION_TIMEOUT,
    Ending.TOO_MANY_CONNECTIONS: TOO_MANY_CONNECTIONS,
    Ending.SERVER_SHUTDOWN: SERVER_DISCONNECT,
}


class ChatWire:
    """Encodes hub messages as CHAT/1.0 lines; one instance serves every CHAT/1.0 connection."""

    __slots__ = ()

    def encode(self, message: Message) -> bytes:
        if type(message) is RoomLine:
            return f"@{message.sender}: {message.text}\n".encode()
        if isinstance(message, PrivateLine):  # never the bytes of an ordinary room line
            return f"@{message.sender} (private): {message.text}\n".encode()
        assert isinstance(message, FollowedLine)
        return f"@{message.sender} ({message.room}): {message.text}\n".encode()

    def encode_reply(self, code: int, lines: Sequence[str]) -> bytes:
        last = len(lines) - 1
        return "".join(f"{code}{' ' if n == last else '-'}{line}\n" for n, line in enumerate(lines)).encode()


CHAT_WIRE = ChatWire()


class ChatCodec(ServerConnection):
    """The server's end of one CHAT/1.0 connection, speaking in hub requests.

    A ServerConnection that also translates: one object per connection, not
    two, because every idle user pays for each object it holds.
    """

    __slots__ = ("_text_start",)

    wire = CHAT_WIRE

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        super().__init__(max_line)
        self._text_start = 0  # where a chat line's text starts: after "@name: "

    @property
    def registered(self) -> bool:
        return self.state is ServerState.REGISTERED

    def requests(self, data: bytes) -> Iterator[Request]:
        return self._requests(self.receive(data))

    def waiting_requests(self) -> Iterator[Request]:
        return self._requests(self.resume())

    def _requests(self, events: Iterator[ServerEvent]) -> Iterator[Request]:
        for event in events:
            if type(event) is ChatMessage:
                text = event.line[self._text_start :].decode()
                if text.startswith("!"):  # a command, never relayed; '!!' says a line starting with '!'
                    yield Say(text[1:]) if text.startswith("!!") else Command(text)
                else:
                    yield Say(text)
            elif isinstance(event, RegisterRequest):
                yield Register(event.name)
            elif isinstance(event, LeaveRequest):
                yield Leave()
            else:
                assert not isinstance(event, ChatMessage)
                limit = "--max-line" if self.framer.overflowed and event.fatal else None
                yield Refuse(event.reply, event.fatal, event.reason, limit)

    def accept(self, name: str) -> bytes:
        reply = super().accept(name)
        self._text_start = len(chat_prefix(name))
        return reply

    def ending(self, ending: Ending) -> bytes:
        return _ENDINGS[ending]
