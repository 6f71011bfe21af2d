"""The soak workload: clients connect, register, chat and leave, continuously, for --duration.

--soak-sessions sessions are in flight at once, each sending
--session-messages lines (at --soak-rate lines per second in all) before it
says DISCONNECT and waits for the server to close; --soak-residents clients
stay registered throughout and must receive every line. The server's RSS and
open descriptors are sampled every --sample-interval: they should stay flat,
and once the sessions are gone the descriptors must be back where they were.
"""

from __future__ import annotations

import math
import time

from chatroom.bench.body import RECEIVER_ROLE, SESSION_ROLE, client_name
from chatroom.bench.errors import BenchError
from chatroom.bench.orders import Soak, SoakReport
from chatroom.bench.procstat import ProcSample
from chatroom.bench.results import MemorySample, SoakResult
from chatroom.bench.runner import Bench, Measurement
from chatroom.bench.stats import WeightedSamples

START_DELAY_NS = 300_000_000
SETTLE_S = 0.5  # after the last session left, before the final memory sample
GROWTH_ALERT_PCT = 10.0
# RSS that grows more than this between the start and the end of the soak is
# flagged: a leak makes memory grow with the sessions served, and 60 s at the
# default rate serves thousands.


def run_soak(bench: Bench) -> SoakResult:
    options = bench.options
    with bench.measurement() as measurement:
        residents = max(1, options.soak_residents)
        names = [client_name(bench.tag, RECEIVER_ROLE, i, 6) for i in range(residents)]
        bench.progress.start(f"soak: registering {residents} residents")
        ramps = measurement.ramp(names, options.ramp_timeout)
        registered = sum(r.registered for r in ramps)
        if registered < residents:
            fails = {why: n for r in ramps for why, n in r.fails.items()}
            if not registered:
                raise BenchError(f"soak: no resident client could register: {fails}")
            bench.warn(f"soak: only {registered} of {residents} residents registered: {fails}")
        time.sleep(SETTLE_S)
        before = measurement.sampler.take()
        workers = len(bench.workers())
        t0 = time.monotonic_ns() + START_DELAY_NS
        end = t0 + int(options.duration * 1e9)
        order = Soak(
            step=1,
            t0_ns=t0,
            end_ns=end,
            rate=options.soak_rate / workers,
            sessions=max(1, math.ceil(options.soak_sessions / workers)),
            session_messages=options.session_messages,
            name_prefix=bench.tag + SESSION_ROLE,
            body_bytes=options.body_bytes,
        )
        series: list[MemorySample] = []
        next_sample = [t0]

        def tick() -> None:
            now = time.monotonic_ns()
            sample = measurement.sampler.take()
            if t0 <= now <= end and now >= next_sample[0]:
                next_sample[0] = now + int(options.sample_interval * 1e9)
                series.append(MemorySample((now - t0) / 1e9, sample.rss_kb, sample.fds))
            bench.progress.tick(
                f"RSS {_kib(sample.rss_kb)}, fds {sample.fds if sample.fds is not None else 'n/a'}"
            )

        bench.progress.start(
            f"soak: {options.duration:g} s of connect-register-chat-leave", options.duration + 0.3
        )
        reports = bench.workers().call(
            [order] * workers, SoakReport, options.duration + order.drain_max_s + 60, tick
        )
        time.sleep(SETTLE_S)
        after = measurement.sampler.take()
        result = _result(bench, measurement, reports, registered, before, after, series, t0)
    result.server = measurement.run
    if measurement.run.exit_code not in (0, None):
        result.problems.append(f"server exit status {measurement.run.exit_code}")
    return result


def _result(
    bench: Bench,
    measurement: Measurement,
    reports: list[SoakReport],
    residents: int,
    before: ProcSample,
    after: ProcSample,
    series: list[MemorySample],
    t0: int,
) -> SoakResult:
    options = bench.options
    sent = sum(r.sent for r in reports)
    expected = sent * residents
    delivered = sum(r.resident_got for r in reports)
    lost = expected - delivered
    errors: dict[str, int] = {}
    for r in reports:
        for why, n in r.errors.items():
            errors[why] = errors.get(why, 0) + n
    latency = WeightedSamples()
    for r in reports:
        latency.extend(r.samples, r.weights, total=r.resident_got)
    register_ms = sorted(ms for r in reports for ms in r.register_ms)
    t_end = max(r.t_end_ns for r in reports)
    wall_s = max(1e-3, (t_end - t0) / 1e9)
    # "start" is a tenth into the run (at least 1 s): the first allocation of
    # the working set is not growth.
    settled = [s for s in series if s.t_s >= max(1.0, options.duration / 10)] or series
    rss = [s.rss_kb for s in settled if s.rss_kb is not None]
    fds = [s.fds for s in settled if s.fds is not None]
    completed = sum(r.sessions_completed for r in reports)
    result = SoakResult(
        duration_s=options.duration,
        rate_msgs=options.soak_rate,
        sessions=options.soak_sessions,
        residents=residents,
        session_messages=options.session_messages,
        sessions_started=sum(r.sessions_started for r in reports),
        sessions_completed=completed,
        sessions_per_s=completed / options.duration if options.duration else 0.0,
        sent=sent,
        expected=expected,
        delivered=delivered,
        lost=max(0, lost),
        delivered_pct=100.0 * delivered / expected if expected else 100.0,
        p50_ms=latency.quantile(0.5),
        p99_ms=latency.quantile(0.99),
        max_ms=max((r.max_ns for r in reports), default=0) / 1e6 if len(latency) else None,
        register_p50_ms=register_ms[len(register_ms) // 2] if register_ms else None,
        register_p99_ms=register_ms[min(len(register_ms) - 1, int(len(register_ms) * 0.99))]
        if register_ms
        else None,
        errors=errors,
        bad_examples=[example for r in reports for example in r.bad_examples][:5],
        rss_before_kb=before.rss_kb,
        rss_start_kb=rss[0] if rss else None,
        rss_end_kb=rss[-1] if rss else None,
        rss_max_kb=max(rss) if rss else None,
        rss_after_kb=after.rss_kb,
        rss_growth_pct=100.0 * (rss[-1] - rss[0]) / rss[0] if rss and rss[0] else None,
        fds_before=before.fds,
        fds_start=fds[0] if fds else None,
        fds_end=fds[-1] if fds else None,
        fds_max=max(fds) if fds else None,
        fds_after=after.fds,
        server_cpu_pct=measurement.sampler.cpu_pct(t0, t_end),
        lg_cpu_pct=100.0 * sum(r.cpu_s for r in reports) / wall_s,
        machine_cpu_pct=measurement.sampler.machine_cpu_pct(t0, t_end),
        samples=series,
        server=measurement.run,
        problems=[],
    )
    _judge(bench, result)
    return result


def _judge(bench: Bench, result: SoakResult) -> None:
    if result.lost > 0:
        bench.alert(
            f"LOST {result.lost:,} of {result.expected:,} deliveries to resident clients during the soak"
        )
        result.problems.append(f"{result.lost:,} lost")
    if result.delivered > result.expected:
        bench.alert(
            f"{result.delivered - result.expected:,} deliveries more than sent during the soak: duplicates"
        )
        result.problems.append("duplicates")
    if result.errors:
        bench.alert(f"soak errors: {result.errors}")
        result.problems.append(f"{sum(result.errors.values()):,} errors")
    if result.rss_growth_pct is not None and result.rss_growth_pct > GROWTH_ALERT_PCT:
        bench.warn(f"soak: server RSS grew {result.rss_growth_pct:.1f}% during the run (possible leak)")
        result.problems.append(f"RSS grew {result.rss_growth_pct:.1f}%")
    if (
        result.fds_after is not None
        and result.fds_before is not None
        and result.fds_after > result.fds_before
    ):
        bench.alert(
            f"the server holds {result.fds_after - result.fds_before} more descriptors after the soak than "
            f"before ({result.fds_before} -> {result.fds_after}): a descriptor leak"
        )
        result.problems.append("descriptor leak")
    if result.sessions_completed == 0:
        result.problems.append("no session completed")
    bench.progress.note(
        f"soak: {result.sessions_completed} sessions, {result.sent} messages, "
        f"{result.delivered_pct:.3f}% delivered to residents, RSS {_kib(result.rss_start_kb)} -> "
        f"{_kib(result.rss_end_kb)}, errors {sum(result.errors.values())}"
    )


def _kib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 1024:.1f} MiB"
