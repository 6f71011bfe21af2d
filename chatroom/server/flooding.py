"""Flood control in the server: what it does when a connection, a room or an address is over its limit.

The counting is chatroom.net.flood's; this module acts on it (docs/SECURITY.md, "Flood control"):

- a connection over its allowance of lines or bytes is not read until the
  allowance refills (its lines are delayed, not lost), told once per episode
  (`429 Slow down: ...`), and disconnected only when the flood goes on;
- a chat line to a room that has had its fill from non-exempt senders is not
  relayed: `429 Not sent: ...` to its sender;
- a new connection over its address's rate, or past the server-wide cap, is
  refused at accept with one line, before anything is made for it.

Connections from exempt addresses (loopback by default) are plain
`Connection`s whose `throttle` is None: the read path checks that once per
read and does nothing else for them.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chatroom.codecs.requests import Codec, Ending, Request, Say
from chatroom.limits import ACCEPT_WARNING_INTERVAL_S, MAX_ROOMS, RECV_BYTES
from chatroom.net.connection import Connection, MeteredConnection, Owner, Phase
from chatroom.net.flood import (
    LOOPBACK,
    Exemptions,
    FloodPolicy,
    KeyedBuckets,
    Network,
    Throttle,
    address_key,
    parse_networks,
)
from chatroom.net.transport import Transport
from chatroom.protocol.names import room_key

if TYPE_CHECKING:
    from chatroom.hub.hub import Hub
    from chatroom.net.loop import EventLoop

log = logging.getLogger("chatroom.server")

SERVER_FULL = b"429 Server full; try again later\n"


@dataclass(frozen=True)
class FloodSettings:
    """What the command line decides about flood control and connection limits.

    `policy` None is --no-flood-control. `max_connections` 0: no server-wide cap.
    """

    policy: FloodPolicy | None = field(default_factory=FloodPolicy)
    exempt: tuple[Network, ...] = field(default_factory=lambda: parse_networks(LOOPBACK))
    max_connections: int = 0


class _RateLimitedLog:
    """A warning per kind of event at most every ACCEPT_WARNING_INTERVAL_S, with how many it stands for."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, int]] = {}  # kind -> (when logged, events since)

    def warn(self, now: float, kind: str, message: str, *args: object) -> None:
        last, unlogged = self._last.get(kind, (float("-inf"), 0))
        if now - last < ACCEPT_WARNING_INTERVAL_S:
            self._last[kind] = (last, unlogged + 1)
            return
        if len(self._last) > MAX_ROOMS:  # bounded: forgetting only means logging again sooner
            self._last.clear()
        self._last[kind] = (now, 0)
        also = f" (and {unlogged} more since the last warning)" if unlogged else ""
        log.warning(message + also, *args)


class FloodControl:
    """The Server's flood control (a mixin: it acts through the server's own steps)."""

    if TYPE_CHECKING:
        loop: EventLoop
        hub: Hub
        connections: dict[int, Connection]

        def _serve(self, conn: Connection, requests: Iterator[Request]) -> None: ...
        def _watch(self, conn: Connection) -> None: ...
        def _reading(self, conn: Connection) -> bool: ...
        def _end(self, conn: Connection, ending: Ending) -> None: ...
        def _drop(self, conn: Connection, reason: str) -> None: ...
        def _peer_closed(self, conn: Connection) -> None: ...
        def _close_later(self, conn: Connection, reason: str) -> None: ...

    def _init_flood_control(self, settings: FloodSettings) -> None:
        self.flood = settings
        self._exempt = Exemptions(settings.exempt)
        policy = settings.policy
        self._room_meter = KeyedBuckets(policy.room, 4 * MAX_ROOMS) if policy is not None else None
        self._connect_meter = KeyedBuckets(policy.connects) if policy is not None else None
        self._flood_log = _RateLimitedLog()

    def _flood_exempt(self, host: str) -> bool:
        """Whether flood control leaves connections from `host` alone."""
        return self._exempt.covers(host)

    # -- accepting ------------------------------------------------------------------------------

    def _refused_at_accept(
        self, transport: socket.socket, host: str, exempt: bool, *, quiet: bool = False
    ) -> bool:
        """Refuse a connection past the server-wide cap or its address's rate: one line, then close.

        Nothing is kept for it (no connection, no selector entry, no timer): a
        connection flood costs an accept, a send and a close each. `quiet`
        closes without the line: a TLS connection is refused before its
        handshake (which is what costs), where a plain-text line means nothing.
        """
        cap = self.flood.max_connections
        now = self.loop.now()
        if cap and len(self.connections) >= cap:
            self._flood_log.warn(
                now, "full", "Server full (%d connections, --max-connections); refusing", cap
            )
            _refuse(transport, b"" if quiet else SERVER_FULL)
            return True
        meter = self._connect_meter
        if exempt or meter is None:
            return False
        key = address_key(host)
        if meter.take(key, now):
            return False
        wait = max(1, math.ceil(meter.retry_after(key)))
        self._flood_log.warn(
            now, f"connect {key}", "Too many new connections from %s (--flood-connects); refusing", key
        )
        line = f"429 Too many connections from your address lately; try again in {wait} s\n"
        _refuse(transport, b"" if quiet else line.encode())
        return True

    def _new_connection(self, transport: Transport, codec: Codec, owner: Owner, exempt: bool) -> Connection:
        """A plain Connection for an exempt address (it costs nothing more), else a metered one."""
        policy = self.flood.policy
        if exempt or policy is None:
            return Connection(transport, codec, owner)
        return MeteredConnection(transport, codec, owner, policy, self.loop.now())

    # -- reading --------------------------------------------------------------------------------

    def _read_metered(self, conn: Connection, throttle: Throttle[Request]) -> None:
        """on_readable for an open connection under flood control: read no more than its allowance."""
        now = self.loop.now()
        size = throttle.read_size(now, RECV_BYTES)
        if size <= 0 or throttle.paused:
            self._flood_pause(conn, throttle, now)
            return
        try:
            data = conn.transport.recv(size)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._drop(conn, f"connection error: {error.strerror or error}")
            return
        if not data:
            self._peer_closed(conn)
            return
        throttle.spent(len(data))
        self._serve(conn, self._metered(conn, throttle, conn.codec.requests(data)))
        self._after_metered(conn, throttle, now)

    def _serve_later(self, conn: Connection, requests: Iterator[Request]) -> None:
        """Serve requests that waited (for a registration decided later), metered if `conn` is."""
        throttle = conn.throttle
        if throttle is None:
            self._serve(conn, requests)
            return
        self._serve(conn, self._metered(conn, throttle, requests))
        self._after_metered(conn, throttle, self.loop.now())

    def _after_metered(self, conn: Connection, throttle: Throttle[Request], now: float) -> None:
        if conn.phase is not Phase.OPEN:
            throttle.held = None
        elif throttle.must_pause(now):
            self._flood_pause(conn, throttle, now)
        elif conn.transport.buffers_input and conn.transport.pending() and self._reading(conn):
            self.loop.mark_readable(conn)

    def _metered(
        self, conn: Connection, throttle: Throttle[Request], requests: Iterator[Request]
    ) -> Iterator[Request]:
        """`requests` while the allowance lasts; the rest is held (read later, not lost)."""
        now = self.loop.now()
        for request in requests:
            if not throttle.take_line(now):
                throttle.hold(itertools.chain((request,), requests))
                return
            if type(request) is Say and not self._room_takes(conn, request, now):
                continue
            yield request

    def _room_takes(self, conn: Connection, say: Say, now: float) -> bool:
        """Whether the room `say` goes to takes one more line; if not, its sender is told."""
        meter = self._room_meter
        if meter is None:
            return True
        router = self.hub.router
        room = say.room
        if room is None:
            room = router.room_of(conn)
        elif not router.is_in(conn, room):
            return True  # answered 404 by _serve; it costs the room nothing
        key = room_key(room)
        if meter.take(key, now):
            return True
        rate = meter.rate
        self._flood_log.warn(
            now, f"room {key}", "Room %s is over its line rate (%s, --flood-room); not relaying", room, rate
        )
        sentence = (
            f"Not sent: {room} takes at most {rate.per_s:g} lines a second from everyone together; "
            "send it again in a moment."
        )
        if not conn.deliver(conn.wire.encode_notice(429, [sentence])):
            self._close_later(conn, "could not take more output")
        return False

    # -- pausing --------------------------------------------------------------------------------

    def _flood_pause(self, conn: Connection, throttle: Throttle[Request], now: float) -> None:
        """Stop reading `conn` until its allowance is back (one timer), or end a sustained flood."""
        if throttle.paused:
            return
        pause = throttle.pause(now)
        policy = throttle.policy
        if pause.sustained:
            throttle.held = None
            throttle.paused = False
            log.warning(
                "Disconnecting %s for flooding: throttled for most of %.0f s (limits: %s lines, %s bytes "
                "a second/burst; --flood-lines, --flood-bytes)",
                conn.label(),
                pause.until - throttle.episode_start,
                policy.lines,
                policy.bytes,
            )
            self._end(conn, Ending.FLOODING)
            return
        if pause.first:
            log.info("Throttling %s: over its flood limits; reading it more slowly", conn.label())
            if conn.codec.registered:
                sentence = (
                    f"Slow down: this server reads at most {policy.lines.per_s:g} lines and "
                    f"{policy.bytes.per_s:g} bytes a second from you; the rest waits (it is not lost), "
                    "and a flood that goes on is disconnected."
                )
                if not conn.deliver(conn.wire.encode_notice(429, [sentence])):
                    self._close_later(conn, "could not take more output")
                    return
        self._watch(conn)  # not reading while paused (see Server._reading)
        self.loop.call_at(pause.until, self._flood_resume, conn)

    def _flood_resume(self, conn: Connection) -> None:
        throttle = conn.throttle
        if throttle is None or not throttle.paused:
            return
        throttle.paused = False
        if conn.phase is not Phase.OPEN:
            throttle.held = None
            return
        held, throttle.held = throttle.held, None
        if held is not None:
            self._serve(conn, self._metered(conn, throttle, held))
        now = self.loop.now()
        if conn.phase is not Phase.OPEN:
            throttle.held = None
        elif throttle.must_pause(now):
            self._flood_pause(conn, throttle, now)
        else:
            self._watch(conn)  # reading again
            if conn.transport.buffers_input and conn.transport.pending() and self._reading(conn):
                self.loop.mark_readable(conn)


def _refuse(transport: socket.socket, line: bytes) -> None:
    """Send `line` if the kernel takes it now, read what the peer sent already, close."""
    with contextlib.suppress(OSError):
        transport.setblocking(False)
        if line:
            transport.send(line)
        transport.shutdown(socket.SHUT_WR)
        # What the peer sent before we closed (its REGISTER) would make close() send a
        # reset, which can destroy our line before the peer reads it: read it first.
        transport.recv(RECV_BYTES)
    transport.close()
