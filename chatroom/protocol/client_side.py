"""The client's side of a CHAT/1.0 connection, without I/O: bytes in, events out."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass

from chatroom.limits import CLIENT_MAX_LINE_BYTES
from chatroom.protocol.framing import LineFramer
from chatroom.protocol.lines import LocalProtocolError, chat_prefix, disconnect_line, register_line
from chatroom.protocol.names import is_valid_username


@dataclass(frozen=True, slots=True)
class Registered:
    reply: str


@dataclass(frozen=True, slots=True)
class RegistrationRefused:
    reply: str


@dataclass(frozen=True, slots=True)
class Incoming:
    """A line from the server after registration (a chat line or a notice)."""

    line: str


@dataclass(frozen=True, slots=True)
class ServerClosing:
    """The server said DISCONNECT CHAT/1.0."""


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The server closed without a word, or sent a line past the limit."""

    reason: str


ClientEvent = Registered | RegistrationRefused | Incoming | ServerClosing | ConnectionLost


class ClientState(enum.Enum):
    IDLE = "idle"
    AWAITING_REPLY = "awaiting registration reply"
    REGISTERED = "registered"
    CLOSED = "closed"


class ClientConnection:
    """The client's side of CHAT/1.0 for user `name`."""

    __slots__ = ("name", "state", "framer", "_prefix")

    def __init__(self, name: str, max_line: int = CLIENT_MAX_LINE_BYTES) -> None:
        if not is_valid_username(name):
            raise LocalProtocolError(f"invalid username {name!r}")
        self.name = name
        self.state = ClientState.IDLE
        self.framer = LineFramer(max_line)
        self._prefix = chat_prefix(name)

    def register(self) -> bytes:
        if self.state is not ClientState.IDLE:
            raise LocalProtocolError(f"cannot register while {self.state.value}")
        self.state = ClientState.AWAITING_REPLY
        return register_line(self.name)

    def chat(self, text: str) -> bytes:
        """The line that says `text` to everyone; `text` must be one line."""
        if self.state is not ClientState.REGISTERED:
            raise LocalProtocolError(f"cannot chat while {self.state.value}")
        if "\n" in text or "\r" in text:
            raise LocalProtocolError("a chat message is a single line")
        return self._prefix + text.encode() + b"\n"

    def disconnect(self) -> bytes:
        """DISCONNECT <name> CHAT/1.0; after it the connection is over."""
        self.state = ClientState.CLOSED
        return disconnect_line(self.name)

    def receive(self, data: bytes) -> Iterator[ClientEvent]:
        """Feed bytes from the server; b"" means the server closed the connection."""
        if self.state is ClientState.CLOSED:
            return
        for raw in self.framer.feed(data):
            line = raw.decode("utf-8", errors="replace")
            if self.state is ClientState.AWAITING_REPLY:
                if line == "200" or line.startswith("200 "):
                    self.state = ClientState.REGISTERED
                    yield Registered(line)
                else:
                    self.state = ClientState.CLOSED
                    yield RegistrationRefused(line)
                    return
            elif raw == b"DISCONNECT CHAT/1.0":
                self.state = ClientState.CLOSED
                yield ServerClosing()
                return
            else:
                yield Incoming(line)
        if self.framer.overflowed:
            self.state = ClientState.CLOSED
            yield ConnectionLost(f"the server sent a line longer than {self.framer.max_line} bytes")
        elif not data:
            self.state = ClientState.CLOSED
            yield ConnectionLost("the server closed the connection")
