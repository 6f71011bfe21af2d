"""The server's TLS listener, against the real server: handshakes in the loop, failures, SIGHUP reload.

Certificates are made for each test session by trustme; nothing secret is committed.
"""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.peer import DEADLINE_S, Peer
from support.processes import REPO_ROOT, STARTUP_DEADLINE_S, ServerFactory, ServerProcess, child_env
from support.tls import TLS_BANNER, CertFiles, make_certs, raw_connect, tls_peer, tls_port


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("certs"))


def tls_server(start_server: ServerFactory, certs: CertFiles, *args: str) -> tuple[ServerProcess, int]:
    server = start_server(*certs.server_args(), *args)
    return server, tls_port(server)


def run_server(*args: str) -> subprocess.CompletedProcess[str]:
    """server.py with `args`, expected to exit by itself (a refused command line)."""
    return subprocess.run(
        [sys.executable, "server.py", "--db", ":memory:", *args],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=STARTUP_DEADLINE_S,
        check=False,
    )


# -- starting ----------------------------------------------------------------------------------


def test_the_tls_port_is_announced_on_its_own_line_right_after_the_plain_one(
    start_server: ServerFactory, certs: CertFiles
) -> None:
    server, port = tls_server(start_server, certs)
    lines = server.stdout.lines
    plain = lines.index(f"Will wait for client connections at port {server.port}")
    assert lines[plain + 1] == f"{TLS_BANNER}{port}"
    assert port != server.port


def test_no_plain_serves_only_tls_and_prints_only_the_tls_line(tmp_path: Path, certs: CertFiles) -> None:
    proc = subprocess.Popen(
        [sys.executable, "server.py", "--db", ":memory:", "--no-plain", *certs.server_args()],
        cwd=REPO_ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith(TLS_BANNER), first
        peer = tls_peer(int(first.removeprefix(TLS_BANNER)), certs.client_context())
        peer.register("alice")
        peer.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=DEADLINE_S)
    assert proc.returncode == 0
    assert "Will wait for client connections" not in out
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [["--tls-cert", "x.pem"], ["--tls-key", "x.pem"], ["--tls-port", "7000"], ["--no-plain"]],
    ids=["cert-without-key", "key-without-cert", "port-without-both", "no-plain-without-both"],
)
def test_tls_flags_without_both_certificate_and_key_are_one_usage_error(args: list[str]) -> None:
    result = run_server(*args)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and ("--tls-cert" in errors[0] or "--tls-key" in errors[0]), result.stderr


def test_a_key_that_does_not_belong_to_the_certificate_is_one_sentence_and_status_2(
    tmp_path: Path, certs: CertFiles
) -> None:
    other = make_certs(tmp_path / "other")
    result = run_server("--tls-cert", str(certs.cert_file), "--tls-key", str(other.key_file))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"chatroom-server: TLS: cannot use certificate {certs.cert_file} with key {other.key_file}: "
        "the key does not belong to the certificate"
    ]


def test_a_missing_certificate_file_is_named(tmp_path: Path, certs: CertFiles) -> None:
    missing = tmp_path / "nope.pem"
    result = run_server("--tls-cert", str(missing), "--tls-key", str(certs.key_file))
    assert result.returncode == 2
    assert result.stderr.strip() == f"chatroom-server: TLS: cannot read {missing}: no such file"


def test_a_handshake_timeout_above_ten_seconds_is_refused() -> None:
    result = run_server("--tls-cert", "c", "--tls-key", "k", "--tls-handshake-timeout", "11")
    assert result.returncode == 2 and "at most 10" in result.stderr


# -- serving -------------------------------------------------------------------------------------


def test_a_tls_user_and_a_plain_user_chat_in_the_same_room(
    start_server: ServerFactory, certs: CertFiles
) -> None:
    server, port = tls_server(start_server, certs)
    alice = tls_peer(port, certs.client_context())
    alice.register("alice")
    bob = server.register("bob")
    alice.send_line("@alice: over TLS")
    assert bob.recv_line() == b"@alice: over TLS"
    bob.send_line("@bob: in the clear")
    assert alice.recv_line() == b"@bob: in the clear"
    alice.close()


def test_lines_split_into_single_bytes_across_tcp_segments_still_arrive_whole(
    start_server: ServerFactory, certs: CertFiles
) -> None:
    """Every TLS record, of the handshake and of the data, arrives one byte per TCP segment."""
    server, port = tls_server(start_server, certs)
    bob = server.register("bob")
    sock = raw_connect(port)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = certs.client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")

    def send_bytewise() -> None:
        for byte in outgoing.read():
            sock.send(bytes([byte]))

    def receive() -> None:
        chunk = sock.recv(65536)
        assert chunk, "server closed the connection"
        incoming.write(chunk)

    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            send_bytewise()
            receive()
    send_bytewise()
    tls.write(b"REGISTER alice CHAT/1.0\n")
    send_bytewise()
    reply = b""
    while b"\n" not in reply:
        try:
            reply += tls.read(4096)
        except ssl.SSLWantReadError:
            receive()
    assert reply == b"200 Registration successful\n"
    tls.write(b"@alice: " + b"x" * 3000 + b"\n")
    send_bytewise()
    assert bob.recv_line() == b"@alice: " + b"x" * 3000
    sock.close()


def test_a_tls_reader_that_falls_behind_gets_every_byte_in_order(
    start_server: ServerFactory, certs: CertFiles
) -> None:
    """Small socket buffers make the server's TLS writes stop half way (want-write) and continue
    later from a queue that grew meanwhile; the reader still gets every line, once, in order."""
    server, port = tls_server(start_server, certs)
    slow = tls_peer(port, certs.client_context(), rcvbuf=4096, maxseg=1000)
    slow.register("slow")
    sender = server.register("sender")
    lines = [f"@sender: {n:05d} {'y' * 900}".encode() for n in range(600)]  # ~550 KiB
    for n in range(0, len(lines), 50):
        sender.send(b"".join(line + b"\n" for line in lines[n : n + 50]))
    for line in lines:
        assert slow.recv_line(timeout=DEADLINE_S * 2) == line
    assert sender.has_nothing_to_read()


def test_a_plain_text_client_on_the_tls_port_is_closed_at_once_with_one_log_line(
    start_server: ServerFactory, certs: CertFiles
) -> None:
    server, port = tls_server(start_server, certs)
    mark = server.log_mark()
    plain = Peer.connect(port)
    plain.send_line("REGISTER alice CHAT/1.0")
    started = time.monotonic()
    plain.drain_until_closed(timeout=2.0)
    assert time.monotonic() - started < 2.0
    line = server.wait_for_log("TLS handshake failed", after=mark)
    assert "closed" in line
    assert not any("Traceback" in text for text in server.stdout.lines)


def test_a_tls_client_on_the_plain_port_is_refused_at_once(
    start_server: ServerFactory, certs: CertFiles
) -> None:
    server, _ = tls_server(start_server, certs, "--registration-timeout", "30")
    mark = server.log_mark()
    sock = raw_connect(server.port)
    started = time.monotonic()
    with pytest.raises(ssl.SSLError):
        certs.client_context().wrap_socket(sock, server_hostname="localhost")
    assert time.monotonic() - started < 2.0, "waited for the registration timeout"
    server.wait_for_log("a TLS handshake on the plain port", after=mark)
    sock.close()


def test_a_stalled_handshake_delays_no_one(start_server: ServerFactory, certs: CertFiles) -> None:
    _, port = tls_server(start_server, certs)
    stallers = [raw_connect(port) for _ in range(3)]
    half = raw_connect(port)
    half.send(b"\x16\x03\x01\x02\x00\x01")  # the start of a ClientHello, never finished
    started = time.monotonic()
    alice = tls_peer(port, certs.client_context())
    alice.register("alice")
    bob = tls_peer(port, certs.client_context())
    bob.register("bob")
    alice.send_line("@alice: hi")
    assert bob.recv_line() == b"@alice: hi"
    assert time.monotonic() - started < 2.0
    for sock in [*stallers, half]:
        sock.close()


def test_the_handshake_timeout_closes_a_staller_and_logs_it(
    start_server: ServerFactory, certs: CertFiles
) -> None:
    server, port = tls_server(start_server, certs, "--tls-handshake-timeout", "0.3")
    mark = server.log_mark()
    staller = Peer(raw_connect(port))
    staller.expect_closed(timeout=DEADLINE_S)
    server.wait_for_log("TLS handshake timeout", after=mark)


def test_the_registration_timeout_starts_after_the_handshake(
    start_server: ServerFactory, certs: CertFiles
) -> None:
    _, port = tls_server(start_server, certs, "--registration-timeout", "0.3")
    quiet = tls_peer(port, certs.client_context())
    assert quiet.recv_line() == b"408 Registration timeout"


def test_shutdown_says_disconnect_over_tls_then_closes_with_close_notify(
    start_server: ServerFactory, certs: CertFiles
) -> None:
    server, port = tls_server(start_server, certs)
    alice = tls_peer(port, certs.client_context(), ragged_eof_ok=False)
    alice.register("alice")
    server.proc.send_signal(signal.SIGINT)
    assert alice.recv_line() == b"DISCONNECT CHAT/1.0"
    assert alice.recv_until_closed() == b""  # close_notify: a bare TCP close would raise SSLEOFError
    alice.close()
    assert server.wait() == 0


# -- SIGHUP --------------------------------------------------------------------------------------


def replace_pair(target: CertFiles, source: CertFiles) -> None:
    target.cert_file.write_bytes(source.cert_file.read_bytes())
    target.key_file.write_bytes(source.key_file.read_bytes())


def server_cert_issuer(port: int) -> ssl.SSLContext:
    """A context that accepts any certificate (to look at which one the server sends)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def served_certificate(port: int) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as sock,
        server_cert_issuer(port).wrap_socket(sock) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_sighup_reloads_the_certificate_for_new_handshakes_and_keeps_everyone_connected(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    first = make_certs(tmp_path / "first")
    second = make_certs(tmp_path / "second")
    server, port = tls_server(start_server, first)
    alice = tls_peer(port, first.client_context())
    alice.register("alice")
    plain = server.register("bob")
    replace_pair(first, second)
    mark = server.log_mark()
    server.proc.send_signal(signal.SIGHUP)
    server.wait_for_log("TLS certificate and key reloaded", after=mark)
    # New handshakes see the new certificate: trusted by the second CA only.
    carol = tls_peer(port, second.client_context())
    carol.register("carol")
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_peer(port, ssl.create_default_context(cafile=str(first.ca_file)))
    # Alice, connected before, is still there and still talking.
    alice.send_line("@alice: still here")
    assert plain.recv_line() == b"@alice: still here"
    assert carol.recv_line() == b"@alice: still here"
    plain.send_line("@bob: welcome back")
    assert alice.recv_line() == b"@bob: welcome back"


def test_a_bad_pair_on_sighup_is_refused_with_one_log_line_and_the_old_one_kept(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    certs = make_certs(tmp_path / "certs")
    server, port = tls_server(start_server, certs)
    before = served_certificate(port)
    alice = tls_peer(port, certs.client_context())
    alice.register("alice")
    certs.key_file.write_text("not a key\n")
    mark = server.log_mark()
    server.proc.send_signal(signal.SIGHUP)
    line = server.wait_for_log("SIGHUP", after=mark)
    assert line.startswith("SIGHUP: kept the current TLS certificate: "), line
    assert served_certificate(port) == before
    bob = tls_peer(port, certs.client_context())
    bob.register("bob")
    alice.send_line("@alice: hi")
    assert bob.recv_line() == b"@alice: hi"


def test_sighup_without_tls_still_reloads_nothing(start_server: ServerFactory) -> None:
    server = start_server()
    mark = server.log_mark()
    server.proc.send_signal(signal.SIGHUP)
    assert "nothing to reload" in server.wait_for_log("SIGHUP", after=mark)


def test_a_handshake_under_way_does_not_hold_up_the_shutdown(
    start_server: ServerFactory, certs: CertFiles
) -> None:
    server, port = tls_server(start_server, certs, "--tls-handshake-timeout", "10")
    staller = Peer(raw_connect(port))
    alice = tls_peer(port, certs.client_context())
    alice.register("alice")
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 3.0
    staller.expect_closed()
    assert alice.recv_line() == b"DISCONNECT CHAT/1.0"


def test_flood_control_refuses_a_connection_flood_before_its_handshake(
    start_server: ServerFactory, certs: CertFiles
) -> None:
    """Past its address's connection rate a TLS connection is closed unencrypted, before the costly part."""
    server, port = tls_server(start_server, certs, "--flood-exempt", "none", "--flood-connects", "0.01/2")
    context = certs.client_context()
    first, second = tls_peer(port, context), tls_peer(port, context)
    with pytest.raises((ssl.SSLError, OSError)):
        tls_peer(port, context).close()
    server.wait_for_log("Too many new connections from 127.0.0.1")
    first.close()
    second.close()
