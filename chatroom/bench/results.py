"""Every number a run measures, as dataclasses that become the --json file as they are.

None means "not measured" (shown as n/a): for example the server's CPU and
memory when the server is someone else's and --server-pid was not given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

P99_LIMIT_MS = 100.0
# A fanout step is sustainable when everything was delivered and p99 stayed
# under this: a chat line a tenth of a second late is still "instant" to people.

BUSY_PERCENT = 90.0
# A process at or above this share of its cores is treated as saturated when
# deciding whether the load generator, not the server, set a limit.


@dataclass
class ServerRun:
    """One server process's part in a measurement."""

    address: str
    started_here: bool
    pid: int | None
    exit_code: int | None = None  # when started here: must be 0 after SIGINT
    said: list[str] = field(default_factory=list)  # warnings it printed (started here only)


@dataclass
class FanoutStep:
    step: int
    rate_msgs: float  # offered chat lines per second (all senders together)
    messages: int
    offered_deliveries_s: float  # rate x (clients - 1)
    expected: int  # messages x (clients - 1)
    delivered: int  # by the end of the drain
    late: int  # after the drain
    unsent: int  # messages the server never read from the senders
    lost: int  # sent, yet never delivered ...
    lost_open: int  # ... of which to clients still connected: a server bug
    disconnected: int  # clients whose connection ended during the step (the rest of `lost` was theirs)
    delivered_pct: float
    deliveries_s: float  # delivered / (time until the last delivery, at least the step)
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    latency_samples: int
    server_cpu_pct: float | None  # CPU shares (% of one core) are over the sending time of the step
    server_rss_kb: int | None  # peak during the step
    server_us_per_delivery: float | None
    lg_cpu_pct: float
    lg_cores: int
    lg_bound: bool
    machine_cpu_pct: float | None  # every process and the kernel, in % of one core
    machine_cores: int
    passed: bool
    problems: list[str]
    wall_s: float  # from the first message until everything was in (or the drain ended)
    lg_round_max_ms: float  # an upper bound on the latency the load generator itself adds
    sender_lag_max_ms: float
    stale_lines: int
    foreign_lines: int
    clients_alive: int


@dataclass
class FanoutResult:
    clients_wanted: int
    clients: int
    senders: int
    step_seconds: float
    drain_seconds: float
    body_bytes: int
    registered: int
    register_s: float | None
    steps: list[FanoutStep]
    max_sustainable_deliveries_s: float | None
    max_sustainable_rate_msgs: float | None
    max_is_lower_bound: bool
    server: ServerRun
    cap_note: str | None
    problems: list[str]
    transport: str = "tcp"  # "tls" with --tls: the same workload over TLS, on a server serving only TLS;
    # "websocket" with --websocket: over WebSocket, on the server's web port


@dataclass
class RoomsStep(FanoutStep):
    """A rooms step: the fanout columns, where a delivery is a room line reaching one other member
    of its room or a private line reaching its addressee (offered and expected deliveries count
    those), and the server's CPU is also put per line it stores."""

    room_delivered: int  # of `delivered`, room lines
    private_delivered: int  # ... and private lines
    private_sent: int  # private lines sent (a share of `messages`)
    receipts: int  # '215 Sent to NAME.' replies the senders received (one per private line)
    misdelivered: int  # lines beyond what a client was sent (another room's, a duplicate): a server bug
    stored: int  # room lines sent: what a server with history stores (private lines never are)
    server_us_per_stored: float | None  # server CPU over the step / stored


@dataclass
class RoomsResult:
    users_wanted: int
    users: int
    rooms: int
    senders: int
    private_share: float
    history: str  # "on" (a fresh --db file), "off" (--no-history), or "as it runs" (a given address)
    step_seconds: float
    drain_seconds: float
    body_bytes: int
    server: ServerRun
    cap_note: str | None
    server_args: list[str] = field(default_factory=list)  # what a started server was given for `history`
    registered: int = 0
    joined: int = 0
    register_s: float | None = None
    join_s: float | None = None
    steps: list[RoomsStep] = field(default_factory=list)
    max_sustainable_deliveries_s: float | None = None
    max_sustainable_rate_msgs: float | None = None
    max_is_lower_bound: bool = False
    problems: list[str] = field(default_factory=list)


@dataclass
class ScaleResult:
    clients_wanted: int
    clients: int
    registered: int
    register_s: float | None
    registrations_s: float | None  # registrations per second
    register_p50_ms: float | None
    register_p99_ms: float | None
    stalls_retried: int
    rss_before_kb: int | None
    rss_after_kb: int | None
    rss_per_client_bytes: float | None
    fds_after: int | None
    server_cpu_register_s: float | None
    lg_cpu_register_s: float
    broadcast_expected: int
    broadcast_received: int
    broadcast_all_ms: float | None  # until the last of the N-1 receivers had it
    broadcast_p50_ms: float | None
    server: ServerRun
    cap_note: str | None
    problems: list[str]


@dataclass
class MemorySample:
    t_s: float  # since the churn started
    rss_kb: int | None
    fds: int | None


@dataclass
class SoakResult:
    duration_s: float
    rate_msgs: float
    sessions: int
    residents: int
    session_messages: int
    sessions_started: int
    sessions_completed: int
    sessions_per_s: float
    sent: int
    expected: int
    delivered: int
    lost: int
    delivered_pct: float
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    register_p50_ms: float | None
    register_p99_ms: float | None
    errors: dict[str, int]
    bad_examples: list[str]
    rss_before_kb: int | None
    rss_start_kb: int | None
    rss_end_kb: int | None
    rss_max_kb: int | None
    rss_after_kb: int | None
    rss_growth_pct: float | None
    fds_before: int | None
    fds_start: int | None
    fds_end: int | None
    fds_max: int | None
    fds_after: int | None
    server_cpu_pct: float | None
    lg_cpu_pct: float
    machine_cpu_pct: float | None
    samples: list[MemorySample]
    server: ServerRun
    problems: list[str]


@dataclass
class SetupsResult:
    """Connection setups per second (chatroom.bench.setups): with TLS, handshakes per second."""

    transport: str  # "tcp" or "tls"
    threads: int  # setups in flight at once (all workers)
    seconds: float
    done: int
    fails: dict[str, int]
    setups_s: float
    p50_ms: float | None
    p99_ms: float | None
    server_cpu_pct: float | None
    server_us_per_setup: float | None
    lg_cpu_pct: float
    lg_cores: int
    server: ServerRun
