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


Message = RoomLine | PrivateLine | FollowedLine


class Wire(Hashable, Protocol):
    """One wire protocol's encoder, shared by all its recipients (so it is the cache key)."""

    def encode(self, message: Message) -> bytes:
        """The bytes that carry `message` to a recipient of this wire (whole lines).

        The router calls it once per message per wire in a batch, and joins
        the results into the payloads it hands out.
        """

    def encode_reply(self, code: int, lines: Sequence[str]) -> bytes:
        """A command's answer: one or more status lines with `code` (docs/PROTOCOL.md 6.1)."""


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
