"""IRC clients over real sockets for the tests: the listener's port, registering, reading replies."""

from __future__ import annotations

from support.peer import Peer
from support.processes import ServerProcess

IRC_BANNER = "Will wait for IRC clients at port "


def irc_port(server: ServerProcess) -> int:
    return int(server.wait_for_log(IRC_BANNER).removeprefix(IRC_BANNER))


def irc_connect(server: ServerProcess) -> Peer:
    """A connection to the IRC port, not registered (closed with the server's other peers)."""
    peer = Peer.connect(irc_port(server))
    server.peers.append(peer)
    return peer


def recv_until(peer: Peer, needle: bytes) -> list[bytes]:
    """Lines up to and including the first that contains `needle` (each without CR LF)."""
    lines: list[bytes] = []
    while True:
        line = peer.recv_line().removesuffix(b"\r")
        lines.append(line)
        if needle in line:
            return lines


def irc_client(server: ServerProcess, nick: str) -> Peer:
    """An IRC client registered as `nick`, its welcome read up to 422 (no MOTD)."""
    peer = irc_connect(server)
    peer.send(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
    recv_until(peer, b" 422 ")
    return peer
