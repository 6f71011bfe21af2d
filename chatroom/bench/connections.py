"""The setups measurement as the coordinator runs it: new connections per second, plain or TLS.

Every worker sets up connections for --step-seconds (chatroom.bench.setups)
on a fresh server; the server's CPU over that time, divided by the setups
done, is what one new user costs it. With TLS that is mostly the handshake,
so the TLS row reads as handshakes per second.
"""

from __future__ import annotations

import time

from chatroom.bench.orders import Setups, SetupsReport
from chatroom.bench.results import SetupsResult
from chatroom.bench.runner import Bench

THREADS_PER_WORKER = 8
# Setups in flight per worker: enough to keep a one-core server busy on
# loopback, where one setup is a few round trips of microseconds.


def run_setups_measurement(bench: Bench, *, tls: bool) -> SetupsResult:
    transport = "tls" if tls else "tcp"
    seconds = bench.options.step_seconds
    with bench.measurement(tls=tls) as measurement:
        pool = bench.workers()
        prefix = f"{bench.tag}h"
        orders = [
            Setups(measurement.server.endpoint, f"{prefix}{index:02d}", seconds, THREADS_PER_WORKER)
            for index in range(len(pool))
        ]
        label = f"setups {'TLS' if tls else 'TCP'}"
        bench.progress.start(f"{label}: connecting for {seconds:g} s")
        measurement.sampler.take()
        began = time.monotonic_ns()
        reports = pool.call(orders, SetupsReport, seconds + 30, measurement.tick)
        ended = time.monotonic_ns()
        measurement.sampler.take()
        t0 = min(r.t_start_ns for r in reports)
        t1 = max(r.t_end_ns for r in reports)
        done = sum(r.done for r in reports)
        fails: dict[str, int] = {}
        for report in reports:
            for why, count in report.fails.items():
                fails[why] = fails.get(why, 0) + count
        elapsed = max(1e-9, (t1 - t0) / 1e9)
        server_cpu = measurement.sampler.cpu_pct(began, ended)
        start_cpu, end_cpu = measurement.sampler.cpu_at(began), measurement.sampler.cpu_at(ended)
        samples = sorted(ms for r in reports for ms in r.setup_ms)
        lg_cpu = 100.0 * sum(r.cpu_s for r in reports) / elapsed
        result = SetupsResult(
            transport=transport,
            threads=THREADS_PER_WORKER * len(pool),
            seconds=seconds,
            done=done,
            fails=fails,
            setups_s=done / elapsed,
            p50_ms=_quantile(samples, 0.5),
            p99_ms=_quantile(samples, 0.99),
            server_cpu_pct=server_cpu,
            server_us_per_setup=(
                (end_cpu - start_cpu) * 1e6 / done
                if start_cpu is not None and end_cpu is not None and done
                else None
            ),
            lg_cpu_pct=lg_cpu,
            lg_cores=bench.lg_cores,
            server=measurement.run,
        )
        bench.progress.note(
            f"{label}: {result.setups_s:,.0f} setups/s, p99 {_ms(result.p99_ms)}"
            + (f", {sum(fails.values())} failed: {fails}" if fails else "")
        )
    result.server = measurement.run
    return result


def _quantile(samples: list[float], fraction: float) -> float | None:
    if not samples:
        return None
    return samples[min(len(samples) - 1, int(fraction * len(samples)))]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"
