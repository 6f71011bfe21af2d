"""The server's side of a CHAT/1.0 connection, without I/O: bytes in, events out."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from chatroom.limits import MAX_LINE_BYTES
from chatroom.protocol.framing import LineFramer
from chatroom.protocol.lines import (
    ALREADY_REGISTERED,
    INVALID_MESSAGE,
    INVALID_REGISTRATION,
    LINE_TOO_LONG,
    NOT_YOUR_NAME,
    REGISTERED,
    VERSION,
    VERSION_1_1,
    Credentials,
    LocalProtocolError,
    chat_prefix,
    disconnect_line,
    is_clean_text,
    is_disconnect_line,
    parse_registration,
    parse_room_prefix,
)


@dataclass(frozen=True, slots=True)
class RegisterRequest:
    """A well-formed REGISTER; the server decides whether the name is free."""

    name: str
    version: bytes = VERSION
    replay: int | None = None  # CHAT/1.1's replay=N option
    credentials: Credentials | None = None  # CHAT/1.1's password options (section 9.1)


@dataclass(slots=True)
class RoomMessage:
    """CHAT/1.1's `@name #room: text`: a chat line for one of the sender's rooms."""

    room: str
    text: str


@dataclass(slots=True)  # not frozen: one is made per chat line, and a frozen one costs 3x as much to make
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
    # For a line over the limit (not for a refusal of another line in the read that overflowed);
    # not compared, so a refusal equals one made without it.
    overflow: bool = field(default=False, compare=False)


ServerEvent = RegisterRequest | ChatMessage | RoomMessage | LeaveRequest | Refusal


class ServerState(enum.Enum):
    AWAITING_REGISTER = "awaiting register"
    DECIDING = "deciding on registration"
    REGISTERED = "registered"
    CLOSED = "closed"


class ServerConnection:
    """The server's view of one client connection.

    `receive` parses lazily, one line per event, so a line that follows
    REGISTER in the same packet is judged only after the server has accepted
    or refused the registration. That decision may come later (an accounts
    store or a cluster-wide name claim answers after a delay): until
    `accept` or `refuse_taken` is called the connection is DECIDING, and the
    lines that arrive meanwhile wait in a backlog, unjudged; `resume` then
    yields their events. The caller should stop reading while `paused`, so the
    backlog holds at most what one read brought (each line is bounded by the
    framer either way).
    """

    __slots__ = ("state", "name", "version", "framer", "_prefix", "_backlog")

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.state = ServerState.AWAITING_REGISTER
        self.name = ""
        self.version = VERSION  # what the client registered with: CHAT/1.0 or CHAT/1.1
        self.framer = LineFramer(max_line)
        self._prefix = b""
        self._backlog: list[bytes] | None = None  # lines read while DECIDING

    @property
    def paused(self) -> bool:
        """True while a registration is being decided: input waits until then."""
        return self.state is ServerState.DECIDING

    def receive(self, data: bytes) -> Iterator[ServerEvent]:
        """Events for the lines `data` completes (none while paused: they wait for `resume`)."""
        if self.state is ServerState.CLOSED:
            raise LocalProtocolError("input after the connection was closed")
        lines = self.framer.feed(data)
        if self.state is ServerState.DECIDING:
            self._hold(lines, 0)
            return iter(())
        return self._events(lines)

    def resume(self) -> Iterator[ServerEvent]:
        """After the decision: the events of the lines that waited for it."""
        lines, self._backlog = self._backlog or [], None
        if self.state is ServerState.CLOSED:
            return iter(())
        return self._events(lines)

    def _hold(self, lines: list[bytes], start: int) -> None:
        if self._backlog is None:
            self._backlog = lines[start:]
        else:
            self._backlog += lines[start:]

    def _events(self, lines: list[bytes]) -> Iterator[ServerEvent]:
        for index, line in enumerate(lines):
            if self.state is ServerState.REGISTERED:
                if line.startswith(self._prefix):
                    if is_clean_text(line):
                        yield ChatMessage(line)
                    else:
                        yield Refusal(INVALID_MESSAGE, False, "invalid bytes in chat line")
                elif line == disconnect_line(self.name, self.version)[:-1]:
                    self.state = ServerState.CLOSED
                    yield LeaveRequest()
                    return
                elif self.version is VERSION_1_1 and line.startswith(self._prefix[:-2] + b" #"):
                    yield self._room_message(line)
                elif line.startswith(b"@") or is_disconnect_line(line, self.version):
                    yield Refusal(NOT_YOUR_NAME, False, "line speaks for another user")
                else:
                    yield Refusal(INVALID_MESSAGE, False, "not a chat line")
            elif self.state is ServerState.AWAITING_REGISTER:
                registration = parse_registration(line)
                if registration is None:
                    self.state = ServerState.CLOSED
                    yield Refusal(INVALID_REGISTRATION, True, "invalid registration")
                    return
                self.state = ServerState.DECIDING
                self.version = registration.version
                yield RegisterRequest(
                    registration.name, registration.version, registration.replay, registration.credentials
                )
                if self.state is ServerState.DECIDING:  # decided later: the rest waits
                    self._hold(lines, index + 1)
                    return
            if self.state is ServerState.CLOSED:  # refused or closed by the caller meanwhile
                return
        if self.framer.overflowed and self.state is not ServerState.CLOSED:
            registered = self.state is ServerState.REGISTERED
            self.state = ServerState.CLOSED
            reply = LINE_TOO_LONG if registered else INVALID_REGISTRATION
            yield Refusal(reply, True, f"line longer than {self.framer.max_line} bytes", overflow=True)

    def _room_message(self, line: bytes) -> RoomMessage | Refusal:
        """`@name #room: text` from a CHAT/1.1 client (the name is checked already)."""
        found = parse_room_prefix(line, self._prefix[:-2] + b" #")
        if found is None:
            return Refusal(INVALID_MESSAGE, False, "bad room in a room chat line")
        if not is_clean_text(line):
            return Refusal(INVALID_MESSAGE, False, "invalid bytes in chat line")
        room, start = found
        return RoomMessage(room, line[start:].decode())

    def accept(self, name: str) -> bytes:
        """The name is free: the user is in. Returns the reply to send."""
        self._require(ServerState.DECIDING)
        self.state = ServerState.REGISTERED
        self.name = name
        self._prefix = chat_prefix(name)
        return REGISTERED

    def refuse_taken(self) -> bytes:
        """The name is in use: reply 401; the connection is over."""
        return self.refuse(ALREADY_REGISTERED)

    def refuse(self, reply: bytes) -> bytes:
        """The registration is refused with `reply` (a protected or banned name); the connection is over."""
        self._require(ServerState.DECIDING)
        self.state = ServerState.CLOSED
        return reply

    def close(self) -> None:
        """The connection is over: no more events, and no partial line kept in memory."""
        self.state = ServerState.CLOSED
        self._backlog = None
        self.framer.discard()

    def _require(self, state: ServerState) -> None:
        if self.state is not state:
            raise LocalProtocolError(f"expected state {state.value}, not {self.state.value}")
