"""Hub.remove_from_room and remove_from_server without sockets: the codes, the events, the CHAT/1.0 line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from chatroom.hub.hub import Hub
from chatroom.hub.message import Event, Left, Message, Recipient


@dataclass(eq=False)
class Wire:
    events: bool

    def __hash__(self) -> int:
        return id(self)

    @property
    def room_lines_key(self) -> object:
        return self

    def encode(self, message: Message | Event) -> bytes:
        return repr(message).encode() + b"\n"

    def encode_reply(self, code: int, lines: Sequence[str]) -> bytes:
        return f"{code} {lines[-1]}\n".encode()

    def encode_notice(self, code: int, lines: Sequence[str]) -> bytes:
        return f"{code} {lines[-1]}\n".encode()


@dataclass(eq=False)
class Member:
    name: str
    wire: Wire
    got: list[bytes] = field(default_factory=list)

    def __hash__(self) -> int:
        return id(self)

    def deliver(self, payload: bytes) -> bool:
        self.got.extend(payload.splitlines())
        return True


CHAT10, CHAT11 = Wire(events=False), Wire(events=True)


class Answers:
    def __init__(self) -> None:
        self.by: list[tuple[str, int, str]] = []

    def __call__(self, member: Recipient, code: int, lines: list[str]) -> None:
        self.by.append((member.name, code, lines[-1]))


def user(hub: Hub, name: str, wire: Wire, *rooms: str) -> Member:
    member = Member(name, wire)
    hub.register(member, name, lambda *_: None)
    for room in rooms:
        hub.command(member, f"!join {room}", lambda *_: None)
    hub.deliver()
    member.got.clear()
    return member


@pytest.fixture
def hub() -> Hub:
    return Hub()


def test_a_chat10_user_removed_from_its_room_is_back_in_the_lobby_and_told_why(hub: Hub) -> None:
    alice = user(hub, "alice", CHAT11, "#dev")
    dave = user(hub, "dave", CHAT10, "#dev")
    answers = Answers()
    hub.remove_from_room(alice, "DAVE", "#DEV", "off topic", answers)
    assert answers.by == [
        ("alice", 220, "Removed dave from #dev."),
        ("dave", 210, "alice removed you from #dev: off topic; you are now in #lobby."),
    ]
    assert hub.router.rooms_of(dave) == ["#lobby"]
    assert repr(Left("#dev", ["dave"], "alice", "off topic")).encode() in alice.got


def test_a_chat11_user_gets_left_with_who_and_why_and_stays_in_its_other_rooms(hub: Hub) -> None:
    alice = user(hub, "alice", CHAT11, "#dev")
    erin = user(hub, "erin", CHAT11, "#dev", "#ops")
    answers = Answers()
    hub.remove_from_room(alice, "erin", "#dev", "", answers)
    assert answers.by == [("alice", 220, "Removed erin from #dev.")]
    assert erin.got == [repr(Left("#dev", ["erin"], "alice", "")).encode()]
    assert hub.router.rooms_of(erin) == ["#lobby", "#ops"]


@pytest.mark.parametrize(
    ("by_rooms", "room", "target", "code"),
    [
        (("#dev",), "#nowhere", "bob", 404),  # no such room
        ((), "#dev", "bob", 403),  # the remover is not in it
        (("#dev",), "#dev", "nobody", 410),  # the user is not online
        (("#dev", "#lobby"), "#lobby", "carol", 409),  # carol is in #lobby alone: it stays there
    ],
)
def test_each_refusal_has_its_code_and_changes_nothing(
    hub: Hub, by_rooms: tuple[str, ...], room: str, target: str, code: int
) -> None:
    user(hub, "bob", CHAT10, "#dev")
    user(hub, "carol", CHAT10)
    alice = user(hub, "alice", CHAT11, *by_rooms)
    answers = Answers()
    hub.remove_from_room(alice, target, room, "", answers)
    assert [entry[1] for entry in answers.by] == [code]
    assert hub.router.member_count("#dev") == 1 + ("#dev" in by_rooms)


def test_remove_from_server_ends_the_connection_like_kick(hub: Hub) -> None:
    ended: list[tuple[str, int, str]] = []
    hub.end = lambda member, code, sentence: ended.append((member.name, code, sentence))
    oper = user(hub, "oper", CHAT11)
    user(hub, "victim", CHAT10)
    answers = Answers()
    hub.remove_from_server(oper, "nobody", "x", answers)
    hub.remove_from_server(oper, "VICTIM", "flooding", answers)
    assert [entry[1] for entry in answers.by] == [404, 220]
    assert ended == [("victim", 403, "You were kicked by oper: flooding")]
