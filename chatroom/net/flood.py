"""Flood control's arithmetic: token buckets, throttling episodes, and who is exempt.

Pure: every method takes the time as an argument (the server passes its
loop's clock), so the tests move time by hand. The server decides what to do
with the answers (stop reading, tell the peer, refuse a connection); this
module only counts. Each check is O(1): a bucket refills lazily when it is
asked, with no timer per line or per connection.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from chatroom.limits import (
    FLOOD_BURST_BYTES,
    FLOOD_BURST_CONNECTS,
    FLOOD_BURST_LINES,
    FLOOD_BYTES_PER_S,
    FLOOD_CONNECTS_PER_S,
    FLOOD_EPISODE_GAP_S,
    FLOOD_LINES_PER_S,
    FLOOD_MAX_TRACKED_ADDRESSES,
    FLOOD_PAUSE_MIN_S,
    FLOOD_ROOM_BURST_LINES,
    FLOOD_ROOM_LINES_PER_S,
    FLOOD_SUSTAINED_S,
    FLOOD_SUSTAINED_SHARE,
)
from chatroom.net.transport import ip_of

T = TypeVar("T")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK = "127.0.0.0/8,::1/128"
# The default of --flood-exempt: this host's own connections (tests, benchmarks, a local bouncer).


@dataclass(frozen=True)
class Rate:
    """A token bucket's shape: `burst` at once, refilled at `per_s` a second."""

    per_s: float
    burst: float

    def __post_init__(self) -> None:
        if not (self.per_s > 0 and self.burst >= 1):
            raise ValueError("a rate must be above 0 and a burst at least 1")

    @classmethod
    def parse(cls, text: str) -> Rate:
        """'5/60' -> Rate(5.0, 60.0): RATE per second, slash, BURST."""
        rate, sep, burst = text.partition("/")
        try:
            parsed = cls(float(rate), float(burst)) if sep else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValueError(f"{text!r} is not RATE/BURST (a rate above 0 and a burst of at least 1)")
        return parsed

    def __str__(self) -> str:
        return f"{self.per_s:g}/{self.burst:g}"


@dataclass(frozen=True)
class FloodPolicy:
    """Every flood limit the server applies to a connection that is not exempt."""

    lines: Rate = Rate(FLOOD_LINES_PER_S, FLOOD_BURST_LINES)
    bytes: Rate = Rate(FLOOD_BYTES_PER_S, FLOOD_BURST_BYTES)
    room: Rate = Rate(FLOOD_ROOM_LINES_PER_S, FLOOD_ROOM_BURST_LINES)
    connects: Rate = Rate(FLOOD_CONNECTS_PER_S, FLOOD_BURST_CONNECTS)
    sustained_s: float = FLOOD_SUSTAINED_S
    sustained_share: float = FLOOD_SUSTAINED_SHARE
    episode_gap_s: float = FLOOD_EPISODE_GAP_S
    pause_min_s: float = FLOOD_PAUSE_MIN_S


class TokenBucket:
    """`rate.burst` tokens at most, never fewer than 0, refilled at `rate.per_s` a second.

    The refill is computed when the bucket is asked (from the time since it
    was last asked), so a bucket costs nothing while nobody uses it.
    """

    __slots__ = ("per_s", "burst", "tokens", "stamp")

    def __init__(self, rate: Rate, now: float) -> None:
        self.per_s = rate.per_s
        self.burst = rate.burst
        self.tokens = rate.burst
        self.stamp = now

    def refill(self, now: float) -> float:
        """The tokens there are at `now` (time that runs backwards adds none)."""
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_s)
            self.stamp = now
        return self.tokens

    def take(self, now: float, amount: float = 1.0) -> bool:
        """Take `amount` tokens if there are that many; else take none and say False."""
        if self.refill(now) >= amount:
            self.tokens -= amount
            return True
        return False

    def is_full(self, now: float) -> bool:
        return self.refill(now) >= self.burst

    def wait_for(self, amount: float) -> float:
        """Seconds from the last refill until `amount` tokens (at most the burst) are there."""
        missing = min(amount, self.burst) - self.tokens
        return missing / self.per_s if missing > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Pause:
    """Stop reading until `until`. `first`: a new episode starts (tell the peer);
    `sustained`: the episode has gone on too long (disconnect)."""

    until: float
    first: bool
    sustained: bool


class Throttle(Generic[T]):
    """One connection's allowance of lines and bytes, and its throttling episode.

    `held` keeps what was read but not yet allowed (the rest of one read at
    most, since nothing more is read until it has gone through).
    """

    __slots__ = ("policy", "lines", "bytes", "held", "paused", "episode_start", "episode_paused", "last_end")

    def __init__(self, policy: FloodPolicy, now: float) -> None:
        self.policy = policy
        self.lines = TokenBucket(policy.lines, now)
        self.bytes = TokenBucket(policy.bytes, now)
        self.held: Iterator[T] | None = None
        self.paused = False
        self.episode_start = 0.0
        self.episode_paused = 0.0  # seconds paused in this episode
        self.last_end = float("-inf")  # when the last pause ended (or will)

    def read_size(self, now: float, most: int) -> int:
        """How many bytes may be read now (at most `most`); `spent` takes what was read."""
        return min(most, int(self.bytes.refill(now)))

    def spent(self, count: int) -> None:
        """`count` bytes were read (no more than `read_size` allowed just before)."""
        self.bytes.tokens = max(0.0, self.bytes.tokens - count)

    def take_line(self, now: float) -> bool:
        return self.lines.take(now)

    def hold(self, rest: Iterable[T]) -> None:
        """Keep `rest` (lines read but not allowed yet) until the allowance refills."""
        self.held = iter(rest)

    def must_pause(self, now: float) -> bool:
        """Whether reading must stop: lines are held, or the byte allowance is too low to read."""
        if self.held is not None:
            return True
        return self.bytes.refill(now) < self._resume_amount(self.bytes)

    def pause(self, now: float) -> Pause:
        """Reading stops now: until when, and what this pause means for the episode."""
        wait = self.bytes.wait_for(self._resume_amount(self.bytes))
        if self.held is not None:
            wait = max(wait, self.lines.wait_for(self._resume_amount(self.lines)))
        until = now + max(wait, 1e-3)
        first = now - self.last_end > self.policy.episode_gap_s
        if first:
            self.episode_start = now
            self.episode_paused = 0.0
        self.episode_paused += until - now
        self.last_end = until
        self.paused = True
        lasted = until - self.episode_start
        sustained = (
            lasted >= self.policy.sustained_s and self.episode_paused >= self.policy.sustained_share * lasted
        )
        return Pause(until, first, sustained)

    def _resume_amount(self, bucket: TokenBucket) -> float:
        """Read again once this many tokens are back: a few wake-ups a second at most."""
        return min(bucket.burst, max(1.0, bucket.per_s * self.policy.pause_min_s))


class KeyedBuckets:
    """A token bucket per key (a room, an address), made on first use, bounded in number."""

    __slots__ = ("rate", "capacity", "_buckets", "forgotten")

    def __init__(self, rate: Rate, capacity: int = FLOOD_MAX_TRACKED_ADDRESSES) -> None:
        self.rate = rate
        self.capacity = capacity
        self._buckets: dict[str, TokenBucket] = {}
        self.forgotten = 0  # buckets dropped before they were full, because there were too many

    def take(self, key: str, now: float) -> bool:
        """One token from `key`'s bucket now: True if there was one."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.capacity:
                self._sweep(now)
            bucket = self._buckets[key] = TokenBucket(self.rate, now)
        return bucket.take(now)

    def retry_after(self, key: str) -> float:
        """Seconds until `key` has a token again."""
        bucket = self._buckets.get(key)
        return 0.0 if bucket is None else bucket.wait_for(1.0)

    def _sweep(self, now: float) -> None:
        """A full bucket is the same as none: forget those (once per `capacity` new keys, not per take).

        If that is not enough (an attacker with a whole IPv6 range), forget
        them all: memory stays bounded, and the count says how many were lost.
        """
        for key in [key for key, bucket in self._buckets.items() if bucket.is_full(now)]:
            del self._buckets[key]
        if len(self._buckets) >= self.capacity // 2:
            self.forgotten += len(self._buckets)
            self._buckets.clear()

    def __len__(self) -> int:
        return len(self._buckets)


# -- addresses -------------------------------------------------------------------------------


def parse_networks(text: str) -> tuple[Network, ...]:
    """'127.0.0.0/8,::1' -> its networks; 'none' (or '') -> no network. Raises ValueError."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return ()
    networks: list[Network] = []
    for part in text.split(","):
        part = part.strip()
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an address or network (CIDR, e.g. 10.0.0.0/8)") from None
    return tuple(networks)


class Exemptions:
    """The networks flood control leaves alone."""

    __slots__ = ("networks", "_last")

    def __init__(self, networks: tuple[Network, ...]) -> None:
        self.networks = networks
        self._last = ("", False)  # the last host asked about, and the answer

    def covers(self, host: str) -> bool:
        """Whether `host` (as accept() gave it) is in an exempt network; a Unix socket path is.

        The last answer is kept: a burst of connections comes from one host
        (a benchmark on loopback, a bouncer), and parsing an address costs
        microseconds each.
        """
        if not self.networks:
            return False
        last_host, answer = self._last
        if host == last_host:
            return answer
        ip = ip_of(host)
        # Not an IP address: a local socket, never from the network.
        answer = ip is None or any(ip.version == net.version and ip in net for net in self.networks)
        self._last = (host, answer)
        return answer


def address_key(host: str) -> str:
    """What per-address limits count by: an IPv4 address, or an IPv6 address's /64.

    One IPv6 host usually has a whole /64 to itself; counting single
    addresses would give it billions of allowances.
    """
    ip = ip_of(host)
    if ip is None or ip.version == 4:
        return str(ip) if ip is not None else host
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))
