"""HTTP connections in the server's loop: the page's files, and the upgrade that makes a chat connection.

A connection on the web port is a `_Session` until it is closed or upgraded.
It is no client (it is not counted as a user and has no registration timeout):
one that sends nothing is closed after the idle timeout (browsers open
speculative connections they never use, and keep used ones open), and one
whose request head does not end after the slow-request timeout. A connection
is kept alive between requests (HTTP/1.1 unless it says close; at most
MAX_HTTP_REQUESTS; an error other than 404 closes it); while a response goes
out nothing is read, so pipelined requests wait in the kernel. Each timeout
is the same time after the event that starts it, so, as for registrations, a
queue per timeout in start order and one loop timer for its first entry stand
for all of them.

`GET /ws` with a valid WebSocket upgrade and an allowed Origin gets its 101
from wsproto; once written, the socket is handed to the server (`ready`)
wrapped in a WebSocketTransport, and from then on it is a chat connection.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import selectors
import socket
from collections import deque
from collections.abc import Callable

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection
from wsproto.events import Request as UpgradeRequest

from chatroom.limits import LINGER_TIMEOUT_S, MAX_HTTP_CONNECTIONS, MAX_HTTP_REQUESTS, RECV_BYTES
from chatroom.net.loop import EventLoop
from chatroom.net.tls import TLSTransport
from chatroom.net.transport import PlainTransport
from chatroom.web.http import BadRequest, Request, RequestParser, error_response, response
from chatroom.web.static import StaticFiles
from chatroom.web.websocket import WebSocketTransport

log = logging.getLogger("chatroom.server")

WS_PATH = "/ws"

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE

Ready = Callable[[WebSocketTransport, tuple[str, int]], None]
HttpTransport = PlainTransport | TLSTransport


class _Phase(enum.Enum):
    READING = "reading"  # waiting for (the rest of) a request head
    WRITING = "writing"  # the response is going out
    LINGERING = "lingering"  # written and shut down for writing: waiting for the peer's close
    DONE = "done"  # closed, or handed over as a chat connection


class _Session:
    """One HTTP connection; the loop's handler until it is closed or upgraded."""

    __slots__ = (
        "transport",
        "address",
        "parser",
        "out",
        "phase",
        "deadline",
        "waiting",
        "upgrade",
        "peer_closed",
        "keep_alive",
        "requests",
        "gateway",
    )

    def __init__(self, transport: HttpTransport, address: tuple[str, int], gateway: WebGateway) -> None:
        self.transport = transport
        self.address = address
        self.parser = RequestParser()
        self.out = bytearray()
        self.phase = _Phase.READING
        self.deadline = 0.0
        self.waiting: _Deadlines | None = None  # the one timeout that applies now
        self.upgrade: WebSocketTransport | None = None
        self.peer_closed = False  # it shut down its side after its request
        self.keep_alive = False  # the response being written leaves the connection open
        self.requests = 0
        self.gateway = gateway

    def handle_io(self, mask: int) -> None:
        self.gateway.step(self, mask)

    def handle_error(self, error: Exception) -> None:
        log.error("Unexpected error while serving web connection %s; closed it", self.address, exc_info=error)
        self.gateway.close_session(self)


def _wants_keep_alive(request: Request) -> bool:
    """HTTP/1.1 keeps a connection unless told to close; HTTP/1.0 only when asked (RFC 9112 9.3)."""
    if request.header("content-length") not in (None, "0") or request.header("transfer-encoding"):
        return False  # a body we do not read would be taken for the next request
    if request.version == "HTTP/1.1":
        return not request.has_token("connection", "close")
    return request.has_token("connection", "keep-alive")


class _Deadlines:
    """Sessions waiting out the same timeout, in start order; one loop timer for the first of them."""

    def __init__(self, loop: EventLoop, timeout: float, expired: Callable[[_Session], None]) -> None:
        self.loop = loop
        self.timeout = timeout
        self._expired = expired
        self._queue: deque[tuple[float, _Session]] = deque()
        self._timer_set = False

    def add(self, session: _Session) -> None:
        """Start `session`'s timeout (replacing whichever it was waiting out)."""
        session.deadline = deadline = self.loop.now() + self.timeout
        session.waiting = self
        self._queue.append((deadline, session))
        if not self._timer_set:
            self._timer_set = True
            self.loop.call_at(deadline, _Deadlines._expire, self)

    def _expire(self) -> None:
        self._timer_set = False
        queue, now = self._queue, self.loop.now()
        while queue:
            deadline, session = queue[0]
            if deadline > now:
                self._timer_set = True
                self.loop.call_at(deadline, _Deadlines._expire, self)
                return
            queue.popleft()
            if session.waiting is self and session.deadline == deadline and session.phase is not _Phase.DONE:
                self._expired(session)

    def handle_error(self, error: Exception) -> None:
        log.error("Unexpected error in a web timeout; still serving", exc_info=error)


class WebGateway:
    """Makes and serves HTTP sessions; `ready(transport, address)` gets each upgraded connection.

    `origins`: the Origin values allowed to upgrade (lower case, no trailing
    slash); empty allows the page's own origin only (scheme + Host). `secure`:
    the listener is TLS (the page's own origin is https://).
    """

    def __init__(
        self,
        loop: EventLoop,
        ready: Ready,
        *,
        max_line: int,
        origins: tuple[str, ...] = (),
        secure: bool = False,
        static: StaticFiles | None = None,
        idle_timeout: float,
        request_timeout: float,
    ) -> None:
        self.loop = loop
        self.max_line = max_line
        self.origins = frozenset(origin.lower().rstrip("/") for origin in origins)
        self.secure = secure
        self.static = static if static is not None else StaticFiles()
        self.sessions: set[_Session] = set()
        self._ready = ready
        self._idle = _Deadlines(loop, idle_timeout, self._idle_expired)
        self._slow = _Deadlines(loop, request_timeout, self._slow_expired)
        self._linger = _Deadlines(loop, LINGER_TIMEOUT_S, self._linger_expired)

    def full(self) -> bool:
        return len(self.sessions) >= MAX_HTTP_CONNECTIONS

    def make(self, transport: HttpTransport, address: tuple[str, int]) -> None:
        """A new connection ready for HTTP (a plain one at once, a TLS one after its handshake)."""
        try:
            transport.setblocking(False)
            with contextlib.suppress(OSError):
                transport.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = _Session(transport, address, self)
            self.loop.watch(transport, _READ, session)
        except BaseException:
            transport.close()
            raise
        self.sessions.add(session)
        self._idle.add(session)
        if transport.pending():
            self.loop.mark_readable(session)  # a TLS request that came with the handshake's last bytes

    def close(self) -> None:
        """Close every session (the server is shutting down; none of them is a user)."""
        for session in list(self.sessions):
            self.close_session(session)

    # -- serving -------------------------------------------------------------------------------

    def step(self, session: _Session, mask: int) -> None:
        if mask & _READ and session.phase is not _Phase.DONE:
            self._read(session)
        if mask & _WRITE and session.phase is _Phase.WRITING:
            self._write(session)

    def _read(self, session: _Session) -> None:
        transport = session.transport
        try:
            data = transport.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close_session(session)
            return
        if not data:
            if session.phase is _Phase.WRITING and session.upgrade is None:
                # Half-closed after its request (nc -N): the response still goes out, then we close.
                session.peer_closed = True
                self.loop.rewatch(transport, _WRITE, session)
            else:
                self.close_session(session)
            return
        if session.phase is _Phase.READING:
            self._received(session, data)
        # (Bytes after a last response are read and discarded.)
        if session.phase is not _Phase.DONE and transport.pending():
            self.loop.mark_readable(session)

    def _received(self, session: _Session, data: bytes) -> None:
        started = session.parser.started
        try:
            request = session.parser.feed(data)
        except BadRequest as error:
            self._refuse(session, 400, str(error))
            return
        if request is not None:
            session.requests += 1
            session.keep_alive = session.requests < MAX_HTTP_REQUESTS and _wants_keep_alive(request)
            self._answer(session, request)
        elif not started and session.parser.started:
            self._slow.add(session)  # a request has begun: it has the slow-request time to end

    def _answer(self, session: _Session, request: Request) -> None:
        path = request.path
        if path == WS_PATH:
            self._upgrade(session, request)
            return
        found = self.static.get(path)
        if found is None and path == "/favicon.ico" and request.method in ("GET", "HEAD"):
            # Every browser asks for it; "nothing" keeps its console free of a 404 (the page may ship one).
            self._respond(session, response(204, [self._connection(session)], length=False))
        elif found is None:
            self._refuse(session, 404, f"no such page: {path}", keep=True, quiet=True)
        elif request.method not in ("GET", "HEAD"):
            self._refuse(
                session, 405, f"{request.method} is not served", [("Allow", "GET, HEAD")], quiet=True
            )
        else:
            headers = [
                ("Content-Type", found.content_type),
                ("Cache-Control", "no-cache"),
                self._connection(session),
            ]
            log.debug("Web: %s %s 200 for %s", request.method, path, session.address)
            self._respond(session, response(200, headers, found.body, head_only=request.method == "HEAD"))

    def _upgrade(self, session: _Session, request: Request) -> None:
        if request.method != "GET":
            self._refuse(session, 405, "the chat is reached with a WebSocket GET", [("Allow", "GET")])
            return
        if not request.has_token("upgrade", "websocket"):
            self._refuse(session, 426, "this is a WebSocket endpoint", [("Upgrade", "websocket")])
            return
        if request.header("sec-websocket-version") != "13":
            self._refuse(session, 426, "WebSocket version 13 only", [("Sec-WebSocket-Version", "13")])
            return
        if not request.has_token("connection", "upgrade") or request.header("sec-websocket-key") is None:
            self._refuse(session, 400, "not a valid WebSocket upgrade")
            return
        origin = request.header("origin")
        if origin is not None and not self._origin_allowed(origin, request):
            log.info("Web: refused a WebSocket from %s: Origin %r is not allowed", session.address, origin)
            self._refuse(
                session, 403, "this page's origin may not connect here (see --web-origin)", quiet=True
            )
            return
        ws = WSConnection(ConnectionType.SERVER)
        try:
            ws.receive_data(request.head)
            events = list(ws.events())
            if len(events) != 1 or not isinstance(events[0], UpgradeRequest):
                raise BadRequest(f"unexpected upgrade events {events!r}")
            reply = ws.send(AcceptConnection())
        except Exception as error:  # wsproto and h11 have several error types; each means a bad request
            self._refuse(session, 400, f"not a valid WebSocket upgrade ({error})")
            return
        session.upgrade = WebSocketTransport(session.transport, ws, self.max_line)
        self._respond(session, reply)

    def _origin_allowed(self, origin: str, request: Request) -> bool:
        origin = origin.lower().rstrip("/")
        if self.origins:
            return origin in self.origins
        host = request.header("host")
        scheme = "https" if self.secure else "http"
        return host is not None and origin == f"{scheme}://{host.lower()}"

    def _refuse(
        self,
        session: _Session,
        status: int,
        sentence: str,
        headers: list[tuple[str, str]] | None = None,
        *,
        keep: bool = False,
        quiet: bool = False,
    ) -> None:
        """An error response; `keep`: the connection may stay open after it (a 404), else it closes."""
        level = logging.DEBUG if quiet else logging.INFO
        log.log(level, "Web: %d for %s: %s", status, session.address, sentence)
        session.keep_alive = session.keep_alive and keep
        self._respond(
            session, error_response(status, sentence, [*(headers or []), self._connection(session)])
        )

    @staticmethod
    def _connection(session: _Session) -> tuple[str, str]:
        return ("Connection", "keep-alive" if session.keep_alive else "close")

    def _respond(self, session: _Session, data: bytes) -> None:
        """Write `data`; then close (a page or an error) or hand over (an upgrade)."""
        session.phase = _Phase.WRITING
        session.out = bytearray(data)
        self._linger.add(session)  # a peer that does not read its response is closed all the same
        self._write(session)

    def _write(self, session: _Session) -> None:
        try:
            sent = session.transport.send(session.out)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close_session(session)
            return
        del session.out[:sent]
        if session.out:
            # An upgrade reads nothing until its 101 is out: the frames behind it are the chat's.
            # Nor does a kept-alive connection: the next request waits in the kernel, not here.
            quiet = session.upgrade is not None or session.peer_closed or session.keep_alive
            reading = 0 if quiet else _READ
            self.loop.rewatch(session.transport, reading | _WRITE, session)
            return
        if session.upgrade is not None:
            self._hand_over(session, session.upgrade)
            return
        if session.peer_closed:
            self.close_session(session)
            return
        if session.keep_alive:
            self._next_request(session)
            return
        try:
            session.transport.shutdown_write()
        except OSError:
            self.close_session(session)
            return
        session.phase = _Phase.LINGERING
        self.loop.rewatch(session.transport, _READ, session)

    def _next_request(self, session: _Session) -> None:
        """Keep-alive: the connection waits for its next request (one may have come behind the last)."""
        session.phase = _Phase.READING
        session.keep_alive = False
        pipelined = session.parser.rest
        session.parser = RequestParser()
        self._idle.add(session)
        self.loop.rewatch(session.transport, _READ, session)
        if pipelined:  # next turn, not from here: a hundred pipelined requests are no recursion
            self.loop.call_at(self.loop.now(), self._pipelined, (session, pipelined))
        elif session.transport.pending():
            self.loop.mark_readable(session)

    def _pipelined(self, work: tuple[_Session, bytes]) -> None:
        session, data = work
        if session.phase is _Phase.READING:
            self._received(session, data)

    def _hand_over(self, session: _Session, transport: WebSocketTransport) -> None:
        """The 101 is written: from now on the server's connection, not ours."""
        self._forget(session)
        transport.take_early(session.parser.rest)
        self._ready(transport, session.address)

    # -- ending ---------------------------------------------------------------------------------

    def _idle_expired(self, session: _Session) -> None:
        log.debug("Web: idle connection from %s closed", session.address)
        self.close_session(session)

    def _slow_expired(self, session: _Session) -> None:
        log.info("Web: request from %s not complete in time; closed", session.address)
        self.close_session(session)

    def _linger_expired(self, session: _Session) -> None:
        self.close_session(session)

    def _forget(self, session: _Session) -> None:
        session.phase = _Phase.DONE
        session.waiting = None
        self.sessions.discard(session)
        with contextlib.suppress(KeyError, ValueError):
            self.loop.unwatch(session.transport)

    def close_session(self, session: _Session) -> None:
        if session.phase is _Phase.DONE:
            return
        self._forget(session)
        session.transport.close()
