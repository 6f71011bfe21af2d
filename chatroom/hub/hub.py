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
import functools
import logging
from collections.abc import Callable
from typing import Protocol

from chatroom.hub import commands
from chatroom.hub.accounts import Accounts, Attempt, Refused
from chatroom.hub.message import LOBBY, Joined, Left, MemberList, Recipient, Renamed, Replay, TopicShown
from chatroom.hub.router import DeliverEach, Router, deliver_each
from chatroom.limits import (
    HISTORY_DEFAULT_REPLAY,
    LIST_NAMES_PER_LINE,
    MAX_FOLLOWS_PER_USER,
    MAX_ROOMS,
    MAX_ROOMS_PER_USER,
    PRESENCE_MAX_MEMBERS,
)
from chatroom.protocol.names import is_valid_username, room_key, username_key
from chatroom.text import printable

log = logging.getLogger("chatroom.server")


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    TAKEN = "taken"


Decided = Callable[[Recipient, str, Verdict | Refused], None]
# decided(member, name, verdict): called once per registration, now or later; Refused for a
# protected or banned name (the accounts' reply).

End = Callable[[Recipient, int, str], None]
# end(member, code, sentence): the server sends that last line and closes the connection (a kick).

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


NAME_RULES = "1 to 32 characters, no spaces or control characters, not starting with @, # or !, one script."


class Hub:
    """Registered users and what they say, routed by a Router."""

    def __init__(
        self,
        *,
        log_messages: bool = False,
        admission: Admission | None = None,
        history: History | None = None,
        accounts: Accounts | None = None,
        deliver_each: DeliverEach = deliver_each,
    ) -> None:
        self.router = Router(deliver_each)
        self.log_messages = log_messages
        self.history = history
        self._admission = admission
        self._deciding: dict[Recipient, Decided] = {}  # registrations waiting for admission
        self._topics: dict[str, str] = {}  # by folded room name; forgotten with the room
        self._replay: dict[Recipient, int] = {}  # CHAT/1.1 members: history lines on entering a room
        self._then: list[Callable[[], None]] = []  # a command's events, sent after its reply
        self.presence = True  # False while the server shuts down: nobody needs to hear who left
        # -- protected names and operators (docs/PROTOCOL.md section 9) --
        self.accounts = accounts
        self.end: End | None = None  # set by the server: how a kick ends a connection
        self._proven: set[Recipient] = set()  # members that gave their name's password
        self._replying: Answer | None = None  # the command being answered (for !close's notices)

    # -- registering -------------------------------------------------------------------------

    def register(
        self,
        member: Recipient,
        name: str,
        decided: Decided,
        replay: int | None = None,
        attempt: Attempt | None = None,
    ) -> None:
        """Ask for `name`; `decided(member, name, verdict)` follows, now or once admission answers.

        `replay`: for a member whose wire takes events, the history lines it gets on entering a
        room (None: the default). `attempt`: what the accounts judge (a protected name, a
        password), when the hub has accounts.
        """
        if name in self.router:
            decided(member, name, Verdict.TAKEN)
            return
        if member.wire.events:
            self._replay[member] = HISTORY_DEFAULT_REPLAY if replay is None else replay
        if self.accounts is None or attempt is None:
            self._ask_admission(member, name, decided)
            return
        self._deciding[member] = decided

        def checked(refused: Refused | None, proven: bool) -> None:
            if self._deciding.pop(member, None) is None:
                return  # the connection ended while we waited
            if refused is None:
                self._ask_admission(member, name, decided, proven)
            else:
                self._replay.pop(member, None)
                decided(member, name, refused)

        self.accounts.check(name, attempt, checked)

    def _ask_admission(self, member: Recipient, name: str, decided: Decided, proven: bool = False) -> None:
        if self._admission is None:
            self._admit(member, name, decided, proven)
            return
        self._deciding[member] = decided

        def answer(allowed: bool) -> None:
            if self._deciding.pop(member, None) is None:
                return  # the connection ended while we waited
            if allowed:
                self._admit(member, name, decided, proven)
            else:
                decided(member, name, Verdict.TAKEN)

        self._admission.check(name, answer)

    def _admit(self, member: Recipient, name: str, decided: Decided, proven: bool = False) -> None:
        if not self.router.add(member, name):  # taken while admission thought it over
            self._replay.pop(member, None)
            decided(member, name, Verdict.TAKEN)
            return
        if proven:
            self._proven.add(member)
        decided(member, name, Verdict.ACCEPTED)
        log.info("Connection to client established, waiting to receive messages from user '%s'...", name)
        if self.router.is_registered(member):  # still there after its 200
            self._entered(member, LOBBY)

    # -- presence (CHAT/1.1 events; a CHAT/1.0 member never gets them) -------------------------

    def _entered(self, member: Recipient, room: str) -> None:
        """`member` is in `room` now: tell it (when it takes events) and the room's members."""
        router = self.router
        count = router.member_count(room)
        if count <= PRESENCE_MAX_MEMBERS:
            router.announce(room, Joined(room, [member.name]), skip=member)
        if not member.wire.events:
            return
        router.send(member, Joined(room, [member.name]))
        if count <= PRESENCE_MAX_MEMBERS:
            names = sorted((other.name for other in router.members(room)), key=str.casefold)
            router.send(member, MemberList(room, names, count, True))
        else:
            router.send(member, MemberList(room, [], count, False))
        topic = self._topics.get(room_key(room))
        if topic is not None:
            router.send(member, TopicShown(room, topic))
        self._replay_to(member, room)

    def _exited(
        self, member: Recipient, room: str, *, tell_member: bool = True, by: str = "", reason: str = ""
    ) -> None:
        """`member` left `room` (taken out `by` someone): tell the room's members, and the member itself
        when it takes events."""
        # Counted with the member, the room had at most PRESENCE_MAX_MEMBERS: presence was on.
        if self.presence and self.router.member_count(room) < PRESENCE_MAX_MEMBERS:
            self.router.announce(room, Left(room, [member.name], by, reason))
        if tell_member and member.wire.events:
            self.router.send(member, Left(room, [member.name], by, reason))

    def _replay_to(self, member: Recipient, room: str) -> None:
        wanted = self._replay.get(member, HISTORY_DEFAULT_REPLAY)
        if wanted == 0:
            return
        if self.history is None:
            self.router.send(member, Replay(room, []))
            return
        router = self.router
        self.history.recent(room_key(room), wanted, lambda found: router.send(member, Replay(room, found)))

    # -- talking and leaving -------------------------------------------------------------------

    def say(self, sender: Recipient, text: str, room: str | None = None) -> bool:
        """`sender` says `text` to its current room, or to `room`; False when it is not in `room`."""
        if room is not None and not self.router.is_in(sender, room):
            return False
        key, room = self.router.say(sender, text, room)
        if self.history is not None:
            self.history.record(key, room, sender.name, text)
        if self.log_messages:
            # The operator's terminal is a terminal too: no bidi overrides or controls reach it raw.
            log.info("Received message from user %s:  %s", sender.name, printable(f"@{sender.name}: {text}"))
        return True

    def leave(self, member: Recipient, reason: str) -> bool:
        """`member` is gone (or its registration is no longer wanted); True if it was a user."""
        self._deciding.pop(member, None)
        self._replay.pop(member, None)
        self._proven.discard(member)
        if not self.router.is_registered(member):
            return False
        rooms = self.router.rooms_of(member)
        self.router.remove(member)
        for room in rooms:
            self._exited(member, room, tell_member=False)
            self._forget_if_empty(room)
        log.info("Disconnecting user %s", member.name)
        log.debug("User %s left: %s", member.name, reason)
        return True

    # -- commands (docs/PROTOCOL.md section 6) ---------------------------------------------------

    def command(self, member: Recipient, text: str, answer: Answer, room: str | None = None) -> None:
        """Carry out the command line `text` ('!join #dev'); `answer(member, code, lines)` follows.

        `room`: the room a CHAT/1.1 client addressed it to, which it is about (else its current room).
        """
        parsed = commands.parse(text)
        log.debug("Command from user %s: %s", member.name, text.split(" ", 1)[0])
        if room is not None and not self.router.is_in(member, room):
            answer(member, 404, [not_in_room(room)])
            return
        here = self.router.room_of(member)
        if room is not None:  # the room as first written, however it was typed
            here = next(name for name in self.router.rooms_of(member) if room_key(name) == room_key(room))
        if isinstance(parsed, commands.Mistake):
            answer(member, parsed.code, [parsed.sentence])
        elif isinstance(parsed, commands.History):
            self._history(member, here, parsed.lines, answer)
        elif isinstance(parsed, commands.Unclaim):
            self._unclaim(member, answer)
        else:
            self._then = []  # (what a command that raised left behind is not run for this one)
            self._replying = answer
            if isinstance(parsed, commands.Kick | commands.Ban | commands.Unban | commands.Close):
                code, lines = self._operate(member, parsed)
            else:
                code, lines = self._carry_out(member, here, parsed)
            answer(member, code, lines)
            then, self._then = self._then, []
            for step in then:
                step()

    def rename(self, member: Recipient, new: str, answer: Answer, renamed: Callable[[str], None]) -> None:
        """`member` asks to be called `new` (IRC's NICK): 221, or 400 / 409 / 4xx of the accounts.

        `renamed(new)` makes the member answer to the new name; the rooms it is in then hear
        `Renamed` (CHAT/1.1 members as LEFT and JOINED; CHAT/1.0 members hear nothing).
        A name's password proves only that name: a proven member that takes another is not
        proven any more (an operator stops being one).
        """
        old = member.name
        if not is_valid_username(new):
            answer(member, 400, [f"{new} is not a valid name: {NAME_RULES}"])
            return
        same = username_key(new) == username_key(old)
        if not same and new in self.router:
            answer(member, 409, [f"The name {new} is taken."])
            return
        if self._admission is not None:  # it answers for registrations only
            answer(member, 400, ["Names cannot be changed on this server; reconnect with the new one."])
            return

        def checked(refused: Refused | None, proven: bool) -> None:
            if member.name != old or not self.router.is_registered(member):
                return  # it left, or changed its name again, while the accounts thought
            if refused is not None and not same:
                answer(member, refused.code, [refused.sentence])
                return
            if not self.router.rename(member, new):
                answer(member, 409, [f"The name {new} is taken."])
                return
            renamed(new)
            if not same:
                self._proven.discard(member)
            log.info("User %s is now called %s", old, new)
            answer(member, 221, [f"You are now called {new}."])
            if self.presence:
                for room in self.router.rooms_of(member):
                    if self.router.member_count(room) <= PRESENCE_MAX_MEMBERS:
                        self.router.announce(room, Renamed(room, old, new), skip=member)

        if self.accounts is None or same:
            checked(None, False)
        else:
            self.accounts.check(new, Attempt(None, member.wire.events), checked)

    def _carry_out(self, member: Recipient, here: str, command: commands.Command) -> tuple[int, list[str]]:
        router = self.router
        if isinstance(command, commands.Help):
            if self.is_operator(member):
                return 218, [*commands.HELP_LINES, *commands.OPERATOR_HELP_LINES]
            return 218, list(commands.HELP_LINES)
        if isinstance(command, commands.Join):
            return self._join(member, command.room)
        if isinstance(command, commands.Leave):
            return self._leave_room(member, command.room or here)
        if isinstance(command, commands.Rooms):
            rooms = router.rooms()
            lines = [f"{name} {_count(count, 'member')}{self._topic_suffix(name)}" for name, count in rooms]
            return 211, [*lines, f"{_count(len(rooms), 'room')}."]
        if isinstance(command, commands.Topic):
            return self._topic(here, command.text)
        if isinstance(command, commands.ListMembers):
            return 213, self._members(here) if not command.everyone else self._everyone()
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

    def _join(self, member: Recipient, target: str) -> tuple[int, list[str]]:
        router = self.router
        several = member.wire.events  # a CHAT/1.1 client may be in several rooms; CHAT/1.0 in one
        rooms = router.rooms_of(member)
        if router.is_in(member, target):
            if not several or room_key(target) == room_key(rooms[-1]):
                return 409, [f"You are in {router.room_of(member)} already."]
            now_in = router.enter(member, target)  # already in it: it only becomes current
            return 210, [f"You are now in {now_in} ({_count(router.member_count(now_in), 'member')})."]
        if several and len(rooms) >= MAX_ROOMS_PER_USER:
            return 429, [f"You are in {MAX_ROOMS_PER_USER} rooms, the most allowed; !leave one first."]
        if not router.room_exists(target) and len(router.rooms()) >= MAX_ROOMS:
            return 429, [
                f"There are {MAX_ROOMS} rooms, the most this server allows; join one of them (!rooms)."
            ]
        now_in = router.enter(member, target) if several else router.move(member, target)
        if not several:
            left = rooms[0]
            self._forget_if_empty(left)
            self._then.append(lambda: self._exited(member, left))
        self._then.append(lambda: self._entered(member, now_in))
        return 210, [f"You are now in {now_in} ({_count(router.member_count(now_in), 'member')})."]

    def _leave_room(self, member: Recipient, room: str) -> tuple[int, list[str]]:
        router = self.router
        if not router.is_in(member, room):
            return 404, [f"You are not in {room}."]
        rooms = router.rooms_of(member)
        if rooms == [LOBBY]:
            return 409, [f"You are in {LOBBY} already."]
        left = rooms[[room_key(name) for name in rooms].index(room_key(room))]
        now_in = router.exit(member, left)
        self._forget_if_empty(left)
        self._then.append(lambda: self._exited(member, left))
        if len(rooms) == 1:  # it was its only room: it is back in the lobby
            self._then.append(lambda: self._entered(member, LOBBY))
        return 210, [f"You are now in {now_in} ({_count(router.member_count(now_in), 'member')})."]

    def _topic(self, room: str, text: str | None) -> tuple[int, list[str]]:
        if text is None:
            topic = self._topics.get(room_key(room))
            if topic is None:
                return 212, [f"{room} has no topic; !topic TEXT sets one."]
            return 212, [f"The topic of {room} is: {topic}"]
        if room_key(room) == LOBBY:
            return 400, [f"{LOBBY} has no topic."]
        if not text:
            if self._topics.pop(room_key(room), None) is None:
                return 212, [f"{room} has no topic; !topic TEXT sets one."]
            self._then.append(lambda: self.router.announce(room, TopicShown(room, "")))
            return 212, [f"The topic of {room} was cleared."]
        self._topics[room_key(room)] = text
        self._then.append(lambda: self.router.announce(room, TopicShown(room, text)))
        return 212, [f"The topic of {room} is now: {text}"]

    def _topic_suffix(self, room: str) -> str:
        topic = self._topics.get(room_key(room))
        return f": {topic}" if topic else ""

    def _members(self, room: str) -> list[str]:
        names = sorted((other.name for other in self.router.members(room)), key=str.casefold)
        return [*_name_lines(names), f"{_count(len(names), 'member')} in {room}."]

    def _everyone(self) -> list[str]:
        lines: list[str] = []
        rooms = self.router.rooms()
        for room, _ in rooms:
            names = sorted((other.name for other in self.router.members(room)), key=str.casefold)
            lines.extend(f"{room}: {chunk}" for chunk in _name_lines(names))
        return [*lines, f"{_count(len(self.router), 'user')} in {_count(len(rooms), 'room')}."]

    def _history(self, member: Recipient, room: str, wanted: int, answer: Answer) -> None:
        if self.history is None:
            answer(member, 217, [f"0 lines of {room}: this server keeps no history."])
            return

        def show(found: list[tuple[float, str, str]]) -> None:
            lines = [f"{_utc(when)} @{sender}: {printable(text)}" for when, sender, text in found]
            answer(member, 217, [*lines, f"{_count(len(found), 'line')} of {room}."])

        self.history.recent(room_key(room), wanted, show)

    # -- protected names and operators (docs/PROTOCOL.md section 9) ------------------------------

    def is_operator(self, member: Recipient) -> bool:
        """An operator account's name, proven with its password on this connection."""
        return (
            member in self._proven
            and self.accounts is not None
            and self.accounts.is_operator_name(member.name)
        )

    def _unclaim(self, member: Recipient, answer: Answer) -> None:
        accounts = self.accounts
        if accounts is None or member not in self._proven:
            answer(
                member,
                403,
                [f"Only a connection that logged in with the password of {member.name} can !unclaim it."],
            )
            return
        name = member.name

        def done(had_one: bool) -> None:
            self._proven.discard(member)
            log.info("User %s gave up the password of the name", name)
            if had_one:
                answer(member, 219, [f"The name {name} is no longer protected."])
            else:
                answer(member, 404, [f"The name {name} was not protected."])

        accounts.unclaim(name, done)

    def _operate(self, member: Recipient, command: commands.OperatorCommand) -> tuple[int, list[str]]:
        """!kick, !ban, !unban, !close: for operators only; each is logged with who did it."""
        word = type(command).__name__.lower()
        accounts = self.accounts
        if accounts is None or not self.is_operator(member):
            return 403, [f"Only operators may use !{word}."]
        if isinstance(command, commands.Close):
            return self._close_room(member, command.room)
        target = self.router.find(command.name)
        if isinstance(command, commands.Kick):
            if target is None:
                return 404, [f"No user named {command.name} is online; !list all shows who is."]
            why = f": {command.reason}" if command.reason else "."
            log.warning("Operator %s kicked %s%s", member.name, target.name, why)
            self._end_later(target, f"You were kicked by {member.name}{why}")
            return 220, [f"Kicked {target.name}."]
        if isinstance(command, commands.Unban):
            if not accounts.unban(command.name, member.name):
                return 404, [f"{command.name} is not banned."]
            log.warning("Operator %s unbanned %s", member.name, command.name)
            return 220, [f"{command.name} is no longer banned."]
        if username_key(command.name) == username_key(member.name):
            return 400, ["You cannot ban yourself."]
        until = accounts.ban(command.name, command.seconds, member.name)
        when = f" until {_utc_minute(until)}" if until is not None else ""
        log.warning("Operator %s banned %s%s", member.name, command.name, when or " for good")
        if target is not None:
            self._end_later(target, f"You were banned by {member.name}{when}.")
        return 220, [f"{command.name} is banned{when}."]

    def _end_later(self, target: Recipient, sentence: str) -> None:
        """After the operator's reply: `target` gets `403 sentence` and is closed."""
        end = self.end
        if end is not None:
            self._then.append(lambda: end(target, 403, sentence))

    def _close_room(self, member: Recipient, room: str) -> tuple[int, list[str]]:
        router = self.router
        if room_key(room) == LOBBY:
            return 400, [f"{LOBBY} cannot be closed."]
        if not router.room_exists(room):
            return 404, [f"There is no room {room}; !rooms lists them."]
        name = next(shown for shown, _ in router.rooms() if room_key(shown) == room_key(room))
        members = list(router.members(name))
        answer = self._replying
        for other in members:
            self._leave_room(other, name)
            if not other.wire.events and answer is not None:  # CHAT/1.0: nothing else tells it
                notice = [f"{name} was closed; you are now in {LOBBY}."]
                self._then.append(functools.partial(answer, other, 210, notice))
        self._topics.pop(room_key(name), None)
        log.warning(
            "Operator %s closed %s (%s sent to %s)", member.name, name, _count(len(members), "member"), LOBBY
        )
        return 220, [f"Closed {name} ({_count(len(members), 'member')} sent to {LOBBY})."]

    # -- removals on a wire's authority (an IRC KICK or KILL; docs/PROTOCOL.md 6.4) ---------------

    def remove_from_room(self, by: Recipient, name: str, room: str, reason: str, answer: Answer) -> None:
        """`by` takes the user `name` out of `room`; `answer(by, code, lines)` follows.

        Who may is the wire's business (an IRC channel operator): the hub
        checks only that `by` is in the room and `name` too. Members that take
        events see `Left` with `by` and `reason`; a CHAT/1.0 user, which gets
        no events, is told in one 210 line, as for `!close`. Codes: 404 no such
        room, 403 `by` is not in it, 410 `name` is not in it, 409 `name` is
        only in #lobby (which nobody leaves), 220 done.
        """
        router = self.router
        target = router.find(name)
        if not router.room_exists(room):
            answer(by, 404, [f"There is no room {room}; !rooms lists them."])
        elif not router.is_in(by, room):
            answer(by, 403, [not_in_room(room)])
        elif target is None or not router.is_in(target, room):
            answer(by, 410, [f"{name} is not in {room}."])
        elif router.rooms_of(target) == [LOBBY]:
            answer(by, 409, [f"{target.name} is only in {LOBBY}, which nobody leaves."])
        else:
            rooms = router.rooms_of(target)
            left = rooms[[room_key(shown) for shown in rooms].index(room_key(room))]
            only = len(rooms) == 1
            now_in = router.exit(target, left)
            self._forget_if_empty(left)
            why = f": {reason}" if reason else ""
            log.info("User %s removed %s from %s%s", by.name, target.name, left, why)
            answer(by, 220, [f"Removed {target.name} from {left}."])
            self._exited(target, left, by=by.name, reason=reason)
            if only:
                self._entered(target, LOBBY)
            if not target.wire.events:  # CHAT/1.0: nothing else tells it
                answer(target, 210, [f"{by.name} removed you from {left}{why}; you are now in {now_in}."])

    def remove_from_server(self, by: Recipient, name: str, reason: str, answer: Answer) -> None:
        """`by` ends the connection of the user `name` (an IRC operator's KILL: the wire checked that),
        as `!kick` does; `answer(by, code, lines)` first: 220, or 404 when nobody has that name."""
        target = self.router.find(name)
        if target is None:
            answer(by, 404, [f"No user named {name} is online; !list all shows who is."])
            return
        why = f": {reason}" if reason else "."
        log.warning("Operator %s kicked %s%s", by.name, target.name, why)
        answer(by, 220, [f"Kicked {target.name}."])
        if self.end is not None:
            self.end(target, 403, f"You were kicked by {by.name}{why}")

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

    def take_traffic(self) -> tuple[int, int]:
        return self.router.take_traffic()


def not_in_room(room: str) -> str:
    """The 404 sentence for a line or command addressed to a room one is not in."""
    return f"You are not in {room}; !join {room} first."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _name_lines(names: list[str]) -> list[str]:
    return [" ".join(names[i : i + LIST_NAMES_PER_LINE]) for i in range(0, len(names), LIST_NAMES_PER_LINE)]


def _fold(target: str) -> str:
    """'@Bob' -> '@bob', '#Rust' -> '#rust': follows compare as names and rooms do."""
    return target[0] + room_key(target[1:])


def _utc_minute(when: float) -> str:
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime("%Y-%m-%d %H:%MZ")


def _utc(when: float) -> str:
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
