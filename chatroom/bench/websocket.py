"""WebSocket for the benchmark's clients (--websocket): a small hand-written framer, not wsproto.

The benchmark measures the server, so the load generator's side must be
cheap: a client sends each protocol line as one masked text frame and reads
the server's unmasked frames back as lines. `WebSocketSocket` wraps a
connected socket and keeps the plain socket's send/recv_into contract in
lines (one LF-terminated line in, one frame out; one frame in, its payload
and an LF out), so the load generator's line-counting hot loop runs
unchanged. The server under test needs wsproto (its web gateway); the
benchmark itself does not.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct

from chatroom.bench.errors import BenchError

MISSING_WSPROTO = (
    "--websocket starts the server's web gateway, which needs wsproto, which is not installed: "
    "pip install 'chatroom[web]'"
)

WEB_PORT_BANNER = "Will wait for web browsers at port"
PATH = "/ws"
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3

MAX_RESPONSE_BYTES = 4096
# The server's 101 response is a few hundred bytes; more without its blank line is not an upgrade.

SEND_BATCH_BYTES = 64 * 1024
# Lines framed per send(): about what the kernel takes at once on loopback.

_OP_CONTINUATION, _OP_TEXT, _OP_BINARY, _OP_CLOSE = 0x0, 0x1, 0x2, 0x8


def require_wsproto() -> None:
    """Say before anything runs (BenchError) that the started server could not open its web port."""
    try:
        import wsproto  # noqa: F401
    except ImportError:
        raise BenchError(MISSING_WSPROTO) from None


def upgrade_request(host: str, port: int) -> tuple[bytes, bytes]:
    """The opening handshake's GET /ws, and the Sec-WebSocket-Accept value the server must answer."""
    key = base64.b64encode(os.urandom(16))
    request = (
        f"GET {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    return request, base64.b64encode(hashlib.sha1(key + _GUID).digest())


def upgrade_response(data: bytes, accept: bytes) -> tuple[str | None, bytes]:
    """Check the server's answer so far: (None, b"") while incomplete, ("", frames after it) when
    upgraded, (why not, b"") otherwise."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return ("upgrade response longer than 4 KiB" if len(data) > MAX_RESPONSE_BYTES else None), b""
    head = data[:end].split(b"\r\n")
    status = head[0].split(b" ", 2)
    if len(status) < 2 or status[1] != b"101":
        return f"upgrade refused: {head[0][:80].decode(errors='replace')!r}", b""
    fields = {}
    for line in head[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    if fields.get(b"sec-websocket-accept") != accept:
        return "upgrade: wrong Sec-WebSocket-Accept", b""
    return "", data[end + 4 :]


def frame(payload: bytes, key: bytes, opcode: int = _OP_TEXT) -> bytes:
    """One final client frame, masked with `key` (4 bytes) as RFC 6455 requires of clients."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    mask = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")
    return head + key + masked


class WebSocketSocket:
    """A connected socket after the upgrade, used as if it carried plain lines (see above).

    send(data) frames the whole lines of `data` and returns how much of it the kernel took,
    counting a line whose frame went out in part as taken but its LF (as a plain socket
    leaves half a line): the next send() finishes that frame first and then takes the LF.
    recv_into() returns payloads each followed by an LF, never more than the view holds;
    after a close frame it returns the lines before it, then 0 (end of stream).
    """

    __slots__ = ("_sock", "_key", "_wire", "_owed", "_raw", "_lines", "_closed")

    def __init__(self, sock: socket.socket, already: bytes = b"") -> None:
        self._sock = sock
        self._key = os.urandom(4)  # one per connection: the server unmasks, nobody else reads it
        self._wire = bytearray()  # the rest of a frame the kernel took in part
        self._owed = 0  # bytes of the caller's data that rest stands for (its LF)
        self._raw = bytearray(already)  # received bytes not yet a whole frame
        self._lines = bytearray()  # decoded lines not yet returned
        self._closed = False
        self._decode()

    def fileno(self) -> int:
        return self._sock.fileno()

    def getsockopt(self, level: int, option: int, size: int) -> bytes:
        return self._sock.getsockopt(level, option, size)

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def settimeout(self, value: float | None) -> None:
        self._sock.settimeout(value)

    def close(self) -> None:
        self._sock.close()

    # -- client to server --------------------------------------------------------------

    def send(self, data: bytes | bytearray | memoryview) -> int:
        taken = 0
        if self._wire:
            n = self._sock.send(self._wire)  # BlockingIOError: nothing taken, as a plain socket says
            del self._wire[:n]
            if self._wire:
                return 0
            taken, self._owed = self._owed, 0
        batch = bytes(data[taken : taken + SEND_BATCH_BYTES])
        cut = batch.rfind(b"\n") + 1
        if not cut:  # one line longer than a batch (or none finished yet)
            batch = bytes(data[taken:])
            cut = batch.find(b"\n") + 1
            if not cut:
                return taken
        lines = batch[:cut].split(b"\n")[:-1]
        key = self._key
        frames = [frame(line, key) for line in lines]
        try:
            n = self._sock.send(b"".join(frames))
        except (BlockingIOError, InterruptedError):
            if taken:
                return taken
            raise
        for line, wire in zip(lines, frames, strict=True):
            if n >= len(wire):
                n -= len(wire)
                taken += len(line) + 1
                continue
            if n:  # the kernel took part of this frame: keep the rest, and owe the line's LF
                self._wire += wire[n:]
                self._owed = 1
                taken += len(line)
            break
        return taken

    def sendall(self, data: bytes) -> None:
        """For blocking use (the probe): every line goes out."""
        view = memoryview(data)
        while view or self._wire:
            view = view[self.send(view) :]

    # -- server to client --------------------------------------------------------------

    def recv_into(self, view: memoryview | bytearray, nbytes: int = 0) -> int:
        size = nbytes or len(view)
        while not self._lines:
            if self._closed:
                return 0
            data = self._sock.recv(max(1, size - len(self._raw)))  # BlockingIOError goes up
            if not data:
                return 0
            self._raw += data
            self._decode()
        lines = self._lines
        n = min(size, len(lines))
        view[:n] = lines[:n]
        del lines[:n]
        return n

    def recv(self, size: int) -> bytes:
        buffer = bytearray(size)
        n = self.recv_into(buffer)
        return bytes(buffer[:n])

    def _decode(self) -> None:
        """Move every whole frame of _raw to _lines (payload + LF); a close frame ends the stream.

        Decoded lines are never longer than the frames they came from, so that recv_into()
        returns all it decoded when it read at most the view's size."""
        raw = self._raw
        out = self._lines
        end = len(raw)
        i = 0
        while end - i >= 2 and not self._closed:
            first = raw[i]
            length = raw[i + 1] & 0x7F
            head = 2
            if length == 126:
                if end - i < 4:
                    break
                length = int.from_bytes(raw[i + 2 : i + 4], "big")
                head = 4
            elif length == 127:
                if end - i < 10:
                    break
                length = int.from_bytes(raw[i + 2 : i + 10], "big")
                head = 10
            if raw[i + 1] & 0x80:  # a server never masks (RFC 6455, 5.1): not a server we measure
                self._closed = True
                break
            if end - i < head + length:
                break
            opcode = first & 0x0F
            if opcode in (_OP_TEXT, _OP_BINARY, _OP_CONTINUATION):
                out += raw[i + head : i + head + length]
                if first & 0x80:
                    out += b"\n"
            elif opcode == _OP_CLOSE:
                self._closed = True
            # ping and pong: the gateway's keep-alive, nothing the benchmark counts
            i += head + length
        del raw[:i]
