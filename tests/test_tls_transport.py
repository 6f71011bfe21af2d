"""The TLS transports keep the transport contract: want-read / want-write read as BlockingIOError.

Both ends live in this thread on a socket pair, or the client is an
ssl.MemoryBIO object, so each record's bytes can be held back or let through.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.tls import CertFiles, make_certs

from chatroom.client.tls import describe_tls_error
from chatroom.net.tls import CertificateError, TLSTransport, load_server_context
from chatroom.protocol.address import ChatAddress
from chatroom.tlssocket import NonBlockingTLSSocket as TLSSocket


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("certs"))


def handshake_both(*ends: ssl.SSLSocket) -> None:
    """Drive non-blocking handshakes on both ends of a pair until both are done."""
    done = [False] * len(ends)
    for _ in range(100):
        for n, end in enumerate(ends):
            if not done[n]:
                try:
                    end.do_handshake()
                    done[n] = True
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
        if all(done):
            return
    raise AssertionError("handshake did not finish")


@pytest.fixture
def pair(certs: CertFiles) -> Iterator[tuple[TLSTransport, TLSSocket]]:
    """(server transport, client socket), handshake done, both non-blocking, small kernel buffers."""
    a, b = socket.socketpair()
    for sock in (a, b):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
    server = load_server_context(str(certs.cert_file), str(certs.key_file)).wrap_socket(
        a, server_side=True, do_handshake_on_connect=False
    )
    client_context = certs.client_context()
    client_context.sslsocket_class = TLSSocket
    client = client_context.wrap_socket(b, server_hostname="localhost", do_handshake_on_connect=False)
    assert isinstance(server, TLSTransport) and isinstance(client, TLSSocket)
    handshake_both(server, client)
    yield server, client
    server.close()
    client.close()


def test_recv_with_no_record_raises_blocking_io_error_not_ssl_want_read(
    pair: tuple[TLSTransport, TLSSocket],
) -> None:
    server, client = pair
    with pytest.raises(BlockingIOError) as caught:
        server.recv(1024)
    assert not isinstance(caught.value, ssl.SSLError)
    with pytest.raises(BlockingIOError):
        client.recv(1024)


def test_send_into_a_full_pipe_raises_blocking_io_error_and_a_grown_moved_buffer_continues(
    pair: tuple[TLSTransport, TLSSocket],
) -> None:
    """After want-write the queue grows (and moves in memory); the retry with it takes it all, in order."""
    server, client = pair
    queue = bytearray(b"".join(b"%06d\n" % n for n in range(20_000)))
    expected = bytes(queue)
    received = bytearray()
    blocked = 0
    extra = 20_000
    while queue:
        try:
            sent = server.send(queue)
        except BlockingIOError as error:
            assert not isinstance(error, ssl.SSLError)
            blocked += 1
            if extra < 40_000:  # grow the queue while a write is half done: the buffer moves
                more = b"".join(b"%06d\n" % n for n in range(extra, extra + 1000))
                queue += more
                expected += more
                extra += 1000
            while True:
                try:
                    received += client.recv(65536)
                except BlockingIOError:
                    break
            continue
        del queue[:sent]
    while len(received) < len(expected):
        with contextlib.suppress(BlockingIOError):
            received += client.recv(65536)
    assert blocked > 0, "the kernel took everything: the test did not reach want-write"
    assert bytes(received) == expected


def test_pending_reports_decrypted_bytes_that_select_cannot_see(pair: tuple[TLSTransport, TLSSocket]) -> None:
    server, client = pair
    client.send(b"x" * 1000)
    for _ in range(100):
        try:
            first = server.recv(10)
            break
        except BlockingIOError:
            continue
    else:
        raise AssertionError("nothing arrived")
    assert first == b"x" * 10
    assert server.pending() == 990
    assert server.recv(4096) == b"x" * 990
    assert server.pending() == 0


def test_a_record_split_across_reads_is_blocking_io_error_until_it_is_whole(certs: CertFiles) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    server = load_server_context(str(certs.cert_file), str(certs.key_file)).wrap_socket(
        a, server_side=True, do_handshake_on_connect=False
    )
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = certs.client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    for _ in range(20):
        try:
            client.do_handshake()
            break
        except ssl.SSLWantReadError:
            b.sendall(outgoing.read())
            with contextlib.suppress(ssl.SSLWantReadError):
                server.do_handshake()
            b.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                incoming.write(b.recv(65536))
            b.setblocking(True)
    b.sendall(outgoing.read())
    client.write(b"REGISTER alice CHAT/1.0\n")
    record = outgoing.read()
    b.sendall(record[:7])
    assert isinstance(server, TLSTransport)
    with pytest.raises(BlockingIOError):
        server.recv(4096)
    b.sendall(record[7:])
    data = b""
    for _ in range(100):
        try:
            data += server.recv(4096)
            break
        except BlockingIOError:
            continue
    assert data == b"REGISTER alice CHAT/1.0\n"
    server.close()
    b.close()


def test_shutdown_write_sends_close_notify_without_waiting_for_the_peer(
    pair: tuple[TLSTransport, TLSSocket],
) -> None:
    server, client = pair
    server.send(b"bye\n")
    server.shutdown_write()  # must return at once: the peer has not answered
    got = b""
    for _ in range(100):
        try:
            chunk = client.recv(1024)
        except BlockingIOError:
            continue
        if not chunk:
            break
        got += chunk
    assert got == b"bye\n"  # then b"": the clean end of the TLS stream


def test_an_encrypted_key_is_refused_without_asking_for_a_password(tmp_path: Path, certs: CertFiles) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(certs.key_file.read_bytes(), password=None)
    locked = tmp_path / "locked.pem"
    locked.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(CertificateError, match="is encrypted"):
        load_server_context(str(certs.cert_file), str(locked))


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), "did not answer in TLS"),
        (ConnectionResetError(104, "Connection reset by peer"), "connection reset by peer"),
        (TimeoutError(), "did not finish in time"),
    ],
)
def test_tls_failures_are_one_sentence(error: BaseException, words: str) -> None:
    sentence = describe_tls_error(ChatAddress("example.org", 6697, tls=True), error)
    assert sentence.startswith("Cannot connect securely to example.org:6697: ")
    assert words in sentence and sentence.endswith(".") and "\n" not in sentence
