"""The CHAT/1.0 server: one thread, one selectors loop, every socket non-blocking.

Each turn of the loop: wait for readiness (or the next deadline), read every
readable socket once and route what it said, deliver the turn's chat lines
(chatroom.router), write each client with output once, then reap closed
connections. Nothing here blocks; signals arrive as bytes on a socket.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import signal
import socket
import time
from collections import deque
from collections.abc import Sequence

from chatroom import limits, protocol
from chatroom.hub.router import Router
from chatroom.net.connection import Connection, Phase, peer_address
from chatroom.protocol import ChatMessage, LeaveRequest, Refusal, RegisterRequest, ServerConnection
from chatroom.signals import SignalPipe

log = logging.getLogger("chatroom.server")

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_ACCEPTS_PER_TURN = 512  # bounds the time one turn spends accepting during a connection storm
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class ServerConfig:
    """What the command line can change."""

    __slots__ = (
        "host",
        "port",
        "log_messages",
        "max_line",
        "registration_timeout",
        "max_per_address",
        "delivery_interval",
    )

    def __init__(
        self,
        host: str = "",
        port: int = 0,
        *,
        log_messages: bool = True,
        max_line: int = limits.MAX_LINE_BYTES,
        registration_timeout: float = limits.REGISTRATION_TIMEOUT_S,
        max_per_address: int = limits.MAX_CONNECTIONS_PER_ADDRESS,
        delivery_interval: float = limits.DELIVERY_INTERVAL_S,
    ) -> None:
        self.host = host
        self.port = port
        self.log_messages = log_messages
        self.max_line = max_line
        self.registration_timeout = registration_timeout
        self.max_per_address = max_per_address
        self.delivery_interval = delivery_interval


def open_listener(host: str, port: int) -> socket.socket:
    """A non-blocking listening socket; host '' means every interface, IPv6 too when possible."""
    backlog = max(socket.SOMAXCONN, 4096)  # the kernel caps it at net.core.somaxconn
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


class Server:
    """Owns the listening socket, the selector and every connection."""

    def __init__(self, config: ServerConfig, listener: socket.socket | None = None) -> None:
        self.config = config
        self.listener = listener if listener is not None else open_listener(config.host, config.port)
        self.port: int = self.listener.getsockname()[1]
        self.selector = selectors.DefaultSelector()
        self.router = Router()
        self.connections: dict[int, Connection] = {}
        self._last_delivery = 0.0
        self._wants_write = self._watch_writable  # one bound method shared by every Connection
        self._to_close: list[tuple[Connection, str]] = []
        self._registration_deadlines: deque[Connection] = deque()  # in accept order
        self._linger_deadlines: deque[tuple[float, Connection]] = deque()
        self._per_address: dict[str, int] = {}  # host -> connections, when limited
        self._host_of_fd: dict[int, str] = {}  # only when limited
        self._accept_paused_until = 0.0
        self._running = False
        self._signals: SignalPipe | None = None
        self.selector.register(self.listener, selectors.EVENT_READ, None)

    # -- the loop --------------------------------------------------------------------

    def serve_forever(self, signals: SignalPipe | None = None) -> None:
        """Run until SIGINT or SIGTERM; then say goodbye to every client and return.

        Pass `signals` to catch them from earlier on (main() does, before it
        prints the port, so a signal at any moment ends in a clean shutdown).
        """
        self._signals = signals if signals is not None else SignalPipe(SHUTDOWN_SIGNALS)
        signal_fd = self._signals.fileno()
        self.selector.register(signal_fd, selectors.EVENT_READ, signal_fd)
        self._running = True
        try:
            while self._running:
                self.run_once(self._next_timeout())
            self.shutdown()
        finally:
            self.selector.unregister(signal_fd)
            self._signals.close()
            self._signals = None
            self.selector.close()

    def run_once(self, timeout: float | None) -> None:
        """One turn: read everything ready, deliver (at most once per interval), expire, reap."""
        self._dispatch(self.selector.select(timeout))
        now = time.monotonic()
        if self.router.has_pending() and now - self._last_delivery >= self.config.delivery_interval:
            self._deliver(now)
        self._close_all(self.router.take_dropped(), "could not take more output")
        self._expire(now)
        self._reap()

    def _dispatch(self, ready: list[tuple[selectors.SelectorKey, int]]) -> None:
        connections = self.connections
        for key, mask in ready:
            conn = key.data
            if conn is None:
                self._accept()
            elif isinstance(conn, Connection):
                if mask & selectors.EVENT_READ:
                    self._on_readable(conn)
                if mask & selectors.EVENT_WRITE and conn.fd in connections:
                    self._on_writable(conn)
            else:
                self._on_signal()

    def _deliver(self, now: float) -> None:
        self._last_delivery = now
        self.router.deliver()

    def _next_timeout(self) -> float | None:
        deadlines = [self._registration_deadlines[0].deadline] if self._registration_deadlines else []
        if self._linger_deadlines:
            deadlines.append(self._linger_deadlines[0][0])
        if self.router.has_pending():
            deadlines.append(self._last_delivery + self.config.delivery_interval)
        if self._accept_paused_until:
            deadlines.append(self._accept_paused_until)
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    # -- accepting -------------------------------------------------------------------

    def _accept(self) -> None:
        for _ in range(_ACCEPTS_PER_TURN):
            try:
                sock, raw_address = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in _RESOURCE_ERRNOS:
                    self._pause_accepting(error)
                # ECONNABORTED and friends: that peer gave up; the next turn accepts the rest.
                return
            self._admit(sock, peer_address(raw_address))

    def _admit(self, sock: socket.socket, address: tuple[str, int]) -> None:
        sock.setblocking(False)
        with contextlib.suppress(OSError):  # the peer may be gone already; the first read says so
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(sock, ServerConnection(self.config.max_line), self._wants_write)
        self.connections[conn.fd] = conn
        self.selector.register(sock, selectors.EVENT_READ, conn)
        log.info("Accepted connection from client address: %s", address)
        limit = self.config.max_per_address
        if limit:
            count = self._per_address.get(address[0], 0) + 1
            self._per_address[address[0]] = count
            self._host_of_fd[conn.fd] = address[0]
            if count > limit:
                log.warning("Too many connections from %s (limit %d); closing", address[0], limit)
                self._finish(conn, protocol.TOO_MANY_CONNECTIONS, "too many connections from one address")
                return
        conn.deadline = time.monotonic() + self.config.registration_timeout
        self._registration_deadlines.append(conn)

    def _pause_accepting(self, error: OSError) -> None:
        log.warning("Cannot accept connections: %s; pausing accept for %.1f s", error, limits.ACCEPT_PAUSE_S)
        self.selector.unregister(self.listener)
        self._accept_paused_until = time.monotonic() + limits.ACCEPT_PAUSE_S

    # -- reading ---------------------------------------------------------------------

    def _on_readable(self, conn: Connection) -> None:
        try:
            data = conn.recv()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._drop(conn, f"connection error: {error.strerror or error}")
            return
        if conn.phase is not Phase.OPEN:
            if not data:  # the peer closed after our final reply: done
                self._drop(conn, "closed after final reply")
            return  # input after a final reply is read and discarded
        if not data:
            self._drop(conn, "connection closed by client")
            return
        refusals: list[Refusal] = []
        for event in conn.protocol.receive(data):
            if isinstance(event, ChatMessage):
                self.router.broadcast(conn, event.line)
                if self.config.log_messages:
                    log.info(
                        "Received message from user %s:  %s",
                        conn.name,
                        event.line.decode("utf-8", errors="replace"),
                    )
                continue
            if isinstance(event, RegisterRequest):
                self._register(conn, event.name)
            elif isinstance(event, LeaveRequest):
                self._drop(conn, "left")
            elif event.fatal:
                if conn.protocol.framer.overflowed:
                    log.warning("Closing %s: %s (limit --max-line)", conn.label(), event.reason)
                else:
                    log.info("Closing %s: %s", conn.label(), event.reason)
                self._finish(conn, event.reply, event.reason)
            else:
                refusals.append(event)
            if conn.phase is not Phase.OPEN:
                break
        if refusals and conn.phase is Phase.OPEN:
            self._refuse_lines(conn, refusals)

    def _register(self, conn: Connection, name: str) -> None:
        if not self.router.add(conn, name):
            log.info("Registration refused for %s: name %r is taken", conn.address, name)
            self._finish(conn, conn.protocol.refuse_taken(), "name taken")
            return
        if not conn.queue(conn.protocol.accept(name)):
            self._drop(conn, "peer gone")
            return
        log.info("Connection to client established, waiting to receive messages from user '%s'...", name)

    def _refuse_lines(self, conn: Connection, refusals: list[Refusal]) -> None:
        """One reply per refused line, sent together, and one log line per read (not per line)."""
        more = f" (and {len(refusals) - 1} more)" if len(refusals) > 1 else ""
        log.info("Refused a line from %s: %s%s", conn.label(), refusals[0].reason, more)
        if not conn.queue(b"".join(refusal.reply for refusal in refusals)):
            self._close_later(conn, "could not take more output")

    # -- writing ---------------------------------------------------------------------

    def _watch_writable(self, conn: Connection) -> None:
        """The kernel did not take all of conn's output: write the rest when it has room."""
        self.selector.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    def _on_writable(self, conn: Connection) -> None:
        try:
            done = conn.flush()
        except OSError as error:
            self._close_later(conn, f"connection error: {error.strerror or error}")
            return
        if done:
            self.selector.modify(conn.sock, selectors.EVENT_READ, conn)
            if conn.phase is Phase.DRAINING:
                self._start_lingering(conn)

    # -- ending connections ----------------------------------------------------------

    def _finish(self, conn: Connection, reply: bytes, reason: str) -> None:
        """Send a final reply, then close politely (write, shut down, wait for the peer)."""
        self._leave_router(conn, reason)
        conn.protocol.close()
        conn.phase = Phase.DRAINING
        if not conn.queue(reply):
            self._close_later(conn, reason)
        elif conn.out is None:
            self._start_lingering(conn)
        else:  # a peer that does not read its final reply is closed all the same
            self._linger_deadlines.append((time.monotonic() + limits.LINGER_TIMEOUT_S, conn))

    def _start_lingering(self, conn: Connection) -> None:
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close_later(conn, "peer gone")
            return
        conn.phase = Phase.LINGERING
        self._linger_deadlines.append((time.monotonic() + limits.LINGER_TIMEOUT_S, conn))

    def _leave_router(self, conn: Connection, reason: str) -> None:
        if self.router.remove(conn):
            log.info("Disconnecting user %s", conn.name)
            log.debug("User %s left: %s", conn.name, reason)

    def _drop(self, conn: Connection, reason: str) -> None:
        """Close now: the peer left, reset, or we are done lingering."""
        self._leave_router(conn, reason)
        conn.protocol.close()
        self._close_later(conn, reason)

    def _close_later(self, conn: Connection, reason: str) -> None:
        if conn.phase is not Phase.CLOSED:
            self._leave_router(conn, reason)
            conn.phase = Phase.CLOSED
            self._to_close.append((conn, reason))

    def _close_all(self, conns: Sequence[Connection], reason: str) -> None:
        for conn in conns:
            self._close_later(conn, reason)

    def _reap(self) -> None:
        """Close marked sockets here, never while a list of connections is being walked."""
        if not self._to_close:
            return
        to_close, self._to_close = self._to_close, []
        for conn, reason in to_close:
            if self.connections.pop(conn.fd, None) is None:
                continue
            log.debug("Closing %s: %s", conn.label(), reason)
            self.selector.unregister(conn.sock)
            conn.sock.close()
            conn.out = None
            host = self._host_of_fd.pop(conn.fd, None)
            if host is not None:
                remaining = self._per_address.get(host, 1) - 1
                if remaining > 0:
                    self._per_address[host] = remaining
                else:
                    self._per_address.pop(host, None)

    def _expire(self, now: float) -> None:
        registrations = self._registration_deadlines
        while registrations and registrations[0].deadline <= now:
            conn = registrations.popleft()
            if conn.phase is Phase.OPEN and conn.protocol.state is protocol.ServerState.AWAITING_REGISTER:
                log.info("Registration timeout for %s", conn.address)
                self._finish(conn, protocol.REGISTRATION_TIMEOUT, "registration timeout")
        lingering = self._linger_deadlines
        while lingering and lingering[0][0] <= now:
            _, conn = lingering.popleft()
            if conn.phase is Phase.LINGERING or conn.phase is Phase.DRAINING:
                self._close_later(conn, "peer did not read or close after its final reply")
        if self._accept_paused_until and now >= self._accept_paused_until:
            self._accept_paused_until = 0.0
            self.selector.register(self.listener, selectors.EVENT_READ, None)

    # -- signals and shutdown --------------------------------------------------------

    def _on_signal(self) -> None:
        assert self._signals is not None
        if any(signum in (signal.SIGINT, signal.SIGTERM) for signum in self._signals.read()):
            self._running = False

    def shutdown(self) -> None:
        """Tell every client DISCONNECT CHAT/1.0, make sure it is written, close everything."""
        log.info("Interrupt received, shutting down ...")
        if not self._accept_paused_until:
            self.selector.unregister(self.listener)
        self.listener.close()
        self._deliver(time.monotonic())  # lines already read still reach their recipients first
        for conn in list(self.connections.values()):
            if conn.phase is Phase.OPEN:
                self._finish(conn, protocol.SERVER_DISCONNECT, "server shutting down")
        flush_deadline = time.monotonic() + limits.SHUTDOWN_FLUSH_TIMEOUT_S
        close_deadline: float | None = None
        while self.connections:
            self._reap()
            now = time.monotonic()
            if close_deadline is None and all(
                conn.phase is not Phase.DRAINING for conn in self.connections.values()
            ):
                # Everything is written; give clients a moment to close first, so
                # that our close cannot reset a connection with unread replies.
                close_deadline = min(flush_deadline, now + limits.SHUTDOWN_CLOSE_WAIT_S)
            until = close_deadline if close_deadline is not None else flush_deadline
            if now >= until:
                break
            self._dispatch(self.selector.select(until - now))
        for conn in list(self.connections.values()):
            self._close_later(conn, "server shutting down")
        self._reap()
