"""What a connection asks of the hub, whatever its wire protocol, and what every codec offers.

A codec turns one connection's bytes into these requests and the hub's
answers back into bytes. The server handles requests without knowing the
wire: CHAT/1.0 today, IRC or CHAT over WebSocket later.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from chatroom.hub.message import Wire
from chatroom.protocol.lines import Credentials


@dataclass(frozen=True, slots=True)
class Register:
    """The peer asks to be known as `name` (CHAT/1.1: with `replay` lines of history on entering a room)."""

    name: str
    replay: int | None = None
    credentials: Credentials | None = None  # a password to prove (or claim) the name with


@dataclass(slots=True)  # not frozen: one is made per chat line (see chatroom.hub.message)
class Say:
    """The registered peer says `text` to its current room, or to `room` (CHAT/1.1's `@name #room: `)."""

    text: str
    room: str | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """The registered peer asks the server to do something: `text` is the command line ('!join #dev').

    `room`: the room it was addressed to (CHAT/1.1), which the command is about.
    """

    text: str
    room: str | None = None


@dataclass(frozen=True, slots=True)
class Leave:
    """The peer says goodbye."""


@dataclass(frozen=True, slots=True)
class Refuse:
    """A line the protocol refuses: send `reply`; when `fatal`, close after it.

    `limit` names the server option whose bound the line broke, if any, so the
    log line can say which limit tripped.
    """

    reply: bytes
    fatal: bool
    reason: str
    limit: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """Bytes the codec answers a line with by itself (IRC's PONG, CAP, numerics), sent in turn."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Rename:
    """The registered peer asks to be called `name` (IRC's NICK); `renamed(name)` is called if it may.

    The hub answers like a command (221, or a 4xx the codec words its way).
    """

    name: str
    renamed: Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Authenticate:
    """Before registering, the peer proves `name` is its account (IRC's SASL); the server answers the codec.

    The accounts check the password as they check a registration's; `answered(None)` (proven) or
    `answered(sentence)` (refused, and why) gives the reply to send. Reading waits meanwhile (`paused`).
    """

    name: str
    credentials: Credentials
    answered: Callable[[str | None], bytes]


@dataclass(frozen=True, slots=True)
class Remove:
    """The registered peer takes the user `name` out of `room` (None: off the server), with `reason`.

    The authority is the codec's to check (an IRC channel operator's KICK, an
    IRC operator's KILL); the hub checks only that the room and the user are there.
    """

    name: str
    room: str | None
    reason: str


Request = Register | Say | Command | Leave | Refuse | Reply | Rename | Authenticate | Remove


class Ending(enum.Enum):
    """Why the server ends a connection on its own; each codec words the last line its way."""

    REGISTRATION_TIMEOUT = "registration timeout"
    TOO_MANY_CONNECTIONS = "too many connections from one address"
    SERVER_SHUTDOWN = "server shutting down"
    FLOODING = "flooding"  # throttled most of the time for too long (flood control)


class Codec(Protocol):
    """One connection's wire protocol, without I/O (see chatroom.codecs.chat for CHAT/1.0)."""

    @property
    def wire(self) -> Wire:
        """The encoder for hub messages to this connection, shared by every connection of its kind."""

    @property
    def name(self) -> str:
        """The registered name; "" before registration."""

    @property
    def registered(self) -> bool: ...

    @property
    def paused(self) -> bool:
        """True while a registration is being decided: stop reading until then."""

    def requests(self, data: bytes) -> Iterator[Request]:
        """The requests `data` completes, judged in order (lazily: see ServerConnection)."""

    def said(self, data: bytes) -> str | None:
        """The text, when `data` is exactly one ordinary chat line to the sender's current room.

        The hot path of a busy server: such a read needs no request objects.
        None (always allowed) takes nothing: `requests(data)` then judges it.
        """

    def waiting_requests(self) -> Iterator[Request]:
        """After a registration decided later: the requests that waited for it."""

    def accept(self, name: str) -> bytes:
        """The name is granted: the reply that says so."""

    def refuse_taken(self) -> bytes:
        """The name is in use: the reply that says so (the connection is over)."""

    def refuse_with(self, code: int, sentence: str) -> bytes:
        """The registration is refused for another reason: the reply (the connection is over)."""

    def final_line(self, code: int, sentence: str) -> bytes:
        """The last line before the server ends a registered connection (a kick, a ban)."""

    def ending(self, ending: Ending) -> bytes:
        """The last line before the server closes the connection for `ending`."""

    def close(self) -> None:
        """No more input will be judged; free what is held."""
