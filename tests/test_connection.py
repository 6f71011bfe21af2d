"""The server's per-connection bookkeeping, driven in-process over real socket pairs.

These check mechanisms that are hard to reach from outside: what the kernel's
buffers absorb decides whether a queue or a deadline is ever exercised.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from chatroom import protocol
from chatroom.limits import LINGER_TIMEOUT_S, SENDQ_MAX_BYTES
from chatroom.net.connection import Connection, Phase
from chatroom.protocol import ServerConnection
from chatroom.server.app import Server, ServerConfig


def phase(conn: Connection) -> Phase:
    return conn.phase


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    yield ours, theirs
    ours.close()
    theirs.close()


def test_queue_sends_at_once_when_the_kernel_has_room(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    watched: list[Connection] = []
    conn = Connection(ours, ServerConnection(), watched.append)
    assert conn.queue(b"@alice: hi\n")
    assert conn.out is None and watched == []
    assert theirs.recv(100) == b"@alice: hi\n"


def test_a_reader_that_catches_up_is_not_cut_off_at_the_cap(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    conn = Connection(ours, ServerConnection(), lambda conn: None)
    # Nearly a full queue held back, though the kernel (the reader) has room:
    # the next line must be written out, not taken for a slow reader's.
    conn.out = bytearray(b"x" * (SENDQ_MAX_BYTES - 10))
    theirs.setblocking(False)
    assert conn.queue(b"y" * 100)
    assert conn.out is not None and len(conn.out) < SENDQ_MAX_BYTES - 10


def test_a_reader_that_really_stopped_is_cut_off_at_the_cap(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, _ = pair
    conn = Connection(ours, ServerConnection(), lambda conn: None)
    with pytest.raises(BlockingIOError):  # fill the kernel's buffers: the reader never reads
        while True:
            ours.send(b"f" * 65536)
    conn.out = bytearray(b"x" * (SENDQ_MAX_BYTES - 10))
    assert not conn.queue(b"y" * 100)


def test_a_peer_that_does_not_read_its_final_reply_is_closed_after_the_linger_time() -> None:
    server = Server(ServerConfig("127.0.0.1", 0))
    try:
        client = socket.create_connection(("127.0.0.1", server.port))
        client.sendall(b"REGISTER sleeper CHAT/1.0\n")
        deadline = time.monotonic() + 5
        while "sleeper" not in server.router and time.monotonic() < deadline:
            server.run_once(0.1)
        (conn,) = server.connections.values()
        conn.out = bytearray(b"backlog the sleeper never reads\n")  # as if its kernel buffer were full
        server._finish(conn, protocol.LINE_TOO_LONG, "line too long")
        assert phase(conn) is Phase.DRAINING
        server._expire(time.monotonic() + LINGER_TIMEOUT_S / 2)
        assert phase(conn) is Phase.DRAINING, "closed before the linger time"
        server._expire(time.monotonic() + LINGER_TIMEOUT_S + 0.1)
        assert phase(conn) is Phase.CLOSED
        server._reap()
        assert server.connections == {}
        client.close()
    finally:
        server.listener.close()
        server.selector.close()
