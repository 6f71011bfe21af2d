"""Peers for the web gateway: raw HTTP requests, and a WebSocket peer driven by wsproto on a plain socket.

The WebSocket peer can also write frames by hand (unmasked, fragmented,
binary), so the tests can send what no well-behaved library would.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import time
from dataclasses import dataclass

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from support.peer import DEADLINE_S
from support.processes import ServerProcess

WEB_BANNER = "Will wait for web browsers at port "

TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


def web_port(server: ServerProcess) -> int:
    return int(server.wait_for_log(WEB_BANNER).removeprefix(WEB_BANNER))


def open_socket(
    port: int, context: ssl.SSLContext | None = None, *, maxseg: int | None = None
) -> socket.socket:
    """`maxseg` keeps the server's kernel from taking megabytes for a peer that does not read (see Peer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if maxseg is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, maxseg)
    sock.settimeout(DEADLINE_S)
    sock.connect(("127.0.0.1", port))
    if context is not None:
        sock = context.wrap_socket(sock, server_hostname="localhost")
    return sock


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


def read_response(sock: socket.socket, timeout: float = DEADLINE_S) -> HttpResponse:
    """Everything until the server closes, parsed as one response."""
    data = read_until_closed(sock, timeout)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 "), f"not an HTTP response: {data[:200]!r}"
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return HttpResponse(int(lines[0].split()[1]), headers, body)


def read_until_closed(sock: socket.socket, timeout: float = DEADLINE_S) -> bytes:
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"not closed after {timeout:g} s; got {b''.join(chunks)[:200]!r}"
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def http(port: int, raw: bytes, context: ssl.SSLContext | None = None) -> HttpResponse:
    """Send `raw` as it is and read the response (the server closes after it)."""
    with open_socket(port, context) as sock:
        sock.sendall(raw)
        return read_response(sock)


def get(port: int, path: str, method: str = "GET", context: ssl.SSLContext | None = None) -> HttpResponse:
    raw = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    return http(port, raw.encode(), context)


def frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True) -> bytes:
    """One WebSocket frame written by hand (RFC 6455 5.2)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if masked else 0
    size = len(payload)
    if size < 126:
        head += bytes([mask_bit | size])
    elif size < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))


class WsPeer:
    """A WebSocket client on a blocking socket; events come from wsproto."""

    def __init__(self, sock: socket.socket, ws: WSConnection) -> None:
        self.sock = sock
        self.ws = ws
        self._events: list[Event] = []

    @classmethod
    def connect(
        cls,
        port: int,
        *,
        origin: str | None = "default",
        context: ssl.SSLContext | None = None,
        early: bytes = b"",
        maxseg: int | None = None,
    ) -> WsPeer:
        """Upgrade to WebSocket at /ws; `origin` "default" is the page's own, None sends none.

        `early` is sent in the same write as the request (frames before the 101).
        """
        sock = open_socket(port, context, maxseg=maxseg)
        ws = WSConnection(ConnectionType.CLIENT)
        host = f"127.0.0.1:{port}"
        headers = []
        if origin == "default":
            origin = f"{'https' if context else 'http'}://{host}"
        if origin is not None:
            headers.append((b"Origin", origin.encode()))
        sock.sendall(ws.send(Request(host=host, target="/ws", extra_headers=headers)) + early)
        peer = cls(sock, ws)
        event = peer.next_event()
        assert isinstance(event, AcceptConnection), f"upgrade refused: {event!r}"
        return peer

    def close_socket(self) -> None:
        self.sock.close()

    def send_event(self, event: Event) -> None:
        self.sock.settimeout(DEADLINE_S)
        self.sock.sendall(self.ws.send(event))

    def send_text(self, text: str) -> None:
        self.send_event(TextMessage(text))

    def send_raw(self, data: bytes) -> None:
        self.sock.settimeout(DEADLINE_S)
        self.sock.sendall(data)

    def register(self, name: str, version: str = "CHAT/1.1") -> None:
        self.send_text(f"REGISTER {name} {version}")
        reply = self.recv_text()
        assert reply.startswith("200 "), f"registering {name!r}: {reply!r}"

    def next_event(self, timeout: float = DEADLINE_S) -> Event:
        """The next event from the server (wsproto's); AssertionError if none comes in time."""
        deadline = time.monotonic() + timeout
        while not self._events:
            for event in self.ws.events():
                if isinstance(event, RejectData):
                    continue
                self._events.append(event)
            if self._events:
                break
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no WebSocket event in {timeout:g} s"
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            self.ws.receive_data(data or None)
        event = self._events.pop(0)
        if isinstance(event, RejectConnection):
            raise AssertionError(f"upgrade refused with {event.status_code}")
        return event

    def recv_text(self, timeout: float = DEADLINE_S) -> str:
        """The next whole text message (pings are answered by hand in the tests that want them)."""
        parts: list[str] = []
        while True:
            event = self.next_event(timeout)
            assert isinstance(event, TextMessage), f"expected a text message, got {event!r}"
            parts.append(event.data)
            if event.message_finished:
                return "".join(parts)

    def recv_until(self, prefix: str, timeout: float = DEADLINE_S) -> str:
        """Skip text messages until one starts with `prefix`."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.recv_text(max(0.01, deadline - time.monotonic()))
            if text.startswith(prefix):
                return text

    def expect_close(self, timeout: float = DEADLINE_S) -> CloseConnection:
        """Skip messages until the server's close frame; answer it; return it."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.next_event(max(0.01, deadline - time.monotonic()))
            if isinstance(event, CloseConnection):
                if self.ws.state.name == "REMOTE_CLOSING":
                    self.sock.sendall(self.ws.send(event.response()))
                return event
            assert isinstance(event, Message | Ping), f"unexpected {event!r} before the close"

    def expect_tcp_closed(self, timeout: float = DEADLINE_S) -> None:
        read_until_closed(self.sock, timeout)
