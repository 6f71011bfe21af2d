"""A line from the server as the user is to see it: what kind of line, from whom, in which room, when.

The session (chatroom.client.session) turns every line that arrives, CHAT/1.0
or CHAT/1.1, into a `Shown`, so each interface draws the same kinds the same
way: chatroom.client.render for the terminal, chatroom.client.tui_app for the
full screen. Nothing here is escaped yet: every string came from the network
and goes through `printable()` where it is drawn.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from chatroom.protocol.events import (
    Event,
    FollowedLine,
    HistoryLine,
    Joined,
    Left,
    PrivateLine,
    Reply,
    RoomLine,
    Topic,
    Unrecognised,
)
from chatroom.protocol.names import username_key


class ShownKind(enum.Enum):
    CHAT = "chat"  # a room line (room None: CHAT/1.0's one room)
    FOLLOWED = "followed"  # a followed line from a room you are not in
    PRIVATE = "private"  # to you alone
    HISTORY = "history"  # said before you came, with its time
    PRESENCE = "presence"  # joins, leaves, topics: `text` says it in words
    REPLY = "reply"  # a status reply of the server (`text` is the whole line)
    OTHER = "other"  # anything else, shown as it came


@dataclass(frozen=True)
class Shown:
    kind: ShownKind
    text: str
    sender: str | None = None
    room: str | None = None
    time: datetime | None = None  # HISTORY only: when it was said (aware, UTC)

    @property
    def is_error(self) -> bool:
        """A 4xx or 5xx reply: drawn as an error."""
        return self.kind is ShownKind.REPLY and self.text[:1] in ("4", "5")


def chat(sender: str, text: str, room: str | None = None) -> Shown:
    return Shown(ShownKind.CHAT, text, sender, room)


def as_is(line: str) -> Shown:
    """A line shown as it came: a reply when it starts like one, else OTHER."""
    is_reply = len(line) >= 4 and line[:3].isascii() and line[:3].isdigit() and line[3] in " -"
    return Shown(ShownKind.REPLY if is_reply else ShownKind.OTHER, line)


def shown_for(event: Event, line: str, username: str) -> Shown | None:
    """How the user sees `event` (which `line` carried); None for what only updates the lists.

    The user's own joins and leaves are not shown: the server's 210 reply says them.
    """
    if isinstance(event, RoomLine):
        return chat(event.sender, event.text, event.room)
    if isinstance(event, FollowedLine):
        return Shown(ShownKind.FOLLOWED, event.text, event.sender, event.room)
    if isinstance(event, PrivateLine):
        return Shown(ShownKind.PRIVATE, event.text, event.sender)
    if isinstance(event, HistoryLine):
        return Shown(ShownKind.HISTORY, event.text, event.sender, event.room, event.time)
    if isinstance(event, Joined | Left):
        own = username_key(username)
        others = [name for name in event.names if username_key(name) != own]
        if not others:
            return None
        verb = "joined" if isinstance(event, Joined) else "left"
        return Shown(ShownKind.PRESENCE, f"{', '.join(others)} {verb} {event.room}", room=event.room)
    if isinstance(event, Topic):
        words = f"Topic of {event.room}: {event.text}" if event.text else f"{event.room} has no topic now"
        return Shown(ShownKind.PRESENCE, words, room=event.room)
    if isinstance(event, Reply | Unrecognised):
        return as_is(line)
    return None  # MEMBERS, MEMBERS-END, HISTORY-END: the room and member lists take them


def history_stamp(when: datetime, now: datetime) -> str:
    """When a history line was said, in the local time of `now`: '08:01' today, else with the date."""
    local = when.astimezone(now.tzinfo)
    if local.date() == now.date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def elsewhere(item: Shown, viewed: str | None) -> bool:
    """Whether `item` belongs to a room other than the one being viewed (and so names its room)."""
    if item.kind is ShownKind.FOLLOWED:
        return True
    if item.kind not in (ShownKind.CHAT, ShownKind.HISTORY) or item.room is None:
        return False  # presence lines name their room in their words
    return viewed is None or username_key(item.room) != username_key(viewed)
