"""The scale workload: N idle registered clients.

Measures the time to register them all (connections pipelined, an adaptive
number in flight), the server's memory per idle client (RSS once they are
registered minus RSS before any connected), and the time one message takes
to reach all N-1 others.
"""

from __future__ import annotations

import time

from chatroom.bench.body import RECEIVER_ROLE, client_name
from chatroom.bench.orders import Phase, PhaseReport
from chatroom.bench.results import ScaleResult
from chatroom.bench.runner import Bench
from chatroom.bench.stats import WeightedSamples

SETTLE_S = 0.5  # after the last registration, before memory is read
START_DELAY_NS = 200_000_000


def run_scale(bench: Bench, clients_wanted: int) -> ScaleResult:
    options = bench.options
    with bench.measurement() as measurement:
        clients, cap_note = bench.capacity(measurement.server).cap(clients_wanted)
        if cap_note:
            bench.warn(f"scale: {cap_note}")
        before = measurement.sampler.take()
        result = ScaleResult(
            clients_wanted=clients_wanted,
            clients=clients,
            registered=0,
            register_s=None,
            registrations_s=None,
            register_p50_ms=None,
            register_p99_ms=None,
            stalls_retried=0,
            rss_before_kb=before.rss_kb,
            rss_after_kb=None,
            rss_per_client_bytes=None,
            fds_after=None,
            server_cpu_register_s=None,
            lg_cpu_register_s=0.0,
            broadcast_expected=max(0, clients - 1),
            broadcast_received=0,
            broadcast_all_ms=None,
            broadcast_p50_ms=None,
            server=measurement.run,
            cap_note=cap_note,
            problems=[],
        )
        names = [client_name(bench.tag, RECEIVER_ROLE, i, 6) for i in range(clients)]
        bench.progress.start(f"scale N={clients}: registering")
        ramps = measurement.ramp(names, options.ramp_timeout)
        after_ramp = measurement.sampler.take()
        result.registered = sum(r.registered for r in ramps)
        result.register_s = (max(r.t_end_ns for r in ramps) - min(r.t_start_ns for r in ramps)) / 1e9
        result.registrations_s = result.registered / result.register_s if result.register_s > 0 else None
        register_ms = sorted(ms for r in ramps for ms in r.register_ms)
        if register_ms:
            result.register_p50_ms = register_ms[len(register_ms) // 2]
            result.register_p99_ms = register_ms[min(len(register_ms) - 1, int(len(register_ms) * 0.99))]
        result.stalls_retried = sum(r.stalls_retried for r in ramps)
        result.lg_cpu_register_s = sum(r.cpu_s for r in ramps)
        if before.cpu_s is not None and after_ramp.cpu_s is not None:
            result.server_cpu_register_s = after_ramp.cpu_s - before.cpu_s
        if result.registered < clients:
            fails: dict[str, int] = {}
            for r in ramps:
                for why, n in r.fails.items():
                    fails[why] = fails.get(why, 0) + n
            result.problems.append(f"only {result.registered} of {clients} clients registered: {fails}")
            bench.warn(f"scale N={clients}: {result.problems[-1]}")
        time.sleep(SETTLE_S)
        after = measurement.sampler.take()
        result.rss_after_kb = after.rss_kb
        result.fds_after = after.fds
        if after.rss_kb is not None and before.rss_kb is not None and result.registered:
            result.rss_per_client_bytes = (after.rss_kb - before.rss_kb) * 1024 / result.registered
        if result.registered >= 2:
            _broadcast(bench, result, names)
        bench.progress.note(
            f"scale N={clients}: registered {result.registered} in {result.register_s:.2f} s, "
            f"RSS {_kib(result.rss_after_kb)}, one message to all in {_ms(result.broadcast_all_ms)}"
        )
    result.server = measurement.run
    if measurement.run.exit_code not in (0, None):
        result.problems.append(f"server exit status {measurement.run.exit_code}")
    return result


def _broadcast(bench: Bench, result: ScaleResult, names: list[str]) -> None:
    """One line from the first client; time until every other registered client has it."""
    pool = bench.workers()
    t0 = time.monotonic_ns() + START_DELAY_NS
    order = Phase(
        step=1,
        messages=1,
        rate=0.0,
        t0_ns=t0,
        deadline_ns=t0 + int(bench.options.broadcast_timeout * 1e9),
        senders=(names[0],),
        name_prefix=bench.tag + RECEIVER_ROLE,
        body_bytes=bench.options.body_bytes,
        sample_every=1,
        coalesce_ms=0.0,
        settle_max_s=0.0,
    )
    bench.progress.start(f"scale N={result.clients}: one message to everyone")
    reports = pool.call([order] * len(pool), PhaseReport, bench.options.broadcast_timeout + 60)
    result.broadcast_expected = sum(r.expected for r in reports)
    result.broadcast_received = sum(r.got for r in reports)
    last_rx = max((r.last_rx_ns for r in reports), default=0)
    if last_rx and result.broadcast_received >= result.broadcast_expected:
        result.broadcast_all_ms = (last_rx - t0) / 1e6
    latency = WeightedSamples()
    for r in reports:
        latency.extend(r.samples, r.weights, total=r.got)
    result.broadcast_p50_ms = latency.quantile(0.5)
    missing = result.broadcast_expected - result.broadcast_received
    if missing > 0:
        closed: dict[str, int] = {}
        for r in reports:
            for why, n in r.closed.items():
                closed[why] = closed.get(why, 0) + n
        bench.alert(
            f"LOST: one message reached {result.broadcast_received} of {result.broadcast_expected} clients "
            f"within {bench.options.broadcast_timeout:g} s (scale N={result.clients})"
            + (f"; closed by the server: {closed}" if closed else "")
        )
        result.problems.append(f"broadcast reached {result.broadcast_received}/{result.broadcast_expected}")


def _kib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 1024:.1f} MiB"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"
