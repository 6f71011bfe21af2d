"""The IRC codec's channel operations without sockets, over a fake Directory: odd input never raises,
and every line it builds is one well-formed IRC line of at most 512 bytes."""

from __future__ import annotations

import itertools

import pytest
from test_irc_codec import registered

from chatroom.codecs.requests import Remove, Reply
from chatroom.hub.message import Joined, Left, MemberList
from chatroom.irc.codec import IrcCodec, IrcShared
from chatroom.irc.directory import LineFor
from chatroom.irc.message import parse


class Rooms:
    """A Directory with fixed rooms; what `tell` sends is kept per name."""

    def __init__(self, rooms: dict[str, list[str]]) -> None:
        self.rooms = rooms
        self.told: list[tuple[str, LineFor]] = []

    def members(self, room: str) -> list[str] | None:
        return self.rooms.get(room.lower())

    def has_room(self, room: str) -> bool:
        return room.lower() in self.rooms

    def census(self) -> tuple[int, int]:
        return len({name for names in self.rooms.values() for name in names}), len(self.rooms)

    def online(self, name: str) -> str | None:
        return next((n for names in self.rooms.values() for n in names if n.lower() == name.lower()), None)

    def tell(self, names: list[str], line_for: LineFor) -> None:
        self.told.extend((name, line_for) for name in names)


def operator_of_dev() -> tuple[IrcShared, Rooms]:
    shared = IrcShared()
    rooms = Rooms({"#dev": ["alice", "bob"], "#lobby": ["alice", "bob", "carol"], "#ops": ["carol"]})
    shared.directory = rooms
    return shared, rooms


def in_dev(shared: IrcShared, nick: str, creator: bool) -> IrcCodec:
    codec = registered(nick, shared)
    codec.encode(MemberList("#dev", ["alice", "bob"], 1 if creator else 2, True))  # count 1: it made #dev
    codec.encode(Joined("#dev", [nick]))
    return codec


def test_kick_by_the_operator_is_a_remove_request_and_the_left_event_is_a_kick_line() -> None:
    shared, _ = operator_of_dev()
    alice = in_dev(shared, "alice", creator=True)
    assert list(alice.requests(b"KICK #dev bob :bye now\r\n")) == [Remove("bob", "#dev", "bye now")]
    kick = alice.encode(Left("#dev", ["bob"], "alice", "bye now"))
    assert kick == b":alice!u@srv KICK #dev bob :bye now\r\n"


def test_kick_targets_pair_with_channels_and_stop_at_four() -> None:
    shared, _ = operator_of_dev()
    alice = in_dev(shared, "alice", creator=True)
    out = list(alice.requests(b"KICK #dev bob,bob,bob,bob,bob :x\r\n"))
    assert out == [Remove("bob", "#dev", "x")] * 4
    assert list(alice.requests(b"KICK #dev,#ops bob :x\r\n")) == [
        Reply(b":srv 461 alice KICK :Give one channel, or one channel per nick\r\n")
    ]


ODD = [
    "",
    ":",
    " ",
    "*",
    "#dev",
    "#DEV",
    "#nowhere",
    "bob",
    "nobody",
    "-1",
    "99999999999999999999",
    "a b",
    ":x",
    "\x01",
    "é" * 40,
    "+-+-",
    "+ovklbeImintsCxyz",
    "b" * 300,
]


@pytest.mark.parametrize(
    "command", ["MODE #dev", "KICK #dev", "INVITE", "WHOWAS", "USERHOST", "HELP", "KILL"]
)
def test_odd_parameters_never_raise_and_every_reply_is_a_well_formed_line(command: str) -> None:
    shared, rooms = operator_of_dev()
    alice = in_dev(shared, "alice", creator=True)
    for first, second in itertools.product(ODD, ["", "x", "a b", "b" * 300]):
        line = f"{command} {first} :{second}" if second else f"{command} {first}"
        for request in alice.requests(line.encode() + b"\r\n"):
            if isinstance(request, Reply):
                for out in request.data.split(b"\r\n")[:-1]:
                    assert len(out) + 2 <= 512 or b"PRIVMSG" in out, out
                    parsed = parse(out.decode())
                    assert parsed is not None and out.count(b" :") <= 1 + out.count(b"  "), out
    for _, line_for in rooms.told:
        assert line_for(alice).endswith(b"\r\n")
