"""One client socket on the server: its protocol state, its output queue, its phase.

Output is written straight to the socket when the kernel has room (the
common case: one send() per client per delivery); only what does not fit is
queued, and the server then watches the socket for writability and calls
`flush()`. The queue is bounded: a reader too slow for it is cut off.
"""

from __future__ import annotations

import enum
import logging
import socket
from collections.abc import Callable

from chatroom.limits import RECV_BYTES, SENDQ_MAX_BYTES, WRITE_BUDGET_PER_TURN
from chatroom.protocol import ServerConnection, ServerState

log = logging.getLogger("chatroom.server")


def peer_address(raw: tuple[str, int] | tuple[str, int, int, int]) -> tuple[str, int]:
    """('127.0.0.1', 5000) also for IPv4 peers of a dual-stack socket (::ffff:127.0.0.1)."""
    host = raw[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return (host, raw[1])


class Phase(enum.Enum):
    """Where the transport is; the protocol's own state lives in ServerConnection."""

    OPEN = "open"
    DRAINING = "draining"  # a final reply is queued; stop reading lines, write it out
    LINGERING = "lingering"  # written and shut down for writing; wait for the peer's close
    CLOSED = "closed"


class Connection:
    """A client socket and everything the server keeps for it.

    Kept small on purpose (__slots__, output buffer created on demand): an
    idle registered user should cost well under a kilobyte of server memory.
    """

    __slots__ = ("sock", "fd", "protocol", "out", "phase", "deadline", "_wants_write")

    def __init__(
        self,
        sock: socket.socket,
        protocol: ServerConnection,
        wants_write: Callable[[Connection], None],
    ) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.protocol = protocol
        self.out: bytearray | None = None
        self.phase = Phase.OPEN
        self.deadline = 0.0  # when an unregistered connection times out
        self._wants_write = wants_write

    @property
    def address(self) -> tuple[str, int] | str:
        """The peer's (host, port), asked of the kernel: not stored, it would cost every idle user."""
        try:
            raw = self.sock.getpeername()
        except OSError:
            return "(disconnected peer)"
        return peer_address(raw) if isinstance(raw, tuple) else repr(raw)  # a Unix socket: a path

    @property
    def name(self) -> str:
        return self.protocol.name

    @property
    def registered(self) -> bool:
        return self.protocol.state is ServerState.REGISTERED and self.phase is Phase.OPEN

    def label(self) -> str:
        """How logs name this peer: the user, or the address before registration."""
        return f"user {self.protocol.name}" if self.protocol.name else f"client {self.address}"

    def queue(self, data: bytes) -> bool:
        """Send `data` now if the socket takes it, else keep it for later.

        Returns False when the connection cannot take it (its queue would pass
        SENDQ_MAX_BYTES, or the peer is gone): the caller must drop it. The
        first byte that does not fit in the kernel registers the connection for
        writability (via `wants_write`); `flush()` continues from there.
        """
        out = self.out
        if out is None:
            try:
                sent = self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return False
            if sent < len(data):
                self.out = bytearray(data[sent:] if sent else data)
                self._wants_write(self)
            return True
        if len(out) + len(data) > SENDQ_MAX_BYTES:
            # A fast reader can be behind by one turn's worth: write what the
            # kernel takes before deciding that this reader is too slow.
            try:
                self.flush()
            except OSError:
                return False
            out = self.out
            if out is None:
                return self.queue(data)
        if len(out) + len(data) > SENDQ_MAX_BYTES:
            log.warning(
                "Send queue full for %s: queued=%d incoming=%d limit=%d bytes; disconnecting",
                self.label(),
                len(out),
                len(data),
                SENDQ_MAX_BYTES,
            )
            return False
        out += data
        return True

    def flush(self) -> bool:
        """Write what the kernel takes now (bounded per turn); True when nothing is left.

        Raises OSError when the peer is gone; the caller closes the connection.
        """
        out = self.out
        if out is None:
            return True
        try:
            if len(out) <= WRITE_BUDGET_PER_TURN:
                sent = self.sock.send(out)
            else:
                with memoryview(out) as view:
                    sent = self.sock.send(view[:WRITE_BUDGET_PER_TURN])
        except (BlockingIOError, InterruptedError):
            return False
        if sent == len(out):
            self.out = None
            return True
        del out[:sent]
        return False

    def recv(self) -> bytes:
        """One read of at most RECV_BYTES; b"" at end of stream. Raises BlockingIOError when empty."""
        return self.sock.recv(RECV_BYTES)
