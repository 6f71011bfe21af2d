"""The router in-process, with fake recipients: who hears what, in which order, encoded how often."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from chatroom.hub.message import LOBBY, Event, FollowedLine, Joined, Message, PrivateLine, Recipient, RoomLine
from chatroom.hub.router import Router, deliver_each


class CountingWire:
    """Encodes messages as readable text and counts how often it was asked to."""

    def __init__(self, tag: str = "", *, events: bool = False) -> None:
        self.tag = tag
        self.events = events
        self.encodings = 0

    @property
    def room_lines_key(self) -> object:
        return self

    def encode(self, message: Message | Event) -> bytes:
        self.encodings += 1
        if not isinstance(message, RoomLine | FollowedLine | PrivateLine):
            return f"{self.tag}event {message!r}\n".encode()
        if isinstance(message, RoomLine):
            return f"{self.tag}{message.room} {message.sender}: {message.text}\n".encode()
        if isinstance(message, FollowedLine):
            return f"{self.tag}followed {message.room} {message.sender}: {message.text}\n".encode()
        return f"{self.tag}private {message.sender}->{message.to}: {message.text}\n".encode()

    def encode_reply(self, code: int, lines: Sequence[str]) -> bytes:
        return "".join(f"{code} {line}\n" for line in lines).encode()

    def encode_notice(self, code: int, lines: Sequence[str]) -> bytes:
        return "".join(f"{code} {line}\n" for line in lines).encode()


class FakeRecipient:
    def __init__(self, name: str, wire: CountingWire, *, full: bool = False) -> None:
        self.name = name
        self.wire = wire
        self.payloads: list[bytes] = []
        self.full = full  # a recipient that cannot take more

    def deliver(self, payload: bytes) -> bool:
        if self.full:
            return False
        self.payloads.append(payload)
        return True

    @property
    def lines(self) -> list[str]:
        return b"".join(self.payloads).decode().splitlines()


WIRE = CountingWire()


def users(router: Router, *names: str, wire: CountingWire = WIRE) -> list[FakeRecipient]:
    made = [FakeRecipient(name, wire) for name in names]
    for recipient in made:
        assert router.add(recipient, recipient.name)
    return made


def test_a_room_line_reaches_every_other_member_but_not_the_sender() -> None:
    router = Router()
    alice, bob, carol = users(router, "alice", "bob", "carol")
    router.say(alice, "hi")
    router.deliver()
    assert bob.lines == carol.lines == ["#lobby alice: hi"]
    assert alice.payloads == []


def test_a_batch_is_encoded_once_per_wire_and_the_same_bytes_go_to_every_recipient_of_it() -> None:
    router = Router()
    chat, other = CountingWire(), CountingWire("irc:")
    alice, bob, carol, frank = users(router, "alice", "bob", "carol", "frank", wire=chat)
    (dave, erin) = users(router, "dave", "erin", wire=other)
    router.say(alice, "one")
    router.say(bob, "two")
    router.deliver()
    # Each message once per wire, whoever hears it (the senders' own batches included).
    assert other.encodings == 2
    assert chat.encodings == 2
    assert carol.payloads[0] is frank.payloads[0]
    assert dave.payloads[0] is erin.payloads[0]
    assert dave.lines == ["irc:#lobby alice: one", "irc:#lobby bob: two"]
    assert carol.lines == ["#lobby alice: one", "#lobby bob: two"]
    assert alice.lines == ["#lobby bob: two"] and bob.lines == ["#lobby alice: one"]


def test_each_sender_gets_the_others_lines_in_the_order_they_were_said() -> None:
    router = Router()
    alice, bob, carol = users(router, "alice", "bob", "carol")
    router.say(alice, "a1")
    router.say(bob, "b1")
    router.say(alice, "a2")
    router.deliver()
    assert alice.lines == ["#lobby bob: b1"]
    assert bob.lines == ["#lobby alice: a1", "#lobby alice: a2"]
    assert carol.lines == ["#lobby alice: a1", "#lobby bob: b1", "#lobby alice: a2"]


def test_private_and_room_lines_from_one_sender_keep_their_order() -> None:
    router = Router()
    alice, bob, carol = users(router, "alice", "bob", "carol")
    router.say(alice, "before")
    assert router.whisper(alice, "BOB", "just for you") is bob
    router.say(alice, "after")
    router.deliver()
    assert bob.lines == ["#lobby alice: before", "private alice->bob: just for you", "#lobby alice: after"]
    assert carol.lines == ["#lobby alice: before", "#lobby alice: after"]
    assert alice.lines == []


def test_a_private_line_to_nobody_is_not_routed() -> None:
    router = Router()
    alice, _ = users(router, "alice", "bob")
    assert router.whisper(alice, "zed", "hello?") is None
    assert not router.has_pending()


def test_names_are_unique_as_username_key_folds_them() -> None:
    router = Router()
    users(router, "Alice", "ΐ")
    assert not router.add(FakeRecipient("alice", WIRE), "alice")
    assert not router.add(FakeRecipient("Ϊ́", WIRE), "Ϊ́")
    assert "ALICE" in router and router.find("aLiCe") is not None


def test_a_name_is_free_again_as_soon_as_its_user_is_removed() -> None:
    router = Router()
    (alice,) = users(router, "alice")
    assert router.remove(alice)
    assert not router.remove(alice)
    assert router.add(FakeRecipient("alice", WIRE), "alice")


def test_lines_said_before_a_user_joined_are_not_delivered_to_it() -> None:
    router = Router()
    alice, bob = users(router, "alice", "bob")
    router.say(alice, "early")
    (carol,) = users(router, "carol")
    router.say(alice, "late")
    router.deliver()
    assert bob.lines == ["#lobby alice: early", "#lobby alice: late"]
    assert carol.lines == ["#lobby alice: late"]


def test_a_user_who_left_before_delivery_gets_nothing() -> None:
    router = Router()
    alice, bob, carol = users(router, "alice", "bob", "carol")
    router.say(alice, "one")
    router.say(bob, "two")
    router.remove(bob)
    router.remove(carol)
    router.deliver()
    assert bob.payloads == [] and carol.payloads == []
    assert alice.lines == ["#lobby bob: two"]


def test_a_recipient_that_cannot_take_its_lines_is_reported_once_for_dropping() -> None:
    router = Router()
    alice, bob = users(router, "alice", "bob")
    bob.full = True
    router.say(alice, "hi")
    router.deliver()
    assert router.take_dropped() == [bob]
    assert router.take_dropped() == []


def test_rooms_keep_their_lines_to_themselves() -> None:
    router = Router()
    alice, bob, carol, dave = users(router, "alice", "bob", "carol", "dave")
    router.move(alice, "#dev")
    router.move(bob, "#dev")
    assert router.room_of(alice) == "#dev" and router.room_of(carol) == LOBBY
    router.say(alice, "in dev")
    router.say(carol, "in the lobby")
    router.deliver()
    assert bob.lines == ["#dev alice: in dev"]
    assert dave.lines == ["#lobby carol: in the lobby"]
    assert alice.lines == [] and carol.lines == []
    assert {member.name for member in router.members("#dev")} == {"alice", "bob"}


def test_what_was_said_before_a_move_reaches_the_room_it_was_said_in() -> None:
    router = Router()
    alice, bob, carol = users(router, "alice", "bob", "carol")
    router.move(bob, "#dev")
    router.say(alice, "lobby line")
    router.move(carol, "#dev")
    router.deliver()
    assert carol.lines == ["#lobby alice: lobby line"]
    assert bob.lines == []


def test_an_empty_room_is_forgotten_but_the_lobby_stays() -> None:
    router = Router()
    (alice,) = users(router, "alice")
    router.move(alice, "#dev")
    router.move(alice, LOBBY)
    assert router.members("#dev") == []
    router.remove(alice)
    assert router.members(LOBBY) == []
    assert len(router) == 0


def test_the_chat_wire_encodes_exactly_the_bytes_a_chat_1_0_peer_sent() -> None:
    from chatroom.codecs.chat import CHAT_WIRE

    text = "héllo 日本 👋🏽\t!"
    line = ("@alice: " + text + "\n").encode()
    assert CHAT_WIRE.encode(RoomLine("alice", LOBBY, text)) == line
    private = CHAT_WIRE.encode(PrivateLine("alice", "bob", "psst"))
    assert private.startswith(b"@alice") and not private.startswith(b"@alice: ")


# -- several rooms (CHAT/1.1) and events --------------------------------------------------------------


def test_a_user_in_several_rooms_hears_each_and_says_to_the_current_one_or_the_one_named() -> None:
    router = Router()
    alice, bob, carol = users(router, "alice", "bob", "carol")
    router.move(carol, "#dev")
    assert router.enter(alice, "#Dev") == "#dev"
    assert router.rooms_of(alice) == [LOBBY, "#dev"] and router.room_of(alice) == "#dev"
    router.say(bob, "lobby")
    router.say(carol, "dev")
    router.say(alice, "to current")
    router.say(alice, "to lobby", "#LOBBY")
    router.deliver()
    assert alice.lines == ["#lobby bob: lobby", "#dev carol: dev"]
    assert bob.lines == ["#lobby alice: to lobby"]
    assert carol.lines == ["#dev alice: to current"]


def test_enter_of_a_room_one_is_in_makes_it_current_without_a_second_membership() -> None:
    router = Router()
    alice, bob = users(router, "alice", "bob")
    router.enter(alice, "#dev")
    router.enter(alice, "#lobby")
    assert router.rooms_of(alice) == ["#dev", LOBBY] and router.room_of(alice) == LOBBY
    assert router.member_count(LOBBY) == 2 and router.member_count("#dev") == 1
    router.say(bob, "once")
    router.deliver()
    assert alice.lines == ["#lobby bob: once"]


def test_exit_falls_back_to_the_previous_room_and_from_the_last_to_the_lobby() -> None:
    router = Router()
    (alice,) = users(router, "alice")
    router.enter(alice, "#a")
    router.enter(alice, "#b")
    assert router.exit(alice, "#b") == "#a"
    assert router.exit(alice, "#lobby") == "#a"
    assert router.rooms_of(alice) == ["#a"]
    assert router.exit(alice, "#a") == LOBBY
    assert router.rooms_of(alice) == [LOBBY] and router.is_registered(alice)
    assert not router.room_exists("#a") and not router.room_exists("#b")


def test_remove_takes_a_user_out_of_every_room() -> None:
    router = Router()
    alice, bob = users(router, "alice", "bob")
    router.enter(alice, "#a")
    router.enter(bob, "#a")
    assert router.remove(alice)
    assert router.member_count(LOBBY) == 1 and router.member_count("#a") == 1
    assert not router.is_registered(alice)


def test_a_followed_line_reaches_a_follower_in_several_rooms_once_as_a_room_line() -> None:
    router = Router()
    alice, bob, carol = users(router, "alice", "bob", "carol")
    router.move(bob, "#dev")
    router.enter(alice, "#dev")  # alice: #lobby and #dev
    router.follow(alice, "@bob")
    router.follow(alice, "#ship")
    router.say(bob, "#ship it")
    router.say(carol, "other")  # a second line makes this a batch, not the one-line fast path
    router.deliver()
    assert alice.lines == ["#dev bob: #ship it", "#lobby carol: other"]


def test_events_go_only_to_wires_that_take_them_and_never_to_the_one_skipped() -> None:
    router = Router()
    events = CountingWire("ev:", events=True)
    (bob,) = users(router, "bob")
    alice, carol = users(router, "alice", "carol", wire=events)
    router.say(bob, "before")
    router.announce(LOBBY, Joined(LOBBY, ["dave"]), skip=carol)
    assert alice.lines == ["ev:#lobby bob: before", "ev:event Joined(room='#lobby', names=['dave'])"]
    assert carol.lines == ["ev:#lobby bob: before"]  # what was said before comes first, to all
    assert bob.lines == []
    router.send(bob, Joined(LOBBY, ["x"]))  # send encodes for the recipient's own wire
    assert bob.lines == ["event Joined(room='#lobby', names=['x'])"]
    router.remove(alice)
    router.send(alice, Joined(LOBBY, ["y"]))
    assert alice.lines[-1] == "ev:event Joined(room='#lobby', names=['dave'])"  # gone: nothing more


def test_a_wire_encodes_only_the_lines_its_recipients_get() -> None:
    # A wire per connection (IRC's) must not pay for every room's lines in a batch.
    router = Router()
    shared = CountingWire()
    alice, bob, carol, dave = users(router, "alice", "bob", "carol", "dave", wire=shared)
    own = CountingWire("own:")
    (erin,) = users(router, "erin", wire=own)
    router.move(alice, "#a")
    router.move(bob, "#a")
    router.move(erin, "#a")
    router.move(carol, "#b")
    router.move(dave, "#b")
    router.say(alice, "one")
    router.say(carol, "two")
    router.say(alice, "three")
    router.say(carol, "four")
    router.deliver()
    assert erin.lines == ["own:#a alice: one", "own:#a alice: three"]
    assert own.encodings == 2
    assert shared.encodings == 4
    assert bob.lines == ["#a alice: one", "#a alice: three"]
    assert dave.lines == ["#b carol: two", "#b carol: four"]


class KeyedWire(CountingWire):
    """A wire per connection whose room lines are alike for every wire of the same key (as IRC's)."""

    def __init__(self, key: object, tag: str = "") -> None:
        super().__init__(tag)
        self.key = key

    @property
    def room_lines_key(self) -> object:
        return self.key


def test_wires_with_one_room_lines_key_share_one_payload() -> None:
    router = Router()
    kind, other_kind = object(), object()
    alike = [KeyedWire(kind) for _ in range(3)]
    odd = KeyedWire(other_kind, "odd:")
    listeners = [FakeRecipient(f"u{n}", wire) for n, wire in enumerate([*alike, odd])]
    (speaker,) = users(router, "speaker")
    for recipient in listeners:
        assert router.add(recipient, recipient.name)
    for batch in (["one"], ["two", "three"]):  # the one-line path and the batch path
        for text in batch:
            router.say(speaker, text)
        router.deliver()
    first, second, third, different = listeners
    for recipient in (first, second, third):
        assert recipient.lines == ["#lobby speaker: one", "#lobby speaker: two", "#lobby speaker: three"]
        assert recipient.payloads[0] is first.payloads[0] and recipient.payloads[1] is first.payloads[1]
    assert different.lines == [
        "odd:#lobby speaker: one",
        "odd:#lobby speaker: two",
        "odd:#lobby speaker: three",
    ]
    assert sum(wire.encodings for wire in alike) == 3  # each line built once for the three


def test_a_member_of_two_rooms_hears_their_lines_in_the_order_said_among_many_in_several_rooms() -> None:
    # Many users in several rooms (as every IRC user is: #lobby and its channel) and a batch in two
    # small rooms: the router finds the one member of both by walking those rooms, not everyone.
    router = Router()
    crowd = users(router, *(f"u{n}" for n in range(40)))
    for n, member in enumerate(crowd):
        router.enter(member, f"#c{n}")
    alice, bob, carol = users(router, "alice", "bob", "carol")
    router.move(alice, "#a")
    router.move(bob, "#b")
    router.enter(carol, "#a")
    router.enter(carol, "#b")
    router.say(alice, "one", "#a")
    router.say(bob, "two", "#b")
    router.say(alice, "three", "#a")
    router.deliver()
    assert carol.lines == ["#a alice: one", "#b bob: two", "#a alice: three"]
    assert [len(member.payloads) for member in crowd] == [0] * 40


def test_member_counts_follow_joins_leaves_moves_and_removals() -> None:
    router = Router()
    alice, bob, carol = users(router, "alice", "bob", "carol")
    other = FakeRecipient("dave", CountingWire("other:"))  # a wire of its own: counted all the same
    assert router.add(other, "dave")
    assert router.member_count(LOBBY) == 4
    router.move(alice, "#a")
    router.enter(bob, "#a")
    router.enter(other, "#a")
    router.enter(other, "#a")  # again: still one member
    assert (router.member_count(LOBBY), router.member_count("#A")) == (3, 3)
    assert dict(router.rooms()) == {LOBBY: 3, "#a": 3}
    router.exit(bob, "#a")
    assert router.remove(other)
    router.move(alice, LOBBY)
    assert (router.member_count(LOBBY), router.member_count("#a")) == (3, 0)
    assert dict(router.rooms()) == {LOBBY: 3} and not router.room_exists("#a")
    assert router.remove(carol) and router.member_count(LOBBY) == 2


def test_a_room_line_goes_out_through_the_deliver_each_the_router_was_given() -> None:
    calls: list[tuple[list[str], bytes, str | None]] = []

    def recording(
        group: Iterable[Recipient], payload: bytes, skip: Recipient | None, dropped: list[Recipient]
    ) -> None:
        group = list(group)
        calls.append(([member.name for member in group], payload, skip.name if skip else None))
        deliver_each(group, payload, skip, dropped)

    router = Router(recording)
    alice, bob, carol = users(router, "alice", "bob", "carol")
    carol.full = True
    router.say(alice, "hi")
    router.deliver()
    assert calls == [(["alice", "bob", "carol"], b"#lobby alice: hi\n", "alice")]
    assert bob.lines == ["#lobby alice: hi"] and alice.payloads == []
    assert router.take_dropped() == [carol]
