"""The TLS acceptor in a loop with a hand-moved clock: handshakes driven by readiness, one timer for all.

In-process: a real listener and real sockets on loopback, the loop turned by
the test, so time moves only when the test says.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator

import pytest
from support.tls import CertFiles, make_certs

from chatroom.net.listener import Listener, open_listening_socket
from chatroom.net.loop import EventLoop
from chatroom.net.tls import TLSAcceptor, TLSTransport, load_server_context


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("certs"))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """A loop with a fake clock, a TLS listener and its acceptor; `ready` collects handed-over transports."""

    def __init__(self, certs: CertFiles, timeout: float = 5.0) -> None:
        self.clock = Clock()
        self.loop = EventLoop(clock=self.clock)
        self.ready: list[TLSTransport] = []
        context = load_server_context(str(certs.cert_file), str(certs.key_file))
        self.acceptor = TLSAcceptor(self.loop, context, lambda t, a: self.ready.append(t), timeout)
        self.listener = Listener(self.loop, open_listening_socket("127.0.0.1", 0), self.acceptor.make, "TLS")
        self.watched_before = len(self.loop.selector.get_map())

    def connect(self) -> socket.socket:
        """A raw TCP client, accepted (its handshake started) before this returns."""
        sock = socket.create_connection(("127.0.0.1", self.listener.port), timeout=5)
        watched = len(self.loop.selector.get_map())
        for _ in range(100):
            self.loop.run_once(0.05)
            if len(self.loop.selector.get_map()) > watched:
                return sock
        raise AssertionError("not accepted")

    def close(self) -> None:
        self.acceptor.close()
        self.listener.close()
        for transport in self.ready:
            transport.close()
        self.loop.close()


@pytest.fixture
def rig(certs: CertFiles) -> Iterator[Rig]:
    made = Rig(certs)
    yield made
    made.close()


def closed_by_server(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_each_staller_is_closed_at_its_own_deadline_with_one_timer_for_all(rig: Rig) -> None:
    stallers = []
    for at in (0.0, 1.0, 2.0):
        rig.clock.now = at
        stallers.append(rig.connect())
    assert len(rig.loop._timers) == 1, "a timer per handshake"  # the oldest deadline stands for all
    rig.clock.now = 5.5
    rig.loop.run_once(0)
    assert [closed_by_server(sock) for sock in stallers] == [True, False, False]
    rig.clock.now = 7.0
    rig.loop.run_once(0)
    assert [closed_by_server(sock) for sock in stallers[1:]] == [True, True]
    assert len(rig.loop.selector.get_map()) == rig.watched_before
    for sock in stallers:
        sock.close()


def test_a_finished_handshake_is_handed_over_unwatched_and_its_timer_does_nothing(
    rig: Rig, certs: CertFiles
) -> None:
    raw = rig.connect()
    raw.setblocking(False)
    client = certs.client_context().wrap_socket(
        raw, server_hostname="localhost", do_handshake_on_connect=False
    )
    for _ in range(200):
        with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLWantWriteError):
            client.do_handshake()
        rig.loop.run_once(0.01)
        if rig.ready:
            break
    (transport,) = rig.ready
    assert isinstance(transport, TLSTransport)
    assert transport.fileno() not in rig.loop.selector.get_map()  # the server watches it from now on
    rig.clock.now = 60.0
    rig.loop.run_once(0)
    assert transport.fileno() >= 0, "the handshake timeout closed a finished connection"
    client.close()


def test_garbage_instead_of_a_client_hello_closes_at_once(rig: Rig) -> None:
    sock = rig.connect()
    sock.sendall(b"REGISTER alice CHAT/1.0\n")
    for _ in range(100):
        rig.loop.run_once(0.01)
        if len(rig.loop.selector.get_map()) == rig.watched_before:
            break
    assert closed_by_server(sock)
    sock.close()
