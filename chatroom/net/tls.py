"""TLS for the server: the transport, the certificate context, and handshakes driven by the loop.

A TLS connection starts as a `_Handshake` the loop watches: each readiness
runs `do_handshake()` once more, want-read / want-write decide what to watch
next, and a connection that has not finished within the handshake timeout is
closed. All pending handshakes have the same timeout after their accept, so,
as for registrations, one loop timer for the oldest stands for all of them.
Only a finished handshake is handed to the server, which then gives it a
codec, counts it as a client and starts its registration timeout. So a slow,
stalled or plain-text peer on the TLS port costs the others nothing.

`TLSTransport` keeps the contract of chatroom.net.transport: ssl's
SSLWantReadError / SSLWantWriteError are not BlockingIOError, so they are
turned into it here, once, instead of in every caller.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import ssl
from collections import deque
from collections.abc import Callable

from chatroom.net.loop import EventLoop
from chatroom.net.transport import peer_address
from chatroom.tlssocket import WANT, NonBlockingTLSSocket

log = logging.getLogger("chatroom.server")


class CertificateError(Exception):
    """A certificate or key that cannot be used; the message is one sentence for the operator."""


class TLSTransport(NonBlockingTLSSocket):
    """A server-side TLS socket that keeps the transport contract (see chatroom.net.transport).

    Set as the context's `sslsocket_class`, so `wrap_socket` makes these. Not
    created directly (ssl.SSLSocket has no public constructor).
    """

    buffers_input = True

    def shutdown_write(self) -> None:
        """Send close_notify; never waits for the peer's (the connection lingers for it)."""
        with contextlib.suppress(*WANT):
            self.unwrap()

    def address(self) -> tuple[str, int] | str:
        try:
            raw = self.getpeername()
        except OSError:
            return "(disconnected peer)"
        return peer_address(raw)


def load_server_context(cert: str, key: str) -> ssl.SSLContext:
    """A server context for `cert` (PEM, with its chain) and `key`; CertificateError if unusable.

    Reads two small files: at start, and on SIGHUP on a helper thread
    (chatroom.server.tls), never on the loop's thread while it serves.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.sslsocket_class = TLSTransport
    try:
        context.load_cert_chain(cert, key, password=_no_password)
    except _EncryptedKey:
        raise CertificateError(f"key {key} is encrypted; give the server an unencrypted key") from None
    except FileNotFoundError:
        missing = cert if not os.path.exists(cert) else key
        raise CertificateError(f"cannot read {missing}: no such file") from None
    except PermissionError:
        denied = cert if not os.access(cert, os.R_OK) else key
        raise CertificateError(f"cannot read {denied}: permission denied") from None
    except ssl.SSLError as error:
        words = error.reason or str(error)
        reason = next((said for key_, said in _LOAD_ERRORS.items() if key_ in words), words)
        raise CertificateError(f"cannot use certificate {cert} with key {key}: {reason}") from None
    except OSError as error:
        raise CertificateError(f"cannot read the certificate or key: {error.strerror or error}") from None
    return context


_LOAD_ERRORS = {
    "PEM lib": "one of them is not a PEM certificate or key",
    "KEY_VALUES_MISMATCH": "the key does not belong to the certificate",
    "NO_START_LINE": "one of them is not in PEM form",
}


class _EncryptedKey(Exception):
    pass


def _no_password() -> str:
    """OpenSSL asks for a password: never prompt on the console (that would block the server)."""
    raise _EncryptedKey


Ready = Callable[[TLSTransport, tuple[str, int]], None]


class _Handshake:
    """One connection whose TLS handshake is under way; the loop's handler until it ends."""

    __slots__ = ("transport", "address", "deadline", "acceptor", "done")

    def __init__(
        self, transport: TLSTransport, address: tuple[str, int], deadline: float, acceptor: TLSAcceptor
    ) -> None:
        self.transport = transport
        self.address = address
        self.deadline = deadline
        self.acceptor = acceptor
        self.done = False

    def handle_io(self, mask: int) -> None:
        self.acceptor.step(self)

    def handle_error(self, error: Exception) -> None:
        log.error("Unexpected error during a TLS handshake with %s; closed it", self.address, exc_info=error)
        self.acceptor.end(self)


class TLSAcceptor:
    """Makes TLS connections for a listener: wraps, drives each handshake, hands the finished ones on.

    `ready(transport, address)` receives a connection whose handshake is done,
    no longer watched by the loop. `context` may be replaced at any time
    (SIGHUP): handshakes already under way keep the one they started with.
    """

    def __init__(self, loop: EventLoop, context: ssl.SSLContext, ready: Ready, timeout: float) -> None:
        self.loop = loop
        self.context = context
        self.timeout = timeout
        self._ready = ready
        self._pending: deque[_Handshake] = deque()  # in accept order, so deadlines are in order

    def make(self, sock: socket.socket, address: tuple[str, int]) -> None:
        """The listener's maker: start the handshake (nothing is read or written yet)."""
        try:
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        except BaseException:
            sock.close()
            raise
        assert isinstance(transport, TLSTransport)
        handshake = _Handshake(transport, address, self.loop.now() + self.timeout, self)
        try:
            self.loop.watch(transport, selectors.EVENT_READ, handshake)
        except BaseException:
            transport.close()
            raise
        if not self._pending:
            self.loop.call_at(handshake.deadline, TLSAcceptor._expire, self)
        self._pending.append(handshake)

    def step(self, handshake: _Handshake) -> None:
        """The socket is ready: take the handshake one step further."""
        if handshake.done:
            return
        transport = handshake.transport
        try:
            transport.do_handshake()
        except ssl.SSLWantReadError:
            self._watch(handshake, selectors.EVENT_READ)
            return
        except ssl.SSLWantWriteError:
            self._watch(handshake, selectors.EVENT_WRITE)
            return
        except (ssl.SSLError, OSError) as error:
            log.info("TLS handshake failed with %s: %s; closed", handshake.address, _reason(error))
            self.end(handshake)
            return
        self._finish(handshake)
        self._ready(transport, handshake.address)

    def end(self, handshake: _Handshake) -> None:
        """Close a connection whose handshake failed or timed out."""
        if self._finish(handshake):
            handshake.transport.close()

    def close(self) -> None:
        """Close every handshake still under way (the server is shutting down)."""
        while self._pending:
            self.end(self._pending.popleft())

    def _finish(self, handshake: _Handshake) -> bool:
        if handshake.done:
            return False
        handshake.done = True
        with contextlib.suppress(KeyError, ValueError):
            self.loop.unwatch(handshake.transport)
        return True

    def _watch(self, handshake: _Handshake, events: int) -> None:
        key = self.loop.selector.get_map().get(handshake.transport.fileno())
        if key is not None and key.events != events:
            self.loop.rewatch(handshake.transport, events, handshake)

    def _expire(self) -> None:
        """Close every handshake whose time is up; then wait for the next one."""
        pending, now = self._pending, self.loop.now()
        while pending:
            handshake = pending[0]
            if not handshake.done and handshake.deadline > now:
                self.loop.call_at(handshake.deadline, TLSAcceptor._expire, self)
                return
            pending.popleft()
            if not handshake.done:
                log.info("TLS handshake timeout for %s; closed", handshake.address)
                self.end(handshake)


def _reason(error: BaseException) -> str:
    """'wrong version number' (a plain-text client), 'connection reset by peer': a few words."""
    if isinstance(error, ssl.SSLError) and error.reason:
        return error.reason.lower().replace("_", " ")
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__
