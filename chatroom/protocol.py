"""CHAT/1.0 without I/O: bytes in, events and bytes out.

Nothing here touches a socket, a selector, a clock or a terminal. The server,
the client, the benchmark and the fuzz tests all drive these objects, so the
protocol is written down once. docs/PROTOCOL.md is the prose version.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from chatroom.limits import MAX_LINE_BYTES, MAX_USERNAME_CHARS

VERSION = b"CHAT/1.0"

REGISTERED = b"200 Registration successful\n"
INVALID_REGISTRATION = b"400 Invalid registration\n"
ALREADY_REGISTERED = b"401 Client already registered\n"
INVALID_MESSAGE = b"400 Invalid message\n"
NOT_YOUR_NAME = b"403 Not your username\n"
REGISTRATION_TIMEOUT = b"408 Registration timeout\n"
LINE_TOO_LONG = b"413 Line too long\n"
TOO_MANY_CONNECTIONS = b"429 Too many connections\n"
SERVER_DISCONNECT = b"DISCONNECT CHAT/1.0\n"

_FORBIDDEN_NAME_START = "@#!"
_FORBIDDEN_NAME_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
# C0 controls but TAB, DEL, and C1 controls (U+0080-U+009F, UTF-8 \xc2\x80-\x9f):
# they could move a receiving terminal's cursor or rewrite its screen, so a
# chat line carrying one is refused, not relayed.
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]|\xc2[\x80-\x9f]")


class LocalProtocolError(Exception):
    """Our own code asked for something the protocol forbids in this state."""


def is_valid_username(name: str) -> bool:
    """1 to 32 characters, no whitespace or control/format characters, no @ # ! first."""
    if not 1 <= len(name) <= MAX_USERNAME_CHARS or name[0] in _FORBIDDEN_NAME_START:
        return False
    return not any(ch.isspace() or unicodedata.category(ch) in _FORBIDDEN_NAME_CATEGORIES for ch in name)


def username_key(name: str) -> str:
    """The form under which names are unique: 'Alice', 'alice' and 'ALICE' in fullwidth letters are one user.

    NFKC folds look-alike compatibility forms and casefold folds case, so one
    user cannot be impersonated by a name that merely renders the same.
    """
    return unicodedata.normalize("NFKC", name).casefold()


def chat_prefix(name: str) -> bytes:
    """The bytes every chat line from `name` starts with."""
    return b"@" + name.encode() + b": "


def split_chat_line(line: str) -> tuple[str, str] | None:
    """('alice', 'hi') for '@alice: hi'; None for anything that is not a chat line."""
    if not line.startswith("@"):
        return None
    name, sep, text = line[1:].partition(": ")
    if not sep or not name or " " in name:
        return None
    return name, text


def register_line(name: str) -> bytes:
    return b"REGISTER " + name.encode() + b" " + VERSION + b"\n"


def disconnect_line(name: str) -> bytes:
    return b"DISCONNECT " + name.encode() + b" " + VERSION + b"\n"


def parse_register(line: bytes) -> str | None:
    """The username of a well-formed REGISTER line, else None."""
    parts = line.split(b" ")
    if len(parts) != 3 or parts[0] != b"REGISTER" or parts[2] != VERSION:
        return None
    try:
        name = parts[1].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return name if is_valid_username(name) else None


def _is_disconnect_line(line: bytes) -> bool:
    """DISCONNECT <any name> CHAT/1.0, well formed."""
    parts = line.split(b" ")
    return len(parts) == 3 and parts[0] == b"DISCONNECT" and parts[2] == VERSION and parts[1] != b""


def is_clean_text(line: bytes) -> bool:
    """UTF-8 with no control characters but TAB."""
    if _CONTROL_BYTES.search(line) is not None:
        return False
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class LineFramer:
    """Splits a byte stream into LF-terminated lines, each at most `max_line` bytes.

    A CR right before the LF is dropped. Lines are returned without their
    terminator. When a line (or the unfinished tail) grows past the limit the
    framer returns the lines before it, sets `overflowed`, and takes no more
    input: the connection is over.
    """

    __slots__ = ("max_line", "overflowed", "_tail")

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.max_line = max_line
        self.overflowed = False
        self._tail = b""

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held back."""
        return len(self._tail)

    def feed(self, data: bytes) -> list[bytes]:
        if self.overflowed:
            return []
        if self._tail:
            data = self._tail + data
        if b"\n" not in data:
            self._tail = data
            if len(data) > self.max_line + 1:  # +1: a CR may still precede the LF
                self._overflow()
            return []
        lines = data.split(b"\n")
        self._tail = lines.pop()
        if len(data) > self.max_line:
            # Slow path, only for big chunks: find the first line over the limit.
            for index, line in enumerate(lines):
                if len(line) > self.max_line and not (
                    len(line) == self.max_line + 1 and line.endswith(b"\r")
                ):
                    self._overflow()
                    del lines[index:]
                    break
            else:
                if len(self._tail) > self.max_line + 1:
                    self._overflow()
        if b"\r" not in data:
            return lines
        return [line[:-1] if line.endswith(b"\r") else line for line in lines]

    def discard(self) -> None:
        """Forget any unfinished line (the connection is over; free its memory now)."""
        self._tail = b""

    def _overflow(self) -> None:
        self.overflowed = True
        self._tail = b""


# Events the server side of a connection produces -------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterRequest:
    """A well-formed REGISTER; the server decides whether the name is free."""

    name: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A chat line from the registered sender, without its LF, to relay as it is."""

    line: bytes


@dataclass(frozen=True, slots=True)
class LeaveRequest:
    """DISCONNECT <own name> CHAT/1.0."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Send `reply`; when `fatal`, then close the connection."""

    reply: bytes
    fatal: bool
    reason: str


ServerEvent = RegisterRequest | ChatMessage | LeaveRequest | Refusal


class ServerState(enum.Enum):
    AWAITING_REGISTER = "awaiting register"
    DECIDING = "deciding on registration"
    REGISTERED = "registered"
    CLOSED = "closed"


class ServerConnection:
    """The server's view of one client connection.

    `receive` parses lazily, one line per event, so a line that follows
    REGISTER in the same packet is judged only after the server has accepted
    or refused the registration.
    """

    __slots__ = ("state", "name", "framer", "_prefix")

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.state = ServerState.AWAITING_REGISTER
        self.name = ""
        self.framer = LineFramer(max_line)
        self._prefix = b""

    def receive(self, data: bytes) -> Iterator[ServerEvent]:
        for line in self.framer.feed(data):
            if self.state is ServerState.REGISTERED:
                if line.startswith(self._prefix):
                    if is_clean_text(line):
                        yield ChatMessage(line)
                    else:
                        yield Refusal(INVALID_MESSAGE, False, "invalid bytes in chat line")
                elif line == disconnect_line(self.name)[:-1]:
                    self.state = ServerState.CLOSED
                    yield LeaveRequest()
                    return
                elif line.startswith(b"@") or _is_disconnect_line(line):
                    yield Refusal(NOT_YOUR_NAME, False, "line speaks for another user")
                else:
                    yield Refusal(INVALID_MESSAGE, False, "not a chat line")
            elif self.state is ServerState.AWAITING_REGISTER:
                name = parse_register(line)
                if name is None:
                    self.state = ServerState.CLOSED
                    yield Refusal(INVALID_REGISTRATION, True, "invalid registration")
                    return
                self.state = ServerState.DECIDING
                yield RegisterRequest(name)
                if self.state is not ServerState.REGISTERED:
                    return
            else:
                raise LocalProtocolError(f"input after the connection was {self.state.value}")
        if self.framer.overflowed and self.state is not ServerState.CLOSED:
            registered = self.state is ServerState.REGISTERED
            self.state = ServerState.CLOSED
            reply = LINE_TOO_LONG if registered else INVALID_REGISTRATION
            yield Refusal(reply, True, f"line longer than {self.framer.max_line} bytes")

    def accept(self, name: str) -> bytes:
        """The name is free: the user is in. Returns the reply to send."""
        self._require(ServerState.DECIDING)
        self.state = ServerState.REGISTERED
        self.name = name
        self._prefix = chat_prefix(name)
        return REGISTERED

    def refuse_taken(self) -> bytes:
        """The name is in use: reply 401; the connection is over."""
        self._require(ServerState.DECIDING)
        self.state = ServerState.CLOSED
        return ALREADY_REGISTERED

    def close(self) -> None:
        """The connection is over: no more events, and no partial line kept in memory."""
        self.state = ServerState.CLOSED
        self.framer.discard()

    def _require(self, state: ServerState) -> None:
        if self.state is not state:
            raise LocalProtocolError(f"expected state {state.value}, not {self.state.value}")


# Events the client side produces ------------------------------------------------------


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


# A server notice may be longer than our own line limit; the client is lenient
# in what it reads but still bounded.
CLIENT_MAX_LINE_BYTES = 64 * 1024


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
