"""One client connection as the server keeps it: a transport, a codec, an output queue, a phase.

Output is written straight to the transport when the kernel has room
("write before sleeping"); only the remainder is queued, and the owner (the
server) is asked to watch for writability and call `flush()`. The queue is
bounded: a reader too slow for it is cut off, never allowed to grow memory.
"""

from __future__ import annotations

import enum
import logging
import selectors
from collections.abc import Iterable
from typing import Any, Protocol

from chatroom.codecs.requests import Codec, Request
from chatroom.hub.message import Wire
from chatroom.limits import SENDQ_MAX_BYTES, WRITE_BUDGET_PER_TURN
from chatroom.net.flood import FloodPolicy, Throttle
from chatroom.net.transport import Transport

log = logging.getLogger("chatroom.server")


class Phase(enum.Enum):
    """Where the connection is; the protocol's own state lives in its codec."""

    OPEN = "open"
    DRAINING = "draining"  # a final reply is queued: write it out, read and discard input
    FLUSHING = "flushing"  # the peer closed its side: write what is queued, then close
    LINGERING = "lingering"  # written and shut down for writing: wait for the peer's close
    CLOSED = "closed"


class Owner(Protocol):
    """What a connection reports to (the server)."""

    def on_readable(self, conn: Connection) -> None: ...

    def on_writable(self, conn: Connection) -> None: ...

    def wants_write(self, conn: Connection) -> None:
        """`conn` has queued output the kernel did not take: watch for writability."""

    def on_error(self, conn: Connection, error: Exception) -> None:
        """Serving `conn` raised: isolate it (log, close it) and keep serving the rest."""


class Connection:
    """A client's transport and codec, and everything the server keeps for it.

    Kept small on purpose (__slots__, output buffer created on demand): an
    idle registered user should cost well under a kilobyte of server memory.
    It is a recipient for the hub: a name, a wire, and `deliver`.
    """

    __slots__ = ("transport", "fd", "codec", "out", "phase", "deadline", "owner")

    throttle: Throttle[Request] | None = None
    # Flood control's allowance: None (a class attribute, no slot) for every connection
    # it exempts, so they pay neither memory nor work for it; see MeteredConnection.

    def __init__(self, transport: Transport, codec: Codec, owner: Owner) -> None:
        self.transport = transport
        self.fd = transport.fileno()
        self.codec = codec
        self.out: bytearray | None = None
        self.phase = Phase.OPEN
        self.deadline = 0.0  # when a linger or a registration ends; timers check it
        self.owner = owner

    @property
    def name(self) -> str:
        return self.codec.name

    @property
    def wire(self) -> Wire:
        return self.codec.wire

    @property
    def address(self) -> tuple[str, int] | str:
        return self.transport.address()

    def label(self) -> str:
        """How logs name this peer: the user, or the address before registration."""
        name = self.codec.name
        return f"user {name}" if name else f"client {self.address}"

    # -- the loop calls these --------------------------------------------------------------

    def handle_io(self, mask: int) -> None:
        if mask & selectors.EVENT_READ:
            self.owner.on_readable(self)
        if mask & selectors.EVENT_WRITE and self.phase is not Phase.CLOSED:
            self.owner.on_writable(self)

    def handle_error(self, error: Exception) -> None:
        self.owner.on_error(self, error)

    # -- output ------------------------------------------------------------------------------

    def deliver(self, payload: bytes) -> bool:
        """Send `payload` now if the transport takes it, else keep it for later.

        Returns False when the connection cannot take it (its queue would pass
        SENDQ_MAX_BYTES, or the peer is gone): the caller must drop it. The
        first byte that does not fit in the kernel asks the owner to watch for
        writability; `flush()` continues from there.
        """
        out = self.out
        if out is None:
            try:
                sent = self.transport.send(payload)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return False
            return sent == len(payload) or self._keep(payload, sent)
        if len(out) + len(payload) > SENDQ_MAX_BYTES:
            # A fast reader can be behind by one turn's worth: write what the
            # kernel takes before deciding that this reader is too slow.
            try:
                self.flush()
            except OSError:
                return False
            out = self.out
            if out is None:
                return self.deliver(payload)
            if len(out) + len(payload) > SENDQ_MAX_BYTES:
                return self._over_cap(len(out), len(payload))
        out += payload
        return True

    @staticmethod
    def deliver_each(group: Iterable[Any], payload: bytes, skip: object, dropped: list[Any]) -> None:
        """`deliver(payload)` to each connection of `group` but `skip`; those that cannot take it go
        to `dropped`. The fan-out's inner loop (chatroom.hub.router.DeliverEach), with deliver's
        common case inlined: a Python call per recipient is a good share of the cost of a delivery.
        Only for a hub whose every recipient is a Connection (the server's: see _drop_unreachable)."""
        size = len(payload)
        for conn in group:
            if conn is skip:
                continue
            if conn.out is None:
                try:
                    sent = conn.transport.send(payload)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except OSError:
                    dropped.append(conn)
                    continue
                if sent != size and not conn._keep(payload, sent):
                    dropped.append(conn)
            elif not conn.deliver(payload):
                dropped.append(conn)

    def _keep(self, payload: bytes, sent: int) -> bool:
        """Queue what the kernel did not take of `payload` (nothing was queued) and ask to be
        told when it can take more; False when even that is over the cap."""
        if len(payload) - sent > SENDQ_MAX_BYTES:
            return self._over_cap(0, len(payload) - sent)
        with memoryview(payload) as view:  # one copy of the remainder, not two
            self.out = bytearray(view[sent:])
        self.owner.wants_write(self)
        return True

    def _over_cap(self, queued: int, incoming: int) -> bool:
        log.warning(
            "Send queue full for %s: queued=%d incoming=%d limit=%d bytes; disconnecting",
            self.label(),
            queued,
            incoming,
            SENDQ_MAX_BYTES,
        )
        return False

    def flush(self) -> bool:
        """Write what the kernel takes now (bounded per turn); True when nothing is left.

        Raises OSError when the peer is gone; the caller closes the connection.
        """
        out = self.out
        if out is None:
            return True
        try:
            if len(out) <= WRITE_BUDGET_PER_TURN:
                sent = self.transport.send(out)
            else:
                with memoryview(out) as view:
                    sent = self.transport.send(view[:WRITE_BUDGET_PER_TURN])
        except (BlockingIOError, InterruptedError):
            return False
        if sent == len(out):
            self.out = None
            return True
        del out[:sent]
        return False


class MeteredConnection(Connection):
    """A connection under flood control: the same, with its allowance of lines and bytes."""

    __slots__ = ("throttle",)

    def __init__(
        self, transport: Transport, codec: Codec, owner: Owner, policy: FloodPolicy, now: float
    ) -> None:
        super().__init__(transport, codec, owner)
        self.throttle: Throttle[Request] | None = Throttle(policy, now)
