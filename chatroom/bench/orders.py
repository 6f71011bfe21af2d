"""What the coordinator asks of a load-generator worker, and what the worker answers.

Plain frozen dataclasses, pickled over a multiprocessing pipe. Times are
time.monotonic_ns(), one clock for every process on the machine, so a line
stamped by one worker can be timed by another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chatroom.bench.target import Endpoint


@dataclass(frozen=True)
class Ramp:
    """Connect to `endpoint` and register these clients, with an adaptive number in flight."""

    endpoint: Endpoint
    names: tuple[str, ...]
    deadline_s: float
    window: int = 128  # registrations in flight at first
    window_max: int = 1024  # and at most


@dataclass
class RampReport:
    registered: int
    wanted: int
    fails: dict[str, int]
    t_start_ns: int
    t_end_ns: int
    stalls_retried: int
    max_window: int
    register_ms: list[float]  # per client, connect to 200 (capped sample)
    cpu_s: float


@dataclass(frozen=True)
class Phase:
    """Send `messages` paced at `rate` (message k by senders[k % len(senders)] at t0 + k/rate),
    and count this phase's lines on every client until all are in or `deadline_ns`.

    After the deadline, unsent messages are dropped (a partly sent line is
    finished), and if lines are missing the worker keeps reading for up to
    `settle_max_s`, until nothing arrived for `settle_quiet_s`: what comes
    then is late, what never comes is lost.
    """

    step: int
    messages: int
    rate: float  # msgs/s; 0 sends them all at t0
    t0_ns: int
    deadline_ns: int
    senders: tuple[str, ...]
    name_prefix: str  # every sender's name starts with this
    body_bytes: int
    sample_every: int = 4  # parse timestamps in one of this many chunks (a power of 2)
    coalesce_ms: float = 1.0  # poll for input at most once per this long
    settle_quiet_s: float = 1.0
    settle_max_s: float = 30.0
    # rooms: message k goes privately ('!msg NAME ...') to private_to[k], and
    # each client must receive expect[name] lines (room and private lines);
    # without expect every client must receive every line but its own.
    private_to: Mapping[int, str] = field(default_factory=dict)
    expect: Mapping[str, int] | None = None


@dataclass
class PhaseReport:
    expected: int  # lines this worker's clients should get if every message is sent
    got: int  # lines of this phase received by the deadline
    late: int  # ... received after it
    queued: int  # messages this worker's senders queued
    unsent: int  # ... that never left (the server stopped reading)
    stale: int  # lines of an earlier phase
    foreign: int  # lines not from this benchmark's senders, or malformed
    wrong_sender: int  # lines whose sender does not own their sequence number
    notices: dict[str, int]  # server lines such as 'DISCONNECT CHAT/1.0'
    bad_examples: list[str]
    closed: dict[str, int]  # clients the server closed during the phase, by reason
    alive: int
    senders_open: int  # this worker's senders still connected at the end
    open_clients: int  # clients still connected at the end ...
    open_own_sent: int  # ... the lines they sent themselves ...
    open_received: int  # ... and the lines they received (in time or late)
    samples: list[int]  # latency samples (ns) ...
    weights: list[float]  # ... and the deliveries each stands for
    max_ns: int  # the largest latency seen (first line of every chunk, and all samples)
    first_rx_ns: int
    last_rx_ns: int
    t_end_ns: int
    bytes: int
    reads: int
    rounds: int
    round_max_ms: float  # longest time to service one poll's ready sockets
    send_lag_max_ms: float  # how late the sender ran behind its schedule at worst
    cpu_s: float  # from the order until the deadline (or until all was in)
    cpu_send_s: float  # from the order until the last message was due
    privates: int = 0  # of `got`, private lines
    private_queued: int = 0  # private lines this worker's senders queued
    receipts: int = 0  # '215 Sent to NAME.' lines its senders received
    # With Phase.expect, over the clients still connected: lines short of what each should have
    # received, and lines beyond it (a line that reached someone it was not for).
    open_missing: int = 0
    open_surplus: int = 0


@dataclass(frozen=True)
class Join:
    """Send '!join ROOM' for each of this worker's clients named in `rooms`; wait for each '210' reply."""

    rooms: Mapping[str, str]  # client name -> room
    deadline_s: float


@dataclass
class JoinReport:
    joined: int
    wanted: int
    fails: dict[str, int]
    t_start_ns: int
    t_end_ns: int


@dataclass(frozen=True)
class Soak:
    """Until end_ns: keep `sessions` clients connecting, registering, sending
    `session_messages` lines (this worker's share of the rate, paced), and
    leaving; every client registered before counts the lines as a resident."""

    step: int
    t0_ns: int
    end_ns: int
    rate: float
    sessions: int
    session_messages: int
    name_prefix: str  # session names: name_prefix + 6 digits
    body_bytes: int
    drain_quiet_s: float = 1.0
    drain_max_s: float = 15.0
    sample_every: int = 1


@dataclass
class SoakReport:
    sent: int
    resident_got: int
    session_got: int
    sessions_started: int
    sessions_completed: int
    errors: dict[str, int]
    bad_examples: list[str]
    samples: list[int]
    weights: list[float]
    max_ns: int
    register_ms: list[float]
    send_lag_max_ms: float
    t_end_ns: int
    cpu_s: float


@dataclass(frozen=True)
class Close:
    """Say DISCONNECT for every client (when polite), wait up to wait_s for the server to close, close."""

    polite: bool = True
    wait_s: float = 3.0


@dataclass
class CloseReport:
    closed: int
    server_closed: int  # how many the server closed after DISCONNECT, as it should
    cpu_s: float


@dataclass
class WorkerFailure:
    """An exception in a worker: reported, never a hang."""

    message: str
    trace: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Setups:
    """Set up connections one after another on `threads` threads for `seconds`: connect, (TLS
    handshake when the endpoint is TLS,) REGISTER, 200, DISCONNECT, close (chatroom.bench.setups)."""

    endpoint: Endpoint
    name_prefix: str
    seconds: float
    threads: int = 8


@dataclass
class SetupsReport:
    done: int
    fails: dict[str, int]
    t_start_ns: int
    t_end_ns: int
    setup_ms: list[float]  # per setup, connect to 200 (capped sample)
    cpu_s: float
