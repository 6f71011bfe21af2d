"""Which rooms the user is in, who is in them, and every room and name seen: for the lists and for Tab.

The session feeds it every event (chatroom.protocol.events). In CHAT/1.1 the
server says what happens (JOINED, LEFT, MEMBERS, TOPIC); in CHAT/1.0 only the
`210 You are now in #room` reply tells the one room, and a `!list` reply its
members. Names and rooms seen anywhere (senders, `!rooms` and `!list all`
replies) are kept for completion, the most recent first to go when full.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field

from chatroom.limits import CLIENT_MAX_KNOWN_NAMES, MAX_ROOMS_PER_USER, PRESENCE_MAX_MEMBERS
from chatroom.protocol.events import (
    Event,
    FollowedLine,
    HistoryLine,
    Joined,
    Left,
    Members,
    MembersEnd,
    PrivateLine,
    Reply,
    RoomLine,
    Topic,
)
from chatroom.protocol.names import is_valid_room_name, is_valid_username, room_key, username_key

_IN_ROOM = re.compile(r"You are now in (\S+) \((\d+) members?\)", re.ASCII)
_ROOM_LISTED = re.compile(r"(\S+) \d+ members?(?::|\Z)")
_ROOM_MEMBERS_LISTED = re.compile(r"\d+ members? in (\S+)\.\Z", re.ASCII)


@dataclass
class RoomInfo:
    """One room the user is in, as far as the server said."""

    name: str
    members: dict[str, str] = field(default_factory=dict)  # key -> name as registered
    count: int | None = None  # members, when known without the list (presence off, CHAT/1.0)
    presence: bool = True  # False: joins and leaves are not sent, `members` is empty
    topic: str | None = None
    listing: dict[str, str] = field(default_factory=dict)  # MEMBERS (or `!list`) lines so far

    @property
    def size(self) -> int | None:
        """How many members the room has, when known."""
        if self.presence and self.members:
            return len(self.members)
        return self.count

    def member_names(self) -> list[str]:
        """The members in `!list` order (case-insensitive)."""
        return sorted(self.members.values(), key=str.casefold)


def entered_room(reply: Reply) -> tuple[str, int] | None:
    """('#dev', 2) for '210 You are now in #dev (2 members).' (docs/PROTOCOL.md 6.3), else None."""
    if reply.code != 210 or not reply.final:
        return None
    match = _IN_ROOM.match(reply.text)
    if match is None or not is_valid_room_name(match.group(1)):
        return None
    return match.group(1), int(match.group(2))


class Roster:
    """The rooms of one session, its current room, and the words Tab can complete.

    `several_rooms` is CHAT/1.1: rooms are entered and left by events. Without
    it (CHAT/1.0) the user is in exactly the room the last 210 reply named.
    """

    def __init__(self, username: str, *, several_rooms: bool) -> None:
        self.username = username
        self.several_rooms = several_rooms
        self.rooms: dict[str, RoomInfo] = {}  # key -> room, in the order entered
        self.current: str | None = None
        self._names: OrderedDict[str, str] = OrderedDict()
        self._known_rooms: OrderedDict[str, str] = OrderedDict()
        self._own = username_key(username)

    # -- what the interfaces ask -------------------------------------------------------

    def room(self, name: str | None) -> RoomInfo | None:
        return self.rooms.get(room_key(name)) if name is not None else None

    def room_names(self) -> list[str]:
        """The rooms the user is in, in the order entered."""
        return [info.name for info in self.rooms.values()]

    def known_rooms(self) -> list[str]:
        """Every room seen: the user's first, then the others, most recent first."""
        theirs = {room_key(name) for name in self.room_names()}
        return self.room_names() + [
            name for key, name in reversed(self._known_rooms.items()) if key not in theirs
        ]

    def known_names(self) -> list[str]:
        """Every other user seen, most recently seen first."""
        return list(reversed(self._names.values()))

    def is_current(self, room: str) -> bool:
        return self.current is not None and room_key(room) == room_key(self.current)

    # -- what the server said ----------------------------------------------------------

    def apply(self, event: Event) -> bool:
        """Take in `event`; True when the rooms, the current room or a member list changed."""
        if isinstance(event, RoomLine | FollowedLine | HistoryLine):
            self.note_name(event.sender)
            if event.room is not None:
                self.note_room(event.room)
            return False
        if isinstance(event, PrivateLine):
            self.note_name(event.sender)
            return False
        if isinstance(event, Joined | Left):
            return self._presence(event)
        if isinstance(event, Members):
            info = self.room(event.room)
            if info is not None:
                self._list(info, event.names)
            return False
        if isinstance(event, MembersEnd):
            return self._members_end(event)
        if isinstance(event, Topic):
            info = self.room(event.room)
            if info is not None:
                info.topic = event.text or None
            return info is not None
        if isinstance(event, Reply):
            return self._reply(event)
        return False

    def set_current(self, room: str) -> bool:
        """`room` is current now (entered, or switched to); True when that changed something."""
        changed = not self.is_current(room)
        self.current = room
        self.note_room(room)
        if not self.several_rooms:  # CHAT/1.0: the one room, whatever the server calls it
            if room_key(room) not in self.rooms:
                self.rooms = {room_key(room): RoomInfo(room)}
                changed = True
        elif room_key(room) not in self.rooms and len(self.rooms) < MAX_ROOMS_PER_USER:
            self.rooms[room_key(room)] = RoomInfo(room)
            changed = True
        return changed

    def note_name(self, name: str) -> None:
        key = username_key(name)
        if key != self._own and is_valid_username(name):
            _remember(self._names, key, name)

    def note_room(self, room: str) -> None:
        if is_valid_room_name(room):
            _remember(self._known_rooms, room_key(room), room)

    # -- helpers -----------------------------------------------------------------------

    def _presence(self, event: Joined | Left) -> bool:
        self.note_room(event.room)
        changed = False
        for name in event.names:
            self.note_name(name)
            if username_key(name) == self._own:
                changed = self._own_move(event) or changed
                continue
            info = self.room(event.room)
            if info is None or not info.presence:
                continue
            if isinstance(event, Joined) and len(info.members) < PRESENCE_MAX_MEMBERS:
                info.members[username_key(name)] = name
                changed = True
            elif isinstance(event, Left):
                changed = info.members.pop(username_key(name), None) is not None or changed
        return changed

    def _own_move(self, event: Joined | Left) -> bool:
        if isinstance(event, Joined):
            return self.set_current(event.room)  # the room entered last is the current one (7.2)
        if self.rooms.pop(room_key(event.room), None) is None:
            return False
        if self.current is not None and room_key(self.current) == room_key(event.room):
            self.current = None  # the 210 reply that came before named the new one
            if self.rooms:
                self.current = next(reversed(self.rooms.values())).name
        return True

    def _list(self, info: RoomInfo, names: tuple[str, ...]) -> None:
        for name in names:
            self.note_name(name)
            if len(info.listing) < PRESENCE_MAX_MEMBERS:  # the most a member list holds (7.3)
                info.listing[username_key(name)] = name

    def _members_end(self, event: MembersEnd) -> bool:
        info = self.room(event.room)
        if info is None:
            return False
        info.members = info.listing if event.presence else {}
        info.listing = {}
        info.count, info.presence = event.count, event.presence
        return True

    def _reply(self, reply: Reply) -> bool:
        entered = entered_room(reply)
        if entered is not None:
            changed = self.set_current(entered[0])
            info = self.room(entered[0])
            if info is not None and not (info.presence and info.members):
                info.count = entered[1]
                changed = True
            return changed
        if reply.code == 211 and not reply.final:  # !rooms: '#room N members[: topic]'
            listed = _ROOM_LISTED.match(reply.text)
            if listed is not None:
                self.note_room(listed.group(1))
        elif reply.code == 213:  # !list: 'name name ...', !list all: '#room: name name ...'
            return self._list_reply(reply)
        return False

    def _list_reply(self, reply: Reply) -> bool:
        info = self.room(self.current)
        if not reply.final:
            room, colon, names = reply.text.partition(": ")
            if colon and is_valid_room_name(room):
                self.note_room(room)
            else:
                names = reply.text
            for name in names.split(" "):
                self.note_name(name)
            if info is not None and not self.several_rooms and not colon:
                self._list(info, tuple(name for name in names.split(" ") if is_valid_username(name)))
            return False
        if info is None or self.several_rooms:
            return False
        listing, info.listing = info.listing, {}
        listed = _ROOM_MEMBERS_LISTED.search(reply.text)
        if listed is None or not self.is_current(listed.group(1)):
            return False
        info.members = listing  # CHAT/1.0's only member list: the answer to `!list`
        return True


def _remember(kept: OrderedDict[str, str], key: str, value: str) -> None:
    kept[key] = value
    kept.move_to_end(key)
    while len(kept) > CLIENT_MAX_KNOWN_NAMES:
        kept.popitem(last=False)
