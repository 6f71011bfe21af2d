"""The benchmark's settings, with their defaults, and the parsers for list-valued options."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from chatroom.bench.body import DEFAULT_BODY_BYTES
from chatroom.protocol.address import ChatAddress

WORKLOADS = ("fanout", "scale", "soak", "rooms")
HISTORY_VARIANTS = ("on", "off")

DEFAULT_CLIENTS = (100,)
DEFAULT_SENDERS = 10
DEFAULT_RATES = (1000.0, 3000.0, 10000.0, 30000.0, 100000.0)
DEFAULT_STEP_SECONDS = 5.0
DEFAULT_DRAIN_SECONDS = 5.0
DEFAULT_SETTLE_SECONDS = 30.0
DEFAULT_SIZES = (1000, 5000, 10000)
DEFAULT_RAMP_TIMEOUT = 120.0
DEFAULT_BROADCAST_TIMEOUT = 30.0
DEFAULT_DURATION = 60.0
DEFAULT_SOAK_RATE = 500.0
DEFAULT_SOAK_SESSIONS = 50
DEFAULT_SOAK_RESIDENTS = 10
DEFAULT_SESSION_MESSAGES = 5
DEFAULT_SAMPLE_INTERVAL = 1.0
DEFAULT_SAMPLE_EVERY = 4
DEFAULT_COALESCE_MS = 1.0
DEFAULT_ROOM_USERS = 1000
DEFAULT_ROOMS = 100
DEFAULT_ROOM_RATES = (1000.0, 3000.0, 10000.0)
DEFAULT_PRIVATE_SHARE = 0.1
DEFAULT_HISTORY = ("on",)


class OptionError(ValueError):
    """A malformed option value; the message is one sentence for the user."""


@dataclass
class Options:
    workloads: tuple[str, ...] = WORKLOADS
    address: ChatAddress | None = None
    server_pid: int | None = None
    workers: int = 1
    server_cpus: frozenset[int] | None = None
    lg_cpus: frozenset[int] | None = None
    body_bytes: int = DEFAULT_BODY_BYTES
    clients: tuple[int, ...] = DEFAULT_CLIENTS
    senders: int = DEFAULT_SENDERS
    rates: tuple[float, ...] = DEFAULT_RATES
    step_seconds: float = DEFAULT_STEP_SECONDS
    drain_seconds: float = DEFAULT_DRAIN_SECONDS
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    keep_going: bool = False
    sample_every: int = DEFAULT_SAMPLE_EVERY
    coalesce_ms: float = DEFAULT_COALESCE_MS
    sizes: tuple[int, ...] = DEFAULT_SIZES
    ramp_timeout: float = DEFAULT_RAMP_TIMEOUT
    broadcast_timeout: float = DEFAULT_BROADCAST_TIMEOUT
    duration: float = DEFAULT_DURATION
    soak_rate: float = DEFAULT_SOAK_RATE
    soak_sessions: int = DEFAULT_SOAK_SESSIONS
    soak_residents: int = DEFAULT_SOAK_RESIDENTS
    session_messages: int = DEFAULT_SESSION_MESSAGES
    sample_interval: float = DEFAULT_SAMPLE_INTERVAL
    room_users: int = DEFAULT_ROOM_USERS
    rooms: int = DEFAULT_ROOMS
    room_senders: int = DEFAULT_ROOMS  # one per room
    room_rates: tuple[float, ...] = DEFAULT_ROOM_RATES
    private_share: float = DEFAULT_PRIVATE_SHARE
    history: tuple[str, ...] = DEFAULT_HISTORY  # a started server's variants; ("as it runs",) for an address
    tls: bool = False  # fanout over TLS too, and connection setups per second, next to plain TCP
    websocket: bool = False  # fanout over WebSocket too (the server's web port), next to plain TCP
    json_path: str | None = None
    plot_path: str | None = None
    notes: list[str] = field(default_factory=list)


def available_cpus() -> frozenset[int]:
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return frozenset(range(os.cpu_count() or 1))


def default_workers(server_cpus: frozenset[int] | None, lg_cpus: frozenset[int] | None) -> int:
    """All cores but the server's, at least one."""
    if lg_cpus:
        return len(lg_cpus)
    cores = len(available_cpus())
    return max(1, cores - (len(server_cpus) if server_cpus else 1))


def parse_int_list(text: str, what: str, minimum: int = 1) -> tuple[int, ...]:
    """'100,500,1000' -> (100, 500, 1000); every value at least `minimum`."""
    values = []
    for part in text.split(","):
        part = part.strip().replace("_", "")
        try:
            value = int(part)
        except ValueError:
            raise OptionError(f"{what}: {part!r} is not a whole number (expected e.g. 100,500)") from None
        if value < minimum:
            raise OptionError(f"{what}: {value} is below the minimum of {minimum}")
        values.append(value)
    return tuple(values)


def parse_rates(text: str, what: str = "--rates") -> tuple[float, ...]:
    """'1000,3000,10k' -> (1000.0, 3000.0, 10000.0); every rate above 0."""
    values = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        scale = 1.0
        if part.endswith("k"):
            part, scale = part[:-1], 1000.0
        try:
            value = float(part) * scale
        except ValueError:
            raise OptionError(f"{what}: {part!r} is not a number of messages per second") from None
        if not value > 0:
            raise OptionError(f"{what}: {value:g} messages per second is not above 0")
        values.append(value)
    return tuple(values)


def parse_history(text: str) -> tuple[str, ...]:
    """'on', 'off', 'on,off' -> the variants of a started server to run, in that order."""
    wanted = [part.strip().lower() for part in text.split(",") if part.strip()]
    for part in wanted:
        if part not in HISTORY_VARIANTS:
            raise OptionError(f"--history: {part!r} is neither on nor off (expected on, off or on,off)")
    if not wanted:
        raise OptionError("--history: expected on, off or on,off")
    return tuple(dict.fromkeys(wanted))


def parse_cpus(text: str, what: str) -> frozenset[int] | None:
    """'0', '1-3', '0,2' -> CPU numbers; 'none' or '' -> None (no pinning)."""
    if text.strip().lower() in ("", "none"):
        return None
    cpus: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise OptionError(f"{what}: {part!r} is not a CPU number or range such as 0 or 1-3") from None
        if first < 0 or last < first:
            raise OptionError(f"{what}: {part!r} is not a valid CPU range")
        cpus.update(range(first, last + 1))
    missing = cpus - available_cpus()
    if missing:
        raise OptionError(
            f"{what}: CPU {min(missing)} is not available (available: {_cpu_text(available_cpus())})"
        )
    return frozenset(cpus)


def _cpu_text(cpus: frozenset[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus))
