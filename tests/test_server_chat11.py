"""Section 7 of docs/PROTOCOL.md against the real server: CHAT/1.1 registration, events and rooms.

Raw peers (support.peer.Peer) speak to the server as a child process over
loopback. As in test_server_commands, absence is proved by order: a peer's
next line being a marker said after the thing that must not have reached it.
"""

from __future__ import annotations

import re
import signal

import pytest
from support.peer import Peer
from support.processes import ServerProcess
from test_server_commands import User, users

ISO_TIME = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def register11(server: ServerProcess, name: str, *options: str) -> Peer:
    """A CHAT/1.1 peer, registered, its greeting events read up to MEMBERS-END (history not read)."""
    peer = server.connect()
    peer.send_line(" ".join([f"REGISTER {name} CHAT/1.1", *options]))
    assert peer.recv_line() == b"200 Registration successful"
    assert peer.recv_line() == f"JOINED #lobby {name}".encode()
    line = peer.recv_line()
    while line.startswith(b"MEMBERS "):
        line = peer.recv_line()
    assert line.startswith(b"MEMBERS-END #lobby "), line
    return peer


class User11(User):
    """A CHAT/1.1 user: the same chat lines and replies, plus a way to address a room."""

    def __init__(self, name: str, peer: Peer, *, replay: bool = True) -> None:
        super().__init__(name, peer)
        self.replay = replay

    def say_in(self, room: str, text: str) -> bytes:
        line = f"@{self.name} {room}: {text}".encode()
        self.peer.send_line(line)
        return line

    def entered(self, room: str) -> list[bytes]:
        """The events after a 210 that entered `room` (7.4), to HISTORY-END (MEMBERS-END without replay)."""
        last = b"HISTORY-END " if self.replay else b"MEMBERS-END "
        lines = [self.next_line()]
        assert lines[0] == f"JOINED {room} {self.name}".encode(), lines
        while not lines[-1].startswith(last + room.encode()):
            lines.append(self.next_line())
        return lines


def users11(server: ServerProcess, *names: str, replay: bool = True) -> list[User11]:
    found = []
    for name in names:
        peer = register11(server, name, *([] if replay else ["replay=0"]))
        if replay:
            assert peer.recv_line() == b"HISTORY-END #lobby 0"
        found.append(User11(name, peer, replay=replay))
    return found


def marker(sender: User, *receivers: User, text: str = "marker") -> None:
    """Proves by order that nothing else reached `receivers` (CHAT/1.0 lobby members) before it."""
    line = sender.say(text)
    for receiver in receivers:
        assert receiver.next_line() == line


# -- registering ----------------------------------------------------------------------------------


def test_chat11_registration_is_answered_200_then_the_events_of_entering_the_lobby(
    server: ServerProcess,
) -> None:
    (bob,) = users(server, "bob")
    bob.say("good morning")
    peer = server.connect()
    peer.send_line("REGISTER alice CHAT/1.1")
    assert peer.recv_lines(4) == [
        b"200 Registration successful",
        b"JOINED #lobby alice",
        b"MEMBERS #lobby alice bob",
        b"MEMBERS-END #lobby 2 on",
    ]
    history = peer.recv_line()
    assert re.fullmatch(rb"HISTORY #lobby " + ISO_TIME + rb" bob good morning", history), history
    assert peer.recv_line() == b"HISTORY-END #lobby 1"


def test_replay_0_opts_out_of_the_history_and_unknown_options_are_ignored(server: ServerProcess) -> None:
    (bob,) = users(server, "bob")
    bob.say("before")
    alice = User11("alice", register11(server, "alice", "replay=0", "x-later=yes"), replay=False)
    bob.say("after")
    assert alice.next_line() == b"MSG #lobby bob after"


def test_replay_n_replays_the_last_n_lines_oldest_first(server: ServerProcess) -> None:
    (bob,) = users(server, "bob")
    for n in range(5):
        bob.say(f"line {n}")
    peer = register11(server, "alice", "replay=2")
    texts = [peer.recv_line(), peer.recv_line()]
    assert [line.rsplit(b" ", 2)[1:] for line in texts] == [[b"line", b"3"], [b"line", b"4"]]
    assert peer.recv_line() == b"HISTORY-END #lobby 2"


@pytest.mark.parametrize(
    "line",
    [
        b"REGISTER alice CHAT/1.1 replay=201",
        b"REGISTER alice CHAT/1.1 replay=x",
        b"REGISTER alice CHAT/1.1 replay=-1",
        b"REGISTER alice CHAT/1.1 replay=",
        b"REGISTER alice CHAT/1.1 replay",
        b"REGISTER alice CHAT/1.1 Replay=1",
        b"REGISTER alice CHAT/1.1 ",
        b"REGISTER alice CHAT/1.1  replay=1",
        "REGISTER alice CHAT/1.1 x=\u00e9".encode(),
        b"REGISTER alice CHAT/1.0 replay=1",
        b"REGISTER #alice CHAT/1.1",
    ],
)
def test_a_malformed_chat11_registration_is_400_and_closed(server: ServerProcess, line: bytes) -> None:
    peer = server.connect()
    peer.send_line(line)
    assert peer.recv_line() == b"400 Invalid registration"
    peer.expect_closed()


def test_a_chat11_name_folds_like_any_other(server: ServerProcess) -> None:
    users(server, "alice")
    peer = server.connect()
    peer.send_line("REGISTER ALICE CHAT/1.1")
    assert peer.recv_line() == b"401 Client already registered"
    peer.expect_closed()


# -- what a CHAT/1.1 client receives ------------------------------------------------------------------


def test_room_private_and_followed_lines_arrive_as_events(server: ServerProcess) -> None:
    (alice,) = users11(server, "alice")
    bob, carol = users(server, "bob", "carol")
    assert bob.command("!join #dev") == [b"210 You are now in #dev (1 member)."]
    assert alice.next_lines(3) == [b"JOINED #lobby bob", b"JOINED #lobby carol", b"LEFT #lobby bob"]
    carol.say("hi all")
    assert alice.next_line() == b"MSG #lobby carol hi all"
    assert carol.command("!msg alice psst") == [b"215 Sent to alice."]
    assert alice.next_line() == b"PRIVATE carol psst"
    assert alice.command("!follow @bob") == [b"216 You follow @bob now."]
    bob.say("from dev")
    assert alice.next_line() == b"FOLLOWED #dev bob from dev"


def test_a_chat10_peer_beside_chat11_clients_gets_only_what_chat10_promises(server: ServerProcess) -> None:
    bob, carol = users(server, "bob", "carol")
    (alice,) = users11(server, "alice")
    assert alice.command("!join #dev") == [b"210 You are now in #dev (1 member)."]
    alice.entered("#dev")
    assert alice.command("!topic release") == [b"212 The topic of #dev is now: release"]
    assert alice.next_line() == b"TOPIC #dev release"
    alice.say_in("#lobby", "to the lobby")
    assert bob.next_line() == b"@alice: to the lobby"
    assert carol.next_line() == b"@alice: to the lobby"
    alice.peer.send_line("DISCONNECT alice CHAT/1.1")
    alice.peer.expect_closed()
    marker(bob, carol)  # no JOINED, LEFT, TOPIC, MEMBERS or HISTORY reached bob or carol


def test_joined_and_left_reach_the_rooms_chat11_members_not_the_one_who_moved(server: ServerProcess) -> None:
    alice, carol = users11(server, "alice", "carol")
    assert alice.next_line() == b"JOINED #lobby carol"
    (bob,) = users(server, "bob")
    assert alice.next_line() == b"JOINED #lobby bob"
    assert carol.next_line() == b"JOINED #lobby bob"
    bob.peer.send_line("DISCONNECT bob CHAT/1.0")
    assert alice.next_line() == b"LEFT #lobby bob"
    assert carol.next_line() == b"LEFT #lobby bob"


def test_entering_a_room_gives_members_topic_and_its_history(server: ServerProcess) -> None:
    (bob,) = users(server, "bob")
    assert bob.command("!join #dev") == [b"210 You are now in #dev (1 member)."]
    assert bob.command("!topic ship it") == [b"212 The topic of #dev is now: ship it"]
    bob.say("one")
    bob.say("two")
    (alice,) = users11(server, "alice")
    assert alice.command("!join #Dev") == [b"210 You are now in #dev (2 members)."]
    events = alice.entered("#dev")
    assert events[:4] == [
        b"JOINED #dev alice",
        b"MEMBERS #dev alice bob",
        b"MEMBERS-END #dev 2 on",
        b"TOPIC #dev ship it",
    ]
    assert [line.split(b" ", 3)[3] for line in events[4:6]] == [b"bob one", b"bob two"]
    assert all(re.fullmatch(rb"HISTORY #dev " + ISO_TIME + rb" .*", line) for line in events[4:6])
    assert events[6:] == [b"HISTORY-END #dev 2"]
    alice.say("hello dev")
    assert bob.next_line() == b"@alice: hello dev"


# -- several rooms --------------------------------------------------------------------------------


def test_a_chat11_client_is_in_several_rooms_and_addresses_each(server: ServerProcess) -> None:
    (alice,) = users11(server, "alice", replay=False)
    bob, carol = users(server, "bob", "carol")
    alice.next_lines(2)  # JOINED #lobby bob, JOINED #lobby carol
    assert carol.command("!join #dev") == [b"210 You are now in #dev (1 member)."]
    assert alice.next_line() == b"LEFT #lobby carol"
    assert alice.command("!join #dev") == [b"210 You are now in #dev (2 members)."]
    assert alice.entered("#dev")[-1] == b"MEMBERS-END #dev 2 on"
    bob.say("lobby line")
    carol.say("dev line")
    assert alice.next_lines(2) == [b"MSG #lobby bob lobby line", b"MSG #dev carol dev line"]
    alice.say("to current")
    assert carol.next_line() == b"@alice: to current"
    alice.say_in("#LOBBY", "to lobby")
    assert bob.next_line() == b"@alice: to lobby"
    alice.say_in("#ops", "nobody")
    assert alice.reply() == [b"404 You are not in #ops; !join #ops first."]
    alice.say_in("#lobby", "!!bang")
    assert bob.next_line() == b"@alice: !bang"
    carol.say("dev again")
    assert alice.next_line() == b"MSG #dev carol dev again"  # the 404 line reached nobody


def test_join_of_a_room_one_is_in_makes_it_current_and_409_when_it_is(server: ServerProcess) -> None:
    (alice,) = users11(server, "alice", replay=False)
    (bob,) = users(server, "bob")
    alice.next_line()  # JOINED #lobby bob
    assert alice.command("!join #dev") == [b"210 You are now in #dev (1 member)."]
    alice.entered("#dev")
    assert alice.command("!join #dev") == [b"409 You are in #dev already."]
    assert alice.command("!join #lobby") == [b"210 You are now in #lobby (2 members)."]
    alice.say("current is the lobby")
    assert bob.next_line() == b"@alice: current is the lobby"
    assert alice.command("!list") == [b"213-alice bob", b"213 2 members in #lobby."]


def test_commands_addressed_to_a_room_are_about_that_room(server: ServerProcess) -> None:
    (alice,) = users11(server, "alice", replay=False)
    assert alice.command("!join #dev") == [b"210 You are now in #dev (1 member)."]
    alice.entered("#dev")
    alice.say_in("#LOBBY", "!list")
    assert alice.reply() == [b"213-alice", b"213 1 member in #lobby."]  # as first written
    alice.say_in("#ops", "!list")
    assert alice.reply() == [b"404 You are not in #ops; !join #ops first."]
    alice.say_in("#lobby", "!topic x")
    assert alice.reply() == [b"400 #lobby has no topic."]


def test_leave_names_the_room_and_the_last_one_brings_the_lobby_back(server: ServerProcess) -> None:
    alice, carol = users11(server, "alice", "carol", replay=False)
    alice.next_line()  # JOINED #lobby carol
    for user in (alice, carol):
        assert user.command("!join #dev")[0].startswith(b"210 ")
        user.entered("#dev")
    assert alice.next_line() == b"JOINED #dev carol"
    assert alice.command("!leave #lobby") == [b"210 You are now in #dev (2 members)."]
    assert alice.next_line() == b"LEFT #lobby alice"
    assert carol.next_line() == b"LEFT #lobby alice"
    assert alice.command("!leave #ops") == [b"404 You are not in #ops."]
    assert alice.command("!leave") == [b"210 You are now in #lobby (2 members)."]
    assert alice.next_lines(4) == [
        b"LEFT #dev alice",
        b"JOINED #lobby alice",
        b"MEMBERS #lobby alice carol",
        b"MEMBERS-END #lobby 2 on",
    ]
    assert carol.next_lines(2) == [b"LEFT #dev alice", b"JOINED #lobby alice"]
    assert alice.command("!leave") == [b"409 You are in #lobby already."]


def test_a_chat10_client_may_name_its_room_when_it_leaves(server: ServerProcess) -> None:
    (bob,) = users(server, "bob")
    assert bob.command("!join #dev") == [b"210 You are now in #dev (1 member)."]
    assert bob.command("!leave #ops") == [b"404 You are not in #ops."]
    assert bob.command("!leave #DEV") == [b"210 You are now in #lobby (1 member)."]
    assert bob.command("!leave #lobby") == [b"409 You are in #lobby already."]
    assert bob.command("!leave now") == [b"400 Usage: !leave, or !leave #room (it takes you back to #lobby)"]


def test_a_chat11_client_is_in_at_most_20_rooms(server: ServerProcess) -> None:
    (alice,) = users11(server, "alice", replay=False)
    for n in range(19):  # with the lobby: 20
        assert alice.command(f"!join #r{n}")[0].startswith(b"210 ")
        alice.entered(f"#r{n}")
    assert alice.command("!join #one-more") == [
        b"429 You are in 20 rooms, the most allowed; !leave one first."
    ]


def test_a_followed_line_reaches_a_member_of_its_room_once_as_a_room_line(server: ServerProcess) -> None:
    (alice,) = users11(server, "alice", replay=False)
    (bob,) = users(server, "bob")
    alice.next_line()  # JOINED #lobby bob
    assert alice.command("!join #dev") == [b"210 You are now in #dev (1 member)."]
    alice.entered("#dev")
    assert alice.command("!follow @bob") == [b"216 You follow @bob now."]
    assert alice.command("!follow #ship") == [b"216 You follow #ship now."]
    bob.say("#ship it")
    assert alice.next_line() == b"MSG #lobby bob #ship it"
    assert bob.command("!join #ops") == [b"210 You are now in #ops (1 member)."]
    assert alice.next_line() == b"LEFT #lobby bob"
    bob.say("#ship again")
    assert alice.next_line() == b"FOLLOWED #ops bob #ship again"
    assert bob.command("!join #dev") == [b"210 You are now in #dev (2 members)."]
    assert alice.next_line() == b"JOINED #dev bob"
    bob.say("#ship done")
    assert alice.next_line() == b"MSG #dev bob #ship done"
    assert alice.command("!list") == [b"213-alice bob", b"213 2 members in #dev."]  # nothing in between


# -- presence at scale, and leaving -------------------------------------------------------------------


def test_presence_stops_above_200_members(server: ServerProcess) -> None:
    (alice,) = users11(server, "alice", replay=False)
    crowd = [server.register(f"u{n}") for n in range(199)]
    joined = alice.next_lines(199)
    assert joined[-1] == b"JOINED #lobby u198"  # 200 members now: the last announced
    late = server.register("late")  # the 201st: not announced
    (carol,) = users(server, "carol")  # nor the 202nd
    carol.say("marker")
    assert alice.next_line() == b"MSG #lobby carol marker"
    late.send_line("DISCONNECT late CHAT/1.0")
    crowd[0].send_line("DISCONNECT u0 CHAT/1.0")
    late.recv_until_closed()
    crowd[0].recv_until_closed()
    carol.say("marker 2")
    assert alice.next_line() == b"MSG #lobby carol marker 2"  # 201 before each left: not announced
    dave = server.connect()
    dave.send_line("REGISTER dave CHAT/1.1 replay=0")
    assert dave.recv_lines(3) == [
        b"200 Registration successful",
        b"JOINED #lobby dave",
        b"MEMBERS-END #lobby 201 off",
    ]


def test_server_shutdown_sends_disconnect_chat11_without_presence_noise(server: ServerProcess) -> None:
    alice, carol = users11(server, "alice", "carol", replay=False)
    assert alice.next_line() == b"JOINED #lobby carol"
    (bob,) = users(server, "bob")
    assert alice.next_line() == b"JOINED #lobby bob"
    assert carol.next_line() == b"JOINED #lobby bob"
    server.stop(signal.SIGINT)
    assert alice.next_line() == b"DISCONNECT CHAT/1.1"
    assert carol.next_line() == b"DISCONNECT CHAT/1.1"
    assert bob.next_line() == b"DISCONNECT CHAT/1.0"


def test_a_join_storm_costs_at_most_200_notices_a_join_whatever_the_crowd(server: ServerProcess) -> None:
    """Presence is linear: after the 200th member nobody is told of joins, so N joins cost < 200 N lines."""
    crowd = [register11(server, f"c{n}", "replay=0") for n in range(230)]
    server.stop(signal.SIGINT)
    told = [(b"\n" + peer.recv_until_closed()).count(b"\nJOINED #lobby ") for peer in crowd]
    # The n-th member (0-based) hears of the joins after it until the room holds 200.
    assert told == [max(0, 199 - n) for n in range(230)]
    assert sum(told) == 200 * 199 // 2


def test_untopic_clears_the_topic_and_chat11_members_see_an_empty_topic(server: ServerProcess) -> None:
    (bob,) = users(server, "bob")
    (alice,) = users11(server, "alice")
    assert alice.command("!join #dev") == [b"210 You are now in #dev (1 member)."]
    alice.entered("#dev")
    assert bob.command("!join #dev")[0].startswith(b"210 ")
    assert alice.next_lines(2) == [b"LEFT #lobby bob", b"JOINED #dev bob"]  # alice is in both
    assert alice.command("!untopic") == [b"212 #dev has no topic; !topic TEXT sets one."]
    assert alice.command("!topic release") == [b"212 The topic of #dev is now: release"]
    assert alice.next_line() == b"TOPIC #dev release"
    assert bob.command("!untopic") == [b"212 The topic of #dev was cleared."]
    assert alice.next_line() == b"TOPIC #dev "  # the text is empty (docs/PROTOCOL.md 7.3)
    assert bob.command("!topic") == [b"212 #dev has no topic; !topic TEXT sets one."]
    assert bob.command("!untopic now") == [b"400 Usage: !untopic (it clears your room's topic)"]
