"""Who receives a message: the one place that knows the registered users and their rooms.

Messages are collected until `deliver()` (the server calls it before the loop
sleeps, at most once per delivery interval, and before a new user joins) and
then sent in batches: every member of a room who neither sent nor received a
private line in this batch gets the room's lines, encoded once per kind of
wire (its `room_lines_key`: one CHAT/1.0 wire for all, one IRC wire per
connection but a handful of kinds) and shared as one bytes object. The few
others (senders, private targets) get their own batch, assembled in the
order the lines were routed, so lines from one sender, to a room or private,
always arrive in the order they were said.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable, Iterator

from chatroom.hub.message import LOBBY, Event, FollowedLine, Message, PrivateLine, Recipient, RoomLine, Wire
from chatroom.protocol.names import room_key, username_key

_Members = dict[Wire, dict[Recipient, None]]  # a room's members grouped by wire (dicts keep order)
_Pending = tuple[
    Recipient, Message, Recipient | None, str | None
]  # sender, message, private target, room key

_LOBBY_ONLY = [LOBBY]  # the rooms of a user missing from _rooms_of; shared, never changed

# Stripped from both ends of a word before it is compared with a followed #topic.
_WORD_EDGES = ".,;:!?'\"()[]{}"


def topic_words(text: str) -> set[str]:
    """The folded #words of a line: what `!follow #topic` matches (docs/PROTOCOL.md 6.4)."""
    if "#" not in text:
        return set()
    words = (word.strip(_WORD_EDGES) for word in text.split(" "))
    return {room_key(word) for word in words if word.startswith("#") and len(word) > 1}


DeliverEach = Callable[[Iterable[Recipient], bytes, "Recipient | None", list[Recipient]], None]
"""deliver_each(group, payload, skip, dropped): `payload` to each of `group` but `skip`, adding to
`dropped` those that could not take it. The fan-out's inner loop."""


def deliver_each(
    group: Iterable[Recipient], payload: bytes, skip: Recipient | None, dropped: list[Recipient]
) -> None:
    """The generic inner loop: a `deliver` call per recipient."""
    for recipient in group:
        if recipient is not skip and not recipient.deliver(payload):
            dropped.append(recipient)


class Router:
    """The registered users, the rooms they are in, who follows what, and the messages not yet delivered.

    `deliver_each` replaces the fan-out's inner loop: the server passes one
    that inlines its connections' common case (a call per recipient is a
    good share of what a delivery costs in Python).
    """

    __slots__ = (
        "_users",
        "_rooms",
        "_counts",
        "_room_names",
        "_rooms_of",
        "_in_several",
        "_user_followers",
        "_topic_followers",
        "_follows_of",
        "_pending",
        "_dropped",
        "_lines_delivered",
        "_rooms_spoken",
        "_deliver_each",
    )

    def __init__(self, deliver_each: DeliverEach = deliver_each) -> None:
        self._deliver_each = deliver_each
        self._users: dict[str, Recipient] = {}  # by folded name (username_key)
        self._rooms: dict[str, _Members] = {LOBBY: {}}  # by folded room name (room_key)
        # Members per room, kept as they come and go: a room's groups are one per wire, and IRC
        # has a wire per connection, so summing them per join would cost O(n) in a big room.
        self._counts: dict[str, int] = {LOBBY: 0}
        self._room_names: dict[str, str] = {LOBBY: LOBBY}  # folded -> as first written
        # The folded rooms of each user not simply in the lobby, the current one last (CHAT/1.1
        # clients may be in several); a user missing here is in the lobby alone.
        self._rooms_of: dict[Recipient, list[str]] = {}
        self._in_several: dict[Recipient, None] = {}  # users in more than one room (CHAT/1.1 only)
        self._user_followers: dict[str, dict[Recipient, None]] = {}  # folded user name -> followers
        self._topic_followers: dict[str, dict[Recipient, None]] = {}  # folded #topic -> followers
        self._follows_of: dict[Recipient, list[str]] = {}  # what each follower typed, in order
        self._pending: list[_Pending] = []
        self._dropped: list[Recipient] = []
        self._lines_delivered = 0  # since take_traffic(): what the delivery interval is tuned by
        self._rooms_spoken: set[str] = set()

    # -- who is here ----------------------------------------------------------------------

    def __contains__(self, name: str) -> bool:
        return username_key(name) in self._users

    def __len__(self) -> int:
        return len(self._users)

    def __iter__(self) -> Iterator[Recipient]:
        return iter(self._users.values())

    def find(self, name: str) -> Recipient | None:
        """The user registered under `name` (as username_key folds it), if any."""
        return self._users.get(username_key(name))

    def is_registered(self, recipient: Recipient) -> bool:
        rooms = self._rooms_of.get(recipient)
        group = self._rooms.get(LOBBY if rooms is None else rooms[0], {}).get(recipient.wire)
        return group is not None and recipient in group

    def room_of(self, recipient: Recipient) -> str:
        """The user's current room (the one it entered last), as its name was first written."""
        rooms = self._rooms_of.get(recipient)
        return self._room_names[LOBBY if rooms is None else rooms[-1]]

    def rooms_of(self, recipient: Recipient) -> list[str]:
        """Every room the user is in, in the order entered (the current one last)."""
        return [self._room_names[key] for key in self._rooms_of.get(recipient, _LOBBY_ONLY)]

    def is_in(self, recipient: Recipient, room: str) -> bool:
        return room_key(room) in self._rooms_of.get(recipient, _LOBBY_ONLY)

    def members(self, room: str) -> list[Recipient]:
        return [member for group in self._rooms.get(room_key(room), {}).values() for member in group]

    def member_count(self, room: str) -> int:
        return self._counts.get(room_key(room), 0)

    def rooms(self) -> list[tuple[str, int]]:
        """Every room (as first written) with its member count, in the order they were made."""
        return [(self._room_names[key], self._counts[key]) for key in self._rooms]

    def room_count(self) -> int:
        return len(self._rooms)

    def room_exists(self, room: str) -> bool:
        return room_key(room) in self._rooms

    # -- joining and leaving -----------------------------------------------------------------

    def add(self, recipient: Recipient, name: str) -> bool:
        """Register `recipient` as `name`, in the lobby; False when the name (folded) is taken."""
        key = username_key(name)
        if key == name:
            key = name  # one string object for both: an idle user costs less
        if key in self._users:
            return False
        # Lines routed earlier this turn were said before this user joined.
        self.deliver()
        self._users[key] = recipient
        self._join(recipient, LOBBY)
        return True

    def remove(self, recipient: Recipient) -> bool:
        """Forget the user and its follows; its name is free again at once. False if it was not registered."""
        key = username_key(recipient.name)
        if self._users.get(key) is not recipient:
            return False
        del self._users[key]
        for room in self._rooms_of.pop(recipient, _LOBBY_ONLY):
            self._part(recipient, room)
        self._in_several.pop(recipient, None)
        for target in self._follows_of.pop(recipient, []):
            self._drop_follower(recipient, target)
        return True

    def rename(self, recipient: Recipient, new: str) -> bool:
        """Key a registered user under `new` (its recipient then answers to it); False when taken.

        Lines said before go out first, under the old name. Follows of `@old` stay on the old name.
        """
        old_key, new_key = username_key(recipient.name), username_key(new)
        if self._users.get(old_key) is not recipient:
            return False
        if new_key != old_key and new_key in self._users:
            return False
        self.deliver()
        del self._users[old_key]
        self._users[new_key] = recipient
        return True

    def move(self, recipient: Recipient, room: str) -> str:
        """Put a registered user in `room` (created when new), out of every room it was in.

        Returns the room's name as it was first written ('#Dev' for a later '#dev').
        """
        key = room_key(room)
        before = self._rooms_of.get(recipient, _LOBBY_ONLY)
        if before != [key]:
            self.deliver()  # what was said before the move reaches the room it was said in
            for old in before:
                if old != key:
                    self._part(recipient, old)
            self._room_names.setdefault(key, room)
            if key not in before:
                self._join(recipient, key)
            self._set_rooms(recipient, [key])
        return self._room_names[key]

    def enter(self, recipient: Recipient, room: str) -> str:
        """Add `room` (created when new) to the user's rooms and make it current; its name as written."""
        key = room_key(room)
        rooms = list(self._rooms_of.get(recipient, _LOBBY_ONLY))
        if key in rooms:
            rooms.remove(key)
        else:
            self.deliver()
            self._room_names.setdefault(key, room)
            self._join(recipient, key)
        rooms.append(key)
        self._set_rooms(recipient, rooms)
        return self._room_names[key]

    def exit(self, recipient: Recipient, room: str) -> str:
        """Take the user out of `room` (it must be in it); back in the lobby when it was the last.

        Returns the user's current room afterwards.
        """
        key = room_key(room)
        rooms = list(self._rooms_of.get(recipient, _LOBBY_ONLY))
        self.deliver()
        rooms.remove(key)
        self._part(recipient, key)
        if not rooms:
            self._join(recipient, LOBBY)
            rooms = [LOBBY]
        self._set_rooms(recipient, rooms)
        return self._room_names[rooms[-1]]

    def _set_rooms(self, recipient: Recipient, rooms: list[str]) -> None:
        if rooms == _LOBBY_ONLY:
            self._rooms_of.pop(recipient, None)  # the common case costs no entry
        else:
            self._rooms_of[recipient] = rooms
        if len(rooms) > 1:
            self._in_several[recipient] = None
        else:
            self._in_several.pop(recipient, None)

    def _join(self, recipient: Recipient, key: str) -> None:
        members = self._rooms.setdefault(key, {})
        group = members.get(recipient.wire)
        if group is None:
            group = members[recipient.wire] = {}
        if recipient not in group:
            group[recipient] = None
            self._counts[key] = self._counts.get(key, 0) + 1

    def _part(self, recipient: Recipient, key: str) -> None:
        members = self._rooms[key]
        group = members[recipient.wire]
        del group[recipient]
        self._counts[key] -= 1
        if not group:
            del members[recipient.wire]
        if not members and key != LOBBY:
            del self._rooms[key]
            del self._room_names[key]
            del self._counts[key]

    # -- follows -------------------------------------------------------------------------------

    def follow(self, recipient: Recipient, target: str) -> bool:
        """`target` is '#topic' or '@name'; False when the recipient follows it already."""
        followers = self._followers_table(target)
        key = self._follow_key(target)
        group = followers.setdefault(key, {})
        if recipient in group:
            return False
        group[recipient] = None
        self._follows_of.setdefault(recipient, []).append(target)
        return True

    def unfollow(self, recipient: Recipient, target: str) -> bool:
        """False when the recipient did not follow `target`."""
        key = self._follow_key(target)
        typed = self._follows_of.get(recipient, [])
        for index, followed in enumerate(typed):
            if followed[0] == target[0] and self._follow_key(followed) == key:
                del typed[index]
                if not typed:
                    del self._follows_of[recipient]
                self._drop_follower(recipient, followed)
                return True
        return False

    def follows(self, recipient: Recipient) -> list[str]:
        return list(self._follows_of.get(recipient, []))

    def _followers_table(self, target: str) -> dict[str, dict[Recipient, None]]:
        return self._user_followers if target.startswith("@") else self._topic_followers

    @staticmethod
    def _follow_key(target: str) -> str:
        return username_key(target[1:]) if target.startswith("@") else room_key(target)

    def _drop_follower(self, recipient: Recipient, target: str) -> None:
        table, key = self._followers_table(target), self._follow_key(target)
        group = table.get(key)
        if group is not None:
            group.pop(recipient, None)
            if not group:
                del table[key]

    def _followers(self, sender: Recipient, text: str) -> set[Recipient]:
        """Who follows this room line's sender or one of its #words."""
        found: set[Recipient] = set()
        if self._user_followers:
            found.update(self._user_followers.get(username_key(sender.name), ()))
        if self._topic_followers:
            for word in topic_words(text):
                found.update(self._topic_followers.get(word, ()))
        return found

    # -- saying things -----------------------------------------------------------------------

    def say(self, sender: Recipient, text: str, room: str | None = None) -> tuple[str, str]:
        """`sender` says `text` to its current room or to `room` (one it is in), for the next delivery.

        Returns the room (folded, as written).
        """
        if room is None:
            rooms = self._rooms_of.get(sender)
            key = LOBBY if rooms is None else rooms[-1]
        else:
            key = room_key(room)
        room = self._room_names[key]
        self._pending.append((sender, RoomLine(sender.name, room, text), None, key))
        return key, room

    def whisper(self, sender: Recipient, to: str, text: str) -> Recipient | None:
        """`sender` says `text` to the user `to` alone; the recipient, or None if there is none."""
        target = self._users.get(username_key(to))
        if target is not None:
            self._pending.append((sender, PrivateLine(sender.name, target.name, text), target, None))
        return target

    def has_pending(self) -> bool:
        return bool(self._pending)

    def announce(self, room: str, event: Event, skip: Recipient | None = None) -> None:
        """`event` to every member of `room` whose wire takes events, now (after what was said before)."""
        members = self._rooms.get(room_key(room))
        if not members or not any(wire.events for wire in members):
            return
        self.deliver()
        dropped = self._dropped
        for wire, group in members.items():
            if wire.events:
                payload = wire.encode(event)
                for recipient in group:
                    if recipient is not skip and not recipient.deliver(payload):
                        dropped.append(recipient)

    def send(self, recipient: Recipient, event: Event) -> None:
        """`event` to one registered user, now (after what was said before); nothing if it left."""
        if not self.is_registered(recipient):
            return
        self.deliver()
        if not recipient.deliver(recipient.wire.encode(event)):
            self._dropped.append(recipient)

    def take_traffic(self) -> tuple[int, int]:
        """(lines delivered, rooms they went to) since the last call."""
        traffic = (self._lines_delivered, len(self._rooms_spoken))
        self._lines_delivered = 0
        self._rooms_spoken.clear()
        return traffic

    def take_dropped(self) -> list[Recipient]:
        """The recipients that could not take their lines since the last call: drop them."""
        if not self._dropped:
            return []
        dropped, self._dropped = self._dropped, []
        return dropped

    def deliver(self) -> None:
        """Send the messages routed since the last delivery.

        Each message is encoded at most once per kind of wire, and only for
        wires that get it; the payloads are joins of those bytes: one per room
        and kind of wire for everyone who only listened, and one
        each for the few others (senders, private targets, followers of a line
        from another room), assembled in the order things were said, with
        every line at most once.
        """
        pending = self._pending
        if not pending:
            return
        self._pending = []
        self._lines_delivered += len(pending)
        following = bool(self._user_followers or self._topic_followers)
        if len(pending) == 1 and not following:  # the common case at a moderate load
            sender, message, target, key = pending[0]
            if key is not None:
                self._rooms_spoken.add(key)
                self._fan_out_one(key, sender, message)
            elif (
                target is not None
                and self.is_registered(target)
                and not target.deliver(target.wire.encode(message))
            ):
                self._dropped.append(target)
            return
        if not following and not self._in_several and self._one_line_per_room(pending):
            # Many quiet rooms (a line each): nobody hears two of these lines, so each goes
            # out on its own, in any order, without the bookkeeping that keeps a mixed batch
            # in order.
            for sender, message, _, key in pending:
                assert key is not None
                self._fan_out_one(key, sender, message)
            return
        encoded: dict[Hashable, list[bytes | None]] = {}

        def lines_at(wire: Wire, indices: Iterable[int], alike: Hashable) -> list[bytes]:
            """Lines `indices` as `wire` encodes them, shared by the wires `alike` (its
            room_lines_key when the lines are room lines, else itself): only lines someone
            gets are encoded (a wire per connection, as IRC's, would otherwise encode every
            room's lines)."""
            lines = encoded.get(alike)
            if lines is None:
                lines = encoded[alike] = [None] * len(pending)
            found: list[bytes] = []
            for index in indices:
                line = lines[index]
                if line is None:
                    line = lines[index] = wire.encode(pending[index][1])
                found.append(line)
            return found

        by_room: dict[str, list[int]] = {}
        special: set[Recipient] = set()
        followers: list[set[Recipient]] = []  # per message: who follows it (room lines only)
        private = False
        for index, (sender, message, target, key) in enumerate(pending):
            special.add(sender)
            if target is not None:
                special.add(target)
                private = True
            if key is not None:
                by_room.setdefault(key, []).append(index)
            if following:  # one entry per message, private lines included: looked up by position
                found = self._followers(sender, message.text) if key is not None else set()
                followers.append(found)
                special.update(found)
        self._rooms_spoken.update(by_room)
        if len(by_room) > 1 and self._in_several:
            # A member of several of these rooms gets their lines in the order said, not room by room.
            special.update(self._in_several_of(by_room))
        for room, indices in by_room.items():
            self._fan_out(room, special, functools.partial(_joined, lines_at, indices))
        followed: dict[Wire, dict[int, bytes]] = {}
        heard_in: dict[tuple[Hashable, str], list[tuple[Recipient, bytes]]] = {}  # (wire kind, room) -> lines
        dropped = self._dropped
        only_rooms = not following and not private  # then a sender hears only its rooms' lines
        for recipient in special:
            rooms = self._rooms_of.get(recipient, _LOBBY_ONLY)
            group = self._rooms.get(rooms[0], {}).get(recipient.wire)
            if group is None or recipient not in group:  # left since
                continue
            wire = recipient.wire
            chosen: list[bytes] = []
            if only_rooms and len(rooms) == 1:  # its room's lines but its own: no walk over the batch
                alike = wire.room_lines_key
                said = heard_in.get((alike, rooms[0]))
                if said is None:
                    indices = by_room.get(rooms[0], [])
                    lines = lines_at(wire, indices, alike)
                    senders = [pending[index][0] for index in indices]
                    said = heard_in[alike, rooms[0]] = list(zip(senders, lines, strict=True))
                chosen = [line for sender, line in said if sender is not recipient]
                if chosen and not recipient.deliver(b"".join(chosen)):
                    dropped.append(recipient)
                continue
            for index, (sender, message, target, key) in enumerate(pending):
                if sender is recipient:
                    continue
                if key is None:
                    if target is recipient:
                        chosen.extend(lines_at(wire, (index,), wire))
                elif key in rooms:
                    chosen.extend(lines_at(wire, (index,), wire))
                elif following and recipient in followers[index]:
                    assert isinstance(message, RoomLine)
                    elsewhere = followed.setdefault(wire, {})
                    line = elsewhere.get(index)
                    if line is None:
                        line = elsewhere[index] = wire.encode(
                            FollowedLine(message.sender, message.room, message.text)
                        )
                    chosen.append(line)
            if chosen and not recipient.deliver(b"".join(chosen)):
                dropped.append(recipient)

    def _in_several_of(self, rooms: dict[str, list[int]]) -> list[Recipient]:
        """The members of more than one of `rooms`.

        Walks whichever is smaller: the users in several rooms, or the members
        of these rooms (every IRC user is in #lobby and its channels, so the
        first can be everyone while a batch speaks in a few small rooms).
        """
        several = self._in_several
        if len(several) <= sum(self._counts.get(room, 0) for room in rooms):
            rooms_of = self._rooms_of
            return [member for member in several if sum(key in rooms for key in rooms_of[member]) > 1]
        seen: set[Recipient] = set()
        found: list[Recipient] = []
        for room in rooms:
            for group in self._rooms.get(room, {}).values():
                for member in group:
                    if member in several:
                        if member in seen:
                            found.append(member)
                        else:
                            seen.add(member)
        return found

    def _one_line_per_room(self, pending: list[_Pending]) -> bool:
        """True when every pending line is a room line to a room no other pending line goes to."""
        rooms: set[str] = set()
        for _, _, _, key in pending:
            if key is None or key in rooms:
                return False
            rooms.add(key)
        self._rooms_spoken.update(rooms)
        return True

    def _fan_out_one(self, room: str, sender: Recipient, message: Message) -> None:
        """One room line to every member of `room` but its sender: one payload per kind of wire."""
        dropped = self._dropped
        members = self._rooms.get(room, {})
        payloads: dict[Hashable, bytes] = {}
        for wire, group in members.items():
            if len(members) == 1:  # one kind of wire (CHAT/1.0 alone): nothing to share
                payload = wire.encode(message)
            else:
                key = wire.room_lines_key
                built = payloads.get(key)
                payload = payloads[key] = wire.encode(message) if built is None else built
            self._deliver_each(group, payload, sender, dropped)

    def _fan_out(self, room: str, skip: set[Recipient], payload_for: Callable[[Wire], bytes]) -> None:
        """A room's lines to every member not in `skip`: one payload per kind of wire, the same to all."""
        dropped = self._dropped
        members = self._rooms.get(room, {})
        payloads: dict[Hashable, bytes] = {}
        for wire, group in members.items():
            if len(members) == 1:
                payload = payload_for(wire)
            else:
                key = wire.room_lines_key
                built = payloads.get(key)
                payload = payloads[key] = payload_for(wire) if built is None else built
            for recipient in group:
                if recipient not in skip and not recipient.deliver(payload):
                    dropped.append(recipient)


def _joined(
    lines_at: Callable[[Wire, Iterable[int], Hashable], list[bytes]], indices: list[int], wire: Wire
) -> bytes:
    return b"".join(lines_at(wire, indices, wire.room_lines_key))
