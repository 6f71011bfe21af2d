"""The WebSocket transport (chatroom/web/websocket.py): any bytes from a client after a valid upgrade.

Invariants: reading raises nothing but BlockingIOError (wsproto's errors
become close frames), also after the server's own close frame, and sending a
line in between never raises; every line handed to the codec ends in LF, holds no
other LF and no CR, and is at most one byte over the line limit (an over-long
message, which the codec refuses); once the stream has ended it stays ended.
"""

from __future__ import annotations

from collections import deque
from typing import cast

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request

from chatroom.net.transport import PlainTransport
from chatroom.web.websocket import WebSocketTransport
from fuzz._input import FuzzInput, split


class _Socket:
    buffers_input = False

    def __init__(self, chunks: list[bytes]) -> None:
        self.incoming = deque(chunks)
        self.wire = bytearray()

    def fileno(self) -> int:
        return 99

    def recv(self, bufsize: int) -> bytes:
        if not self.incoming:
            raise BlockingIOError
        return self.incoming.popleft()

    def send(self, data: bytes | bytearray | memoryview) -> int:
        self.wire += bytes(data)
        return len(data)

    def pending(self) -> int:
        return 0

    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", 1)


def upgraded(chunks: list[bytes], max_line: int) -> WebSocketTransport:
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(WSConnection(ConnectionType.CLIENT).send(Request(host="x", target="/ws")))
    assert isinstance(next(server.events()), Request)
    server.send(AcceptConnection())
    return WebSocketTransport(cast(PlainTransport, _Socket(chunks)), server, max_line)


def test_one_input(data: bytes) -> None:
    source = FuzzInput(data)
    max_line = source.int_in(1, 64)
    read_size = source.int_in(1, 128)
    mode = source.byte()  # bit 0: the server closes first; bit 1: it sends a line after every read
    cuts = source.cuts()
    stream = source.rest()
    chunks = [chunk for chunk in split(stream, cuts) if chunk]
    transport = upgraded(chunks, max_line)
    if mode & 1:
        transport.shutdown_write()
    received = bytearray()
    ended = False
    for _ in range(len(chunks) + len(stream) + 2):
        try:
            got = transport.recv(read_size)
        except BlockingIOError:
            break
        assert len(got) <= read_size
        if not got:
            ended = True
            break
        received += got
        if mode & 2:
            assert transport.send(b"MSG #lobby bob hi\n") == 18
    if ended:
        assert transport.recv(read_size) == b""
    lines = bytes(received).split(b"\n")
    assert lines[-1] == b"" or not ended or transport.pending() == 0
    for line in lines[:-1]:
        assert b"\r" not in line
        assert len(line) <= max_line + 1
