"""Byte transports: what moves a connection's bytes, below any protocol.

The contract every transport keeps, so the connection and the loop need not
know which one they hold: `recv(n)` returns bytes, b"" at end of stream, and
raises BlockingIOError when nothing can be read now; `send` returns how many
bytes it took and raises BlockingIOError when it can take none now; both
raise another OSError when the peer is gone. A TLS transport maps its
want-read / want-write conditions onto BlockingIOError, reports bytes it holds
decrypted (which select() cannot see) through `pending`, and shuts down with
close_notify; a WebSocket transport frames and unframes in between.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Protocol


def peer_address(raw: tuple[str, int] | tuple[str, int, int, int]) -> tuple[str, int]:
    """('127.0.0.1', 5000) also for IPv4 peers of a dual-stack socket (::ffff:127.0.0.1)."""
    host = raw[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return (host, raw[1])


def ip_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `host` names; an IPv4-mapped IPv6 address (::ffff:1.2.3.4) is the IPv4 one."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])  # a link-local zone (fe80::1%eth0) is no part of it
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class Transport(Protocol):
    buffers_input: bool
    """True when the transport can hold input that select() cannot see (TLS)."""

    def fileno(self) -> int:
        """What the loop watches for readiness."""

    def recv(self, bufsize: int, /) -> bytes: ...

    def send(self, data: bytes | bytearray | memoryview, /) -> int: ...

    def pending(self) -> int:
        """Bytes already read from the socket and held inside the transport (TLS records)."""

    def shutdown_write(self) -> None:
        """No more bytes from us (TCP: SHUT_WR; TLS: close_notify). Raises OSError if the peer is gone."""

    def close(self) -> None: ...

    def address(self) -> tuple[str, int] | str:
        """The peer's (host, port), asked of the kernel, or a word saying it is gone."""


class PlainTransport(socket.socket):
    """Plain TCP: the socket itself, so `send` and `recv` are the kernel calls with nothing between.

    A subclass rather than a wrapper: a wrapper's `send` would add a Python call
    to every delivery and an object to every idle user. (TLS fits the same way:
    `ssl.SSLSocket` is a socket subclass too.)
    """

    __slots__ = ()

    buffers_input = False

    @classmethod
    def adopt(cls, sock: socket.socket) -> PlainTransport:
        """Take over an accepted socket's descriptor (the socket object is left empty)."""
        return cls(sock.family, sock.type, sock.proto, fileno=sock.detach())

    def pending(self) -> int:
        return 0

    def shutdown_write(self) -> None:
        self.shutdown(socket.SHUT_WR)

    def address(self) -> tuple[str, int] | str:
        # Asked of the kernel, not stored: storing it would cost every idle user.
        try:
            raw = self.getpeername()
        except OSError:
            return "(disconnected peer)"
        return peer_address(raw) if isinstance(raw, tuple) else repr(raw)  # a Unix socket: a path
