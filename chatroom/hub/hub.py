"""The chat's rules, apart from any wire or socket: who may register, who said what, who left.

The server turns a connection's requests into calls here; the hub decides,
keeps the console's record of what happened, and routes messages through its
router. A registration may be decided later (an accounts store, a
cluster-wide name claim): `Admission` answers when it can, and the hub tells
the caller then.
"""

from __future__ import annotations

import datetime
import enum
import logging
from collections.abc import Callable
from typing import Protocol

from chatroom.hub import commands
from chatroom.hub.message import LOBBY, Recipient
from chatroom.hub.router import Router
from chatroom.limits import LIST_NAMES_PER_LINE, MAX_FOLLOWS_PER_USER, MAX_ROOMS
from chatroom.protocol.names import room_key
from chatroom.text import printable

log = logging.getLogger("chatroom.server")


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    TAKEN = "taken"


Decided = Callable[[Recipient, str, Verdict], None]
# decided(member, name, verdict): called once per registration, now or later.

Answer = Callable[[Recipient, int, list[str]], None]
# answer(member, code, lines): a command's reply, called once, now or later (history reads).


class History(Protocol):
    """Where room lines are kept (chatroom.store, adapted by the server): written now, read later."""

    def record(self, room_key: str, room: str, sender: str, text: str) -> None:
        """Keep a room line (never a private one); must not block."""

    def recent(
        self, room_key: str, limit: int, answer: Callable[[list[tuple[float, str, str]]], None]
    ) -> None:
        """Later: answer([(when, sender, text), ...]), the room's last `limit` lines, oldest first."""


class Admission(Protocol):
    """Whether `name` may be registered at all; may answer after a delay, exactly once."""

    def check(self, name: str, answer: Callable[[bool], None]) -> None: ...


class Hub:
    """Registered users and what they say, routed by a Router."""

    def __init__(
        self,
        *,
        log_messages: bool = False,
        admission: Admission | None = None,
        history: History | None = None,
    ) -> None:
        self.router = Router()
        self.log_messages = log_messages
        self.history = history
        self._admission = admission
        self._deciding: dict[Recipient, Decided] = {}  # registrations waiting for admission
        self._topics: dict[str, str] = {}  # by folded room name; forgotten with the room

    # -- registering -------------------------------------------------------------------------

    def register(self, member: Recipient, name: str, decided: Decided) -> None:
        """Ask for `name`; `decided(member, name, verdict)` follows, now or once admission answers."""
        if name in self.router:
            decided(member, name, Verdict.TAKEN)
            return
        if self._admission is None:
            self._admit(member, name, decided)
            return
        self._deciding[member] = decided

        def answer(allowed: bool) -> None:
            if self._deciding.pop(member, None) is None:
                return  # the connection ended while we waited
            if allowed:
                self._admit(member, name, decided)
            else:
                decided(member, name, Verdict.TAKEN)

        self._admission.check(name, answer)

    def _admit(self, member: Recipient, name: str, decided: Decided) -> None:
        if not self.router.add(member, name):  # taken while admission thought it over
            decided(member, name, Verdict.TAKEN)
            return
        decided(member, name, Verdict.ACCEPTED)
        log.info("Connection to client established, waiting to receive messages from user '%s'...", name)

    # -- talking and leaving -------------------------------------------------------------------

    def say(self, sender: Recipient, text: str) -> None:
        """`sender` says `text` to its room."""
        key, room = self.router.say(sender, text)
        if self.history is not None:
            self.history.record(key, room, sender.name, text)
        if self.log_messages:
            # The operator's terminal is a terminal too: no bidi overrides or controls reach it raw.
            log.info("Received message from user %s:  %s", sender.name, printable(f"@{sender.name}: {text}"))

    def leave(self, member: Recipient, reason: str) -> bool:
        """`member` is gone (or its registration is no longer wanted); True if it was a user."""
        self._deciding.pop(member, None)
        if not self.router.is_registered(member):
            return False
        room = self.router.room_of(member)
        self.router.remove(member)
        self._forget_if_empty(room)
        log.info("Disconnecting user %s", member.name)
        log.debug("User %s left: %s", member.name, reason)
        return True

    # -- commands (docs/PROTOCOL.md section 6) ---------------------------------------------------

    def command(self, member: Recipient, text: str, answer: Answer) -> None:
        """Carry out the command line `text` ('!join #dev'); `answer(member, code, lines)` follows."""
        parsed = commands.parse(text)
        log.debug("Command from user %s: %s", member.name, text.split(" ", 1)[0])
        if isinstance(parsed, commands.Mistake):
            answer(member, parsed.code, [parsed.sentence])
        elif isinstance(parsed, commands.History):
            self._history(member, parsed.lines, answer)
        else:
            code, lines = self._carry_out(member, parsed)
            answer(member, code, lines)

    def _carry_out(self, member: Recipient, command: commands.Command) -> tuple[int, list[str]]:
        router = self.router
        if isinstance(command, commands.Help):
            return 218, list(commands.HELP_LINES)
        if isinstance(command, commands.Join | commands.Leave):
            target = command.room if isinstance(command, commands.Join) else LOBBY
            here = router.room_of(member)
            if room_key(target) == room_key(here):
                return 409, [f"You are in {here} already."]
            if not router.room_exists(target) and len(router.rooms()) >= MAX_ROOMS:
                return 429, [
                    f"There are {MAX_ROOMS} rooms, the most this server allows; join one of them (!rooms)."
                ]
            now_in = router.move(member, target)
            self._forget_if_empty(here)
            return 210, [f"You are now in {now_in} ({_count(router.member_count(now_in), 'member')})."]
        if isinstance(command, commands.Rooms):
            rooms = router.rooms()
            lines = [f"{name} {_count(count, 'member')}{self._topic_suffix(name)}" for name, count in rooms]
            return 211, [*lines, f"{_count(len(rooms), 'room')}."]
        if isinstance(command, commands.Topic):
            return self._topic(member, command.text)
        if isinstance(command, commands.ListMembers):
            return 213, self._members(member) if not command.everyone else self._everyone()
        if isinstance(command, commands.Whisper):
            if room_key(command.to) == room_key(member.name):
                return 400, ["You cannot send a private message to yourself."]
            addressee = router.whisper(member, command.to, command.text)
            if addressee is None:
                return 404, [f"No user named {command.to} is online; !list all shows who is."]
            return 215, [f"Sent to {addressee.name}."]
        if isinstance(command, commands.Follow):
            if _fold(command.target) in {_fold(followed) for followed in router.follows(member)}:
                return 409, [f"You follow {command.target} already."]
            if len(router.follows(member)) >= MAX_FOLLOWS_PER_USER:
                return 429, [
                    f"You follow {MAX_FOLLOWS_PER_USER} already, the most allowed; !unfollow one first."
                ]
            router.follow(member, command.target)
            return 216, [f"You follow {command.target} now."]
        if isinstance(command, commands.Unfollow):
            if not router.unfollow(member, command.target):
                return 404, [f"You do not follow {command.target}."]
            return 216, [f"You no longer follow {command.target}."]
        assert isinstance(command, commands.Follows)
        followed = router.follows(member)
        if not followed:
            return 216, ["You follow nothing; !follow #topic or !follow @name to start."]
        return 216, [*followed, f"You follow {len(followed)}."]

    def _topic(self, member: Recipient, text: str | None) -> tuple[int, list[str]]:
        room = self.router.room_of(member)
        if text is None:
            topic = self._topics.get(room_key(room))
            if topic is None:
                return 212, [f"{room} has no topic; !topic TEXT sets one."]
            return 212, [f"The topic of {room} is: {topic}"]
        if room == LOBBY:
            return 400, [f"{LOBBY} has no topic."]
        self._topics[room_key(room)] = text
        return 212, [f"The topic of {room} is now: {text}"]

    def _topic_suffix(self, room: str) -> str:
        topic = self._topics.get(room_key(room))
        return f": {topic}" if topic else ""

    def _members(self, member: Recipient) -> list[str]:
        room = self.router.room_of(member)
        names = sorted((other.name for other in self.router.members(room)), key=str.casefold)
        return [*_name_lines(names), f"{_count(len(names), 'member')} in {room}."]

    def _everyone(self) -> list[str]:
        lines: list[str] = []
        rooms = self.router.rooms()
        for room, _ in rooms:
            names = sorted((other.name for other in self.router.members(room)), key=str.casefold)
            lines.extend(f"{room}: {chunk}" for chunk in _name_lines(names))
        return [*lines, f"{_count(len(self.router), 'user')} in {_count(len(rooms), 'room')}."]

    def _history(self, member: Recipient, wanted: int, answer: Answer) -> None:
        room = self.router.room_of(member)
        if self.history is None:
            answer(member, 217, [f"0 lines of {room}: this server keeps no history."])
            return

        def show(found: list[tuple[float, str, str]]) -> None:
            lines = [f"{_utc(when)} @{sender}: {printable(text)}" for when, sender, text in found]
            answer(member, 217, [*lines, f"{_count(len(found), 'line')} of {room}."])

        self.history.recent(room_key(room), wanted, show)

    def _forget_if_empty(self, room: str) -> None:
        if not self.router.room_exists(room):
            self._topics.pop(room_key(room), None)

    # -- delivery ------------------------------------------------------------------------------

    def has_pending(self) -> bool:
        return self.router.has_pending()

    def deliver(self) -> None:
        self.router.deliver()

    def take_dropped(self) -> list[Recipient]:
        return self.router.take_dropped()


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _name_lines(names: list[str]) -> list[str]:
    return [" ".join(names[i : i + LIST_NAMES_PER_LINE]) for i in range(0, len(names), LIST_NAMES_PER_LINE)]


def _fold(target: str) -> str:
    """'@Bob' -> '@bob', '#Rust' -> '#rust': follows compare as names and rooms do."""
    return target[0] + room_key(target[1:])


def _utc(when: float) -> str:
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
