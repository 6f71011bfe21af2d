"""chatroom-bench --websocket: the load generator's own framer, and fanout over WebSocket next to TCP."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from support.bench_steps import delivered_exactly
from support.processes import REPO_ROOT, child_env
from test_bench import RUN_TIMEOUT_S, run_bench
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Request, TextMessage

from chatroom.bench.websocket import WebSocketSocket, frame, upgrade_request, upgrade_response

# -- the framer, checked against wsproto as the server ----------------------------------------


def upgraded_pair() -> tuple[WebSocketSocket, socket.socket, WSConnection]:
    """A client (ours) and a server (wsproto) over a socket pair, after the opening handshake."""
    ours, theirs = socket.socketpair()
    server = WSConnection(ConnectionType.SERVER)
    request, accept = upgrade_request("127.0.0.1", 1)
    server.receive_data(request)
    (event,) = server.events()
    assert isinstance(event, Request) and event.target == "/ws"
    response = server.send(AcceptConnection())
    verdict, rest = upgrade_response(
        response + server.send(TextMessage("200 Registration successful")), accept
    )
    assert verdict == ""
    return WebSocketSocket(ours, rest), theirs, server


def server_messages(theirs: socket.socket, server: WSConnection, wanted: int) -> list[str]:
    """The text messages wsproto reads (it hands a long one over in parts)."""
    messages: list[str] = []
    part = ""
    while len(messages) < wanted:
        server.receive_data(theirs.recv(65536))
        for event in server.events():
            assert isinstance(event, TextMessage)
            part += event.data
            if event.message_finished:
                messages.append(part)
                part = ""
    return messages


def test_each_line_becomes_one_masked_text_frame_the_server_can_read() -> None:
    client, theirs, server = upgraded_pair()
    lines = [b"REGISTER alice CHAT/1.0", b"x" * 125, b"y" * 126, b"z" * 70_000, b"caf\xc3\xa9"]
    data = b"".join(line + b"\n" for line in lines) + b"half a line"
    taken = 0
    while taken < len(data) - len(b"half a line"):
        taken += client.send(data[taken:])
    assert taken == len(data) - len(b"half a line")  # an unfinished line waits for its LF
    assert [message.encode() for message in server_messages(theirs, server, len(lines))] == lines


def test_each_server_frame_becomes_one_line_and_a_close_frame_ends_the_stream() -> None:
    client, theirs, server = upgraded_pair()
    theirs.sendall(server.send(TextMessage("MSG #lobby alice hi")) + server.send(TextMessage("w" * 300)))
    theirs.sendall(server.send(BytesMessage(b"raw")) + server.send(CloseConnection(code=1000)))
    received = b""
    while True:
        chunk = client.recv(65536)
        if not chunk:
            break
        received += chunk
    assert received == b"200 Registration successful\nMSG #lobby alice hi\n" + b"w" * 300 + b"\nraw\n"


def test_recv_into_never_returns_more_than_the_view_holds_and_keeps_the_rest() -> None:
    client, theirs, server = upgraded_pair()
    theirs.sendall(b"".join(server.send(TextMessage(f"line {i}")) for i in range(100)))
    theirs.close()
    view = bytearray(7)
    received = b""
    while n := client.recv_into(view):
        assert n <= 7
        received += view[:n]
    assert received == b"200 Registration successful\n" + b"".join(f"line {i}\n".encode() for i in range(100))


class Trickle:
    """A socket whose kernel takes at most `room` bytes per send()."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.wire = b""

    def send(self, data: bytes | bytearray) -> int:
        taken = bytes(data[: self.room])
        if not taken:
            raise BlockingIOError
        self.wire += taken
        return len(taken)


def test_a_frame_the_kernel_took_in_part_leaves_its_lines_lf_in_the_callers_queue() -> None:
    kernel = Trickle(5)
    client = WebSocketSocket(kernel)  # type: ignore[arg-type]
    out = bytearray(b"hello\nworld\n")
    sent = client.send(out)
    assert out[sent - 1] != 10  # the load generator's "half a line is in the kernel"
    del out[:sent]
    assert out == b"\n" + b"world\n"
    while out:
        del out[: client.send(out)]
    server = WSConnection(ConnectionType.SERVER)
    request, _ = upgrade_request("127.0.0.1", 1)
    server.receive_data(request)
    list(server.events())
    server.send(AcceptConnection())
    server.receive_data(kernel.wire)
    assert [e.data for e in server.events()] == ["hello", "world"]  # type: ignore[attr-defined]


def test_a_refused_upgrade_says_what_the_server_answered() -> None:
    request, accept = upgrade_request("localhost", 8080)
    assert request.startswith(b"GET /ws HTTP/1.1\r\n") and request.endswith(b"\r\n\r\n")
    assert upgrade_response(b"HTTP/1.1 101 Switching", accept) == (None, b"")
    assert (
        upgrade_response(b"HTTP/1.1 404 Not Found\r\n\r\n", accept)[0]
        == "upgrade refused: 'HTTP/1.1 404 Not Found'"
    )
    wrong = b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: nope\r\n\r\n"
    assert upgrade_response(wrong, accept)[0] == "upgrade: wrong Sec-WebSocket-Accept"
    assert frame(b"", b"\0\0\0\0") == b"\x81\x80\0\0\0\0"


# -- the real thing ---------------------------------------------------------------------------


def test_a_tiny_websocket_run_delivers_everything_next_to_plain_tcp(tmp_path: Path) -> None:
    done, data = run_bench(
        "fanout",
        "--websocket",
        *("--clients", "4", "--senders", "2", "--rates", "50,100", "--step-seconds", "0.5"),
        *("--drain-seconds", "2", "--keep-going"),
        tmp_path=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert data["clean"] is True
    plain, websocket = data["fanout"]
    assert (plain["transport"], websocket["transport"]) == ("tcp", "websocket")
    assert plain["server"]["address"].startswith("chat://127.0.0.1:")
    assert websocket["server"]["address"].startswith("ws://127.0.0.1:") and websocket["server"][
        "address"
    ].endswith("/ws")
    for fanout in (plain, websocket):
        assert fanout["registered"] == 4 and fanout["server"]["exit_code"] == 0
        assert [step["rate_msgs"] for step in fanout["steps"]] == [50, 100]
        for step in fanout["steps"]:
            assert step["expected"] == step["messages"] * 3 and delivered_exactly(step), step["problems"]
            assert step["lost"] == step["late"] == step["foreign_lines"] == step["stale_lines"] == 0
            assert step["server_us_per_delivery"] is not None
    assert "### fanout over WebSocket: 4 clients" in done.stdout
    assert "### WebSocket next to plain TCP" in done.stdout


def test_websocket_with_a_server_given_by_address_is_one_sentence() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chatroom.bench", "fanout", "chat://127.0.0.1:5000", "--websocket"],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("chatroom-bench: --websocket measures a server this benchmark starts")
    assert "Traceback" not in done.stderr


def test_without_wsproto_websocket_is_one_sentence_naming_the_extra() -> None:
    code = (
        "import sys; sys.modules['wsproto'] = None\n"
        "from chatroom.bench.cli import main\n"
        "sys.exit(main(['fanout', '--websocket', '--clients', '2', '--senders', '1', '--rates', '10',"
        " '--step-seconds', '0.2']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "chatroom-bench: --websocket starts the server's web gateway, which needs wsproto, which is not "
        "installed: pip install 'chatroom[web]'"
    )
