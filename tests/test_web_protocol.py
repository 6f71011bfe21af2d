"""The web gateway over raw sockets against the real server: HTTP, the upgrade, frames, limits, timeouts.

The WebSocket side is wsproto's client (an implementation that is not the
server's framing code) plus frames written by hand where a test needs a
frame no library would send.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.peer import DEADLINE_S
from support.processes import REPO_ROOT, ServerFactory, ServerProcess, child_env
from support.tls import make_certs
from support.web import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    TEXT,
    WsPeer,
    frame,
    get,
    http,
    open_socket,
    read_until_closed,
    web_port,
)
from wsproto.events import CloseConnection, Ping, Pong

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
STATIC = REPO_ROOT / "chatroom" / "web" / "static"


@pytest.fixture
def web(start_server: ServerFactory) -> tuple[ServerProcess, int]:
    server = start_server("--web-port", "0")
    return server, web_port(server)


# -- HTTP --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name", "kind"),
    [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/app.js", "app.js", "text/javascript; charset=utf-8"),
        ("/app.css", "app.css", "text/css; charset=utf-8"),
    ],
)
def test_get_and_head_serve_each_file_with_its_headers(
    web: tuple[ServerProcess, int], path: str, name: str, kind: str
) -> None:
    _, port = web
    body = (STATIC / name).read_bytes()
    for method in ("GET", "HEAD"):
        reply = get(port, path, method)
        assert reply.status == 200
        assert reply.headers["content-type"] == kind
        assert reply.headers["content-length"] == str(len(body))
        assert reply.headers["cache-control"] == "no-cache"
        assert reply.headers["content-security-policy"] == CSP
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["referrer-policy"] == "no-referrer"
        assert reply.body == (body if method == "GET" else b"")


def test_a_client_that_half_closes_after_its_request_still_gets_the_response(
    web: tuple[ServerProcess, int],
) -> None:
    _, port = web
    with open_socket(port) as sock:
        sock.sendall(b"GET /app.css HTTP/1.0\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)  # as `nc -N` does
        reply = read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert reply.endswith((STATIC / "app.css").read_bytes())


def read_one_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """(head, body) of one response on a kept-alive connection (its Content-Length says where it ends)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a whole head: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed before a whole body"
        body += chunk
    assert len(body) == length, "more than one response's bytes: the server answered before it was asked"
    return head, body


def test_keep_alive_serves_several_requests_on_one_connection(start_server: ServerFactory) -> None:
    from chatroom.limits import MAX_HTTP_REQUESTS

    server = start_server("--web-port", "0", "--web-idle-timeout", "0.5")
    port = web_port(server)
    css = (STATIC / "app.css").read_bytes()
    with open_socket(port) as sock:
        for path in ("/", "/app.js", "/nope", "/app.css"):
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head, body = read_one_response(sock)
            assert b"Connection: keep-alive" in head
        assert body == css
        # Pipelined: two requests in one write get two responses, in order; then the idle timeout.
        sock.sendall(b"HEAD /app.css HTTP/1.1\r\nHost: x\r\n\r\nGET /app.js HTTP/1.1\r\nHost: x\r\n\r\n")
        rest = read_until_closed(sock)
        assert rest.count(b"HTTP/1.1 200 OK") == 2
        assert rest.index(b"text/css") < rest.index(b"text/javascript")
        assert rest.endswith((STATIC / "app.js").read_bytes())
    with open_socket(port) as sock:  # at most MAX_HTTP_REQUESTS on one connection, however sent
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" * (MAX_HTTP_REQUESTS + 50))
        assert read_until_closed(sock).count(b"HTTP/1.1 200 OK") == MAX_HTTP_REQUESTS
    assert "Unexpected error" not in server.stdout.text
    with open_socket(port) as sock:  # HTTP/1.0 closes unless asked, as does Connection: close
        sock.sendall(b"GET /app.css HTTP/1.0\r\n\r\n")
        assert read_until_closed(sock).endswith(css)
    with open_socket(port) as sock:  # an error closes it
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"Connection: close" in read_until_closed(sock)


def test_unknown_paths_get_404_and_other_methods_405(web: tuple[ServerProcess, int]) -> None:
    _, port = web
    assert get(port, "/nope").status == 404
    assert get(port, "/../server.py").status == 404
    assert get(port, "/static/app.js").status == 404
    refused = get(port, "/", "POST")
    assert refused.status == 405
    assert refused.headers["allow"] == "GET, HEAD"
    assert refused.headers["content-security-policy"] == CSP
    assert get(port, "/ws", "POST").status == 405
    favicon = get(port, "/favicon.ico")  # unless the page ships one: nothing, not an error
    assert favicon.status == 204 and favicon.body == b"" and "content-length" not in favicon.headers


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /\r\n\r\n",  # HTTP/0.9
        b"GET / HTTP/1.1\r\n\r\n",  # no Host
        b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
        b"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",  # absolute form: we are no proxy
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # binary junk
    ],
)
def test_malformed_requests_get_400_and_a_close(web: tuple[ServerProcess, int], raw: bytes) -> None:
    server, port = web
    reply = http(port, raw)
    assert reply.status == 400
    assert reply.headers["connection"] == "close"
    assert "Traceback" not in server.stderr.text


def test_too_many_headers_and_too_large_heads_get_400(web: tuple[ServerProcess, int]) -> None:
    from chatroom.limits import MAX_HTTP_HEAD_BYTES, MAX_HTTP_HEADERS

    _, port = web
    many = "".join(f"X-{i}: {i}\r\n" for i in range(MAX_HTTP_HEADERS + 1))
    assert http(port, f"GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n".encode()).status == 400
    just_enough = "".join(f"X-{i}: {i}\r\n" for i in range(MAX_HTTP_HEADERS - 2))  # + Host, Connection
    raw = f"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{just_enough}\r\n"
    assert http(port, raw.encode()).status == 200
    huge = "".join(f"X-{i}: {'a' * 1000}\r\n" for i in range(MAX_HTTP_HEAD_BYTES // 1000 + 1))
    assert http(port, f"GET / HTTP/1.1\r\nHost: x\r\n{huge}\r\n".encode()).status == 400
    # A head that never ends is refused as soon as it passes the bound, not when it ends.
    with open_socket(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * (MAX_HTTP_HEAD_BYTES + 10))
        assert read_until_closed(sock).startswith(b"HTTP/1.1 400 ")


def test_plain_http_to_the_websocket_path_gets_426(web: tuple[ServerProcess, int]) -> None:
    _, port = web
    reply = get(port, "/ws")
    assert reply.status == 426
    assert reply.headers["upgrade"] == "websocket"
    version = http(
        port,
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    )
    assert version.status == 426
    assert version.headers["sec-websocket-version"] == "13"
    no_key = http(
        port,
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n",
    )
    assert no_key.status == 400


# -- the upgrade and a chat ---------------------------------------------------------------------


def test_a_browser_and_a_terminal_user_chat_in_the_same_room(web: tuple[ServerProcess, int]) -> None:
    server, port = web
    bob = server.register("bob")
    alice = WsPeer.connect(port)
    alice.register("alice")
    assert alice.recv_until("HISTORY-END #lobby") == "HISTORY-END #lobby 0"
    alice.send_text("@alice: hello from a browser")
    assert bob.recv_line() == b"@alice: hello from a browser"
    bob.send_line("@bob: hi alice")
    assert alice.recv_until("MSG ") == "MSG #lobby bob hi alice"
    alice.send_text("@alice: !list")  # a command's reply lines: one frame each
    first = alice.recv_text()
    assert first.startswith("2") and "\n" not in first
    server.wait_for_log("Accepted connection from client address")


def test_a_bare_websocket_tool_may_speak_chat_1_0(web: tuple[ServerProcess, int]) -> None:
    server, port = web
    bob = server.register("bob")
    tool = WsPeer.connect(port, origin=None)
    tool.register("tool", "CHAT/1.0")
    bob.send_line("@bob: hello tool")
    assert tool.recv_until("@bob") == "@bob: hello tool"


def test_frames_sent_with_the_upgrade_request_are_read(web: tuple[ServerProcess, int]) -> None:
    _, port = web
    early = frame(TEXT, b"REGISTER early CHAT/1.1")
    peer = WsPeer.connect(port, early=early)
    assert peer.recv_text().startswith("200 ")


def test_a_fragmented_message_is_one_line(web: tuple[ServerProcess, int]) -> None:
    server, port = web
    bob = server.register("bob")
    alice = WsPeer.connect(port)
    alice.register("alice")
    alice.send_raw(frame(TEXT, b"@alice: one ", fin=False))
    alice.send_raw(frame(PING, b"in between"))  # control frames may come between fragments
    alice.send_raw(frame(CONTINUATION, b"two ", fin=False) + frame(CONTINUATION, b"three"))
    assert bob.recv_line() == b"@alice: one two three"
    while not isinstance(event := alice.next_event(), Pong):
        pass
    assert event.payload == b"in between"


def test_a_ping_gets_its_pong(web: tuple[ServerProcess, int]) -> None:
    _, port = web
    peer = WsPeer.connect(port)
    peer.send_event(Ping(b"are you there"))
    event = peer.next_event()
    assert isinstance(event, Pong) and event.payload == b"are you there"


def test_the_close_handshake(web: tuple[ServerProcess, int]) -> None:
    server, port = web
    bob = server.register("bob")
    alice = WsPeer.connect(port)
    alice.register("alice")
    mark = server.log_mark()
    alice.send_event(CloseConnection(1000))
    while True:
        event = alice.next_event()
        if isinstance(event, CloseConnection):
            break
    assert event.code == 1000
    alice.expect_tcp_closed()
    server.wait_for_log("Disconnecting user alice", after=mark)
    bob.send_line("@bob: still here")  # the terminal user goes on
    bob.send_line("@bob: !list")
    assert bob.recv_line().startswith(b"2")


def test_a_last_line_and_a_close_in_one_write_are_both_served(web: tuple[ServerProcess, int]) -> None:
    server, port = web
    bob = server.register("bob")
    alice = WsPeer.connect(port)
    alice.register("alice")
    mark = server.log_mark()
    alice.send_raw(frame(TEXT, b"@alice: last words") + frame(CLOSE, b"\x03\xe8"))
    assert bob.recv_line() == b"@alice: last words"
    # The end of stream held behind the line is noticed without more bytes from the peer.
    server.wait_for_log("Disconnecting user alice", after=mark, timeout=1.5)
    assert alice.expect_close().code == 1000


def test_the_server_closes_with_a_close_frame_on_a_timeout(start_server: ServerFactory) -> None:
    server = start_server("--web-port", "0", "--registration-timeout", "0.3")
    peer = WsPeer.connect(web_port(server))
    assert peer.recv_text() == "408 Registration timeout"
    assert peer.expect_close().code == 1000
    peer.expect_tcp_closed()


# -- frames that are refused ----------------------------------------------------------------------


def test_an_unmasked_frame_is_closed_with_1002(web: tuple[ServerProcess, int]) -> None:
    server, port = web
    peer = WsPeer.connect(port)
    peer.send_raw(frame(TEXT, b"REGISTER alice CHAT/1.1", masked=False))
    assert peer.expect_close().code == 1002
    peer.expect_tcp_closed()
    assert "Traceback" not in server.stderr.text


def test_an_oversize_message_is_closed_with_1009_and_logged_like_413(start_server: ServerFactory) -> None:
    server = start_server("--web-port", "0", "--max-line", "100")
    alice = WsPeer.connect(web_port(server))
    alice.register("alice")
    alice.send_text("@alice: " + "x" * 200)
    assert alice.recv_until("413") == "413 Line too long"
    assert alice.expect_close().code == 1009
    server.wait_for_log(lambda line: "line longer than 100 bytes" in line and "user alice" in line)
    # Fragments count together: each is small, the message is not.
    bob = WsPeer.connect(web_port(server))
    bob.register("bob")
    bob.send_raw(b"".join(frame(TEXT if i == 0 else CONTINUATION, b"y" * 30, fin=False) for i in range(5)))
    assert bob.recv_until("413") == "413 Line too long"
    assert bob.expect_close().code == 1009


def test_a_message_of_exactly_the_limit_is_fine(start_server: ServerFactory) -> None:
    server = start_server("--web-port", "0", "--max-line", "100")
    bob = server.register("bob")
    alice = WsPeer.connect(web_port(server))
    alice.register("alice")
    line = "@alice: " + "x" * 92
    alice.send_text(line)
    assert bob.recv_line() == line.encode()


@pytest.mark.parametrize("text", ["@alice: one\n@alice: two", "@alice: one\r", "\n"])
def test_a_frame_holding_a_line_break_is_closed_with_1007(web: tuple[ServerProcess, int], text: str) -> None:
    server, port = web
    carol = WsPeer.connect(port)
    carol.register("carol")
    carol.recv_until("HISTORY-END")
    alice = WsPeer.connect(port)
    alice.register("alice")
    alice.send_text(text)
    assert alice.expect_close().code == 1007
    seen = []
    while not (line := carol.recv_text()).startswith("LEFT"):
        seen.append(line)
    assert line == "LEFT #lobby alice"
    assert not [line for line in seen if line.startswith("MSG")]  # never split into lines
    server.wait_for_log("text frame holding a line break")


def test_a_binary_frame_is_closed_with_1003(web: tuple[ServerProcess, int]) -> None:
    _, port = web
    peer = WsPeer.connect(port)
    peer.send_raw(frame(BINARY, b"REGISTER alice CHAT/1.1"))
    assert peer.expect_close().code == 1003


def test_invalid_utf8_is_closed_with_1007(web: tuple[ServerProcess, int]) -> None:
    _, port = web
    peer = WsPeer.connect(port)
    peer.send_raw(frame(TEXT, b"REGISTER \xff CHAT/1.1"))
    assert peer.expect_close().code == 1007


# -- Origin -------------------------------------------------------------------------------------


def upgrade_with(port: int, origin: str | None) -> int:
    """The status of an upgrade request with `origin` (101 on success)."""
    extra = f"Origin: {origin}\r\n" if origin is not None else ""
    raw = (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    with open_socket(port) as sock:
        sock.sendall(raw.encode())
        sock.settimeout(DEADLINE_S)
        head = sock.recv(4096)
    return int(head.split()[1])


def test_a_bad_origin_gets_403_and_a_missing_one_is_allowed(web: tuple[ServerProcess, int]) -> None:
    server, port = web
    assert upgrade_with(port, f"http://127.0.0.1:{port}") == 101
    assert upgrade_with(port, "https://evil.example") == 403
    assert upgrade_with(port, f"https://127.0.0.1:{port}") == 403  # not the scheme it was served with
    assert upgrade_with(port, "null") == 403
    assert upgrade_with(port, None) == 101
    server.wait_for_log("Origin 'https://evil.example' is not allowed")


def test_web_origin_is_an_allow_list(start_server: ServerFactory) -> None:
    server = start_server("--web-port", "0", "--web-origin", "https://chat.example.org,http://other.example")
    port = web_port(server)
    assert upgrade_with(port, "https://chat.example.org") == 101
    assert upgrade_with(port, "http://other.example") == 101
    assert upgrade_with(port, f"http://127.0.0.1:{port}") == 403


# -- timeouts and what counts as a user -----------------------------------------------------------


def test_a_request_that_never_ends_is_closed_by_the_slow_request_timeout(start_server: ServerFactory) -> None:
    server = start_server("--web-port", "0", "--web-request-timeout", "0.5", "--web-idle-timeout", "30")
    port = web_port(server)
    with open_socket(port) as sock:
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        for _ in range(3):  # dribbling headers does not extend it
            time.sleep(0.1)
            sock.sendall(b"X-Slow: 1\r\n")
        assert read_until_closed(sock) == b""
        assert time.monotonic() - started < 5
    server.wait_for_log("not complete in time")


def test_an_idle_connection_is_closed_and_never_counted_as_a_user(start_server: ServerFactory) -> None:
    server = start_server(
        "--web-port", "0", "--web-idle-timeout", "0.5", "--max-connections", "1", "--flood-exempt", "none"
    )
    port = web_port(server)
    mark = server.log_mark()
    with open_socket(port) as idle:
        # While it is open, the one connection --max-connections allows is still free for a user.
        bob = server.register("bob")
        started = time.monotonic()
        assert read_until_closed(idle) == b""
        assert 0.3 < time.monotonic() - started < 5
    assert sum("Accepted connection" in line for line in server.stdout.lines[mark:]) == 1
    bob.send_line("@bob: !list")
    assert bob.recv_line().startswith(b"2")


# -- TLS ----------------------------------------------------------------------------------------


def test_with_a_certificate_the_web_port_serves_https_and_wss(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    certs = make_certs(tmp_path)
    server = start_server("--web-port", "0", *certs.server_args())
    port = web_port(server)
    context = certs.client_context()
    page = get(port, "/", context=context)
    assert page.status == 200 and page.body == (STATIC / "index.html").read_bytes()
    alice = WsPeer.connect(port, context=context)  # Origin https://127.0.0.1:PORT
    alice.register("alice")
    bob = server.register("bob")
    assert alice.recv_until("JOINED #lobby bob") == "JOINED #lobby bob"
    bob.send_line("@bob: over wss")
    assert alice.recv_until("MSG") == "MSG #lobby bob over wss"
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as plain:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP to the TLS port: closed
        assert not read_until_closed(plain).startswith(b"HTTP/1.1 200")


# -- the command line -----------------------------------------------------------------------------


def test_without_wsproto_the_flag_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['wsproto'] = None; "  # an import of wsproto now fails
        "from chatroom.server.cli import main; sys.exit(main(['--web-port', '0', '--db', ':memory:']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=child_env(), capture_output=True, timeout=30
    )
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.decode().splitlines() == [
        "chatroom-server: --web-port needs the wsproto library: pip install 'chatroom[web]'"
    ]


def test_the_web_line_comes_after_the_port_lines(start_server: ServerFactory, tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    server = start_server("--web-port", "0", *certs.server_args())
    web_port(server)
    lines = server.stdout.lines
    assert lines[0].startswith("Will wait for client connections at port ")
    assert lines[1].startswith("Will wait for TLS client connections at port ")
    assert lines[2].startswith("Will wait for web browsers at port ")


def test_a_shutdown_reaches_a_browser_as_a_line_and_a_close(web: tuple[ServerProcess, int]) -> None:
    server, port = web
    alice = WsPeer.connect(port)
    alice.register("alice")
    server.proc.send_signal(signal.SIGINT)
    assert alice.recv_until("DISCONNECT") == "DISCONNECT CHAT/1.1"
    assert alice.expect_close().code == 1000
    assert server.wait() == 0


# -- the same limits as every connection ---------------------------------------------------------


def test_flood_control_meters_a_browser_like_any_connection(start_server: ServerFactory) -> None:
    server = start_server("--web-port", "0", "--flood-exempt", "none", "--flood-lines", "20/5")
    carol = server.register("carol")
    alice = WsPeer.connect(web_port(server))
    alice.register("alice")
    started = time.monotonic()
    alice.send_raw(b"".join(frame(TEXT, f"@alice: line {n}".encode()) for n in range(30)))
    received = [carol.recv_line() for _ in range(30)]
    assert received == [f"@alice: line {n}".encode() for n in range(30)]  # delayed, not lost
    assert time.monotonic() - started >= 0.8
    assert alice.recv_until("429").startswith("429 Slow down")
    server.wait_for_log("Throttling user alice")


def test_the_per_address_limit_counts_browsers(start_server: ServerFactory) -> None:
    server = start_server("--web-port", "0", "--flood-exempt", "none", "--max-per-address", "1")
    port = web_port(server)
    first = WsPeer.connect(port)
    first.register("first")
    second = WsPeer.connect(port)  # the upgrade is fine; as a chat connection it is one too many
    assert second.recv_text() == "429 Too many connections"
    assert second.expect_close().code == 1000
    server.wait_for_log("Too many connections from 127.0.0.1")
    # Page loads are no chat connections: they do not count.
    assert get(port, "/").status == 200


def test_web_flags_need_web_port_and_are_in_help(start_server: ServerFactory) -> None:
    done = subprocess.run(
        [sys.executable, "server.py", "--web-origin", "https://a.example"],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert b"--web-origin needs --web-port PORT" in done.stderr
    assert b"Traceback" not in done.stderr
    shown = subprocess.run(
        [sys.executable, "server.py", "--help"],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        timeout=30,
    ).stdout.decode()
    for flag in ("--web-port", "--web-origin", "--web-idle-timeout", "--web-request-timeout"):
        assert flag in shown


def test_a_browser_that_does_not_read_is_cut_off_at_the_output_cap(web: tuple[ServerProcess, int]) -> None:
    server, port = web
    alice = WsPeer.connect(port, maxseg=1000)
    alice.register("alice", "CHAT/1.0")
    bob = server.register("bob")
    mark = server.log_mark()
    line = "@bob: " + "x" * 1000
    for _ in range(1500):  # 1.5 MB for alice, who reads none of it
        bob.send_line(line)
        if "Send queue full" in server.stdout.text:
            break
    server.wait_for_log("Send queue full for user alice", after=mark)
    server.wait_for_log("Disconnecting user alice", after=mark)
    bob.send_line("@bob: !list")
    while not (reply := bob.recv_line()).startswith(b"213 "):
        pass
    assert reply.startswith(b"213 1 member"), reply
