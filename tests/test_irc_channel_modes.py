"""IRC channel modes, INVITE and the server-wide look-ups (LUSERS, WHOWAS, USERHOST, WALLOPS) over sockets."""

from __future__ import annotations

import pytest
from support.irc import irc_client, irc_port, recv_until
from support.peer import Peer
from support.processes import ServerFactory, ServerProcess
from test_irc_kick import joined, numeric

from chatroom.irc.channels import Channel, normal_mask


@pytest.fixture
def irc_server(start_server: ServerFactory) -> ServerProcess:
    return start_server("--irc-port", "0", "--server-name", "srv", "--irc-oper", "op:secret")


def op_and_guest(server: ServerProcess, mode: str) -> tuple[Peer, Peer]:
    """alice made #dev and set `mode` on it; bob is connected, in no channel."""
    alice = irc_client(server, "alice")
    joined(alice, "#dev")
    assert numeric(alice, f"MODE #dev {mode}").startswith(b":alice!alice@srv MODE #dev ")
    return alice, irc_client(server, "bob")


def test_a_key_keeps_out_who_does_not_give_it(irc_server: ServerProcess) -> None:
    _, bob = op_and_guest(irc_server, "+k beer")
    assert b" 475 bob #dev " in numeric(bob, "JOIN #dev")
    assert b" 475 bob #dev " in numeric(bob, "JOIN #dev wine")
    assert numeric(bob, "JOIN #dev beer") == b":bob!bob@srv JOIN #dev"


@pytest.mark.parametrize("key", ["two words", "", "x" * 24])
def test_an_invalid_key_is_refused_with_696(irc_server: ServerProcess, key: str) -> None:
    alice = irc_client(irc_server, "alice")
    joined(alice, "#dev")
    assert numeric(alice, f"MODE #dev +k :{key}") == b":srv 696 alice #dev k * :Invalid key"


def test_a_limit_refuses_the_member_past_it_and_an_invite_lets_one_in(irc_server: ServerProcess) -> None:
    alice, bob = op_and_guest(irc_server, "+l 1")
    assert b" 471 bob #dev " in numeric(bob, "JOIN #dev")
    assert numeric(alice, "INVITE bob #dev") == b":srv 341 alice bob #dev"
    assert bob.recv_line() == b":alice!alice@srv INVITE bob #dev\r"
    assert numeric(bob, "JOIN #dev") == b":bob!bob@srv JOIN #dev"


@pytest.mark.parametrize("limit", ["0", "-1", "abc"])
def test_an_invalid_limit_is_refused_with_696(irc_server: ServerProcess, limit: str) -> None:
    alice = irc_client(irc_server, "alice")
    joined(alice, "#dev")
    assert numeric(alice, f"MODE #dev +l {limit}") == f":srv 696 alice #dev l {limit} :Invalid limit".encode()


def test_invite_only_needs_an_invitation_and_only_an_operator_may_give_it(irc_server: ServerProcess) -> None:
    alice, bob = op_and_guest(irc_server, "+i")
    assert b" 473 bob #dev " in numeric(bob, "JOIN #dev")
    carol = irc_client(irc_server, "carol")
    assert b" 442 carol #dev " in numeric(carol, "INVITE bob #dev")  # not on the channel
    assert b" 401 alice nobody " in numeric(alice, "INVITE nobody #dev")
    numeric(alice, "INVITE bob #dev")
    bob.recv_line()
    joined(bob, "#dev")
    recv_until(alice, b"bob!bob@srv JOIN")
    assert b" 482 bob #dev " in numeric(bob, "INVITE carol #dev")  # +i: operators only
    assert b" 443 alice bob #dev " in numeric(alice, "INVITE bob #dev")  # already there


def test_a_ban_mask_keeps_a_nick_out_until_it_is_lifted(irc_server: ServerProcess) -> None:
    alice, bob = op_and_guest(irc_server, "+b BOB")
    alice.send(b"MODE #dev +b\r\n")
    listed = recv_until(alice, b" 368 ")
    assert listed[0].startswith(b":srv 367 alice #dev bob!*@* alice ")
    assert b" 474 bob #dev " in numeric(bob, "JOIN #dev")
    assert numeric(alice, "MODE #dev -b bob!*@*") == b":alice!alice@srv MODE #dev -b bob!*@*"
    assert numeric(bob, "JOIN #dev") == b":bob!bob@srv JOIN #dev"


def test_a_moderated_channel_hears_only_operators_and_voiced_users(irc_server: ServerProcess) -> None:
    alice, bob = op_and_guest(irc_server, "+m")
    joined(bob, "#dev")
    recv_until(alice, b"JOIN")
    assert b" 404 bob #dev " in numeric(bob, "PRIVMSG #dev :hello?")
    numeric(alice, "MODE #dev +v bob")
    bob.recv_line()  # the MODE line
    bob.send(b"PRIVMSG #dev :hello!\r\n")
    assert alice.recv_line() == b":bob!bob@srv PRIVMSG #dev :hello!\r"
    alice.send(b"NAMES #dev\r\n")
    assert recv_until(alice, b" 353 ")[-1].endswith(b":@alice +bob")


def test_the_mode_query_shows_every_mode_and_the_key_only_to_members(irc_server: ServerProcess) -> None:
    alice, bob = op_and_guest(irc_server, "+ik beer")
    alice.send(b"MODE #dev\r\n")
    assert alice.recv_line() == b":srv 324 alice #dev +ntik beer\r"
    assert alice.recv_line().startswith(b":srv 329 alice #dev ")
    assert numeric(bob, "MODE #dev") == b":srv 324 bob #dev +ntik *"
    bob.recv_line()  # 329
    assert b" 403 bob #nowhere " in numeric(bob, "MODE #nowhere")
    assert b" 442 bob #dev " in numeric(bob, "MODE #dev -i")  # no member may change modes
    assert b" 472 alice x " in numeric(alice, "MODE #dev +x")


def test_a_secret_channel_is_listed_only_to_its_members(irc_server: ServerProcess) -> None:
    alice, bob = op_and_guest(irc_server, "+s")
    alice.send(b"LIST\r\n")
    assert any(b" 322 alice #dev " in line for line in recv_until(alice, b" 323 "))
    bob.send(b"LIST\r\n")
    assert not any(b"#dev" in line for line in recv_until(bob, b" 323 "))


def test_lusers_counts_every_wire_and_the_peak(irc_server: ServerProcess) -> None:
    alice = irc_client(irc_server, "alice")
    irc_server.register("chatuser")  # a CHAT/1.0 user counts too
    alice.send(b"LUSERS\r\n")
    lines = recv_until(alice, b" 266 ")
    assert lines[0] == b":srv 251 alice :There are 2 users and 0 invisible on 1 servers"
    assert b":srv 255 alice :I have 2 clients and 0 servers" in lines
    assert lines[-1] == b":srv 266 alice 2 2 :Current global users 2, max 2"


def test_whowas_remembers_the_irc_users_that_left_newest_first(irc_server: ServerProcess) -> None:
    alice = irc_client(irc_server, "alice")
    for realname in ("first", "second"):
        gone = Peer.connect(irc_port(irc_server))
        irc_server.peers.append(gone)
        gone.send(f"NICK bob\r\nUSER u{realname} 0 * :{realname}\r\n".encode())
        recv_until(gone, b" 422 ")
        gone.send(b"QUIT\r\n")
        assert gone.recv_line().startswith(b"ERROR ")
        gone.expect_closed()
    alice.send(b"WHOWAS bob\r\n")
    lines = recv_until(alice, b" 369 ")
    assert [line for line in lines if b" 314 " in line] == [
        b":srv 314 alice bob usecond srv * second",
        b":srv 314 alice bob ufirst srv * first",
    ]
    assert b" 406 alice nobody " in numeric(alice, "WHOWAS nobody")


def test_userhost_shows_away_and_operators(irc_server: ServerProcess) -> None:
    alice = irc_client(irc_server, "alice")
    bob = irc_client(irc_server, "bob")
    numeric(bob, "AWAY :lunch")
    assert numeric(alice, "USERHOST bob alice nobody") == b":srv 302 alice :bob=-bob@srv alice=+alice@srv"


def test_wallops_reach_users_with_mode_w_only(irc_server: ServerProcess) -> None:
    oper = irc_client(irc_server, "oper")
    reader = irc_client(irc_server, "reader")
    other = irc_client(irc_server, "other")
    assert b" 481 " in numeric(other, "WALLOPS :hi")
    assert numeric(reader, "MODE reader +w") == b":reader MODE reader +w"
    numeric(oper, "OPER op secret")
    oper.recv_line()
    assert numeric(oper, "WALLOPS :hi all") == b":oper!oper@srv WALLOPS :hi all"
    assert reader.recv_line() == b":oper!oper@srv WALLOPS :hi all\r"
    assert other.has_nothing_to_read()


def test_help_answers_704_705_706_and_524_for_an_unknown_subject(irc_server: ServerProcess) -> None:
    alice = irc_client(irc_server, "alice")
    alice.send(b"HELP KICK\r\n")
    assert recv_until(alice, b" 706 ")[0].startswith(b":srv 704 alice KICK :KICK <#channel>")
    assert b" 524 alice NOSUCH " in numeric(alice, "HELP NOSUCH")


def test_ban_masks_are_completed_and_folded() -> None:
    assert normal_mask("Bob") == "bob!*@*"
    assert normal_mask("bob!u") == "bob!u@*"
    assert normal_mask("u@Host") == "*!u@host"
    channel = Channel()
    channel.ban(normal_mask("b*"), "alice", 0)
    assert channel.is_banned("bob!u@srv") and not channel.is_banned("alice!u@srv")
    assert channel.modes(secret=True, unlocked=True, show_key=False) == ["+ns"]


def test_a_ban_exception_lets_a_banned_mask_in(irc_server: ServerProcess) -> None:
    alice, bob = op_and_guest(irc_server, "+b b*!*@*")
    assert b" 474 bob #dev " in numeric(bob, "JOIN #dev")
    assert numeric(alice, "MODE #dev +e *ob!*@*") == b":alice!alice@srv MODE #dev +e *ob!*@*"
    assert numeric(bob, "JOIN #dev") == b":bob!bob@srv JOIN #dev"
    alice.send(b"MODE #dev e\r\n")
    assert recv_until(alice, b" 349 ")[-2].startswith(b":srv 348 alice #dev *ob!*@* alice ")


def test_an_invite_exception_lets_a_mask_past_invite_only_until_it_is_lifted(
    irc_server: ServerProcess,
) -> None:
    alice, bob = op_and_guest(irc_server, "+iI bob")
    assert numeric(bob, "JOIN #dev") == b":bob!bob@srv JOIN #dev"
    recv_until(bob, b" 366 ")
    numeric(bob, "PART #dev")
    recv_until(alice, b"PART")
    assert numeric(alice, "MODE #dev -I bob!*@*") == b":alice!alice@srv MODE #dev -I bob!*@*"
    assert b" 473 bob #dev " in numeric(bob, "JOIN #dev")


def test_invite_without_parameters_lists_ones_invitations(irc_server: ServerProcess) -> None:
    alice, bob = op_and_guest(irc_server, "+i")
    numeric(alice, "INVITE bob #dev")
    bob.recv_line()
    bob.send(b"INVITE\r\n")
    assert recv_until(bob, b" 337 ") == [b":srv 336 bob #dev", b":srv 337 bob :End of /INVITE list"]


def test_isupport_comes_in_005_lines_within_the_parameter_limit(irc_server: ServerProcess) -> None:
    peer = Peer.connect(irc_port(irc_server))
    irc_server.peers.append(peer)
    peer.send(b"NICK nick\r\nUSER u 0 * :u\r\n")
    lines = [line for line in recv_until(peer, b" 422 ") if b" 005 " in line]
    assert len(lines) == 2
    tokens = [token for line in lines for token in line.split(b" :")[0].split(b" ")[3:]]
    assert b"CHANMODES=beI,k,l,Cimnst" in tokens and b"TARGMAX=JOIN:,KICK:4,PART:" in tokens
    assert all(len(line.split(b" :")[0].split(b" ")) - 2 <= 14 for line in lines)


def test_lusers_counts_operators_and_invisible_users_as_they_change(irc_server: ServerProcess) -> None:
    watcher = irc_client(irc_server, "watcher")
    oper = irc_client(irc_server, "oper")
    numeric(oper, "OPER op secret")
    oper.recv_line()
    numeric(oper, "MODE oper +i")

    def lusers() -> list[bytes]:
        watcher.send(b"LUSERS\r\n")
        return recv_until(watcher, b" 266 ")

    assert lusers()[:2] == [
        b":srv 251 watcher :There are 1 users and 1 invisible on 1 servers",
        b":srv 252 watcher 1 :operator(s) online",
    ]
    numeric(oper, "MODE oper -o")
    assert lusers()[1] == b":srv 252 watcher 0 :operator(s) online"
    oper.send(b"QUIT\r\n")
    assert oper.recv_line().startswith(b"ERROR ")
    oper.expect_closed()
    assert lusers()[0] == b":srv 251 watcher :There are 1 users and 0 invisible on 1 servers"


def test_no_ctcp_refuses_ctcp_to_the_channel_but_action(irc_server: ServerProcess) -> None:
    alice, bob = op_and_guest(irc_server, "+C")
    joined(bob, "#dev")
    recv_until(alice, b"JOIN")
    assert b" 404 bob #dev :Cannot send to channel (+C)" in numeric(bob, "PRIVMSG #dev :\x01PING 1\x01")
    bob.send(b"PRIVMSG #dev :\x01ACTION waves\x01\r\n")
    assert alice.recv_line() == b":bob!bob@srv PRIVMSG #dev :\x01ACTION waves\x01\r"
