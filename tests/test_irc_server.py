"""The IRC listener over real sockets: an IRC client and a CHAT/1.0 client chat both ways in #lobby."""

from __future__ import annotations

import pytest
from support.irc import IRC_BANNER, irc_client, irc_connect, irc_port, recv_until
from support.peer import Peer
from support.processes import ServerFactory, ServerProcess
from test_accounts_server import claim, until_reply


@pytest.fixture
def irc_server(start_server: ServerFactory) -> ServerProcess:
    return start_server("--irc-port", "0", "--server-name", "test.server", "--irc-oper", "op:secret")


def test_the_irc_port_line_follows_the_plain_port_line(irc_server: ServerProcess) -> None:
    irc_port(irc_server)  # printed after the line the server fixture waits for: wait for it too
    lines = irc_server.stdout.lines
    plain = next(n for n, line in enumerate(lines) if line.startswith("Will wait for client connections"))
    irc = next(n for n, line in enumerate(lines) if line.startswith(IRC_BANNER))
    assert irc > plain


def test_irc_and_chat_users_talk_both_ways_in_the_lobby_text_exact(irc_server: ServerProcess) -> None:
    irc = irc_client(irc_server, "ircuser")
    irc.send(b"JOIN #lobby\r\n")
    names = recv_until(irc, b" 366 ")
    assert names[0] == b":ircuser!ircuser@test.server JOIN #lobby"
    chat = irc_server.register("chatuser")
    assert recv_until(irc, b"JOIN") == [b":chatuser!chatuser@test.server JOIN #lobby"]
    text = "  h\u00e9llo :) \u2603 "
    chat.send_line(f"@chatuser: {text}")
    assert irc.recv_line() == f":chatuser!chatuser@test.server PRIVMSG #lobby :{text}\r".encode()
    irc.send(f"PRIVMSG #lobby :{text}\r\n".encode())
    assert chat.recv_line() == f"@ircuser: {text}".encode()
    irc.send(b"PRIVMSG chatuser :psst\r\n")
    assert chat.recv_line() == b"@ircuser (private): psst"
    chat.send_line("@chatuser: !msg ircuser back")
    assert chat.recv_line().startswith(b"215 ")
    assert irc.recv_line() == b":chatuser!chatuser@test.server PRIVMSG ircuser :back\r"


def test_a_long_chat_line_reaches_irc_split_within_512_bytes(irc_server: ServerProcess) -> None:
    irc = irc_client(irc_server, "reader")
    irc.send(b"JOIN #lobby\r\n")
    recv_until(irc, b" 366 ")
    chat = irc_server.register("writer")
    recv_until(irc, b"JOIN")
    text = "\u00e9" * 700  # 1400 bytes: three IRC lines, never cut inside a character
    chat.send_line(f"@writer: {text}")
    pieces: list[str] = []
    while len("".join(pieces)) < len(text):
        line = irc.recv_line()
        assert len(line) + 1 <= 512
        pieces.append(line.decode().removesuffix("\r").split(" :", 1)[1])
    assert "".join(pieces) == text


def test_irc_nicks_and_chat_names_are_one_namespace(irc_server: ServerProcess) -> None:
    irc_server.register("taken")
    peer = Peer.connect(irc_port(irc_server))
    irc_server.peers.append(peer)
    peer.send(b"NICK Taken\r\nUSER t 0 * :t\r\n")
    assert b" 433 * Taken " in peer.recv_line()


def test_quit_ends_the_connection(irc_server: ServerProcess) -> None:
    irc = irc_client(irc_server, "leaver")
    irc.send(b"QUIT :bye\r\n")
    assert irc.recv_line().startswith(b"ERROR :")
    irc.expect_closed()


def test_a_silent_irc_client_is_pinged_then_closed_and_one_that_answers_stays(
    start_server: ServerFactory,
) -> None:
    server = start_server("--irc-port", "0", "--server-name", "srv", "--irc-ping-interval", "0.2")
    silent = irc_client(server, "silent")
    awake = irc_client(server, "awake")
    assert silent.recv_line() == b":srv PING srv\r"
    assert awake.recv_line() == b":srv PING srv\r"
    awake.send(b"PONG srv\r\n")
    assert silent.recv_line() == b"ERROR :Closing link: Ping timeout\r"
    silent.expect_closed()
    awake.send(b"PING :still-here\r\n")
    assert recv_until(awake, b"PONG")[-1] == b":srv PONG srv still-here"


def test_nick_changes_reach_irc_and_chat11_members_once_and_free_the_old_name(
    irc_server: ServerProcess,
) -> None:
    alice = irc_client(irc_server, "alice")
    bob = irc_client(irc_server, "bob")
    for peer, nick in ((alice, b"alice"), (bob, b"bob")):
        peer.send(b"JOIN #test,#other\r\n")
        recv_until(peer, b" 366 " + nick + b" #other ")
    recv_until(alice, b":bob!bob@test.server JOIN #other")
    carol = irc_server.connect()  # CHAT/1.1, in #test: LEFT then JOINED (CHAT/1.1 has no rename)
    carol.send_line("REGISTER carol CHAT/1.1")
    assert carol.recv_line() == b"200 Registration successful"
    carol.send_line("@carol: !join #test")
    recv_until(carol, b"HISTORY-END #test ")  # its replay comes from the store, after MEMBERS-END
    recv_until(alice, b"JOIN #test")
    recv_until(bob, b"JOIN #test")
    dave = irc_server.register("dave")  # CHAT/1.0 in #lobby: never hears of it
    alice.send(b"NICK bob\r\n")
    assert alice.recv_line() == b":test.server 433 alice bob :Nickname is already in use\r"
    alice.send(b"NICK Malice\r\n")
    assert alice.recv_line() == b":alice!alice@test.server NICK Malice\r"
    assert bob.recv_line() == b":alice!alice@test.server NICK Malice\r"  # once, though in two rooms
    assert recv_until(carol, b"JOINED #test Malice")[-2:] == [b"LEFT #test alice", b"JOINED #test Malice"]
    alice.send(b"PRIVMSG #test :renamed\r\n")
    assert bob.recv_line() == b":Malice!alice@test.server PRIVMSG #test :renamed\r"
    assert carol.recv_line() == b"MSG #test Malice renamed"
    again = irc_client(irc_server, "alice")  # the old name is free at once
    again.send(b"NICK malice\r\n")
    assert again.recv_line() == b":test.server 433 alice malice :Nickname is already in use\r"
    alice.send(b"NICK Malice\r\nPING :done\r\n")  # the same name: no line at all
    assert alice.recv_line() == b":test.server PONG test.server done\r"
    assert dave.has_nothing_to_read()


def test_a_topic_set_and_cleared_over_irc_reaches_chat_users(irc_server: ServerProcess) -> None:
    irc = irc_client(irc_server, "setter")
    irc.send(b"JOIN #dev\r\n")
    recv_until(irc, b" 366 ")
    chat = irc_server.register("reader")
    chat.send_line("@reader: !join #dev")
    assert chat.recv_line().startswith(b"210 ")
    recv_until(irc, b"JOIN #dev")
    irc.send(b"TOPIC #dev :release on Friday\r\n")
    assert irc.recv_line() == b":setter!setter@test.server TOPIC #dev :release on Friday\r"
    chat.send_line("@reader: !topic")
    assert chat.recv_line() == b"212 The topic of #dev is: release on Friday"
    irc.send(b"TOPIC #dev :\r\n")
    assert irc.recv_line() == b":setter!setter@test.server TOPIC #dev :\r"
    chat.send_line("@reader: !topic")
    assert chat.recv_line() == b"212 #dev has no topic; !topic TEXT sets one."
    irc.send(b"TOPIC #dev\r\n")
    assert irc.recv_line() == b":test.server 331 setter #dev :No topic is set\r"


def test_an_irc_flood_is_delayed_not_lost_and_told_in_a_notice(start_server: ServerFactory) -> None:
    server = start_server(
        "--irc-port", "0", "--server-name", "srv", "--flood-exempt", "none", "--flood-lines", "20/5"
    )
    reader = server.register("reader")
    irc = irc_client(server, "flooder")
    irc.send(b"JOIN #lobby\r\n")
    recv_until(irc, b" 366 ")
    texts = [f"line {n}" for n in range(30)]
    irc.send(b"".join(f"PRIVMSG #lobby :{text}\r\n".encode() for text in texts))
    assert reader.recv_lines(30) == [f"@flooder: {text}".encode() for text in texts]
    notice = irc.recv_line()
    assert notice.startswith(b":srv NOTICE flooder :Slow down: this server reads at most 20 lines"), notice
    irc.send(b"PING :after\r\n")
    assert recv_until(irc, b"PONG") == [b":srv PONG srv after"]  # nothing else: no 404 for a line


def test_a_hub_operator_kicks_and_bans_an_irc_user(start_server: ServerFactory) -> None:
    server = start_server("--irc-port", "0", "--server-name", "srv", "--operator", "root")
    root = claim(server, "root", "toor")
    irc = irc_client(server, "spammer")
    root.send_line("@root: !kick spammer spamming")
    assert until_reply(root) == b"220 Kicked spammer."
    assert irc.recv_until_closed().endswith(b"ERROR :Closing link: You were kicked by root: spamming\r\n")
    root.send_line("@root: !ban spammer 10m")
    assert until_reply(root).startswith(b"220 spammer is banned until ")
    again = irc_connect(server)
    again.send(b"NICK spammer\r\nUSER s 0 * :s\r\n")
    refused = again.recv_until_closed()
    assert b" 001 " not in refused and b"ERROR :Closing link: " in refused and b"banned" in refused


def test_irc_actions_and_formatting_reach_chat_users_as_plain_text(irc_server: ServerProcess) -> None:
    irc = irc_client(irc_server, "artist")
    irc.send(b"JOIN #lobby\r\n")
    recv_until(irc, b" 366 ")
    chat = irc_server.register("reader")
    recv_until(irc, b"JOIN")
    irc.send(b"PRIVMSG #lobby :\x01VERSION\x01\r\n")
    irc.send(b"PRIVMSG #lobby :\x01ACTION waves\x01\r\nPRIVMSG #lobby :\x02bold\x02 \x0304red\x03\r\n")
    assert chat.recv_lines(3) == [b"@artist: /ctcp VERSION", b"@artist: /me waves", b"@artist: bold red"]
    chat.send_line("@reader: /me waves back")
    assert irc.recv_line() == b":reader!reader@test.server PRIVMSG #lobby :\x01ACTION waves back\x01\r"
