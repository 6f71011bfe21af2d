"""The web gateway's pure parts: the HTTP head parser and the WebSocket transport, without sockets."""

from __future__ import annotations

import itertools
from collections import deque
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, Pong, Request, TextMessage

from chatroom.limits import MAX_HTTP_HEAD_BYTES, MAX_HTTP_HEADERS, MAX_HTTP_LINE_BYTES
from chatroom.net.transport import PlainTransport
from chatroom.web.http import BadRequest, RequestParser, response
from chatroom.web.static import StaticFiles
from chatroom.web.websocket import WebSocketTransport

HEAD = (
    b"GET /app.js?v=1 HTTP/1.1\r\nHost: example.org\r\nConnection: keep-alive, Upgrade\r\n"
    b"X-A: 1\r\nx-a: 2\r\n\r\n"
)


# -- the request parser ---------------------------------------------------------------------------


def test_a_request_head_is_parsed() -> None:
    request = RequestParser().feed(HEAD)
    assert request is not None
    assert (request.method, request.target, request.path, request.version) == (
        "GET",
        "/app.js?v=1",
        "/app.js",
        "HTTP/1.1",
    )
    assert request.header("host") == "example.org"
    assert request.header("x-a") == "1, 2"
    assert request.header("missing") is None
    assert request.has_token("connection", "upgrade")
    assert not request.has_token("connection", "close")
    assert request.head == HEAD


@given(st.lists(st.integers(1, len(HEAD) - 1), max_size=10))
def test_the_head_may_arrive_in_any_pieces(cuts: list[int]) -> None:
    parser = RequestParser()
    points = [0, *sorted(set(cuts)), len(HEAD)]
    pieces = [HEAD[a:b] for a, b in itertools.pairwise(points)]
    pieces[-1] += b"frame"  # a WebSocket frame right behind the upgrade request
    results = [parser.feed(piece) for piece in pieces]
    assert [result is not None for result in results].count(True) == 1
    assert results[-1] is not None and results[-1].head == HEAD
    assert parser.rest == b"frame"


def test_blank_lines_before_a_request_are_ignored_and_bare_lf_is_accepted() -> None:
    parser = RequestParser()
    assert parser.feed(b"\r\n\r\n") is None
    assert not parser.started  # an idle connection, not a slow request
    request = parser.feed(b"GET / HTTP/1.0\n\n")
    assert request is not None and request.version == "HTTP/1.0"


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"G\xc9T / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n",
        b"GET /a\x00 HTTP/1.1\r\nHost: a\r\n\r\n",
    ],
)
def test_malformed_heads_are_refused(head: bytes) -> None:
    with pytest.raises(BadRequest):
        RequestParser().feed(head)


def test_the_bounds() -> None:
    headers = b"".join(b"X-%d: 1\r\n" % i for i in range(MAX_HTTP_HEADERS))
    assert RequestParser().feed(b"GET / HTTP/1.0\r\n" + headers + b"\r\n") is not None
    with pytest.raises(BadRequest, match="headers"):
        RequestParser().feed(b"GET / HTTP/1.0\r\n" + headers + b"X-Y: 1\r\n\r\n")
    # A line too long is refused before the head ends; so is a head too large.
    with pytest.raises(BadRequest, match="too long"):
        RequestParser().feed(b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HTTP_LINE_BYTES)
    parser = RequestParser()
    with pytest.raises(BadRequest, match="too large"):
        for _ in range(MAX_HTTP_HEAD_BYTES // 100 + 1):
            parser.feed(b"X: " + b"a" * 95 + b"\r\n")


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_any_bytes_give_a_request_none_or_bad_request(chunks: list[bytes]) -> None:
    parser = RequestParser()
    for chunk in chunks:
        try:
            if parser.feed(chunk) is not None:
                return
        except BadRequest:
            return


def test_responses_carry_the_security_headers_and_head_has_no_body() -> None:
    whole = response(200, [("Content-Type", "text/plain")], b"hello")
    head = response(200, [("Content-Type", "text/plain")], b"hello", head_only=True)
    assert whole == head + b"hello"
    assert b"Content-Length: 5\r\n" in head
    assert b"Content-Security-Policy: default-src 'none';" in head
    assert b"X-Content-Type-Options: nosniff\r\n" in head


def test_the_static_files_are_the_shipped_ones() -> None:
    files = StaticFiles()
    assert files.get("/") is files.get("/index.html") is not None
    for path in ("/app.js", "/app.css"):
        assert files.get(path) is not None
    assert files.get("/static.py") is None and files.get("/../http.py") is None


# -- the WebSocket transport -------------------------------------------------------------------


class FakeSocket:
    """A socket whose kernel takes `room` bytes (None: all) and whose input is a queue of chunks."""

    buffers_input = False

    def __init__(self) -> None:
        self.incoming: deque[bytes] = deque()
        self.wire = bytearray()
        self.room: int | None = None

    def fileno(self) -> int:
        return 99

    def recv(self, bufsize: int) -> bytes:
        if not self.incoming:
            raise BlockingIOError
        return self.incoming.popleft()

    def send(self, data: bytes | bytearray | memoryview) -> int:
        take = len(data) if self.room is None else min(self.room, len(data))
        if take == 0:
            raise BlockingIOError
        self.wire += bytes(data[:take])
        if self.room is not None:
            self.room -= take
        return take

    def pending(self) -> int:
        return 0

    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", 1)

    def close(self) -> None:
        pass


def pair(max_line: int = 100) -> tuple[WebSocketTransport, FakeSocket, WSConnection]:
    """A server transport after its upgrade, its fake socket, and the client's wsproto connection."""
    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="x", target="/ws")))
    assert isinstance(next(server.events()), Request)
    client.receive_data(server.send(AcceptConnection()))
    assert isinstance(next(client.events()), AcceptConnection)
    sock = FakeSocket()
    return WebSocketTransport(cast(PlainTransport, sock), server, max_line), sock, client


def client_texts(sock: FakeSocket, client: WSConnection) -> list[str]:
    client.receive_data(bytes(sock.wire))
    sock.wire.clear()
    return [event.data for event in client.events() if isinstance(event, TextMessage)]


def test_each_line_out_is_one_frame_and_a_partial_line_waits() -> None:
    transport, sock, client = pair()
    assert transport.send(b"200 Registration successful\nMSG #lobby bob hi\nMSG #lob") == 54
    assert client_texts(sock, client) == ["200 Registration successful", "MSG #lobby bob hi"]
    assert transport.send(b"by bob two\n") == 11
    assert client_texts(sock, client) == ["MSG #lobby bob two"]


LINE_TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\n\r"), max_size=40)


@settings(max_examples=200)
@given(
    st.lists(LINE_TEXT, min_size=1, max_size=20),
    st.lists(st.integers(0, 60), min_size=1, max_size=50),
    st.integers(1, 50),
)
def test_output_survives_any_partial_writes(lines: list[str], rooms: list[int], budget: int) -> None:
    """The connection's loop (send, keep the rest, send it again when writable) against a slow kernel."""
    transport, sock, client = pair()
    out = bytearray("".join(line + "\n" for line in lines).encode())
    turns = iter(rooms)
    while out:
        sock.room = next(turns, None)
        try:
            sent = transport.send(bytes(out[:budget]))  # bytes, as the hub delivers
        except BlockingIOError:
            continue
        del out[:sent]
    # The transport holds nothing unsent once the connection's queue is empty (else nothing would
    # make the server watch for writability and send it).
    assert not transport._wire
    assert client_texts(sock, client) == lines


def test_incoming_frames_become_lines_and_control_frames_are_handled() -> None:
    transport, sock, client = pair()
    sock.incoming.append(
        client.send(TextMessage("REGISTER alice CHAT/1.1"))
        + client.send(Ping(b"p"))
        + client.send(TextMessage("@alice: ", message_finished=False))
        + client.send(TextMessage("hi"))
    )
    assert transport.recv(10) == b"REGISTER a"
    assert transport.pending() > 0
    assert transport.recv(1000) == b"lice CHAT/1.1\n@alice: hi\n"
    client.receive_data(bytes(sock.wire))
    assert [type(event) for event in client.events()] == [Pong]
    with pytest.raises(BlockingIOError):
        transport.recv(1000)
    sock.incoming.append(client.send(CloseConnection(1000)))
    assert transport.recv(1000) == b""  # the peer closed: end of stream, and the close is answered
    client.receive_data(bytes(sock.wire))
    assert [event.code for event in client.events() if isinstance(event, CloseConnection)] == [1000]


def test_a_close_from_the_server_carries_1009_after_an_over_long_message() -> None:
    transport, sock, client = pair(max_line=10)
    sock.incoming.append(client.send(TextMessage("x" * 50)))
    assert transport.recv(1000) == b"x" * 11 + b"\n"  # the codec refuses a line one byte too long
    transport.shutdown_write()
    client.receive_data(bytes(sock.wire))
    assert [event.code for event in client.events() if isinstance(event, CloseConnection)] == [1009]


def test_once_closing_output_is_dropped_and_pings_are_not_answered() -> None:
    """Lines delivered in the turn the peer's close came are no error (wsproto would refuse them)."""
    transport, sock, client = pair()
    sock.incoming.append(client.send(CloseConnection(1000)))
    assert transport.recv(1000) == b""
    sock.wire.clear()
    assert transport.send(b"MSG #lobby bob late\n") == 20
    assert sock.wire == b""
    transport, sock, client = pair()
    transport.shutdown_write()  # our close first; the peer pings before its answer
    sock.incoming.append(client.send(Ping(b"p")))
    with pytest.raises(BlockingIOError):
        transport.recv(1000)
