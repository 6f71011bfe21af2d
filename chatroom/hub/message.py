"""What the hub routes, and the two small interfaces it routes through.

A message says who, to which target, what, in no wire protocol's bytes. A
recipient is anything that can take a batch of messages: a CHAT/1.0
connection today, an IRC or WebSocket connection or a bus to another server
later. Each recipient names the `Wire` that encodes for it; the router encodes
each message of a batch once per wire and hands the same bytes to every
recipient of that wire.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

LOBBY = "#lobby"
# The room every user is in after registering; a CHAT/1.0 client never leaves it unless it asks.


# Messages are never changed after they are made, but they are not frozen
# dataclasses: one is made per chat line, and a frozen one costs three times
# as much to make (0.7 against 0.2 microseconds here).


@dataclass(slots=True)
class RoomLine:
    """`sender` said `text` to the room `room`."""

    sender: str
    room: str
    text: str


@dataclass(slots=True)
class PrivateLine:
    """`sender` said `text` to the user `to` alone."""

    sender: str
    to: str
    text: str


@dataclass(slots=True)
class FollowedLine:
    """A room line that reaches someone outside its room because they follow its sender or a #word."""

    sender: str
    room: str
    text: str


@dataclass(slots=True)
class Joined:
    """Presence (CHAT/1.1 events only): `names` entered `room`."""

    room: str
    names: list[str]


@dataclass(slots=True)
class Left:
    """Presence (CHAT/1.1 events only): `names` left `room` (for another room, or the server).

    `by`: who took them out of it (Hub.remove_from_room), with `reason`; "" when they left themselves.
    """

    room: str
    names: list[str]
    by: str = ""
    reason: str = ""


@dataclass(slots=True)
class MemberList:
    """Who is in `room`, for one who just entered it: `names` empty when presence is off."""

    room: str
    names: list[str]
    count: int
    presence: bool


@dataclass(slots=True)
class TopicShown:
    """`room`'s topic, on entering it or when it is set."""

    room: str
    text: str


@dataclass(slots=True)
class Replay:
    """The last lines of `room`, oldest first: (when, sender, text), `when` in seconds since the epoch."""

    room: str
    lines: list[tuple[float, str, str]]


@dataclass(slots=True)
class Renamed:
    """Presence (events only): `old` is called `new` from now on (an IRC client's NICK), seen in `room`."""

    room: str
    old: str
    new: str


Message = RoomLine | PrivateLine | FollowedLine
Event = Joined | Left | MemberList | TopicShown | Replay | Renamed
# Events go only to wires whose `events` is True (CHAT/1.1); a CHAT/1.0 client never asked for them.


class Wire(Hashable, Protocol):
    """One wire protocol's encoder, shared by all its recipients (so it is the cache key)."""

    @property
    def events(self) -> bool:
        """True when its clients asked for events (presence, member lists, replays)."""

    @property
    def room_lines_key(self) -> Hashable:
        """Wires with equal keys encode every RoomLine to the same bytes (most wires: themselves).

        The router builds a room's payload once per key: many per-connection
        wires (IRC's) that encode room lines alike share one payload.
        """

    def encode(self, message: Message | Event) -> bytes:
        """The bytes that carry `message` to a recipient of this wire (whole lines).

        The router calls it once per message per wire in a batch, and joins
        the results into the payloads it hands out.
        """

    def encode_reply(self, code: int, lines: Sequence[str]) -> bytes:
        """A command's answer: one or more status lines with `code` (docs/PROTOCOL.md 6.1)."""

    def encode_notice(self, code: int, lines: Sequence[str]) -> bytes:
        """What the server says unasked (flood control's 429s): status lines in CHAT, NOTICEs in IRC.

        Unlike a reply it answers no command, so a wire that maps replies to
        the command they answer (IRC's numerics) must not take it for one.
        """


class Recipient(Hashable, Protocol):
    """A registered user as the router sees it: a name, a wire, and a way to take a batch."""

    @property
    def name(self) -> str:
        """The name the user registered with (as typed: its folded form is the router's key)."""

    @property
    def wire(self) -> Wire:
        """How batches for this recipient are encoded."""

    def deliver(self, payload: bytes) -> bool:
        """Take `payload` (already encoded by `wire`); False when this recipient must be dropped."""
