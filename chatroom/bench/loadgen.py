"""A load-generator worker: many client sockets in one process, on one epoll loop.

The coordinator (chatroom.bench.pool) sends a worker orders (chatroom.bench.orders)
over a pipe; the worker answers each with a report. Every socket is
non-blocking and every loop is bounded by a deadline.

The receive path is the hot loop, written so that the load generator is not
what a benchmark measures: one epoll, one recv_into() per readable socket into
one shared buffer, each chunk's lines checked and counted with five C-speed
scans (chatroom.bench.body.LineSpec), timestamps parsed only for a few lines
of some chunks, and input polled at most once per millisecond so that a
reader that is always caught up does not spend its core on one-line reads.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import errno
import os
import random
import select
import selectors
import socket
import ssl
import struct
import time

from chatroom.bench.body import LineKind, LineSpec, as_room_line
from chatroom.bench.orders import (
    Close,
    CloseReport,
    Phase,
    PhaseReport,
    Ramp,
    RampReport,
)
from chatroom.bench.procstat import own_cpu_seconds
from chatroom.bench.target import Endpoint
from chatroom.bench.tls import client_context
from chatroom.bench.websocket import WebSocketSocket, upgrade_request, upgrade_response

RECV_BYTES = 64 * 1024
# One recv_into() takes at most this much; a reader far behind catches up in
# few calls, and the count/scan work per call stays cache-sized.

MAX_TAIL_BYTES = 16 * 1024
# An unfinished line kept between reads. The server refuses lines over 8 KiB
# (chatroom/limits.py); anything longer without an LF is counted as
# malformed and dropped.

TLS_RECORD_BYTES = 16 * 1024
# The most plaintext one TLS record carries; a TLS read continues while that much room is left.

SAMPLE_CAP = 50_000
# Latency samples a worker keeps per phase (reservoir sampling past it).

REGISTER_SAMPLE_CAP = 20_000
STALL_NS = 30_000_000
# A registration still connecting, or with its bytes unacknowledged, after
# 30 ms sits in a full accept queue (loopback handshakes take microseconds):
# it is closed and retried at once instead of waiting for the kernel's 1-7 s
# SYN retransmits.
MAX_RETRIES = 50
BAD_EXAMPLES = 5

mono = time.monotonic_ns


class State(enum.Enum):
    CONNECTING = "connecting"
    HANDSHAKING = "handshaking"  # TLS (--tls) or WebSocket (--websocket): connected, the handshake under way
    REGISTERING = "registering"
    READY = "registered"
    LEAVING = "leaving"  # DISCONNECT sent, waiting for the server to close
    DEAD = "closed"


class Client:
    """One benchmark client's socket and counters."""

    __slots__ = (
        "sock",
        "fd",
        "name",
        "state",
        "tail",
        "out",
        "partial",
        "got",
        "sent",
        "quota",
        "t0",
        "why",
        "accept",
    )

    def __init__(self, sock: socket.socket, name: str) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.name = name
        self.state = State.CONNECTING
        self.tail = b""  # an unfinished line from the last read
        self.out = bytearray()  # bytes not yet taken by the kernel
        self.partial = False  # whether the kernel holds half of out's first line
        self.got = 0  # this phase's lines received
        self.sent = 0  # this phase's lines sent (all taken by the kernel, at the end)
        self.quota = 0  # soak: messages this session still has to send
        self.t0 = 0
        self.why = ""
        self.accept = b""  # --websocket: the Sec-WebSocket-Accept the server must answer


class ReadPoller:
    """epoll for reading where there is one (Linux), the selectors module elsewhere."""

    __slots__ = ("_epoll", "_selector")

    def __init__(self) -> None:
        self._epoll = select.epoll() if hasattr(select, "epoll") else None
        self._selector = None if self._epoll is not None else selectors.DefaultSelector()

    def add(self, fd: int) -> None:
        if self._epoll is not None:
            self._epoll.register(fd, select.EPOLLIN)
        elif self._selector is not None:
            self._selector.register(fd, selectors.EVENT_READ)

    def remove(self, fd: int) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            if self._epoll is not None:
                self._epoll.unregister(fd)
            elif self._selector is not None:
                self._selector.unregister(fd)

    def poll(self, timeout: float) -> list[tuple[int, int]]:
        if self._epoll is not None:
            return self._epoll.poll(timeout, 4096)
        assert self._selector is not None
        return [(key.fd, mask) for key, mask in self._selector.select(timeout)]

    def close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()
        elif self._selector is not None:
            self._selector.close()


class Tally:
    """The counts and latency samples of one phase's received lines."""

    __slots__ = (
        "spec",
        "mask",
        "got",
        "privates",
        "receipts",
        "late",
        "late_mode",
        "stale",
        "foreign",
        "wrong_sender",
        "notices",
        "bad_examples",
        "samples",
        "weights",
        "seen",
        "max_ns",
        "first_rx",
        "last_rx",
        "bytes",
        "reads",
    )

    def __init__(self, spec: LineSpec, sample_every: int) -> None:
        self.spec = spec
        every = 1
        while every < sample_every:  # a power of two, so `reads & mask` picks chunks
            every *= 2
        # 0 or less: never sample (reads & -1 is reads, never 0 once counted)
        self.mask = every - 1 if sample_every > 0 else -1
        self.got = 0
        self.privates = 0  # of got: private lines
        self.receipts = 0  # '215 Sent to NAME.': not deliveries, counted apart
        self.late = 0
        self.late_mode = False
        self.stale = 0
        self.foreign = 0
        self.wrong_sender = 0
        self.notices: collections.Counter[str] = collections.Counter()
        self.bad_examples: list[str] = []
        self.samples: list[int] = []
        self.weights: list[float] = []
        self.seen = 0
        self.max_ns = 0
        self.first_rx = 0
        self.last_rx = 0
        self.bytes = 0
        self.reads = 0

    def chunk(self, buf: bytearray, end: int, now: int) -> int:
        """Count the whole lines in buf[:end]; returns how many are good lines of this phase."""
        spec = self.spec
        lines = spec.count_whole(buf, end)
        if lines < 0:
            return self._line_by_line(bytes(buf[:end]), now)
        latency = now - spec.ts(buf, 0)
        if latency > self.max_ns:
            self.max_ns = latency
        if not (self.reads & self.mask):
            # Each sample stands for the deliveries of its chunk it represents,
            # times the chunks not sampled.
            length = spec.length
            if lines <= 4:
                starts: tuple[int, ...] | range = range(0, lines * length, length)
                weight = float(self.mask + 1)
            else:
                starts = (0, lines // 3 * length, 2 * lines // 3 * length, (lines - 1) * length)
                weight = lines / 4.0 * (self.mask + 1)
            for start in starts:
                if not spec.sender_matches(buf, start):
                    self.wrong_sender += 1
                    self.example(bytes(buf[start : start + length - 1]))
                self._sample(now - spec.ts(buf, start), weight)
        self._count(lines, now)
        return lines

    def _line_by_line(self, data: bytes, now: int) -> int:
        spec = self.spec
        good = 0
        for line in data.split(b"\n")[:-1]:
            kind = spec.classify(line)
            if kind is LineKind.PRIVATE:
                line = as_room_line(line)
                if not self.late_mode:
                    self.privates += 1
            if kind is LineKind.OK or kind is LineKind.PRIVATE:
                good += 1
                latency = now - spec.line_ts(line)
                self.max_ns = max(self.max_ns, latency)
                self._sample(latency, 1.0)
            elif kind is LineKind.RECEIPT:
                self.receipts += 1
            elif kind is LineKind.STALE:
                self.stale += 1
            elif kind is LineKind.NOTICE:
                self.notices[line[:100].decode(errors="replace")] += 1
            else:
                self.foreign += 1
                self.example(line)
        if good:
            self._count(good, now)
        return good

    def _count(self, lines: int, now: int) -> None:
        if self.late_mode:
            self.late += lines
            return
        self.got += lines
        self.last_rx = now
        if not self.first_rx:
            self.first_rx = now

    def _sample(self, latency: int, weight: float) -> None:
        self.seen += 1
        if len(self.samples) < SAMPLE_CAP:
            self.samples.append(latency)
            self.weights.append(weight)
        else:
            slot = random.randrange(self.seen)
            if slot < SAMPLE_CAP:
                self.samples[slot] = latency
                self.weights[slot] = weight

    def example(self, line: bytes) -> None:
        if len(self.bad_examples) < BAD_EXAMPLES:
            self.bad_examples.append(line[:160].decode(errors="replace"))


def _unacked(sock: socket.socket) -> int:
    """Segments the peer has not acknowledged (Linux TCP_INFO tcpi_unacked); 0 where unknown."""
    option = getattr(socket, "TCP_INFO", None)
    if option is None:
        return 0
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, option, 104)
        return int(struct.unpack_from("I", info, 24)[0])
    except (OSError, struct.error):
        return 0


def _whole_ms(timeout: float) -> float:
    """A poll timeout epoll will keep: it rounds up to whole milliseconds, which would
    make every paced send up to 1 ms late; sleep the fraction here instead."""
    whole = int(timeout * 1000) / 1000
    if not whole and timeout > 0.00005:
        time.sleep(timeout)
    return whole


def _register_line(name: str) -> bytes:
    return b"REGISTER " + name.encode() + b" CHAT/1.0\n"


def _disconnect_line(name: str) -> bytes:
    return b"DISCONNECT " + name.encode() + b" CHAT/1.0\n"


class Worker:
    """The clients of one load-generator process."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.endpoint: Endpoint | None = None  # set by each Ramp order
        self.selector = selectors.DefaultSelector()
        self.clients: list[Client] = []  # registered, in registration order
        self.by_name: dict[str, Client] = {}
        self.buf = bytearray(MAX_TAIL_BYTES + RECV_BYTES)
        self.view = memoryview(self.buf)
        self.closed: collections.Counter[str] = collections.Counter()
        self._tls: ssl.SSLContext | None = None  # made on the first TLS connection

    # -- sockets ---------------------------------------------------------------------

    def connect(self, name: str) -> Client | str:
        """Start a non-blocking connect; the client, or why it could not start."""
        endpoint = self.endpoint
        assert endpoint is not None, "connect() before any Ramp order"
        try:
            sock = socket.socket(endpoint.family, socket.SOCK_STREAM)
        except OSError as error:
            return f"socket: {error.strerror}"
        # The generator batches its own writes; never let Nagle on our side add delay.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        err = sock.connect_ex(endpoint.sockaddr)
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            return f"connect: {os.strerror(err)}"
        client = Client(sock, name)
        client.t0 = mono()
        self.selector.register(sock, selectors.EVENT_WRITE, client)
        return client

    def start_handshake(self, client: Client) -> None:
        """The TCP connection is up: wrap it in TLS (chats://); `handshake` drives it on readiness."""
        if self._tls is None:
            self._tls = client_context()
        self.selector.unregister(client.sock)
        client.sock = self._tls.wrap_socket(client.sock, do_handshake_on_connect=False)
        client.state = State.HANDSHAKING
        self.selector.register(client.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)

    def handshake(self, client: Client) -> str | None:
        """One TLS handshake step: None while it goes on, '' when done (now registering), else why not."""
        try:
            client.sock.do_handshake()  # type: ignore[attr-defined]
        except ssl.SSLWantReadError:
            self.selector.modify(client.sock, selectors.EVENT_READ, client)
            return None
        except ssl.SSLWantWriteError:
            self.selector.modify(client.sock, selectors.EVENT_WRITE, client)
            return None
        except OSError as error:  # ssl.SSLError too
            return f"TLS handshake: {getattr(error, 'reason', None) or error.strerror or error}"
        client.state = State.REGISTERING
        self.selector.modify(client.sock, selectors.EVENT_READ, client)
        return ""

    def start_upgrade(self, client: Client) -> bool:
        """The TCP connection is up: send the WebSocket upgrade (GET /ws); False if that failed."""
        endpoint = self.endpoint
        assert endpoint is not None
        request, client.accept = upgrade_request(endpoint.sockaddr[0], endpoint.sockaddr[1])
        client.state = State.HANDSHAKING
        self.selector.modify(client.sock, selectors.EVENT_READ, client)
        return self.send_small(client, request)

    def upgrade(self, client: Client) -> str | None:
        """Read the server's answer to the upgrade: None while it comes, '' when upgraded (the
        client now speaks in frames, registering), else why not."""
        try:
            data = client.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as error:
            return f"recv during the WebSocket upgrade: {error.strerror}"
        if not data:
            return "closed by the server during the WebSocket upgrade"
        client.tail += data
        verdict, rest = upgrade_response(client.tail, client.accept)
        if verdict == "":
            client.tail = b""
            client.sock = WebSocketSocket(client.sock, rest)  # type: ignore[assignment]
            client.state = State.REGISTERING
        return verdict

    def drop(self, client: Client, why: str = "", count: bool = True) -> None:
        """Close a client's socket; `why` is tallied (unless count is False)."""
        if client.state is State.DEAD:
            return
        client.state = State.DEAD
        client.why = why
        if why and count:
            self.closed[why[:100]] += 1
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(client.sock)
        client.sock.close()

    def send_small(self, client: Client, data: bytes) -> bool:
        """Queue and try to send a short control line; False if the connection broke."""
        client.out += data
        return self.flush(client)

    def flush(self, client: Client) -> bool:
        out = client.out
        if not out or client.state is State.DEAD:
            return True
        try:
            sent = client.sock.send(out)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as error:
            self.drop(client, f"send: {error.strerror}")
            return False
        if sent:
            client.partial = out[sent - 1] != 10
            del out[:sent]
        return True

    def read(self, client: Client, tally: Tally | None, now: int = 0) -> int:
        """One recv_into() for `client`; counts into `tally` (None: discard).

        Returns the bytes read, 0 when nothing was there, -1 when the
        connection is over (the client is dropped with the reason).
        """
        buf = self.buf
        tail = client.tail
        kept = len(tail)
        if kept:
            buf[:kept] = tail
        try:
            n = client.sock.recv_into(self.view[kept : kept + RECV_BYTES])
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as error:
            self.drop(client, f"recv: {error.strerror}")
            return -1
        if not n:
            # (A notice the server sent before closing is counted by the tally.)
            self.drop(client, "closed by the server")
            return -1
        if self.endpoint is not None and self.endpoint.tls:
            n += self._more_records(client, kept + n)
        end = kept + n
        cut = buf.rfind(b"\n", 0, end) + 1
        if cut < end:
            if end - cut > MAX_TAIL_BYTES:
                client.tail = b""
                if tally is not None:
                    tally.foreign += 1
                    tally.example(bytes(buf[cut : cut + 80]) + b"...")
            else:
                client.tail = bytes(buf[cut:end])
        elif kept:
            client.tail = b""
        if tally is not None:
            tally.bytes += n
            if cut:
                tally.reads += 1
                good = tally.chunk(buf, cut, now or mono())
                client.got += good
        return n

    def _more_records(self, client: Client, start: int) -> int:
        """TLS: one recv_into() returns one record (16 KiB at most, often one delivery batch); take the
        records already here too, as one plain recv_into() would, so that polling at most once per
        --coalesce-ms does not read one record per poll. An end or error shows on the next read."""
        taken = 0
        limit = len(self.buf)
        while start + taken < limit - TLS_RECORD_BYTES:
            try:
                more = client.sock.recv_into(self.view[start + taken : limit])
            except OSError:  # BlockingIOError: nothing more now
                break
            if not more:
                break
            taken += more
        return taken

    # -- orders ----------------------------------------------------------------------

    def ramp(self, order: Ramp) -> RampReport:
        """Connect and register `order.names`, with an adaptive number in flight.

        The window grows by one per registration (slow start) until the first
        sign of an overflowing accept queue, then by about one per window of
        registrations; each sign halves it (at most once per 100 ms). Signs
        are a connect still pending, or registration bytes still
        unacknowledged, STALL_NS after the connect: such a connection is
        closed and retried at once.
        """
        cpu0 = own_cpu_seconds()
        self.endpoint = order.endpoint
        t_start = mono()
        deadline = t_start + int(order.deadline_s * 1e9)
        pending: collections.deque[tuple[str, int]] = collections.deque((name, 0) for name in order.names)
        inflight: dict[int, Client] = {}
        watch: collections.deque[tuple[int, Client, int]] = collections.deque()
        fails: collections.Counter[str] = collections.Counter()
        window = max(1, order.window)
        ssthresh = order.window_max
        credit = 0
        last_cut = 0
        max_window = window
        stalls = 0
        register_ms: list[float] = []
        registered = 0
        while (pending or inflight) and mono() < deadline:
            now = mono()
            while watch and watch[0][0] <= now:
                _, client, tries = watch.popleft()
                if client.state is State.CONNECTING:
                    stalled = True
                elif client.state is State.REGISTERING and not client.tail:
                    stalled = _unacked(client.sock) > 0
                else:
                    stalled = False
                if not stalled:
                    continue
                stalls += 1
                if now - last_cut > 100_000_000:
                    ssthresh = max(4, window // 2)
                    window = ssthresh
                    last_cut = now
                if tries < MAX_RETRIES:
                    inflight.pop(client.fd, None)
                    self.drop(client, "stalled in the accept queue", count=False)
                    pending.appendleft((client.name, tries + 1))
            while pending and len(inflight) < window:
                name, tries = pending.popleft()
                started = self.connect(name)
                if isinstance(started, str):
                    fails[started] += 1
                    continue
                inflight[started.fd] = started
                watch.append((started.t0 + STALL_NS, started, tries))
            if not inflight:
                if pending:
                    time.sleep(0.01)  # connect() itself failed (out of fds or ports); do not spin
                continue
            for key, _ in self.selector.select(0.01):
                client = key.data
                if client.state is State.READY:
                    self.read(client, None)
                    continue
                if client.state is State.CONNECTING:
                    err = client.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        fails[f"connect: {os.strerror(err)}"] += 1
                        inflight.pop(client.fd, None)
                        self.drop(client, "connect failed", count=False)
                        continue
                    if order.endpoint.tls:
                        self.start_handshake(client)  # writable at once: the next turn sends the hello
                        continue
                    if order.endpoint.websocket:
                        if not self.start_upgrade(client):
                            fails["send of the WebSocket upgrade failed"] += 1
                            inflight.pop(client.fd, None)
                        continue
                    client.state = State.REGISTERING
                    self.selector.modify(client.sock, selectors.EVENT_READ, client)
                    if not self.send_small(client, _register_line(client.name)):
                        fails["send REGISTER failed"] += 1
                        inflight.pop(client.fd, None)
                    continue
                if client.state is State.HANDSHAKING:
                    verdict = self.upgrade(client) if order.endpoint.websocket else self.handshake(client)
                    if verdict:
                        fails[verdict] += 1
                        inflight.pop(client.fd, None)
                        self.drop(client, verdict, count=False)
                    elif verdict == "" and not self.send_small(client, _register_line(client.name)):
                        fails["send REGISTER failed"] += 1
                        inflight.pop(client.fd, None)
                    continue
                if client.state is not State.REGISTERING:
                    continue
                verdict = self.registration_reply(client)
                if verdict is None:
                    continue
                inflight.pop(client.fd, None)
                if verdict:
                    fails[verdict] += 1
                    self.drop(client, verdict, count=False)
                    continue
                registered += 1
                if len(register_ms) < REGISTER_SAMPLE_CAP:
                    register_ms.append((mono() - client.t0) / 1e6)
                if window < ssthresh:
                    window = min(order.window_max, window + 1)
                else:
                    credit += 1
                    if credit >= window:
                        credit = 0
                        window = min(order.window_max, window + 1)
                max_window = max(max_window, window)
            for client in list(inflight.values()):
                if client.out:
                    self.flush(client)
        t_end = mono()
        for client in list(inflight.values()):
            fails["no registration reply before the deadline"] += 1
            self.drop(client, "ramp deadline", count=False)
        for _ in pending:
            fails["not started before the deadline"] += 1
        return RampReport(
            registered=registered,
            wanted=len(order.names),
            fails=dict(fails),
            t_start_ns=t_start,
            t_end_ns=t_end,
            stalls_retried=stalls,
            max_window=max_window,
            register_ms=register_ms,
            cpu_s=own_cpu_seconds() - cpu0,
        )

    def reply(self, client: Client, code: bytes, during: str) -> str | None:
        """Read a client that waits for a reply with status `code` (b'200'): None while
        waiting, '' when it came, else why not (a refusal, or the connection failed)."""
        try:
            data = client.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as error:
            return f"recv during {during}: {error.strerror}"
        if not data:
            said = client.tail.decode(errors="replace").strip()[:80]
            return f"closed by the server during {during}" + (f" ({said!r})" if said else "")
        client.tail += data
        newline = client.tail.find(b"\n")
        if newline < 0:
            return f"{during} reply longer than 4 KiB" if len(client.tail) > 4096 else None
        line = client.tail[:newline].rstrip(b"\r")
        if line != code and not line.startswith(code + b" "):
            return f"{during} refused: {line[:80].decode(errors='replace')!r}"
        rest = client.tail[newline + 1 :]
        client.tail = rest[rest.rfind(b"\n") + 1 :]  # lines relayed to us already are not counted
        return ""

    def registration_reply(self, client: Client, adopt: bool = True) -> str | None:
        """Read a registering client: None while waiting, '' when registered, else why it failed.

        With `adopt`, a registered client joins the worker's clients (those phases count on).
        """
        verdict = self.reply(client, b"200", "registration")
        if verdict != "":
            return verdict
        client.state = State.READY
        if adopt:
            self.clients.append(client)
            self.by_name[client.name] = client
        return ""

    def phase(self, order: Phase) -> PhaseReport:
        """Send this worker's share of a paced phase and count every client's lines (see orders.Phase)."""
        cpu0 = own_cpu_seconds()
        total_senders = len(order.senders)
        spec = LineSpec(
            order.step,
            order.name_prefix,
            len(order.senders[0]) if order.senders else 0,
            order.body_bytes,
            total_senders,
        )
        tally = Tally(spec, order.sample_every)
        clients = [c for c in self.clients if c.state is State.READY]
        messages = order.messages
        mine: dict[int, Client] = {}
        colon: dict[int, bytes] = {}
        own: collections.Counter[int] = collections.Counter()
        for g, name in enumerate(order.senders):
            sender = self.by_name.get(name)
            if sender is not None and sender.state is State.READY:
                mine[g] = sender
                colon[g] = b"@" + name.encode() + b": "
                own[id(sender)] += (messages - g + total_senders - 1) // total_senders if g < messages else 0
        senders = list({id(c): c for c in mine.values()}.values())
        expect = order.expect
        if expect is not None:
            expected = sum(expect.get(c.name, 0) for c in clients)
        else:
            expected = sum(messages - own[id(c)] for c in clients)
        private_to = {k: b"!msg " + name.encode() + b" " for k, name in order.private_to.items()}
        private_queued = 0
        for c in clients:
            c.got = 0
            c.sent = 0
        poller = ReadPoller()
        by_fd: dict[int, Client] = {}
        for c in clients:
            poller.add(c.fd)
            by_fd[c.fd] = c
        interval = 1e9 / order.rate if order.rate > 0 else 0.0
        t0 = order.t0_ns
        deadline = order.deadline_ns
        coalesce_ns = int(order.coalesce_ms * 1e6)
        k = 0
        queued = 0
        queuing = bool(mine) and messages > 0
        lag_max = 0
        last_poll = 0
        rounds = 0
        round_max = 0
        send_end = t0 + int(messages * interval)
        cpu_send_s = -1.0
        closed0 = sum(self.closed.values())
        closed_before = collections.Counter(self.closed)
        try:
            while True:
                now = mono()
                if cpu_send_s < 0 and now >= send_end:
                    cpu_send_s = own_cpu_seconds() - cpu0
                if queuing and now >= t0:
                    due = messages if interval == 0 else min(messages, int((now - t0) / interval) + 1)
                    if k < due:
                        lag_max = max(lag_max, now - (t0 + int((due - 1) * interval)))
                        while k < due:
                            g = k % total_senders
                            sender = mine.get(g)
                            if sender is not None and sender.state is State.READY:
                                command = private_to.get(k)
                                if command is None:
                                    sender.out += spec.line(colon[g], k, t0 + int(k * interval))
                                else:
                                    sender.out += spec.line(colon[g] + command, k, t0 + int(k * interval))
                                    private_queued += 1
                                sender.sent += 1
                                queued += 1
                            k += 1
                    if k >= messages:
                        queuing = False
                backlog = False
                for sender in senders:
                    if sender.out and sender.state is State.READY:
                        self.flush(sender)
                        backlog = backlog or (bool(sender.out) and sender.state is State.READY)
                if not queuing and not backlog and tally.got >= expected and tally.receipts >= private_queued:
                    break
                if now >= deadline:
                    break
                if queuing:
                    timeout = max(0.0, min(0.05, (t0 + int(k * interval) - now) / 1e9))
                elif backlog:
                    timeout = 0.001
                else:
                    timeout = max(0.0, min(0.05, (deadline - now) / 1e9))
                # Coalesce reads (see the module docstring), but never past the next send.
                pause = min(coalesce_ns - (mono() - last_poll), int(timeout * 1e9))
                if pause > 0:
                    time.sleep(pause / 1e9)
                    timeout = max(0.0, timeout - pause / 1e9)
                timeout = _whole_ms(timeout)
                events = poller.poll(timeout)
                last_poll = mono()
                if not events:
                    continue
                for fd, _ in events:
                    client = by_fd.get(fd)
                    if client is not None and self.read(client, tally) < 0:
                        poller.remove(fd)
                        del by_fd[fd]
                spent = mono() - last_poll
                rounds += 1
                round_max = max(round_max, spent)
            t_end = mono()
            cpu_s = own_cpu_seconds() - cpu0
            if cpu_send_s < 0:
                cpu_send_s = cpu_s
            unsent = self._drop_unsent(senders)
            if tally.got < expected and mono() >= deadline and order.settle_max_s > 0:
                self._settle(order, tally, poller, by_fd, senders, expected)
        finally:
            poller.close()
        stuck = 0  # half-sent lines the server never finished reading
        for sender in senders:
            if sender.out and sender.state is State.READY:
                stuck += 1
                sender.sent -= 1
        still_open = [c for c in clients if c.state is State.READY]
        closed = collections.Counter(self.closed)
        closed.subtract(closed_before)
        closed_during = sum(self.closed.values()) - closed0
        return PhaseReport(
            expected=expected,
            got=tally.got,
            late=tally.late,
            queued=queued,
            unsent=unsent + stuck,
            senders_open=sum(1 for c in senders if c.state is State.READY),
            open_clients=len(still_open),
            open_own_sent=sum(c.sent for c in still_open),
            open_received=sum(c.got for c in still_open),
            stale=tally.stale,
            foreign=tally.foreign,
            wrong_sender=tally.wrong_sender,
            notices=dict(tally.notices),
            bad_examples=tally.bad_examples,
            closed={why: n for why, n in closed.items() if n > 0} if closed_during else {},
            alive=sum(1 for c in clients if c.state is State.READY),
            samples=tally.samples,
            weights=tally.weights,
            max_ns=tally.max_ns,
            first_rx_ns=tally.first_rx,
            last_rx_ns=tally.last_rx,
            t_end_ns=t_end,
            bytes=tally.bytes,
            reads=tally.reads,
            rounds=rounds,
            round_max_ms=round_max / 1e6,
            send_lag_max_ms=lag_max / 1e6,
            cpu_s=cpu_s,
            cpu_send_s=cpu_send_s,
            privates=tally.privates,
            private_queued=private_queued,
            receipts=tally.receipts,
            open_missing=sum(max(0, expect.get(c.name, 0) - c.got) for c in still_open if expect is not None),
            open_surplus=sum(max(0, c.got - expect.get(c.name, 0)) for c in still_open if expect is not None),
        )

    @staticmethod
    def _drop_unsent(senders: list[Client]) -> int:
        """Forget queued lines the kernel never took, but finish a line it took half of.

        Returns the number of whole lines dropped, so that the next phase starts clean.
        """
        dropped = 0
        for sender in senders:
            out = sender.out
            if not out:
                continue
            keep = out.find(b"\n") + 1 if sender.partial else 0
            lines = out.count(b"\n", keep)
            sender.sent -= lines
            dropped += lines
            del out[keep:]
        return dropped

    def _settle(
        self,
        order: Phase,
        tally: Tally,
        poller: ReadPoller,
        by_fd: dict[int, Client],
        senders: list[Client],
        expected: int,
    ) -> None:
        """After the deadline: read on while lines still come, so they count as late rather than lost."""
        tally.late_mode = True
        quiet_ns = int(order.settle_quiet_s * 1e9)
        now = mono()
        end = now + int(order.settle_max_s * 1e9)
        quiet_until = now + quiet_ns
        while now < min(end, quiet_until) and tally.got + tally.late < expected:
            for sender in senders:
                if sender.out:
                    self.flush(sender)
            for fd, _ in poller.poll(0.05):
                client = by_fd.get(fd)
                if client is None:
                    continue
                n = self.read(client, tally)
                if n < 0:
                    poller.remove(fd)
                    del by_fd[fd]
                elif n:
                    quiet_until = mono() + quiet_ns
            now = mono()

    def close(self, order: Close) -> CloseReport:
        """Leave politely (DISCONNECT, wait for the server's close), then close every socket."""
        cpu0 = own_cpu_seconds()
        alive = [c for c in self.clients if c.state is State.READY]
        server_closed = 0
        if order.polite:
            waiting: dict[int, Client] = {}
            for client in alive:
                if self.send_small(client, _disconnect_line(client.name)) and client.state is State.READY:
                    client.state = State.LEAVING
                    waiting[client.fd] = client
            deadline = mono() + int(order.wait_s * 1e9)
            while waiting and mono() < deadline:
                for client in [c for c in waiting.values() if c.out]:
                    self.flush(client)
                for key, _ in self.selector.select(0.05):
                    client = key.data
                    if client.fd in waiting and self.read(client, None) < 0:
                        del waiting[client.fd]
                        if client.why.startswith("closed by the server"):
                            server_closed += 1
        for client in alive:
            self.drop(client, count=False)
        self.clients = []
        self.by_name = {}
        self.closed.clear()
        return CloseReport(closed=len(alive), server_closed=server_closed, cpu_s=own_cpu_seconds() - cpu0)
