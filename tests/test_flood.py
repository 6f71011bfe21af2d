"""Flood control's arithmetic (chatroom.net.flood), with time moved by hand."""

from __future__ import annotations

import ipaddress
import selectors
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_connection import InProcess

from chatroom.net.connection import Connection, MeteredConnection
from chatroom.net.flood import (
    LOOPBACK,
    Exemptions,
    FloodPolicy,
    KeyedBuckets,
    Rate,
    Throttle,
    TokenBucket,
    address_key,
    parse_networks,
)
from chatroom.server.app import ServerConfig
from chatroom.server.flooding import FloodSettings

# -- the token bucket -------------------------------------------------------------------------


def test_a_full_bucket_gives_its_burst_at_once_then_nothing_until_it_refills() -> None:
    bucket = TokenBucket(Rate(per_s=2, burst=5), now=0.0)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert not bucket.take(0.4)  # 0.8 of a token
    assert bucket.take(0.5)
    assert not bucket.take(0.5)


def test_a_bucket_refills_at_its_rate_and_never_past_its_burst() -> None:
    bucket = TokenBucket(Rate(per_s=10, burst=3), now=0.0)
    for _ in range(3):
        bucket.take(0.0)
    assert bucket.refill(0.1) == pytest.approx(1.0)
    assert bucket.refill(100.0) == 3


def test_wait_for_says_when_the_tokens_asked_for_are_back() -> None:
    bucket = TokenBucket(Rate(per_s=4, burst=8), now=0.0)
    for _ in range(8):
        bucket.take(0.0)
    assert bucket.wait_for(2) == pytest.approx(0.5)
    assert bucket.wait_for(100) == pytest.approx(2.0)  # never more than the burst
    assert bucket.take(0.5, 2)


steps = st.lists(st.tuples(st.floats(0, 5, allow_nan=False), st.floats(0, 20, allow_nan=False)), max_size=60)


@given(
    per_s=st.floats(0.01, 1000, allow_nan=False),
    burst=st.floats(1, 1000, allow_nan=False),
    steps=steps,
)
def test_tokens_never_exceed_the_burst_and_never_go_negative(
    per_s: float, burst: float, steps: list[tuple[float, float]]
) -> None:
    bucket = TokenBucket(Rate(per_s, burst), now=0.0)
    now = 0.0
    for elapsed, amount in steps:
        now += elapsed
        before = bucket.refill(now)
        took = bucket.take(now, amount)
        assert took == (before >= amount)
        assert 0 <= bucket.tokens <= burst


@given(
    per_s=st.floats(0.1, 100, allow_nan=False),
    burst=st.integers(1, 100),
    elapsed=st.floats(0, 1000, allow_nan=False),
)
def test_an_empty_bucket_gets_rate_times_time_back_up_to_its_burst(
    per_s: float, burst: int, elapsed: float
) -> None:
    bucket = TokenBucket(Rate(per_s, burst), now=0.0)
    assert bucket.take(0.0, burst)
    assert bucket.refill(elapsed) == pytest.approx(min(burst, per_s * elapsed))


@given(per_s=st.floats(0.1, 100, allow_nan=False), burst=st.integers(1, 100), taken=st.integers(1, 200))
def test_over_a_long_run_a_bucket_gives_no_more_than_burst_plus_rate_times_time(
    per_s: float, burst: int, taken: int
) -> None:
    bucket = TokenBucket(Rate(per_s, burst), now=0.0)
    now, given_out, step = 0.0, 0, 0.05
    while given_out < taken and now < 1000:
        if bucket.take(now):
            given_out += 1
        else:
            now += step
    assert given_out <= burst + per_s * now + 1e-6


def test_time_that_runs_backwards_adds_no_tokens() -> None:
    bucket = TokenBucket(Rate(1, 2), now=10.0)
    bucket.take(10.0, 2)
    assert bucket.refill(5.0) == 0


def test_a_rate_is_written_rate_slash_burst() -> None:
    assert Rate.parse("5/60") == Rate(5.0, 60.0)
    assert Rate.parse("0.5/30") == Rate(0.5, 30.0)
    assert str(Rate(0.5, 30)) == "0.5/30"
    for bad in ("5", "5/0", "0/10", "x/y", "-1/5", ""):
        with pytest.raises(ValueError):
            Rate.parse(bad)


# -- a connection's throttle ----------------------------------------------------------------------

POLICY = FloodPolicy(
    lines=Rate(10, 5),
    bytes=Rate(1000, 4000),
    sustained_s=3.0,
    sustained_share=0.8,
    episode_gap_s=2.0,
    pause_min_s=0.25,
)


def test_a_throttle_lets_its_burst_of_lines_through_and_holds_the_rest() -> None:
    throttle: Throttle[int] = Throttle(POLICY, now=0.0)
    lines = iter(range(8))
    allowed = []
    for line in lines:
        if not throttle.take_line(0.0):
            throttle.hold([line, *lines])
            break
        allowed.append(line)
    assert allowed == [0, 1, 2, 3, 4]
    assert throttle.must_pause(0.0)
    assert throttle.held is not None and list(throttle.held) == [5, 6, 7]


def test_a_pause_lasts_until_a_few_lines_are_back_and_the_first_starts_an_episode() -> None:
    throttle: Throttle[int] = Throttle(POLICY, now=0.0)
    while throttle.take_line(0.0):
        pass
    throttle.hold([1])
    pause = throttle.pause(0.0)
    assert pause.first and not pause.sustained
    assert pause.until == pytest.approx(0.25)  # 10 lines/s x 0.25 s = 2.5 lines back
    assert throttle.paused


def test_reads_are_cut_to_the_byte_allowance_and_reading_stops_when_it_is_low() -> None:
    throttle: Throttle[int] = Throttle(POLICY, now=0.0)
    assert throttle.read_size(0.0, 65536) == 4000
    throttle.spent(3900)
    assert throttle.read_size(0.0, 65536) == 100
    assert throttle.must_pause(0.0)  # under 250 bytes (0.25 s of refill): wait for more
    assert not throttle.must_pause(0.2)
    assert throttle.bytes.tokens >= 0


def test_pauses_close_together_are_one_episode_and_a_long_one_is_sustained() -> None:
    throttle: Throttle[int] = Throttle(POLICY, now=0.0)
    now, firsts, sustained_at = 0.0, 0, None
    while now < 10 and sustained_at is None:
        while throttle.take_line(now):
            pass
        throttle.hold([0])
        pause = throttle.pause(now)
        firsts += pause.first
        if pause.sustained:
            sustained_at = pause.until
        throttle.paused = False
        throttle.held = None
        now = pause.until
    assert firsts == 1
    assert sustained_at is not None and 3.0 <= sustained_at < 3.5


def test_a_pause_after_a_quiet_gap_starts_a_new_episode() -> None:
    throttle: Throttle[int] = Throttle(POLICY, now=0.0)
    throttle.spent(4000)
    assert throttle.pause(0.0).first
    throttle.paused = False
    throttle.spent(int(throttle.bytes.refill(1.0)))
    assert not throttle.pause(1.0).first  # 0.75 s after the last pause ended: same episode
    throttle.paused = False
    throttle.spent(int(throttle.bytes.refill(10.0)))
    assert throttle.pause(10.0).first


def test_paste_sized_bursts_now_and_then_are_never_sustained() -> None:
    throttle: Throttle[int] = Throttle(FloodPolicy(), now=0.0)
    for minute in range(10):
        now = minute * 60.0
        for _ in range(50):  # a 50-line paste once a minute
            assert throttle.take_line(now)
        assert not throttle.must_pause(now)


# -- per key ----------------------------------------------------------------------------------------


def test_keyed_buckets_count_each_key_apart() -> None:
    buckets = KeyedBuckets(Rate(1, 2))
    assert buckets.take("a", 0.0) and buckets.take("a", 0.0)
    assert not buckets.take("a", 0.0)
    assert buckets.take("b", 0.0)
    assert buckets.retry_after("a") == pytest.approx(1.0)
    assert buckets.retry_after("unknown") == 0.0


def test_keyed_buckets_stay_bounded_forgetting_full_buckets_first() -> None:
    buckets = KeyedBuckets(Rate(1, 2), capacity=10)
    for n in range(10):
        buckets.take(f"idle{n}", 0.0)
    assert len(buckets) == 10
    buckets.take("new", 100.0)  # the others are full again by now: forgotten, nothing lost
    assert len(buckets) == 1 and buckets.forgotten == 0
    for n in range(10):
        buckets.take(f"busy{n}", 100.0)
        buckets.take(f"busy{n}", 100.0)
    for n in range(100):
        buckets.take(f"more{n}", 100.0)
        assert len(buckets) <= 10
    assert buckets.forgotten > 0


# -- addresses --------------------------------------------------------------------------------------


def test_loopback_is_exempt_by_default_in_every_spelling() -> None:
    exempt = Exemptions(parse_networks(LOOPBACK))
    for host in ("127.0.0.1", "127.5.6.7", "::1", "::ffff:127.0.0.1"):
        assert exempt.covers(host), host
    for host in ("10.0.0.1", "192.168.1.2", "2001:db8::1", "::ffff:10.0.0.1"):
        assert not exempt.covers(host), host
    # The last answer is kept; asking again, or about another host, answers right.
    assert [exempt.covers(host) for host in ("10.0.0.1", "10.0.0.1", "::1", "::1", "10.0.0.1")] == [
        False,
        False,
        True,
        True,
        False,
    ]


def test_no_network_is_exempt_with_none() -> None:
    assert parse_networks("none") == ()
    assert not Exemptions(parse_networks("none")).covers("127.0.0.1")


def test_exempt_networks_are_cidrs_of_either_family() -> None:
    exempt = Exemptions(parse_networks("10.0.0.0/8, 2001:db8::/32"))
    assert exempt.covers("10.1.2.3") and exempt.covers("::ffff:10.1.2.3")
    assert exempt.covers("2001:db8:1::5")
    assert not exempt.covers("127.0.0.1")
    with pytest.raises(ValueError, match="not an address"):
        parse_networks("10.0.0.0/8,nonsense")


def test_an_ipv6_address_counts_by_its_64_and_an_ipv4_one_by_itself() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.1") == address_key("192.0.2.1") == "192.0.2.1"
    assert ipaddress.ip_address(address_key("198.51.100.7"))


# -- the command line -------------------------------------------------------------------------------


def test_the_command_line_turns_flood_control_on_by_default_with_a_cap_from_the_descriptor_limit() -> None:
    from chatroom.limits import MAX_CONNECTIONS_FD_RESERVE, MAX_CONNECTIONS_PER_ADDRESS
    from chatroom.server.cli import build_arg_parser, flood_settings

    parse = build_arg_parser().parse_args
    settings, per_address = flood_settings(parse([]), fd_limit=20000)
    assert settings.policy == FloodPolicy()
    assert settings.exempt == parse_networks(LOOPBACK)
    assert settings.max_connections == 20000 - MAX_CONNECTIONS_FD_RESERVE
    assert per_address == MAX_CONNECTIONS_PER_ADDRESS
    assert flood_settings(parse([]), fd_limit=24)[0].max_connections == 0  # too few for a reserve
    assert flood_settings(parse([]), fd_limit=-1)[0].max_connections == 0  # unknown

    settings, per_address = flood_settings(parse(["--no-flood-control"]), fd_limit=20000)
    assert settings.policy is None and settings.max_connections == 0 and per_address == 0
    off_but_capped = ["--no-flood-control", "--max-per-address", "3", "--max-connections", "9"]
    settings, per_address = flood_settings(parse(off_but_capped), fd_limit=20000)
    assert settings.max_connections == 9 and per_address == 3

    tuned = ["--flood-lines", "1/2", "--flood-room", "3/4", "--flood-exempt", "none"]
    settings, _ = flood_settings(parse([*tuned, "--flood-disconnect-after", "5"]), fd_limit=20000)
    assert settings.policy is not None and settings.policy.lines == Rate(1, 2)
    assert settings.policy.room == Rate(3, 4) and settings.policy.sustained_s == 5
    assert settings.exempt == ()


def test_the_command_line_refuses_a_bad_rate_or_network_in_one_sentence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from chatroom.server.cli import build_arg_parser

    for bad in (["--flood-lines", "fast"], ["--flood-exempt", "10.0.0.0/33"]):
        with pytest.raises(SystemExit):
            build_arg_parser().parse_args(bad)
        error = capsys.readouterr().err
        assert "Traceback" not in error and ("RATE/BURST" in error or "not an address" in error)


# -- the server in-process, with a hand-moved clock ---------------------------------------------------


def in_process(policy: FloodPolicy | None, exempt: str = "none") -> InProcess:
    settings = FloodSettings(policy, parse_networks(exempt))
    return InProcess(ServerConfig("127.0.0.1", 0, flood=settings))


def lines_waiting(sock: socket.socket) -> list[bytes]:
    """Every complete line that has arrived on `sock` by now (it must end in a full line)."""
    sock.setblocking(False)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except BlockingIOError:
        pass
    finally:
        sock.setblocking(True)
    assert data.endswith(b"\n") or not data
    return data.splitlines()


def test_an_exempt_connection_is_a_plain_connection_and_costs_no_more_memory() -> None:
    server = in_process(FloodPolicy(), exempt=LOOPBACK)
    try:
        server.register("alice")
        conn = server.conn_of("alice")
        assert type(conn) is Connection and conn.throttle is None
        assert not hasattr(conn, "__dict__")
    finally:
        server.close()
    server = in_process(FloodPolicy(), exempt="none")
    try:
        server.register("alice")
        conn = server.conn_of("alice")
        assert type(conn) is MeteredConnection and conn.throttle is not None
        assert MeteredConnection.__basicsize__ == Connection.__basicsize__ + 8
    finally:
        server.close()


def test_a_throttled_connection_is_read_again_only_as_its_allowance_refills() -> None:
    server = in_process(FloodPolicy(lines=Rate(10, 5), pause_min_s=0.25))
    try:
        alice, bob = server.register("alice"), server.register("bob")
        alice.sendall(b"".join(b"@alice: %d\n" % n for n in range(20)))
        throttle = server.conn_of("alice").throttle
        assert throttle is not None
        server.turn_until(lambda: throttle.held is not None, "alice is throttled")
        server.turns()
        # Its REGISTER line took one of the 5 allowed at once.
        assert lines_waiting(bob) == [b"@alice: %d" % n for n in range(4)]
        notice = lines_waiting(alice)
        assert len(notice) == 1 and notice[0].startswith(b"429 Slow down: ")
        key = server.server.loop.selector.get_map().get(server.conn_of("alice").fd)
        assert key is None or not key.events & selectors.EVENT_READ  # not read while paused
        server.advance(0.1)
        assert lines_waiting(bob) == []  # 1 line back: not yet worth a wake-up
        server.advance(0.15)
        assert lines_waiting(bob) == [b"@alice: 4", b"@alice: 5"]  # 2.5 lines back after 0.25 s
        relayed: list[bytes] = []
        waited = 0.0
        while len(relayed) < 14 and waited < 3:  # 14 lines at 10 a second: 1.25 to 1.5 s
            server.advance(0.25)
            waited += 0.25
            relayed += lines_waiting(bob)
        assert relayed == [b"@alice: %d" % n for n in range(6, 20)]
        assert 1.25 <= waited <= 1.5
        assert lines_waiting(alice) == []  # the same episode: no second notice
        server.advance(0.1)
        assert not throttle.paused
        key = server.server.loop.selector.get_map().get(server.conn_of("alice").fd)
        assert key is not None and key.events & selectors.EVENT_READ  # read again
    finally:
        server.close()
