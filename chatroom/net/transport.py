"""Byte transports: what moves a connection's bytes, below any protocol.

The contract every transport keeps, so the connection and the loop need not
know which one they hold: `recv` returns bytes, b"" at end of stream, and
raises BlockingIOError when nothing can be read now; `send` returns how many
bytes it took and raises BlockingIOError when it can take none now; both
raise another OSError when the peer is gone. A TLS transport maps its
want-read / want-write conditions onto BlockingIOError, reports bytes it holds
decrypted (which select() cannot see) through `pending`, and shuts down with
close_notify; a WebSocket transport frames and unframes in between.
"""

from __future__ import annotations

import socket
from typing import Protocol

from chatroom.limits import RECV_BYTES


def peer_address(raw: tuple[str, int] | tuple[str, int, int, int]) -> tuple[str, int]:
    """('127.0.0.1', 5000) also for IPv4 peers of a dual-stack socket (::ffff:127.0.0.1)."""
    host = raw[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return (host, raw[1])


class Transport(Protocol):
    @property
    def sock(self) -> socket.socket:
        """The socket the loop watches for readiness."""

    def recv(self) -> bytes: ...

    def send(self, data: bytes | bytearray | memoryview) -> int: ...

    def pending(self) -> int:
        """Bytes already read from the socket and held inside the transport (TLS records)."""

    def shutdown_write(self) -> None:
        """No more bytes from us (TCP: SHUT_WR; TLS: close_notify). Raises OSError if the peer is gone."""

    def close(self) -> None: ...

    def address(self) -> tuple[str, int] | str:
        """The peer's (host, port), asked of the kernel, or a word saying it is gone."""


class PlainTransport:
    """Plain TCP: the socket's own calls, nothing in between."""

    __slots__ = ("sock",)

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def recv(self) -> bytes:
        return self.sock.recv(RECV_BYTES)

    def send(self, data: bytes | bytearray | memoryview) -> int:
        return self.sock.send(data)

    def pending(self) -> int:
        return 0

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()

    def address(self) -> tuple[str, int] | str:
        # Asked of the kernel, not stored: storing it would cost every idle user.
        try:
            raw = self.sock.getpeername()
        except OSError:
            return "(disconnected peer)"
        return peer_address(raw) if isinstance(raw, tuple) else repr(raw)  # a Unix socket: a path
