"""The client's side of a CHAT/1.0 or CHAT/1.1 connection, without I/O: bytes in, events out.

The version is chosen when the connection is made (docs/PROTOCOL.md 7.1): it
decides the REGISTER and DISCONNECT lines, and whether a chat line may name
its room (`@alice #dev: text`, CHAT/1.1 only). What the lines that arrive mean
is chatroom.protocol.events' business; this object only frames them and
follows the connection's state.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass

from chatroom.limits import CLIENT_MAX_LINE_BYTES
from chatroom.protocol.framing import LineFramer
from chatroom.protocol.lines import (
    VERSION,
    VERSION_1_1,
    Credentials,
    LocalProtocolError,
    chat_prefix,
    credentials_options,
    disconnect_line,
    register_line,
    server_disconnect_line,
)
from chatroom.protocol.names import is_valid_room_name, is_valid_username


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
    """The server said DISCONNECT CHAT/1.0 (or CHAT/1.1)."""


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


VERSIONS = (VERSION, VERSION_1_1)


class ClientConnection:
    """The client's side of CHAT/1.0 (or, with `version=VERSION_1_1`, CHAT/1.1) for user `name`."""

    __slots__ = ("name", "version", "state", "framer", "_prefix", "_server_disconnects", "_credentials")

    def __init__(
        self,
        name: str,
        max_line: int = CLIENT_MAX_LINE_BYTES,
        version: bytes = VERSION,
        credentials: Credentials | None = None,
    ) -> None:
        """`credentials`: CHAT/1.1's password options (docs/PROTOCOL.md section 9), sent with REGISTER."""
        if not is_valid_username(name):
            raise LocalProtocolError(f"invalid username {name!r}")
        if version not in VERSIONS:
            raise LocalProtocolError(f"unknown protocol version {version!r}")
        if credentials is not None and version != VERSION_1_1:
            raise LocalProtocolError("a password travels only in a CHAT/1.1 registration")
        self._credentials = credentials
        self.name = name
        self.version = version
        self.state = ClientState.IDLE
        self.framer = LineFramer(max_line)
        self._prefix = chat_prefix(name)
        # A CHAT/1.1 server says DISCONNECT CHAT/1.1; the CHAT/1.0 form is understood too.
        self._server_disconnects = {server_disconnect_line(v)[:-1] for v in (VERSION, version)}

    def register(self) -> bytes:
        if self.state is not ClientState.IDLE:
            raise LocalProtocolError(f"cannot register while {self.state.value}")
        self.state = ClientState.AWAITING_REPLY
        return register_line(self.name, self.version, credentials_options(self._credentials))

    def chat(self, text: str, room: str | None = None) -> bytes:
        """The line that says `text` to your room, or (CHAT/1.1) to `room`; `text` must be one line."""
        if self.state is not ClientState.REGISTERED:
            raise LocalProtocolError(f"cannot chat while {self.state.value}")
        if "\n" in text or "\r" in text:
            raise LocalProtocolError("a chat message is a single line")
        if room is None:
            return self._prefix + text.encode() + b"\n"
        if self.version != VERSION_1_1 or not is_valid_room_name(room):
            raise LocalProtocolError(f"cannot address room {room!r} in {self.version.decode()}")
        return f"@{self.name} {room}: {text}\n".encode()

    def disconnect(self) -> bytes:
        """DISCONNECT <name> <version>; after it the connection is over."""
        self.state = ClientState.CLOSED
        return disconnect_line(self.name, self.version)

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
            elif raw in self._server_disconnects:
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
