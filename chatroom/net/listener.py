"""A listening socket in the loop: it accepts, and hands each new socket to its own maker.

Several listeners can share one loop (plain CHAT/1.0 now; TLS, WebSocket and
IRC next), each knowing how to make its connections. Running out of
descriptors or memory pauses accepting briefly instead of spinning on a
listener that cannot be served, with a warning at most every
ACCEPT_WARNING_INTERVAL_S; a maker that fails for one socket closes that
socket and the listener goes on.
"""

from __future__ import annotations

import errno
import logging
import selectors
import socket
from collections.abc import Callable

from chatroom.limits import ACCEPT_PAUSE_S, ACCEPT_WARNING_INTERVAL_S, ACCEPTS_PER_TURN, LISTEN_BACKLOG
from chatroom.net.loop import EventLoop
from chatroom.net.transport import peer_address

log = logging.getLogger("chatroom.server")

RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

Maker = Callable[[socket.socket, tuple[str, int]], None]


def open_listening_socket(host: str, port: int) -> socket.socket:
    """A non-blocking listening socket; host '' means every interface, IPv6 too when possible."""
    backlog = max(socket.SOMAXCONN, LISTEN_BACKLOG)
    if host == "" and socket.has_dualstack_ipv6():
        try:
            sock = socket.create_server(
                ("::", port), family=socket.AF_INET6, backlog=backlog, dualstack_ipv6=True
            )
        except OSError:
            sock = socket.create_server(("0.0.0.0", port), backlog=backlog)
    else:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        sock = socket.create_server(address[:2], family=family, backlog=backlog)
    sock.setblocking(False)
    return sock


class Listener:
    """Accepts on `sock` and calls `make(sock, address)` for each connection."""

    def __init__(self, loop: EventLoop, sock: socket.socket, make: Maker, kind: str = "client") -> None:
        self.loop = loop
        self.sock = sock
        self.port: int = sock.getsockname()[1]
        self.kind = kind
        self._make = make
        self._paused = False
        self._closed = False
        self._last_warning = float("-inf")
        self._unwarned = 0  # pauses since the last warning
        loop.watch(sock, selectors.EVENT_READ, self)

    def handle_io(self, mask: int) -> None:
        for _ in range(ACCEPTS_PER_TURN):
            try:
                sock, raw_address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in RESOURCE_ERRNOS:
                    self._pause(error)
                # ECONNABORTED and friends: that peer gave up; the next turn accepts the rest.
                return
            try:
                self._make(sock, peer_address(raw_address))
            except OSError as error:
                sock.close()
                if error.errno in RESOURCE_ERRNOS:  # e.g. epoll_ctl: ENOMEM
                    self._pause(error)
                    return
                log.exception("Could not set up a connection from %s; closed it", raw_address[0])
            except Exception:
                sock.close()
                log.exception("Could not set up a connection from %s; closed it", raw_address[0])

    def handle_error(self, error: Exception) -> None:
        log.error("Unexpected error on the %s listener; still serving", self.kind, exc_info=error)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._paused:
            self.loop.unwatch(self.sock)
        self.sock.close()

    def _pause(self, error: OSError) -> None:
        now = self.loop.now()
        if now - self._last_warning >= ACCEPT_WARNING_INTERVAL_S:
            also = f" (and {self._unwarned} more times since the last warning)" if self._unwarned else ""
            log.warning(
                "Cannot accept connections: %s; pausing accept for %.1f s%s",
                error.strerror or error,
                ACCEPT_PAUSE_S,
                also,
            )
            self._last_warning = now
            self._unwarned = 0
        else:
            self._unwarned += 1
        log.debug("Accept paused for %.1f s: %s", ACCEPT_PAUSE_S, error.strerror or error)
        if not self._paused:
            self._paused = True
            self.loop.unwatch(self.sock)
            self.loop.call_later(ACCEPT_PAUSE_S, Listener._resume, self)

    def _resume(self) -> None:
        if self._paused and not self._closed:
            self._paused = False
            self.loop.watch(self.sock, selectors.EVENT_READ, self)
