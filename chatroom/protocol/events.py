"""What a server line means to a client: CHAT/1.1's events, replies, and CHAT/1.0's relayed forms.

A CHAT/1.1 client receives machine-readable events (docs/PROTOCOL.md 7.3)
instead of prose; a CHAT/1.0 client receives relayed `@name: text` lines and
the two forms of section 6.4 (`@name (private): text`, `@name (#room): text`).
This module turns one line of either kind into a small frozen dataclass, and
back (`event_line`, for tests and fakes), so the client never splits strings by
hand. It is pure: no sockets, no clock; a time is parsed, never read.

A line that is none of these (an event verb from a later version, a garbled
field) is `Unrecognised`: a client shows it as it is and carries on.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TypeVar

from chatroom.protocol.lines import VERSION_1_1
from chatroom.protocol.names import is_valid_room_name, is_valid_username


@dataclass(frozen=True, slots=True)
class RoomLine:
    """MSG: `sender` said `text` in `room`, one of yours. In CHAT/1.0, `@name: text` (room None: yours)."""

    room: str | None
    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class FollowedLine:
    """FOLLOWED (or CHAT/1.0's `@name (#room): text`): a line you follow, from a room you are not in."""

    room: str
    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class PrivateLine:
    """PRIVATE (or CHAT/1.0's `@name (private): text`): `text` to you alone, from `sender`."""

    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class RoomNames:
    """An event about some users and a room (equal only to one of its own kind)."""

    room: str
    names: tuple[str, ...]


class Joined(RoomNames):
    """JOINED: `names` entered `room` (your own name: you did)."""

    __slots__ = ()


class Left(RoomNames):
    """LEFT: `names` left `room` (your own name: you did)."""

    __slots__ = ()


class Members(RoomNames):
    """MEMBERS: part of `room`'s member list; the list is complete at MembersEnd."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class MembersEnd:
    """MEMBERS-END: `room` has `count` members; without `presence` no joins or leaves follow."""

    room: str
    count: int
    presence: bool


@dataclass(frozen=True, slots=True)
class Topic:
    """TOPIC: `room`'s topic, on entering it and whenever someone sets it."""

    room: str
    text: str


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """HISTORY: what `sender` said in `room` at `time` (UTC), replayed on entering it."""

    room: str
    time: datetime
    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class HistoryEnd:
    """HISTORY-END: the replay of `room` is over; it held `count` lines."""

    room: str
    count: int


@dataclass(frozen=True, slots=True)
class Reply:
    """A status reply `NNN text`; `final` is False for the `NNN-text` lines of a longer reply (6.1)."""

    code: int
    text: str
    final: bool = True


@dataclass(frozen=True, slots=True)
class Unrecognised:
    """Anything else: shown as it is (a client ignores event verbs it does not know)."""

    line: str


Event = (
    RoomLine
    | FollowedLine
    | PrivateLine
    | Joined
    | Left
    | Members
    | MembersEnd
    | Topic
    | HistoryLine
    | HistoryEnd
    | Reply
    | Unrecognised
)

# ASCII digits only: \d alone would take a fullwidth or Arabic-Indic digit for one.
_REPLY = re.compile(r"(\d{3})([ -])(.*)\Z", re.DOTALL | re.ASCII)
_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z\Z", re.ASCII)
_COUNT = re.compile(r"\d{1,9}\Z", re.ASCII)  # nine digits are more than any server holds


def parse_event(line: bytes | str, version: bytes = VERSION_1_1) -> Event:
    """The event, reply or relayed form that `line` (without its LF) is, for a client speaking `version`.

    A CHAT/1.0 client knows no event verbs: to it `MSG ...` is just a line.
    """
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    if line.startswith("@"):
        return parse_relayed(line) or Unrecognised(line)
    reply = _REPLY.match(line)
    if reply is not None:
        return Reply(int(reply.group(1)), reply.group(3), final=reply.group(2) == " ")
    verb, _, rest = line.partition(" ")
    parser = _PARSERS.get(verb) if version == VERSION_1_1 else None
    event = parser(rest) if parser is not None else None
    return event if event is not None else Unrecognised(line)


def parse_relayed(line: str) -> RoomLine | FollowedLine | PrivateLine | None:
    """CHAT/1.0's relayed lines: `@name: text`, `@name (private): text`, `@name (#room): text`."""
    if not line.startswith("@"):
        return None
    name, space, rest = line[1:].partition(" ")
    if name.endswith(":") and space and is_valid_username(name[:-1]):
        return RoomLine(None, name[:-1], rest)
    if not space or not is_valid_username(name):
        return None
    if rest.startswith("(private): "):
        return PrivateLine(name, rest[len("(private): ") :])
    end = rest.find("): ")  # a room name holds no space, so the first "): " ends it
    if rest.startswith("(#") and end > 0 and is_valid_room_name(rest[1:end]):
        return FollowedLine(rest[1:end], name, rest[end + 3 :])
    return None


def _room_line(rest: str) -> RoomLine | None:
    parts = _fields(rest, 3)
    return RoomLine(parts[0], parts[1], parts[2]) if parts is not None else None


def _followed(rest: str) -> FollowedLine | None:
    parts = _fields(rest, 3)
    return FollowedLine(parts[0], parts[1], parts[2]) if parts is not None else None


def _private(rest: str) -> PrivateLine | None:
    name, _, text = rest.partition(" ")
    return PrivateLine(name, text) if is_valid_username(name) else None


_Names = TypeVar("_Names", bound=RoomNames)


def _names(kind: type[_Names], rest: str) -> _Names | None:
    """JOINED, LEFT, MEMBERS: a room and one or more names."""
    room, *names = rest.split(" ")
    if not is_valid_room_name(room) or not names or not all(map(is_valid_username, names)):
        return None
    return kind(room, tuple(names))


def _members_end(rest: str) -> MembersEnd | None:
    parts = rest.split(" ")
    if len(parts) != 3 or not is_valid_room_name(parts[0]) or not _COUNT.match(parts[1]):
        return None
    if parts[2] not in ("on", "off"):
        return None
    return MembersEnd(parts[0], int(parts[1]), parts[2] == "on")


def _topic(rest: str) -> Topic | None:
    room, _, text = rest.partition(" ")
    return Topic(room, text) if is_valid_room_name(room) else None


def _history(rest: str) -> HistoryLine | None:
    room, _, rest = rest.partition(" ")
    stamp, _, rest = rest.partition(" ")
    when = parse_time(stamp)
    parts = _fields(f"{room} {rest}", 3)
    if when is None or parts is None:
        return None
    return HistoryLine(parts[0], when, parts[1], parts[2])


def _history_end(rest: str) -> HistoryEnd | None:
    room, _, count = rest.partition(" ")
    if not is_valid_room_name(room) or not _COUNT.match(count):
        return None
    return HistoryEnd(room, int(count))


def _fields(rest: str, count: int) -> list[str] | None:
    """room, name and text (the text runs to the end, may be empty, may hold spaces)."""
    parts = rest.split(" ", count - 1)
    if len(parts) == count - 1:
        parts.append("")  # `MSG #room name` with nothing after: an empty text
    if len(parts) != count or not is_valid_room_name(parts[0]) or not is_valid_username(parts[1]):
        return None
    return parts


def parse_time(stamp: str) -> datetime | None:
    """2026-11-30T08:05:09Z as an aware UTC datetime; None for anything else."""
    match = _TIME.match(stamp)
    if match is None:
        return None
    year, month, day, hour, minute, second = map(int, match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:  # month 13, February 30th ...
        return None


def format_time(when: datetime) -> str:
    """An aware datetime as the protocol writes it: 2026-11-30T08:05:09Z (UTC).

    Written field by field: strftime's %Y does not pad years before 1000 on
    glibc, and `parse_time` takes exactly four digits (found by fuzz/fuzz_events.py).
    """
    utc = when.astimezone(timezone.utc)
    return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"


_PARSERS: dict[str, Callable[[str], Event | None]] = {
    "MSG": _room_line,
    "FOLLOWED": _followed,
    "PRIVATE": _private,
    "JOINED": functools.partial(_names, Joined),
    "LEFT": functools.partial(_names, Left),
    "MEMBERS": functools.partial(_names, Members),
    "MEMBERS-END": _members_end,
    "TOPIC": _topic,
    "HISTORY": _history,
    "HISTORY-END": _history_end,
}


def event_line(event: Event) -> str:
    """The line (without LF) that `event` is parsed from: what a server sends for it.

    A RoomLine without a room is CHAT/1.0's `@name: text`.
    """
    if isinstance(event, RoomLine):
        if event.room is None:
            return f"@{event.sender}: {event.text}"
        return f"MSG {event.room} {event.sender} {event.text}"
    if isinstance(event, FollowedLine):
        return f"FOLLOWED {event.room} {event.sender} {event.text}"
    if isinstance(event, PrivateLine):
        return f"PRIVATE {event.sender} {event.text}"
    if isinstance(event, RoomNames):
        verb = {Joined: "JOINED", Left: "LEFT", Members: "MEMBERS"}[type(event)]
        return " ".join((verb, event.room, *event.names))
    if isinstance(event, MembersEnd):
        return f"MEMBERS-END {event.room} {event.count} {'on' if event.presence else 'off'}"
    if isinstance(event, Topic):
        return f"TOPIC {event.room} {event.text}"
    if isinstance(event, HistoryLine):
        return f"HISTORY {event.room} {format_time(event.time)} {event.sender} {event.text}"
    if isinstance(event, HistoryEnd):
        return f"HISTORY-END {event.room} {event.count}"
    if isinstance(event, Reply):
        return f"{event.code:03}{' ' if event.final else '-'}{event.text}"
    return event.line
