"""The IRC listener over real sockets: an IRC client and a CHAT/1.0 client chat both ways in #lobby."""

from __future__ import annotations

import pytest
from support.peer import Peer
from support.processes import ServerFactory, ServerProcess

IRC_BANNER = "Will wait for IRC clients at port "


def irc_port(server: ServerProcess) -> int:
    return int(server.wait_for_log(IRC_BANNER).removeprefix(IRC_BANNER))


def recv_until(peer: Peer, needle: bytes) -> list[bytes]:
    """Lines up to and including the first that contains `needle` (each without CR LF)."""
    lines: list[bytes] = []
    while True:
        line = peer.recv_line().removesuffix(b"\r")
        lines.append(line)
        if needle in line:
            return lines


@pytest.fixture
def irc_server(start_server: ServerFactory) -> ServerProcess:
    return start_server("--irc-port", "0", "--server-name", "test.server", "--irc-oper", "op:secret")


def irc_client(server: ServerProcess, nick: str) -> Peer:
    peer = Peer.connect(irc_port(server))
    server.peers.append(peer)
    peer.send(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
    recv_until(peer, b" 422 ")
    return peer


def test_the_irc_port_line_follows_the_plain_port_line(irc_server: ServerProcess) -> None:
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
