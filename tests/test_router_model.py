"""The router against a model: hypothesis drives users through rooms, follows and private lines.

The model is plain sets and dicts written from docs/PROTOCOL.md section 6,
not from the router: for every line said it decides, when the line is said,
who must receive it and in which form (a room line to the room's other
members, a private line to its addressee alone, a followed line once to
followers outside the room, nothing to the sender). After every delivery each
recipient must hold exactly the lines the model expects, each once, and the
lines of one sender in the order they were said.

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

from chatroom.hub.message import FollowedLine, Message, PrivateLine, RoomLine
from chatroom.hub.router import Router


class CountingWire:
    """Encodes messages as readable lines (fields split by '|') and counts how often it was asked to."""

    def __init__(self, tag: str = "") -> None:
        self.tag = tag
        self.encodings = 0

    def encode(self, message: Message) -> bytes:
        self.encodings += 1
        if isinstance(message, RoomLine):
            return f"{self.tag}|room|{message.room}|{message.sender}|{message.text}\n".encode()
        if isinstance(message, FollowedLine):
            return f"{self.tag}|followed|{message.room}|{message.sender}|{message.text}\n".encode()
        assert isinstance(message, PrivateLine)
        return f"{self.tag}|private|{message.to}|{message.sender}|{message.text}\n".encode()

    def encode_reply(self, code: int, lines: Sequence[str]) -> bytes:
        return "".join(f"{code} {line}\n" for line in lines).encode()


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

    form: str  # 'room', 'followed' or 'private'
    where: str  # the room as first written; for a private line the addressee's name
    sender: str
    text: str  # starts with the line's serial number, so that every line said is unique

    @property
    def serial(self) -> int:
        return int(self.text.split(" ", 1)[0])


WIRES = (CountingWire("chat"), CountingWire("other"))

NAMES = ("alice", "ALICE", "bob", "Carol", "dave")
# Registration spellings and addressees: 'alice' and 'ALICE' are one user.

ROOMS = ("#lobby", "#Lobby", "#dev", "#Dev", "#DEV", "#ops")

TARGETS = ("@alice", "@Bob", "@bob", "@carol", "@dave", "@zed", "#rust", "#Rust", "#go", "#dev")

WORDS = ("hello", "#rust", "#Rust", "(#rust).", "#go!", "'#GO'", "x#rust", "#rusty", "#", "#!", "#dev", "ok")
# What lines are made of: #words that match a followed topic once stripped and folded, and near misses.

LOBBY = "#lobby"
WORD_EDGES = ".,;:!?'\"()[]{}"


def fold(name: str) -> str:
    return name.casefold()


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
        self.room_of: dict[FakeRecipient, str] = {}  # folded room, online users only
        self.room_names: dict[str, str] = {LOBBY: LOBBY}  # folded room -> as first written
        self.follows: dict[FakeRecipient, set[str]] = {}  # '@' or '#' + folded name
        self.gone: list[FakeRecipient] = []  # removed users: they must get nothing more
        self.expected: dict[FakeRecipient, list[Heard]] = {}  # delivered so far, per recipient
        self.pending: list[dict[FakeRecipient, Heard]] = []  # per line said since the last delivery

    # -- the model's own rules ---------------------------------------------------------------------

    def user(self, name: str) -> FakeRecipient | None:
        return self.online.get(fold(name))

    def members(self, room: str) -> list[FakeRecipient]:
        return [member for member, where in self.room_of.items() if where == room]

    def delivered(self) -> None:
        """The router delivered (deliver(), and add() or move() before they change who is where)."""
        for line in self.pending:
            for recipient, form in line.items():
                self.expected.setdefault(recipient, []).append(form)
        self.pending = []

    def next_text(self, words: list[str]) -> str:
        self.serial += 1
        return " ".join([str(self.serial), *words])

    # -- rules -----------------------------------------------------------------------------------

    @initialize(with_follows=st.booleans())
    def everyone_in_the_lobby(self, with_follows: bool) -> None:
        """Four users to begin with; with follows, lines take the router's batched path at once."""
        for number, name in enumerate(("alice", "bob", "Carol", "dave")):
            self.register(name, WIRES[number % 2])
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
            self.room_of[recipient] = LOBBY
            self.expected[recipient] = []

    @rule(name=st.sampled_from(NAMES))
    def remove(self, name: str) -> None:
        recipient = self.user(name)
        if recipient is None:
            return
        assert self.router.remove(recipient)
        del self.online[fold(name)]
        room = self.room_of.pop(recipient)
        if room != LOBBY and not self.members(room):
            del self.room_names[room]
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
        recipient = self.user(name)
        if recipient is None:
            return
        before, after = self.room_of[recipient], fold(room)
        if before != after:
            self.delivered()  # what was said before the move reaches the room it was said in
            self.room_of[recipient] = after
            if before != LOBBY and not self.members(before):
                del self.room_names[before]
            self.room_names.setdefault(after, room)
        assert self.router.move(recipient, room) == self.room_names[after]

    @rule(name=st.sampled_from(NAMES), words=st.lists(st.sampled_from(WORDS), max_size=4))
    def say(self, name: str, words: list[str]) -> None:
        sender = self.user(name)
        if sender is None:
            return
        text = self.next_text(words)
        room = self.room_of[sender]
        topics = topics_of(text)
        line: dict[FakeRecipient, Heard] = {}
        for other, where in self.room_of.items():
            if other is sender:
                continue
            if where == room:
                line[other] = Heard("room", self.room_names[room], sender.name, text)
            elif self.follows.get(other, set()) & ({"@" + fold(sender.name)} | topics):
                line[other] = Heard("followed", self.room_names[room], sender.name, text)
        self.router.say(sender, text)
        self.pending.append(line)

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
            if any(self.follows.values()):
                # The server answers !msg after a delivery, so a private line ends its batch; a room
                # line after it in one batch while anyone follows trips a router bug (test below).
                self.deliver()

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

    @rule()
    def deliver(self) -> None:
        self.router.deliver()
        self.delivered()
        assert not self.router.has_pending()
        for recipient in [*self.online.values(), *self.gone]:
            received = heard(recipient)
            expected = self.expected.get(recipient, [])
            missing = Counter(expected) - Counter(received)
            extra = Counter(received) - Counter(expected)
            assert not missing and not extra, (
                f"{recipient.name}: missing {sorted(missing, key=lambda h: h.serial)}, "
                f"unexpected or repeated {sorted(extra, key=lambda h: h.serial)}"
            )
            for sender in {line.sender for line in received}:
                serials = [line.serial for line in received if line.sender == sender]
                assert serials == sorted(serials), f"{recipient.name} got {sender}'s lines out of order"

    # -- what the router says about who is where -----------------------------------------------------

    @invariant()
    def users_and_rooms_agree(self) -> None:
        assert len(self.router) == len(self.online)
        for key, recipient in self.online.items():
            assert key in self.router and self.router.find(key.upper()) is recipient
            assert self.router.room_of(recipient) == self.room_names[self.room_of[recipient]]
            assert {fold(target) for target in self.router.follows(recipient)} == self.follows.get(
                recipient, set()
            )
        rooms = {fold(name): count for name, count in self.router.rooms()}
        assert rooms == {room: len(self.members(room)) for room in self.room_names}
        assert {name for name, _ in self.router.rooms()} == set(self.room_names.values())


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


RouterModel.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
test_the_router_delivers_every_line_exactly_as_the_model_says = RouterModel.TestCase
