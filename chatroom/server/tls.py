"""The server's TLS listener: its settings, its acceptor, and reloading the certificate on SIGHUP.

Certificates are renewed every few weeks (Let's Encrypt: 90 days, renewed at
60), so SIGHUP reads the certificate and key again into a new context for
new handshakes; connections already open keep theirs and nobody is dropped.
Reading the files happens on a short-lived thread (a file on a slow or
network disk must not stall the loop); the new context comes back through a
socket the loop watches. A pair that cannot be used is refused with one log
line and the old context stays.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass

from chatroom import limits
from chatroom.net.listener import Listener, open_listening_socket
from chatroom.net.loop import EventLoop
from chatroom.net.tls import CertificateError, Ready, TLSAcceptor, load_server_context

log = logging.getLogger("chatroom.server")


@dataclass(frozen=True)
class TLSConfig:
    """--tls-cert, --tls-key, --tls-port and the handshake timeout."""

    cert: str
    key: str
    port: int = 0
    handshake_timeout: float = limits.TLS_HANDSHAKE_TIMEOUT_S


class TLSService:
    """The TLS listener and everything it needs; `ready` gets each connection whose handshake is done."""

    def __init__(
        self,
        loop: EventLoop,
        config: TLSConfig,
        host: str,
        ready: Ready,
        context: ssl.SSLContext | None = None,
        screen: Callable[[socket.socket, tuple[str, int]], bool] | None = None,
    ) -> None:
        """`context` is the one loaded at start (so a bad pair fails before listening); else loaded here.

        `screen(sock, address)` may refuse (close) a connection before its
        handshake, the costly part (flood control's connection limits): False
        means it did.
        """
        self.config = config
        self.loop = loop
        self.acceptor = TLSAcceptor(
            loop,
            context if context is not None else load_server_context(config.cert, config.key),
            ready,
            config.handshake_timeout,
        )
        make = self.acceptor.make
        if screen is not None:
            acceptor = self.acceptor

            def make(sock: socket.socket, address: tuple[str, int]) -> None:
                if screen(sock, address):
                    acceptor.make(sock, address)

        self.listener = Listener(loop, open_listening_socket(host, config.port), make, "TLS")
        self.port = self.listener.port
        self._reloader = _Reloader(self)

    def reload(self) -> None:
        """SIGHUP: read the certificate and key again (off the loop's thread); applied when read."""
        self._reloader.start()

    def applied(self, result: ssl.SSLContext | CertificateError) -> None:
        if isinstance(result, CertificateError):
            log.warning("SIGHUP: kept the current TLS certificate: %s", result)
            return
        self.acceptor.context = result
        log.info("SIGHUP: TLS certificate and key reloaded from %s and %s", self.config.cert, self.config.key)

    def close(self) -> None:
        """Stop accepting, and close the handshakes still under way (they are no clients yet)."""
        self.listener.close()
        self.acceptor.close()
        self._reloader.close()


class _Reloader:
    """Loads a new context on a thread and hands it to the loop through a socket pair."""

    def __init__(self, service: TLSService) -> None:
        self.service = service
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._result: ssl.SSLContext | CertificateError | None = None
        self._thread: threading.Thread | None = None
        self._again = False  # a SIGHUP arrived while reading: read once more after this one
        self._closed = False
        service.loop.watch(self._reader, selectors.EVENT_READ, self)

    def start(self) -> None:
        if self._thread is not None:
            self._again = True
            return
        config = self.service.config
        self._thread = threading.Thread(target=self._load, args=(config.cert, config.key), daemon=True)
        self._thread.start()

    def _load(self, cert: str, key: str) -> None:
        try:
            self._result = load_server_context(cert, key)
        except CertificateError as error:
            self._result = error
        except Exception as error:  # anything else is still one line in the log, never a dead loop
            self._result = CertificateError(f"unexpected error: {error!r}")
        with contextlib.suppress(OSError):
            self._writer.send(b"\0")

    def handle_io(self, mask: int) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            self._reader.recv(16)
        result, self._result = self._result, None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if result is not None and not self._closed:
            self.service.applied(result)
        if self._again and not self._closed:
            self._again = False
            self.start()

    def handle_error(self, error: Exception) -> None:
        log.error("Unexpected error while reloading the TLS certificate; still serving", exc_info=error)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(KeyError, ValueError):
            self.service.loop.unwatch(self._reader)
        self._reader.close()
        self._writer.close()
