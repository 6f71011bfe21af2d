"""KICK and KILL over real sockets: an IRC channel operator takes IRC, CHAT/1.0 and CHAT/1.1 users out
of a room (Hub.remove_from_room), every IRC member sees KICK, and each refusal has its numeric."""

from __future__ import annotations

import pytest
from support.irc import irc_client, recv_until
from support.peer import Peer
from support.processes import ServerFactory, ServerProcess
from test_server_chat11 import register11


@pytest.fixture
def irc_server(start_server: ServerFactory) -> ServerProcess:
    return start_server("--irc-port", "0", "--server-name", "srv", "--irc-oper", "op:secret")


def joined(peer: Peer, room: str) -> None:
    peer.send(f"JOIN {room}\r\n".encode())
    recv_until(peer, b" 366 ")


def numeric(peer: Peer, line: str) -> bytes:
    """Send `line`; the first reply line (a numeric or a KICK)."""
    peer.send(f"{line}\r\n".encode())
    return peer.recv_line().removesuffix(b"\r")


def test_the_channel_operator_kicks_an_irc_user_and_every_irc_member_sees_kick(
    irc_server: ServerProcess,
) -> None:
    alice = irc_client(irc_server, "alice")
    joined(alice, "#dev")  # alice made #dev: its operator
    bob = irc_client(irc_server, "bob")
    joined(bob, "#dev")
    carol = irc_client(irc_server, "carol")
    joined(carol, "#dev")
    recv_until(alice, b"carol!carol@srv JOIN")
    recv_until(bob, b"carol!carol@srv JOIN")
    kick = b":alice!alice@srv KICK #dev bob spamming"  # one word: no colon (as built)
    alice.send(b"KICK #dev bob :spamming\r\n")
    for peer in (alice, bob, carol):
        assert peer.recv_line().removesuffix(b"\r") == kick
    bob.send(b"PRIVMSG #dev :still here?\r\n")  # out of #dev, still connected
    assert b" 404 bob #dev " in bob.recv_line()
    alice.send(b"NAMES #dev\r\n")
    assert recv_until(alice, b" 353 ")[-1].endswith(b":@alice carol")


def test_a_kick_without_a_reason_gives_the_kickers_nick(irc_server: ServerProcess) -> None:
    alice = irc_client(irc_server, "alice")
    joined(alice, "#dev")
    bob = irc_client(irc_server, "bob")
    joined(bob, "#dev")
    recv_until(alice, b"JOIN")
    assert numeric(alice, "KICK #dev bob") == b":alice!alice@srv KICK #dev bob alice"


def test_a_chat10_user_is_kicked_back_to_the_lobby_and_told_by_whom_and_why(
    irc_server: ServerProcess,
) -> None:
    alice = irc_client(irc_server, "alice")
    joined(alice, "#dev")
    chat = irc_server.register("dave")
    chat.send_line("@dave: !join #dev")
    assert chat.recv_line().startswith(b"210 ")
    recv_until(alice, b"dave!dave@srv JOIN #dev")
    assert numeric(alice, "KICK #dev dave :off topic") == b":alice!alice@srv KICK #dev dave :off topic"
    assert chat.recv_line() == b"210 alice removed you from #dev: off topic; you are now in #lobby."
    chat.send_line("@dave: hello lobby")  # its lines go to #lobby now, not to #dev
    alice.send(b"PING :sync\r\n")
    assert recv_until(alice, b"PONG")[-1] == b":srv PONG srv sync"
    assert chat.has_nothing_to_read()


def test_a_chat11_user_gets_its_left_event(irc_server: ServerProcess) -> None:
    alice = irc_client(irc_server, "alice")
    joined(alice, "#dev")
    erin = register11(irc_server, "erin", "replay=0")
    erin.send_line("@erin: !join #dev")
    assert erin.recv_line().startswith(b"210 ")
    recv_until(erin, b"MEMBERS-END #dev")
    recv_until(alice, b"erin!erin@srv JOIN #dev")
    assert numeric(alice, "KICK #dev erin :bye") == b":alice!alice@srv KICK #dev erin bye"
    assert erin.recv_line() == b"LEFT #dev erin"


def test_an_irc_operator_may_kick_where_it_is_no_channel_operator(irc_server: ServerProcess) -> None:
    alice = irc_client(irc_server, "alice")
    joined(alice, "#dev")
    oper = irc_client(irc_server, "oper")
    joined(oper, "#dev")
    assert b" 482 oper #dev " in numeric(oper, "KICK #dev alice")
    assert b" 381 " in numeric(oper, "OPER op secret")
    oper.recv_line()  # MODE oper +o
    assert numeric(oper, "KICK #dev alice :ops") == b":oper!oper@srv KICK #dev alice ops"


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("KICK #dev", b" 461 "),  # not enough parameters
        ("KICK #nowhere bob", b" 403 "),  # no such channel
        ("KICK #other bob", b" 442 "),  # the kicker is not on it
        ("KICK #dev nobody", b" 441 "),  # the target is not on it
    ],
)
def test_each_refused_kick_has_its_numeric(irc_server: ServerProcess, line: str, code: bytes) -> None:
    alice = irc_client(irc_server, "alice")
    joined(alice, "#dev")
    bob = irc_client(irc_server, "bob")
    joined(bob, "#other")
    assert code in numeric(alice, line)


def test_a_member_who_is_no_operator_gets_482(irc_server: ServerProcess) -> None:
    alice = irc_client(irc_server, "alice")
    joined(alice, "#dev")
    bob = irc_client(irc_server, "bob")
    joined(bob, "#dev")
    assert numeric(bob, "KICK #dev alice :no") == b":srv 482 bob #dev :You're not channel operator"


def test_mode_plus_o_makes_a_member_an_operator_who_may_kick(irc_server: ServerProcess) -> None:
    alice = irc_client(irc_server, "alice")
    joined(alice, "#dev")
    bob = irc_client(irc_server, "bob")
    joined(bob, "#dev")
    recv_until(alice, b"JOIN")
    assert numeric(alice, "MODE #dev +o bob") == b":alice!alice@srv MODE #dev +o bob"
    assert bob.recv_line() == b":alice!alice@srv MODE #dev +o bob\r"
    assert numeric(bob, "KICK #dev alice") == b":bob!bob@srv KICK #dev alice bob"


def test_kill_by_an_irc_operator_ends_the_connection_and_others_see_quit(irc_server: ServerProcess) -> None:
    oper = irc_client(irc_server, "oper")
    joined(oper, "#dev")
    victim = irc_client(irc_server, "victim")
    joined(victim, "#dev")
    recv_until(oper, b"JOIN")
    assert b" 481 victim " in numeric(victim, "KILL oper :no")
    numeric(oper, "OPER op secret")
    oper.recv_line()
    assert b" 401 oper nobody " in numeric(oper, "KILL nobody")
    oper.send(b"KILL victim :flooding\r\n")
    assert victim.recv_line() == b"ERROR :Closing link: You were kicked by oper: Killed (oper (flooding))\r"
    victim.expect_closed()
    assert oper.recv_line() == b":victim!victim@srv QUIT :Killed (oper (flooding))\r"


def test_a_kicked_operator_comes_back_without_its_at(irc_server: ServerProcess) -> None:
    alice = irc_client(irc_server, "alice")
    joined(alice, "#dev")
    bob = irc_client(irc_server, "bob")
    joined(bob, "#dev")
    recv_until(alice, b"JOIN")
    numeric(alice, "MODE #dev +o bob")
    bob.recv_line()
    assert numeric(bob, "KICK #dev alice :your turn") == b":bob!bob@srv KICK #dev alice :your turn"
    alice.recv_line()
    alice.send(b"JOIN #dev\r\n")
    assert recv_until(alice, b" 353 ")[-1].endswith(b":alice @bob")
    recv_until(alice, b" 366 ")
    assert b" 482 alice #dev " in numeric(alice, "KICK #dev bob")


def test_nobody_is_kicked_out_of_the_lobby_it_is_alone_in(irc_server: ServerProcess) -> None:
    oper = irc_client(irc_server, "oper")
    joined(oper, "#lobby")
    numeric(oper, "OPER op secret")
    oper.recv_line()
    irc_server.register("dave")
    recv_until(oper, b"dave!dave@srv JOIN #lobby")
    assert (
        numeric(oper, "KICK #lobby dave")
        == b":srv 482 oper #lobby :dave is only in #lobby, which nobody leaves."
    )
