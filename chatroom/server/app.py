"""The server: the hub (who hears what) wired to the network layer (loop, listeners, connections).

Each turn of the loop reads every ready socket once and turns what it said
into hub requests; before the loop sleeps it delivers the turn's chat lines
(at most once per delivery interval), drops recipients that could not take
them, and closes what was marked for closing. Nothing here blocks; signals
arrive as bytes on a socket.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
import selectors
import signal
import socket
import ssl
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

from chatroom import limits
from chatroom.codecs.chat import ChatCodec
from chatroom.codecs.requests import (
    Authenticate,
    Codec,
    Command,
    Ending,
    Leave,
    Refuse,
    Register,
    Remove,
    Rename,
    Reply,
    Request,
    Say,
)
from chatroom.hub.accounts import Attempt, Refused
from chatroom.hub.hub import Admission, Hub, Verdict, not_in_room
from chatroom.hub.message import Recipient
from chatroom.irc.codec import IrcCodec, IrcSettings, IrcShared
from chatroom.net.connection import Connection, Phase
from chatroom.net.flood import address_key
from chatroom.net.listener import Listener, open_listening_socket
from chatroom.net.loop import EventLoop
from chatroom.net.tls import TLSTransport
from chatroom.net.transport import PlainTransport
from chatroom.server.accounts import (
    LoopAccounts,
    StoreWatcher,
    host_of,
    is_loopback,
    password_channel_is_safe,
)
from chatroom.server.flooding import FloodControl, FloodSettings
from chatroom.server.history import LoopHistory
from chatroom.server.irc import IrcConfig, IrcTLSService
from chatroom.server.irc_directory import HubDirectory
from chatroom.server.tls import TLSConfig, TLSService
from chatroom.server.web import WebConfig, WebService
from chatroom.signals import SignalPipe
from chatroom.store.history import HistoryStore

if TYPE_CHECKING:
    from chatroom.web.websocket import WebSocketTransport

log = logging.getLogger("chatroom.server")

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
RELOAD_SIGNALS = (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()
CAUGHT_SIGNALS = SHUTDOWN_SIGNALS + RELOAD_SIGNALS

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE
_PLAIN_ATTEMPTS = {False: Attempt(None, False), True: Attempt(None, True)}  # without a password, by events


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
        "shutdown_timeout",
        "operators",
        "allow_plain_passwords",
        "flood",
        # TLS (issue #10): None serves no TLS listener; plain False serves no plain one.
        "tls",
        "plain",
        "web",  # the web gateway (issue #11): None serves no web listener
        "irc",  # the IRC listener (issue #12): None serves none
    )

    def __init__(
        self,
        host: str = "",
        port: int = 0,
        *,
        log_messages: bool = False,
        max_line: int = limits.MAX_LINE_BYTES,
        registration_timeout: float = limits.REGISTRATION_TIMEOUT_S,
        max_per_address: int = limits.MAX_CONNECTIONS_PER_ADDRESS,
        delivery_interval: float = limits.DELIVERY_INTERVAL_S,
        shutdown_timeout: float = limits.SHUTDOWN_FLUSH_TIMEOUT_S,
        operators: tuple[str, ...] = (),
        allow_plain_passwords: bool = False,
        flood: FloodSettings | None = None,
        tls: TLSConfig | None = None,
        plain: bool = True,
        web: WebConfig | None = None,
        irc: IrcConfig | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.log_messages = log_messages
        self.max_line = max_line
        self.registration_timeout = registration_timeout
        self.max_per_address = max_per_address
        self.delivery_interval = delivery_interval
        self.shutdown_timeout = shutdown_timeout
        self.operators = operators  # account names with operator powers (docs/PROTOCOL.md 9.3)
        self.allow_plain_passwords = allow_plain_passwords  # passwords over plain TCP from anywhere
        self.flood = flood if flood is not None else FloodSettings()  # on by default; loopback exempt
        self.tls = tls
        self.plain = plain
        self.web = web
        self.irc = irc


class _Run(enum.Enum):
    RUNNING = "running"
    SHUTTING_DOWN = "shutting down"  # telling everyone DISCONNECT, waiting for slow readers
    ABORTED = "aborted"  # a second interrupt: stop waiting


class _SignalWatcher:
    """The signal pipe as a loop handler."""

    def __init__(self, server: Server, pipe: SignalPipe) -> None:
        self.server = server
        self.pipe = pipe

    def handle_io(self, mask: int) -> None:
        for signum in self.pipe.read():
            self.server.on_signal(signum)

    def handle_error(self, error: Exception) -> None:
        log.error("Unexpected error while reading signals; still serving", exc_info=error)


class Server(FloodControl):
    """Owns the loop, the hub, the listeners and every connection."""

    def __init__(
        self,
        config: ServerConfig,
        listener: socket.socket | None = None,
        *,
        loop: EventLoop | None = None,
        admission: Admission | None = None,
        history: HistoryStore | None = None,
        accounts: HistoryStore | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self.loop = loop if loop is not None else EventLoop()
        self.history = LoopHistory(history, self.loop) if history is not None else None
        # Protected names and operators live in `accounts` (the history's store, or one of their own).
        self.accounts = LoopAccounts(accounts, self.loop, config.operators) if accounts is not None else None
        self._accounts_watcher = (
            StoreWatcher(accounts, self.loop) if accounts is not None and accounts is not history else None
        )
        self.hub = Hub(
            log_messages=config.log_messages,
            admission=admission,
            history=self.history,
            accounts=self.accounts,
            deliver_each=Connection.deliver_each,
        )
        self.hub.end = self._end_with
        self.connections: dict[int, Connection] = {}
        self.listeners: list[Listener] = []
        self.port = 0  # the plain listener's (0: --no-plain)
        if config.plain or listener is not None:
            sock = listener if listener is not None else open_listening_socket(config.host, config.port)
            self.listeners.append(Listener(self.loop, sock, self._admit_chat, "client"))
            self.port = self.listeners[0].port
        # TLS (issue #10): a listener of its own whose connections arrive here once their handshake is done.
        self.tls: TLSService | None = None
        if config.tls is not None:
            try:
                self.tls = TLSService(
                    self.loop, config.tls, config.host, self._admit_tls, tls_context, self._screen_tls
                )
            except BaseException:
                for plain_listener in self.listeners:
                    plain_listener.close()
                raise
            self.listeners.append(self.tls.listener)
        # The web gateway (issue #11): HTTP for the page; WebSocket connections arrive here as clients.
        self.web: WebService | None = None
        if config.web is not None:
            try:
                self.web = WebService(
                    self.loop,
                    config.web,
                    config.host,
                    config.max_line,
                    self._admit_web,
                    self._screen_tls,
                    self.tls,
                )
            except BaseException:
                for other in self.listeners:
                    other.close()
                if self.tls is not None:
                    self.tls.close()
                raise
            self.listeners.append(self.web.listener)
        # The IRC listener (issue #12): its connections are clients with an IrcCodec (chatroom.irc).
        self.irc_port = 0
        self._irc_shared = IrcShared()
        self._irc_settings = IrcSettings()  # SASL PLAIN is offered when there are accounts to log in to
        if config.irc is not None:
            self._irc_settings = dataclasses.replace(config.irc.settings, sasl=self.accounts is not None)
        self._irc_shared.directory = HubDirectory(self.hub, self._irc_full)
        if config.irc is not None:
            try:
                sock = open_listening_socket(config.host, config.irc.port)
            except BaseException:
                for other in self.listeners:
                    other.close()
                if self.tls is not None:
                    self.tls.close()
                if self.web is not None:
                    self.web.close()
                raise
            self.listeners.append(Listener(self.loop, sock, self._admit_irc, "IRC"))
            self.irc_port = self.listeners[-1].port
            self.loop.call_later(config.irc.ping_interval, Server._ping_irc, self)
        self.irc_tls = self._open_irc_tls()  # --irc-tls-port: IRC over TLS, SASL PLAIN, PASS
        self._state = _Run.RUNNING
        self._last_delivery = 0.0
        self._batching = False  # whether waiting the delivery interval pays now (see _adapt_delivery)
        self._window_end = 0.0
        self._to_close: list[tuple[Connection, str]] = []
        # Unregistered connections in accept order. Their deadlines are all the same
        # time after accepting, so one loop timer for the first stands for all of them
        # (a timer per connection would cost every idle user memory until it ran).
        self._registering: deque[Connection] = deque()
        self._deciding_now: Connection | None = None  # whose registration is being decided in this call
        self._per_address: dict[str, int] = {}  # host -> connections, when limited
        self._host_of_fd: dict[int, str] = {}  # only when limited
        self._init_flood_control(config.flood)
        self.loop.before_sleep(self._deliver_when_due)
        self.loop.before_sleep(self._drop_unreachable)
        self.loop.before_sleep(self._reap)

    # -- running ---------------------------------------------------------------------------

    def serve_forever(self, signals: SignalPipe | None = None) -> None:
        """Run until SIGINT or SIGTERM; then say goodbye to every client and return.

        Pass `signals` to catch them from earlier on (main() does, before it
        prints the port, so a signal at any moment ends in a clean shutdown).
        """
        pipe = signals if signals is not None else SignalPipe(CAUGHT_SIGNALS)
        self.loop.watch(pipe.fileno(), _READ, _SignalWatcher(self, pipe))
        try:
            while self._state is _Run.RUNNING:
                self.loop.run_once()
            self.shutdown()
        finally:
            self.loop.unwatch(pipe.fileno())
            pipe.close(then_ignore=True)  # exiting now: a late SIGINT must not turn status 0 into -2
            if self.history is not None:
                self.history.close()  # every line said before the shutdown is on disk
            if self._accounts_watcher is not None:
                self._accounts_watcher.close()
            self.loop.close()

    def run_once(self, timeout: float | None = None) -> None:
        self.loop.run_once(timeout)

    def on_signal(self, signum: int) -> None:
        if signum in SHUTDOWN_SIGNALS:
            if self._state is _Run.RUNNING:
                self._state = _Run.SHUTTING_DOWN
            elif self._state is _Run.SHUTTING_DOWN:
                log.info("Second interrupt: closing every connection now")
                self._state = _Run.ABORTED
        elif signum in RELOAD_SIGNALS:
            if self.tls is not None:
                self.tls.reload()  # the TLS certificate and key (issue #10)
            else:
                log.info("SIGHUP received: nothing to reload; still serving")

    # -- accepting -------------------------------------------------------------------------

    def _admit_chat(self, sock: socket.socket, address: tuple[str, int]) -> None:
        """A new CHAT/1.0 connection on the plain listener."""
        self._admit(PlainTransport.adopt(sock), ChatCodec(self.config.max_line), address)

    def _admit_irc(self, sock: socket.socket, address: tuple[str, int]) -> None:
        """A new connection on the IRC listener."""
        assert self.config.irc is not None
        self._admit(PlainTransport.adopt(sock), IrcCodec(self._irc_settings, self._irc_shared), address)

    def _open_irc_tls(self) -> IrcTLSService | None:
        """The IRC TLS listener (--irc-tls-port), with the TLS listener's certificate (SIGHUP reloads it)."""
        irc = self.config.irc
        if irc is None or irc.tls_port is None or self.tls is None:
            return None
        try:
            return IrcTLSService(
                self.loop, irc.tls_port, self.config.host, self.tls, self._admit_irc_tls, self._screen_tls
            )
        except BaseException:
            for other in self.listeners:
                other.close()
            self.tls.close()
            if self.web is not None:
                self.web.close()
            raise

    def _admit_irc_tls(self, transport: TLSTransport, address: tuple[str, int]) -> None:
        """An IRC connection over TLS whose handshake is done."""
        self._admit(transport, IrcCodec(self._irc_settings, self._irc_shared), address, screened=True)
        conn = self.connections.get(transport.fileno())
        if conn is not None and conn.transport is transport and transport.pending():
            self.loop.mark_readable(conn)  # its first lines came with the handshake's last bytes

    def _authenticate(self, conn: Connection, request: Authenticate) -> None:
        """A login before registering (IRC's SASL): the accounts judge it as a registration's password."""
        if self.accounts is None:
            if not conn.deliver(request.answered("the server has no accounts")):
                self._close_later(conn, "could not take more output")
            return
        now = [True]  # answered within this call: the caller's loop goes on reading

        def checked(refused: Refused | None, proven: bool) -> None:
            if conn.phase is not Phase.OPEN:
                return
            if not conn.deliver(request.answered(None if refused is None else refused.sentence)):
                self._close_later(conn, "could not take more output")
            elif not now[0]:  # reading waited for this answer
                self._watch(conn)
                self._serve_later(conn, conn.codec.waiting_requests())
                if conn.transport.buffers_input and conn.transport.pending() and self._reading(conn):
                    self.loop.mark_readable(conn)  # input held in the transport (TLS) while paused

        self.accounts.check(
            request.name, self._attempt(conn, Register(request.name, 0, request.credentials)), checked
        )
        now[0] = False
        if conn.codec.paused and conn.phase is Phase.OPEN:
            self._watch(conn)  # stop reading until it is answered

    def _irc_full(self, conn: Connection) -> None:
        self._close_later(conn, "could not take more output")

    def _ping_irc(self) -> None:
        """Each ping interval: PING the IRC users silent since the last one; close those still silent."""
        if self._state is not _Run.RUNNING or self.config.irc is None:
            return
        for conn in list(self.connections.values()):
            codec = conn.codec
            if not isinstance(codec, IrcCodec) or conn.phase is not Phase.OPEN or not codec.registered:
                continue
            ping = codec.idle_check()
            if ping is None:
                log.info("Closing %s: ping timeout", conn.label())
                self._finish(conn, codec.final_line(0, "Ping timeout"), "ping timeout")
            elif ping and not conn.deliver(ping):
                self._close_later(conn, "could not take more output")
        self.loop.call_later(self.config.irc.ping_interval, Server._ping_irc, self)

    def _admit_tls(self, transport: TLSTransport, address: tuple[str, int]) -> None:
        """A TLS connection whose handshake is done: from now on a client like any other."""
        self._admit(transport, ChatCodec(self.config.max_line), address, screened=True)
        conn = self.connections.get(transport.fileno())
        if conn is not None and conn.transport is transport and transport.pending():
            self.loop.mark_readable(conn)  # its first lines came with the handshake's last bytes

    def _admit_web(self, transport: WebSocketTransport, address: tuple[str, int]) -> None:
        """A WebSocket connection whose upgrade is done (issue #11): a client like any other."""
        self._admit(transport, ChatCodec(self.config.max_line), address, screened=True)
        conn = self.connections.get(transport.fileno())
        if conn is not None and conn.transport is transport and transport.pending():
            self.loop.mark_readable(conn)  # frames that came with the upgrade request

    def _screen_tls(self, sock: socket.socket, address: tuple[str, int]) -> bool:
        """Flood control's connection limits for a TLS (or web) connection, before its handshake."""
        return not self._refused_at_accept(sock, address[0], self._flood_exempt(address[0]), quiet=True)

    def _admit(
        self,
        transport: PlainTransport | TLSTransport | WebSocketTransport,
        codec: Codec,
        address: tuple[str, int],
        *,
        screened: bool = False,
    ) -> None:
        """`screened`: flood control's limits at accept were applied already (before a TLS handshake)."""
        exempt = self._flood_exempt(address[0])
        if not screened and self._refused_at_accept(transport, address[0], exempt):  # type: ignore[arg-type]
            return
        try:
            transport.setblocking(False)
            with contextlib.suppress(OSError):  # the peer may be gone already; the first read says so
                transport.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = self._new_connection(transport, codec, self, exempt)
            self.loop.watch(transport, _READ, conn)  # may fail (ENOMEM)
        except BaseException:
            transport.close()  # the listener reports it and goes on
            raise
        self.connections[conn.fd] = conn
        log.info("Accepted connection from client address: %s", address)
        limit = self.config.max_per_address
        if limit and not exempt:
            key = address_key(address[0])  # an IPv6 address counts by its /64
            count = self._per_address.get(key, 0) + 1
            self._per_address[key] = count
            self._host_of_fd[conn.fd] = key
            if count > limit:
                log.warning("Too many connections from %s (limit %d, --max-per-address); closing", key, limit)
                self._end(conn, Ending.TOO_MANY_CONNECTIONS)
                return
        conn.deadline = self.loop.now() + self.config.registration_timeout
        if not self._registering:
            self.loop.call_at(conn.deadline, Server._expire_registrations, self)
        self._registering.append(conn)

    # -- reading ---------------------------------------------------------------------------

    def on_readable(self, conn: Connection) -> None:
        throttle = conn.throttle
        if throttle is not None and conn.phase is Phase.OPEN:
            self._read_metered(conn, throttle)  # flood control (an exempt connection's is None)
            return
        try:
            data = conn.transport.recv(limits.RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._drop(conn, f"connection error: {error.strerror or error}")
            return
        if conn.phase is not Phase.OPEN:
            if not data:
                self._peer_closed_after_final_reply(conn)
            return  # input after a final reply is read and discarded
        if not data:
            self._peer_closed(conn)
            return
        text = conn.codec.said(data)
        if text is not None:  # the common read: one chat line, nothing to answer, the watch unchanged
            self.hub.say(conn, text)
        else:
            self._serve(conn, conn.codec.requests(data))
        if conn.transport.buffers_input and conn.transport.pending() and self._reading(conn):
            self.loop.mark_readable(conn)  # more is held inside the transport (TLS): read it next turn

    def _serve(self, conn: Connection, requests: Iterator[Request]) -> None:
        refusals: list[Refuse] = []  # replies to bad lines, sent together (one log line per read)
        hub = self.hub
        for request in requests:
            if type(request) is Say:
                if request.room is None:
                    hub.say(conn, request.text)
                elif not hub.say(conn, request.text, request.room):
                    self._answer(conn, 404, [not_in_room(request.room)])
                continue
            if isinstance(request, Refuse) and not request.fatal:
                refusals.append(request)
                continue
            if refusals:  # they answer lines that came first: they go out first
                self._refuse_lines(conn, refusals)
                refusals = []
                if conn.phase is not Phase.OPEN:
                    break
            if isinstance(request, Command):
                hub.command(conn, request.text, self._answer, request.room)
            elif isinstance(request, Rename):  # IRC's NICK
                hub.rename(conn, request.name, self._answer, request.renamed)
            elif isinstance(request, Reply):  # the codec's own answer (IRC): after what was routed before it
                hub.deliver()
                if not conn.deliver(request.data):
                    self._close_later(conn, "could not take more output")
            elif isinstance(request, Register):
                self._deciding_now = conn
                try:
                    attempt = self._attempt(conn, request) if self.accounts is not None else None
                    hub.register(conn, request.name, self._registration_decided, request.replay, attempt)
                finally:
                    self._deciding_now = None
                if conn.codec.paused and conn.phase is Phase.OPEN:
                    # Stop reading until it is decided; the codec keeps the rest of this read
                    # (it stops yielding by itself: breaking out here would lose those lines).
                    self._watch(conn)
            elif isinstance(request, Leave):
                self._leave(conn)
            elif isinstance(request, Authenticate):
                self._authenticate(conn, request)
            elif isinstance(request, Remove):  # an IRC KICK or KILL: the codec checked the authority
                if request.room is None:
                    hub.remove_from_server(conn, request.name, request.reason, self._answer)
                else:
                    hub.remove_from_room(conn, request.name, request.room, request.reason, self._answer)
            elif isinstance(request, Refuse):
                limit = f" (limit {request.limit})" if request.limit else ""
                level = logging.WARNING if request.limit else logging.INFO
                log.log(level, "Closing %s: %s%s", conn.label(), request.reason, limit)
                self._finish(conn, request.reply, request.reason)
            if conn.phase is not Phase.OPEN:
                break
        if refusals and conn.phase is Phase.OPEN:
            self._refuse_lines(conn, refusals)

    def _attempt(self, conn: Connection, request: Register) -> Attempt:
        """What the accounts judge; the peer's address is looked at only when a password came."""
        if request.credentials is None:
            return _PLAIN_ATTEMPTS[conn.wire.events]  # most registrations: nothing to make
        host = host_of(conn.transport)
        safe = self.config.allow_plain_passwords or password_channel_is_safe(conn.transport)
        return Attempt(request.credentials, conn.wire.events, host, safe, is_loopback(host))

    def _end_with(self, member: Recipient, code: int, sentence: str) -> None:
        """The hub ends `member` (an operator's kick or ban): one last line, then it is closed."""
        assert isinstance(member, Connection)
        if member.phase is Phase.OPEN:
            self._finish(member, member.codec.final_line(code, sentence), sentence)

    def _registration_decided(self, member: Recipient, name: str, verdict: Verdict | Refused) -> None:
        assert isinstance(member, Connection)
        conn = member
        if conn.phase is not Phase.OPEN:
            self.hub.leave(conn, "closed while its registration was decided")
            return
        later = conn is not self._deciding_now  # then reading was paused until now
        if isinstance(verdict, Refused):
            log.info("Registration refused for %s: %s %s", conn.address, verdict.code, verdict.sentence)
            self._finish(conn, conn.codec.refuse_with(verdict.code, verdict.sentence), "registration refused")
            return
        if verdict is Verdict.ACCEPTED:
            if not conn.deliver(conn.codec.accept(name)):
                self._drop(conn, "peer gone")
                return
        else:
            log.info("Registration refused for %s: name %r is taken", conn.address, name)
            self._finish(conn, conn.codec.refuse_taken(), "name taken")
            return
        if later:  # what waited is judged now, and reading goes on
            self._watch(conn)
            self._serve_later(conn, conn.codec.waiting_requests())
            if conn.transport.buffers_input and conn.transport.pending() and self._reading(conn):
                self.loop.mark_readable(conn)  # input held in the transport (TLS, WebSocket) while paused

    def _answer(self, member: Recipient, code: int, lines: list[str]) -> None:
        """A command's reply, after the lines routed before it (so the member sees them in order)."""
        assert isinstance(member, Connection)
        if member.phase is not Phase.OPEN:
            return
        self.hub.deliver()
        if not member.deliver(member.wire.encode_reply(code, lines)):
            self._close_later(member, "could not take more output")

    def _refuse_lines(self, conn: Connection, refusals: list[Refuse]) -> None:
        """One reply per refused line, sent together, and one log line per read (not per line)."""
        more = f" (and {len(refusals) - 1} more)" if len(refusals) > 1 else ""
        log.info("Refused a line from %s: %s%s", conn.label(), refusals[0].reason, more)
        if not conn.deliver(b"".join(refusal.reply for refusal in refusals)):
            self._close_later(conn, "could not take more output")

    # -- writing ---------------------------------------------------------------------------

    def wants_write(self, conn: Connection) -> None:
        self._watch(conn)

    def on_writable(self, conn: Connection) -> None:
        try:
            done = conn.flush()
        except OSError as error:
            self._close_later(conn, f"connection error: {error.strerror or error}")
            return
        if not done:
            return
        if conn.phase is Phase.DRAINING:
            self._start_lingering(conn)
        elif conn.phase is Phase.FLUSHING:
            self._close_later(conn, "closed by client, after its last lines were written")
        else:
            self._watch(conn)

    def _reading(self, conn: Connection) -> bool:
        phase = conn.phase
        if phase is Phase.OPEN:
            return not conn.codec.paused and (conn.throttle is None or not conn.throttle.paused)
        return phase is Phase.DRAINING or phase is Phase.LINGERING

    def _watch(self, conn: Connection) -> None:
        """Watch `conn` for what it needs now: reading unless paused or done, writing while queued."""
        if conn.phase is Phase.CLOSED:
            return
        events = (_READ if self._reading(conn) else 0) | (_WRITE if conn.out is not None else 0)
        key = self.loop.selector.get_map().get(conn.fd)
        if key is None:
            if events:
                self.loop.watch(conn.transport, events, conn)
        elif not events:
            self.loop.unwatch(conn.transport)
        elif key.events != events:
            self.loop.rewatch(conn.transport, events, conn)

    # -- delivery (before the loop sleeps) ---------------------------------------------------

    def _deliver_when_due(self) -> None:
        if not self.hub.has_pending():
            return
        now = self.loop.now()
        if now >= self._window_end:
            self._adapt_delivery(now)
        due = self._last_delivery + self.config.delivery_interval
        if now >= due or not self._batching:
            self._last_delivery = now
            self.hub.deliver()
        else:
            self.loop.wake_by(due)

    def _adapt_delivery(self, now: float) -> None:
        """Wait the delivery interval only while a room gathers several lines in it.

        One busy room (everyone hears every line) gains from waiting: each
        member gets one send() for all the lines of the interval. Many quiet
        rooms gain nothing (a room rarely has two lines in one interval), and
        waiting would only add latency and loop turns.
        """
        window = limits.DELIVERY_ADAPT_WINDOW_S
        lines, rooms = self.hub.take_traffic()
        elapsed = max(window, now - (self._window_end - window))
        per_room = lines / rooms * self.config.delivery_interval / elapsed if rooms else 0.0
        self._batching = per_room >= limits.DELIVERY_BATCH_MIN_LINES
        self._window_end = now + window

    def _drop_unreachable(self) -> None:
        for member in self.hub.take_dropped():
            assert isinstance(member, Connection)
            self._close_later(member, "could not take more output")

    # -- ending connections --------------------------------------------------------------------

    def _end(self, conn: Connection, ending: Ending) -> None:
        """The server ends `conn` on its own (timeout, limit, shutdown) with its codec's last line."""
        self._finish(conn, conn.codec.ending(ending), ending.value)

    def _finish(self, conn: Connection, reply: bytes, reason: str) -> None:
        """Send a final reply, then close politely (write, shut down, wait for the peer)."""
        self.hub.leave(conn, reason)
        conn.codec.close()
        conn.phase = Phase.DRAINING
        if not conn.deliver(reply):
            self._close_later(conn, reason)
        elif conn.out is None:
            self._start_lingering(conn)
        else:  # a peer that does not read its final reply is closed all the same
            self._set_linger_deadline(conn)
            self._watch(conn)

    def _start_lingering(self, conn: Connection) -> None:
        try:
            conn.transport.shutdown_write()
        except OSError:
            self._close_later(conn, "peer gone")
            return
        conn.phase = Phase.LINGERING
        self._set_linger_deadline(conn)
        self._watch(conn)

    def _set_linger_deadline(self, conn: Connection) -> None:
        """One deadline per connection: a later one replaces the earlier (whose timer then does nothing)."""
        conn.deadline = self.loop.now() + limits.LINGER_TIMEOUT_S
        self.loop.call_at(conn.deadline, self._linger_expired, conn)

    def _linger_expired(self, conn: Connection) -> None:
        if (
            conn.phase in (Phase.DRAINING, Phase.FLUSHING, Phase.LINGERING)
            and self.loop.now() >= conn.deadline
        ):
            self._close_later(conn, "peer did not read or close after its final reply")

    def _expire_registrations(self) -> None:
        """408 for every connection whose registration time is up; then wait for the next one."""
        waiting, now = self._registering, self.loop.now()
        while waiting:
            conn = waiting[0]
            undecided = conn.phase is Phase.OPEN and not conn.codec.registered
            if undecided and conn.deadline > now:
                self.loop.call_at(conn.deadline, Server._expire_registrations, self)
                return
            waiting.popleft()
            if undecided:
                log.info("Registration timeout for %s", conn.address)
                self._end(conn, Ending.REGISTRATION_TIMEOUT)

    def _peer_closed(self, conn: Connection) -> None:
        """End of stream from an open connection: it left; what is queued for it is still written."""
        self._leave(conn, "connection closed by client")

    def _leave(self, conn: Connection, reason: str = "left") -> None:
        """The user is gone at once; replies already queued for it are still written, then it is closed."""
        if conn.out is None:
            self._drop(conn, reason)
            return
        self.hub.leave(conn, reason)
        conn.codec.close()
        self._flush_then_close(conn)

    def _peer_closed_after_final_reply(self, conn: Connection) -> None:
        if conn.phase is Phase.DRAINING and conn.out is not None:
            self._flush_then_close(conn)  # half-closed (nc -N): its final reply still goes out
        else:
            self._drop(conn, "closed after final reply")

    def _flush_then_close(self, conn: Connection) -> None:
        """Stop reading (the peer is done), write what is queued, then close; bounded by the linger time."""
        conn.phase = Phase.FLUSHING
        self._set_linger_deadline(conn)
        self._watch(conn)

    def _drop(self, conn: Connection, reason: str) -> None:
        """Close now: the peer left, reset, or we are done lingering."""
        self.hub.leave(conn, reason)
        conn.codec.close()
        self._close_later(conn, reason)

    def _close_later(self, conn: Connection, reason: str) -> None:
        if conn.phase is not Phase.CLOSED:
            self.hub.leave(conn, reason)
            conn.phase = Phase.CLOSED
            self._to_close.append((conn, reason))

    def on_error(self, conn: Connection, error: Exception) -> None:
        """Serving one connection raised: log it once with its traceback, close it, keep serving."""
        log.error("Unexpected error while serving %s; closing that connection", conn.label(), exc_info=error)
        with contextlib.suppress(Exception):
            conn.codec.close()
        self._close_later(conn, f"unexpected error: {error!r}")

    def _reap(self) -> None:
        """Close marked sockets here, never while a list of connections is being walked."""
        if not self._to_close:
            return
        to_close, self._to_close = self._to_close, []
        for conn, reason in to_close:
            if self.connections.pop(conn.fd, None) is None:
                continue
            log.debug("Closing %s: %s", conn.label(), reason)
            with contextlib.suppress(KeyError, ValueError):
                self.loop.unwatch(conn.transport)
            conn.transport.close()
            conn.out = None
            host = self._host_of_fd.pop(conn.fd, None)
            if host is not None:
                remaining = self._per_address.get(host, 1) - 1
                if remaining > 0:
                    self._per_address[host] = remaining
                else:
                    self._per_address.pop(host, None)

    # -- shutting down ---------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Tell every client DISCONNECT CHAT/1.0, make sure it is written, close everything.

        Slow readers get up to the shutdown timeout; a second SIGINT/SIGTERM
        ends the wait at once.
        """
        log.info("Interrupt received, shutting down ...")
        self._state = _Run.SHUTTING_DOWN
        self.hub.presence = False  # everyone is leaving: DISCONNECT says it once
        for listener in self.listeners:
            listener.close()
        if self.tls is not None:
            self.tls.close()  # and the handshakes under way
        if self.web is not None:
            self.web.close()  # and the page loads under way
        if self.irc_tls is not None:
            self.irc_tls.close()  # and the IRC handshakes under way
        self.hub.deliver()  # lines already read still reach their recipients first
        self._drop_unreachable()
        for conn in list(self.connections.values()):
            if conn.phase is Phase.OPEN:
                self._end(conn, Ending.SERVER_SHUTDOWN)
        self._reap()
        flush_deadline = self.loop.now() + self.config.shutdown_timeout
        close_deadline: float | None = None
        while self.connections and self._state is _Run.SHUTTING_DOWN:
            now = self.loop.now()
            if close_deadline is None and all(
                conn.phase is not Phase.DRAINING and conn.phase is not Phase.FLUSHING
                for conn in self.connections.values()
            ):
                # Everything is written; give clients a moment to close first, so
                # that our close cannot reset a connection with unread replies.
                close_deadline = min(flush_deadline, now + limits.SHUTDOWN_CLOSE_WAIT_S)
            until = close_deadline if close_deadline is not None else flush_deadline
            if now >= until:
                break
            self.loop.run_once(until - now)
        for conn in list(self.connections.values()):
            self._close_later(conn, "server shutting down")
        self._reap()
