"""Who receives a message: the one place that knows the registered users and their rooms.

Messages are collected until `deliver()` (the server calls it before the loop
sleeps, at most once per delivery interval, and before a new user joins) and
then sent in batches: every member of a room who neither sent nor received a
private line in this batch gets the room's lines, encoded once per wire and
shared as one bytes object. The few others (senders, private targets) get
their own batch, assembled in the order the lines were routed, so lines from
one sender, to a room or private, always arrive in the order they were said.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

from chatroom.hub.message import LOBBY, Message, PrivateLine, Recipient, RoomLine, Wire
from chatroom.protocol.names import username_key

_Members = dict[Wire, dict[Recipient, None]]  # a room's members grouped by wire (dicts keep order)


class Router:
    """The registered users, the rooms they are in, and the messages not yet delivered."""

    __slots__ = ("_users", "_rooms", "_room_of", "_pending", "_dropped")

    def __init__(self) -> None:
        self._users: dict[str, Recipient] = {}  # by folded name (username_key)
        self._rooms: dict[str, _Members] = {LOBBY: {}}
        self._room_of: dict[Recipient, str] = {}  # only for users outside the lobby: idle users cost less
        self._pending: list[tuple[Recipient, Message, Recipient | None]] = []
        self._dropped: list[Recipient] = []

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
        group = self._rooms.get(self.room_of(recipient), {}).get(recipient.wire)
        return group is not None and recipient in group

    def room_of(self, recipient: Recipient) -> str:
        return self._room_of.get(recipient, LOBBY)

    def members(self, room: str) -> list[Recipient]:
        return [member for group in self._rooms.get(room, {}).values() for member in group]

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
        """Forget the user; its name is free again at once. False if it was not registered."""
        key = username_key(recipient.name)
        if self._users.get(key) is not recipient:
            return False
        del self._users[key]
        self._part(recipient, self._room_of.pop(recipient, LOBBY))
        return True

    def move(self, recipient: Recipient, room: str) -> None:
        """Put a registered user in `room` (created when new), out of the room it was in."""
        before = self._room_of.get(recipient, LOBBY)
        if before == room:
            return
        self.deliver()  # what was said before the move reaches the room it was said in
        self._part(recipient, before)
        self._join(recipient, room)
        if room == LOBBY:
            del self._room_of[recipient]
        else:
            self._room_of[recipient] = room

    def _join(self, recipient: Recipient, room: str) -> None:
        members = self._rooms.setdefault(room, {})
        group = members.get(recipient.wire)
        if group is None:
            group = members[recipient.wire] = {}
        group[recipient] = None

    def _part(self, recipient: Recipient, room: str) -> None:
        members = self._rooms[room]
        group = members[recipient.wire]
        del group[recipient]
        if not group:
            del members[recipient.wire]
        if not members and room != LOBBY:
            del self._rooms[room]

    # -- saying things -----------------------------------------------------------------------

    def say(self, sender: Recipient, text: str) -> None:
        """`sender` says `text` to its room, for the next delivery."""
        self._pending.append((sender, RoomLine(sender.name, self._room_of.get(sender, LOBBY), text), None))

    def whisper(self, sender: Recipient, to: str, text: str) -> Recipient | None:
        """`sender` says `text` to the user `to` alone; the recipient, or None if there is none."""
        target = self._users.get(username_key(to))
        if target is not None:
            self._pending.append((sender, PrivateLine(sender.name, target.name, text), target))
        return target

    def has_pending(self) -> bool:
        return bool(self._pending)

    def take_dropped(self) -> list[Recipient]:
        """The recipients that could not take their lines since the last call: drop them."""
        if not self._dropped:
            return []
        dropped, self._dropped = self._dropped, []
        return dropped

    def deliver(self) -> None:
        """Send the messages routed since the last delivery.

        Each message is encoded once per wire; the payloads are joins of those
        bytes: one per room and wire for everyone who only listened, one per
        sender or private target for the few others.
        """
        pending = self._pending
        if not pending:
            return
        self._pending = []
        if len(pending) == 1:  # the common case at a moderate load
            sender, message, target = pending[0]
            if target is None:
                assert isinstance(message, RoomLine)
                self._fan_out(message.room, {sender}, lambda wire: wire.encode(message))
            elif self.is_registered(target) and not target.deliver(target.wire.encode(message)):
                self._dropped.append(target)
            return
        encoded: dict[Wire, list[bytes]] = {}

        def lines_for(wire: Wire) -> list[bytes]:
            lines = encoded.get(wire)
            if lines is None:
                lines = encoded[wire] = [wire.encode(message) for _, message, _ in pending]
            return lines

        rooms: list[str | None] = []  # each message's room; None for a private line
        by_room: dict[str, list[int]] = {}
        special: set[Recipient] = set()
        for index, (sender, message, target) in enumerate(pending):
            special.add(sender)
            if target is not None:
                special.add(target)
                rooms.append(None)
            else:
                assert isinstance(message, RoomLine)
                rooms.append(message.room)
                by_room.setdefault(message.room, []).append(index)
        for room, indices in by_room.items():
            if len(indices) == len(pending):
                self._fan_out(room, special, lambda wire: b"".join(lines_for(wire)))
            else:
                self._fan_out(room, special, functools.partial(_join_chosen, lines_for, indices))
        dropped = self._dropped
        for recipient in special:
            room = self._room_of.get(recipient, LOBBY)
            group = self._rooms.get(room, {}).get(recipient.wire)
            if group is None or recipient not in group:  # left since
                continue
            lines = lines_for(recipient.wire)
            chosen = [
                lines[index]
                for index, (sender, _, target) in enumerate(pending)
                if sender is not recipient
                and (target is recipient if target is not None else rooms[index] == room)
            ]
            if chosen and not recipient.deliver(b"".join(chosen)):
                dropped.append(recipient)

    def _fan_out(self, room: str, skip: set[Recipient], payload_for: Callable[[Wire], bytes]) -> None:
        """A room's lines to every member not in `skip`: one payload per wire, the same bytes to all."""
        dropped = self._dropped
        for wire, group in self._rooms.get(room, {}).items():
            payload = payload_for(wire)
            for recipient in group:
                if recipient not in skip and not recipient.deliver(payload):
                    dropped.append(recipient)


def _join_chosen(lines_for: Callable[[Wire], list[bytes]], chosen: list[int], wire: Wire) -> bytes:
    lines = lines_for(wire)
    return b"".join([lines[index] for index in chosen])
