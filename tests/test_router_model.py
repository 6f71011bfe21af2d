"""The router against a model: hypothesis drives users through rooms, follows and private lines.

The model is plain sets and dicts written from docs/PROTOCOL.md sections 6
and 7, not from the router: for every line said it decides, when the line is
said, who must receive it and in which form (a room line to the other members
of the room it was said in, a private line to its addressee alone, a followed
line once to followers who are not in its room, nothing to the sender).
Users move as CHAT/1.0 clients do (one room at a time) and enter and leave
rooms as CHAT/1.1 clients do (several at once, the current one entered last,
back in #lobby after leaving the last), and say lines to their current room or
to any room they are in. After every delivery each recipient must hold
exactly the lines the model expects, each once, batch after batch, and the
lines of one sender in the order they were said. Events (presence, topics)
go only to users whose wire takes them, after every line said before.

Names, rooms and topics here are ASCII, so case folding is the whole of the
folding rule of section 3 (NFKC changes nothing in ASCII).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from chatroom.hub.message import Event, FollowedLine, Joined, Message, PrivateLine, RoomLine, TopicShown
from chatroom.hub.router import Router


class CountingWire:
    """Encodes messages as readable lines (fields split by '|') and counts how often it was asked to."""

    events = False  # a CHAT/1.0 wire: the router must never hand it an event

    def __init__(self, tag: str = "") -> None:
        self.tag = tag
        self.encodings = 0

    @property
    def room_lines_key(self) -> object:
        return self

    def encode(self, message: Message | Event) -> bytes:
        self.encodings += 1
        if isinstance(message, RoomLine):
            return f"{self.tag}|room|{message.room}|{message.sender}|{message.text}\n".encode()
        if isinstance(message, FollowedLine):
            return f"{self.tag}|followed|{message.room}|{message.sender}|{message.text}\n".encode()
        if isinstance(message, PrivateLine):
            return f"{self.tag}|private|{message.to}|{message.sender}|{message.text}\n".encode()
        assert self.events, f"an event on a wire that did not ask for events: {message!r}"
        if isinstance(message, Joined):
            return f"{self.tag}|joined|{message.room}||{' '.join(message.names)}\n".encode()
        assert isinstance(message, TopicShown), f"the model sends no {message!r}"
        return f"{self.tag}|topic|{message.room}||{message.text}\n".encode()

    def encode_reply(self, code: int, lines: Sequence[str]) -> bytes:
        return "".join(f"{code} {line}\n" for line in lines).encode()

    def encode_notice(self, code: int, lines: Sequence[str]) -> bytes:
        return "".join(f"{code} {line}\n" for line in lines).encode()


class EventWire(CountingWire):
    """A CHAT/1.1 wire: its users asked for events."""

    events = True


class FakeRecipient:
    def __init__(self, name: str, wire: CountingWire) -> None:
        self.name = name
        self.wire = wire
        self.payloads: list[bytes] = []

    def deliver(self, payload: bytes) -> bool:
        self.payloads.append(payload)
        return True

    @property
    def lines(self) -> list[str]:
        return b"".join(self.payloads).decode().splitlines()


@dataclass(frozen=True)
class Heard:
    """One line as a recipient must get it: its form, its room (or addressee), who said it, and the text."""

    form: str  # 'room', 'followed' or 'private'; events: 'joined' or 'topic' (no sender)
    where: str  # the room as first written; for a private line the addressee's name
    sender: str
    text: str  # a line's text starts with its serial number, so that every line said is unique

    @property
    def serial(self) -> int:
        return int(self.text.split(" ", 1)[0])


LINE_FORMS = ("room", "followed", "private")

WIRES = (CountingWire("chat"), CountingWire("other"), EventWire("events"))

NAMES = ("alice", "ALICE", "bob", "Carol", "dave")
# Registration spellings and addressees: 'alice' and 'ALICE' are one user.

ROOMS = ("#lobby", "#Lobby", "#dev", "#Dev", "#DEV", "#ops", "#qa", "#QA")
# Every room a user can be in, in several spellings each; '#ops' only as written.

TARGETS = ("@alice", "@Bob", "@bob", "@carol", "@dave", "@zed", "#rust", "#Rust", "#go", "#dev")

WORDS = ("hello", "#rust", "#Rust", "(#rust).", "#go!", "'#GO'", "x#rust", "#rusty", "#", "#!", "#dev", "ok")
# What lines are made of: #words that match a followed topic once stripped and folded, and near misses.

# The router once sent a batch room by room to those who only listened, so a member of two
# rooms got a sender's lines to both out of order (the test at the bottom). Set this to
# False to have the machine deliver before a sender's line to another room than its last.
ROUTER_KEEPS_ORDER_ACROSS_ROOMS = True

LOBBY = "#lobby"
WORD_EDGES = ".,;:!?'\"()[]{}"


def fold(name: str) -> str:
    return name.casefold()


def spelled(room: str, pick: int) -> str:
    """One of the ways ROOMS writes the folded `room`."""
    spellings = [name for name in ROOMS if fold(name) == room]
    return spellings[pick % len(spellings)]


def topics_of(text: str) -> set[str]:
    """The folded #topics a line's text matches (6.4): its words split at spaces, edges stripped."""
    found = set()
    for word in text.split(" "):
        stripped = word.strip(WORD_EDGES)
        if stripped.startswith("#") and len(stripped) > 1:
            found.add(fold(stripped))
    return found


def heard(recipient: FakeRecipient) -> list[Heard]:
    received = []
    for line in recipient.lines:
        tag, form, where, sender, text = line.split("|", 4)
        assert tag == recipient.wire.tag, line
        received.append(Heard(form, where, sender, text))
    return received


class RouterModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.router = Router()
        self.serial = 0
        self.online: dict[str, FakeRecipient] = {}  # folded name -> user
        # Each online user's folded rooms in the order entered: the current one last (7.2).
        self.rooms: dict[FakeRecipient, list[str]] = {}
        self.room_names: dict[str, str] = {LOBBY: LOBBY}  # folded room -> as first written, in order made
        self.follows: dict[FakeRecipient, set[str]] = {}  # '@' or '#' + folded name
        self.gone: list[FakeRecipient] = []  # removed users: they must get nothing more
        # What each recipient must have got so far, one list per delivery (a batch, or one event):
        # everything of one batch arrives before anything of the next, in any order within it.
        self.expected: dict[FakeRecipient, list[list[Heard]]] = {}
        self.pending: list[dict[FakeRecipient, Heard]] = []  # per line said since the last delivery
        self.said_to: dict[FakeRecipient, str] = {}  # the room of each sender's last line since then

    # -- the model's own rules ---------------------------------------------------------------------

    def user(self, name: str) -> FakeRecipient | None:
        return self.online.get(fold(name))

    def members(self, room: str) -> list[FakeRecipient]:
        return [member for member, rooms in self.rooms.items() if room in rooms]

    def forget_if_empty(self, room: str) -> None:
        """A room is forgotten when its last member leaves (6.2), #lobby excepted."""
        if room != LOBBY and not self.members(room):
            del self.room_names[room]

    def delivered(self) -> None:
        """The router delivered (deliver(); add(), move(), enter() and exit() before they change who
        is where; announce() and send() before their event)."""
        batch: dict[FakeRecipient, list[Heard]] = {}
        for line in self.pending:
            for recipient, form in line.items():
                batch.setdefault(recipient, []).append(form)
        for recipient, forms in batch.items():
            self.expected.setdefault(recipient, []).append(forms)
        self.pending = []
        self.said_to = {}

    def next_text(self, words: list[str]) -> str:
        self.serial += 1
        return " ".join([str(self.serial), *words])

    def check_received(self) -> None:
        for recipient in [*self.online.values(), *self.gone]:
            received = heard(recipient)
            batches = self.expected.get(recipient, [])
            expected = [form for batch in batches for form in batch]
            missing = Counter(expected) - Counter(received)
            extra = Counter(received) - Counter(expected)
            assert not missing and not extra, (
                f"{recipient.name}: missing {sorted(missing, key=repr)}, "
                f"unexpected or repeated {sorted(extra, key=repr)}"
            )
            start = 0
            for batch in batches:
                got = received[start : start + len(batch)]
                assert Counter(got) == Counter(batch), (
                    f"{recipient.name} got {got} where one delivery should have brought {batch}"
                )
                start += len(batch)
            lines = [line for line in received if line.form in LINE_FORMS]
            for sender in {line.sender for line in lines}:
                serials = [line.serial for line in lines if line.sender == sender]
                assert serials == sorted(serials), (
                    f"{recipient.name} got {sender}'s lines out of order: {serials}"
                )

    # -- rules -----------------------------------------------------------------------------------

    @initialize(with_follows=st.booleans(), in_two_rooms=st.booleans())
    def everyone_in_the_lobby(self, with_follows: bool, in_two_rooms: bool) -> None:
        """Four users to begin with, one on each wire at least; with follows, lines take the router's
        batched path at once; in two rooms, all but dave are in #Dev as well from the start."""
        for number, name in enumerate(("alice", "bob", "Carol", "dave")):
            self.register(name, WIRES[number % len(WIRES)])
        if in_two_rooms:
            for name in ("alice", "bob", "carol"):
                self.enter(name, "#Dev")
        if with_follows:
            self.follow("carol", "@alice")
            self.follow("dave", "#rust")

    @rule(name=st.sampled_from(NAMES), wire=st.sampled_from(WIRES))
    def register(self, name: str, wire: CountingWire) -> None:
        recipient = FakeRecipient(name, wire)
        free = fold(name) not in self.online
        assert self.router.add(recipient, name) is free
        if free:
            self.delivered()  # lines said before a user joined are not for it
            self.online[fold(name)] = recipient
            self.rooms[recipient] = [LOBBY]
            self.expected[recipient] = []

    @rule(name=st.sampled_from(NAMES))
    def remove(self, name: str) -> None:
        recipient = self.user(name)
        if recipient is None:
            return
        assert self.router.remove(recipient)
        del self.online[fold(name)]
        for room in self.rooms.pop(recipient):
            self.forget_if_empty(room)
        self.follows.pop(recipient, None)
        for line in self.pending:  # a user who left gets nothing more
            line.pop(recipient, None)
        self.gone.append(recipient)

    @rule(index=st.integers(min_value=0))
    def remove_again(self, index: int) -> None:
        if self.gone:
            assert not self.router.remove(self.gone[index % len(self.gone)])

    @rule(name=st.sampled_from(NAMES), room=st.sampled_from(ROOMS))
    def move(self, name: str, room: str) -> None:
        """CHAT/1.0's !join: out of every room the user is in, into `room` alone."""
        recipient = self.user(name)
        if recipient is None:
            return
        before, after = self.rooms[recipient], fold(room)
        if before != [after]:
            self.delivered()  # what was said before the move reaches the rooms it was said in
            self.rooms[recipient] = [after]
            for old in before:
                self.forget_if_empty(old)
            self.room_names.setdefault(after, room)
        assert self.router.move(recipient, room) == self.room_names[after]

    @rule(name=st.sampled_from(NAMES), room=st.sampled_from(ROOMS))
    def enter(self, name: str, room: str) -> None:
        """CHAT/1.1's !join: `room` becomes current, entered when new to the user (and made when new)."""
        recipient = self.user(name)
        if recipient is None:
            return
        rooms, key = self.rooms[recipient], fold(room)
        if key in rooms:
            rooms.remove(key)  # only made current: nobody comes or goes, so nothing need be delivered
        else:
            self.delivered()  # what was said before it came is not for it
            self.room_names.setdefault(key, room)
        rooms.append(key)
        assert self.router.enter(recipient, room) == self.room_names[key]

    @rule(name=st.sampled_from(NAMES), index=st.integers(min_value=0, max_value=7), pick=st.integers(0, 3))
    def exit(self, name: str, index: int, pick: int) -> None:
        """CHAT/1.1's !leave #room, for a room the user is in: back in #lobby after its last room."""
        recipient = self.user(name)
        if recipient is None:
            return
        rooms = self.rooms[recipient]
        if rooms == [LOBBY]:
            return  # the hub answers 409 without asking the router
        room = rooms[index % len(rooms)]
        self.delivered()  # what was said before it left still reaches it
        rooms.remove(room)
        if not rooms:
            rooms.append(LOBBY)
        self.forget_if_empty(room)
        assert self.router.exit(recipient, spelled(room, pick)) == self.room_names[rooms[-1]]

    @rule(
        name=st.sampled_from(NAMES),
        words=st.lists(st.sampled_from(WORDS), max_size=4),
        index=st.none() | st.integers(min_value=0, max_value=7),
        pick=st.integers(0, 3),
    )
    def say(self, name: str, words: list[str], index: int | None, pick: int) -> None:
        """A line to the sender's current room (index None) or to one of its rooms, named."""
        sender = self.user(name)
        if sender is None:
            return
        text = self.next_text(words)
        rooms = self.rooms[sender]
        room = rooms[-1] if index is None else rooms[index % len(rooms)]
        named = None if index is None else spelled(room, pick)
        if not ROUTER_KEEPS_ORDER_ACROSS_ROOMS and self.said_to.get(sender, room) != room:
            self.deliver()
        self.said_to[sender] = room
        topics = topics_of(text)
        line: dict[FakeRecipient, Heard] = {}
        for other, others_rooms in self.rooms.items():
            if other is sender:
                continue
            if room in others_rooms:
                line[other] = Heard("room", self.room_names[room], sender.name, text)
            elif self.follows.get(other, set()) & ({"@" + fold(sender.name)} | topics):
                line[other] = Heard("followed", self.room_names[room], sender.name, text)
        assert self.router.say(sender, text, named) == (room, self.room_names[room])
        self.pending.append(line)

    @rule(
        lines=st.lists(
            st.tuples(
                st.sampled_from(NAMES),
                st.lists(st.sampled_from(WORDS), max_size=2),
                st.none() | st.integers(min_value=0, max_value=7),
                st.integers(0, 3),
            ),
            min_size=2,
            max_size=6,
        )
    )
    def chatter(self, lines: list[tuple[str, list[str], int | None, int]]) -> None:
        """A busy moment: several lines, from several senders to several rooms, before one delivery."""
        for name, words, index, pick in lines:
            self.say(name, words, index, pick)

    @rule(name=st.sampled_from(NAMES), to=st.sampled_from((*NAMES, "zed", "BOB")))
    def whisper(self, name: str, to: str) -> None:
        sender = self.user(name)
        if sender is None or fold(to) == fold(name):
            return  # the hub refuses a private line to oneself before the router sees it
        text = self.next_text(["psst", "#rust"])
        addressee = self.user(to)
        assert self.router.whisper(sender, to, text) is addressee
        if addressee is not None:
            self.pending.append({addressee: Heard("private", addressee.name, sender.name, text)})

    # Whether a follow changed between a line and its delivery counts for that line is not
    # specified, so what was said before a follow or an unfollow is delivered (and checked) first.

    @rule(name=st.sampled_from(NAMES), followed=st.sampled_from(TARGETS))
    def follow(self, name: str, followed: str) -> None:
        follower = self.user(name)
        if follower is None:
            return
        self.deliver()
        follows = self.follows.setdefault(follower, set())
        new = fold(followed) not in follows
        assert self.router.follow(follower, followed) is new
        follows.add(fold(followed))

    @rule(name=st.sampled_from(NAMES), followed=st.sampled_from(TARGETS))
    def unfollow(self, name: str, followed: str) -> None:
        follower = self.user(name)
        if follower is None:
            return
        self.deliver()
        follows = self.follows.setdefault(follower, set())
        following = fold(followed) in follows
        assert self.router.unfollow(follower, followed) is following
        follows.discard(fold(followed))

    # An event is sent at once, after every line said before it; when nobody takes it, whether
    # those lines go now is not specified, so they are delivered (and checked) right after.

    @rule(room=st.sampled_from(ROOMS), who=st.sampled_from(NAMES))
    def announce(self, room: str, who: str) -> None:
        """`who` entered `room`: every member whose wire takes events hears it, but `who` itself."""
        skip = self.user(who)
        key = fold(room)
        told = [member for member in self.members(key) if member.wire.events and member is not skip]
        self.router.announce(room, Joined(room, [who]), skip=skip)
        if told:
            self.delivered()
            for member in told:
                self.expected[member].append([Heard("joined", room, "", who)])
        self.deliver()

    @rule(
        name=st.sampled_from(NAMES), room=st.sampled_from(ROOMS), index=st.none() | st.integers(min_value=0)
    )
    def send(self, name: str, room: str, index: int | None) -> None:
        """An event to one user whose wire takes events; to a user who left (index), nothing."""
        if index is not None:
            if self.gone:
                self.router.send(self.gone[index % len(self.gone)], TopicShown(room, "gone"))
            self.deliver()
            return
        recipient = self.user(name)
        if recipient is None or not recipient.wire.events:
            return  # the hub sends events only to those who asked for them
        text = self.next_text(["topic"])
        self.router.send(recipient, TopicShown(room, text))
        self.delivered()
        self.expected[recipient].append([Heard("topic", room, "", text)])
        self.deliver()

    @rule()
    def deliver(self) -> None:
        self.router.deliver()
        self.delivered()
        assert not self.router.has_pending()
        self.check_received()

    # -- what the router says about who is where -----------------------------------------------------

    @invariant()
    def users_and_rooms_agree(self) -> None:
        router = self.router
        assert len(router) == len(self.online)
        for key, recipient in self.online.items():
            assert key in router and router.find(key.upper()) is recipient
            assert router.is_registered(recipient)
            rooms = self.rooms[recipient]
            assert router.rooms_of(recipient) == [self.room_names[room] for room in rooms]
            assert router.room_of(recipient) == self.room_names[rooms[-1]]
            for room in ROOMS:
                assert router.is_in(recipient, room) is (fold(room) in rooms), (recipient.name, room)
            assert {fold(target) for target in router.follows(recipient)} == self.follows.get(
                recipient, set()
            )
        for recipient in self.gone:
            assert not router.is_registered(recipient)
        assert router.rooms() == [(name, len(self.members(room))) for room, name in self.room_names.items()]
        for room in ROOMS:
            members = router.members(room)
            assert len(members) == len(set(members)) == router.member_count(room)
            assert set(members) == set(self.members(fold(room)))
            assert router.room_exists(room) is (fold(room) in self.room_names)


def test_a_private_line_whose_addressee_left_before_delivery_is_dropped() -> None:
    """A short path the machine reaches only rarely: one private line alone in its batch, nobody following."""
    router = Router()
    alice, bob = FakeRecipient("alice", WIRES[0]), FakeRecipient("bob", WIRES[1])
    assert router.add(alice, "alice") and router.add(bob, "bob")
    assert router.whisper(alice, "bob", "1 psst") is bob
    assert router.remove(bob)
    router.deliver()
    assert bob.payloads == [] and alice.payloads == []


def test_a_room_line_after_a_private_line_in_one_batch_still_reaches_its_followers() -> None:
    router = Router()
    wire = CountingWire("chat")
    alice, bob = FakeRecipient("alice", wire), FakeRecipient("bob", wire)
    assert router.add(alice, "alice") and router.add(bob, "bob")
    assert router.follow(alice, "@alice")  # anyone following anything takes the batched path
    router.move(alice, "#dev")
    assert router.whisper(alice, "bob", "1 psst") is bob
    router.say(alice, "2 hello")
    router.deliver()  # IndexError: followers has one entry, for the room line at batch index 1
    assert heard(bob) == [Heard("private", "bob", "alice", "1 psst")]
    assert alice.payloads == []


def test_a_member_of_two_rooms_gets_each_senders_lines_in_the_order_said() -> None:
    """7.3: the lines of one sender arrive in the order they were said, whatever rooms they went to."""
    router = Router()
    wire = CountingWire("chat")
    alice, bob, carol = (FakeRecipient(name, wire) for name in ("alice", "bob", "carol"))
    for user in (alice, bob, carol):
        assert router.add(user, user.name)
        router.enter(user, "#dev")  # in #lobby and #dev, #dev current
    router.say(alice, "1 hello", "#lobby")  # the batch's first room is #lobby
    router.say(bob, "2 first", "#dev")
    router.say(bob, "3 second", "#lobby")
    router.deliver()
    assert [line.serial for line in heard(carol) if line.sender == "bob"] == [2, 3]  # got [3, 2]


RouterModel.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
test_the_router_delivers_every_line_exactly_as_the_model_says = RouterModel.TestCase
