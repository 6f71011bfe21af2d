"""The fanout workload: S of C clients send at stepped rates; every other client must get every line.

Per step: R msgs/s for --step-seconds, paced open-loop (message k at
t0 + k/R, by sender k mod S), then up to --drain-seconds for the last lines.
A step passes when 100% was delivered and p99 < 100 ms; the maximum
sustainable rate is the best passing step, in deliveries per second. The
steps stop after the first failing one (--keep-going runs them all).
"""

from __future__ import annotations

import time

from chatroom.bench import procstat
from chatroom.bench.body import RECEIVER_ROLE, SENDER_ROLE, client_name
from chatroom.bench.orders import Phase, PhaseReport
from chatroom.bench.results import BUSY_PERCENT, P99_LIMIT_MS, FanoutResult, FanoutStep
from chatroom.bench.runner import Bench, Measurement
from chatroom.bench.stats import WeightedSamples

START_DELAY_NS = 300_000_000  # time for every worker to get the order before t0


def run_fanout(bench: Bench, clients_wanted: int) -> FanoutResult:
    options = bench.options
    with bench.measurement() as measurement:
        clients, cap_note = bench.capacity(measurement.server).cap(clients_wanted)
        if cap_note:
            bench.warn(f"fanout: {cap_note}")
        senders = max(1, min(options.senders, clients - 1))
        result = FanoutResult(
            clients_wanted=clients_wanted,
            clients=clients,
            senders=senders,
            step_seconds=options.step_seconds,
            drain_seconds=options.drain_seconds,
            body_bytes=options.body_bytes,
            registered=0,
            register_s=None,
            steps=[],
            max_sustainable_deliveries_s=None,
            max_sustainable_rate_msgs=None,
            max_is_lower_bound=False,
            server=measurement.run,
            cap_note=cap_note,
            problems=[],
        )
        if clients < 2:
            result.problems.append("fanout needs at least 2 clients")
            return result
        sender_names = [client_name(bench.tag, SENDER_ROLE, i, 4) for i in range(senders)]
        receiver_names = [client_name(bench.tag, RECEIVER_ROLE, i, 6) for i in range(clients - senders)]
        bench.progress.start(f"fanout C={clients}: registering {clients} clients")
        ramps = measurement.ramp(sender_names + receiver_names, options.ramp_timeout)
        result.registered = sum(r.registered for r in ramps)
        result.register_s = (max(r.t_end_ns for r in ramps) - min(r.t_start_ns for r in ramps)) / 1e9
        if result.registered < clients:
            fails = _merge([r.fails for r in ramps])
            result.problems.append(f"only {result.registered} of {clients} clients registered: {fails}")
            bench.warn(f"fanout C={clients}: {result.problems[-1]}")
            return result
        for step, rate in enumerate(options.rates, start=1):
            row = _run_step(bench, measurement, result, step, rate, sender_names)
            result.steps.append(row)
            verdict = "ok" if row.passed else "FAILED: " + "; ".join(row.problems)
            bench.progress.note(
                f"fanout C={clients} step {step}: {rate:g} msgs/s -> {row.deliveries_s:,.0f} deliveries/s, "
                f"{row.delivered_pct:.3f}% delivered, p99 {_ms(row.p99_ms)}: {verdict}"
            )
            if not row.passed and not options.keep_going:
                break
        _sum_up(result)
    result.server = measurement.run
    if measurement.run.exit_code not in (0, None):
        result.problems.append(f"server exit status {measurement.run.exit_code}")
    return result


def _run_step(
    bench: Bench,
    measurement: Measurement,
    result: FanoutResult,
    step: int,
    rate: float,
    sender_names: list[str],
) -> FanoutStep:
    options = bench.options
    clients = result.clients
    messages = max(1, round(rate * options.step_seconds))
    pool = bench.workers()
    t0 = time.monotonic_ns() + START_DELAY_NS
    deadline = t0 + int((options.step_seconds + options.drain_seconds) * 1e9)
    order = Phase(
        step=step,
        messages=messages,
        rate=rate,
        t0_ns=t0,
        deadline_ns=deadline,
        senders=tuple(sender_names),
        name_prefix=bench.tag + SENDER_ROLE,
        body_bytes=options.body_bytes,
        sample_every=options.sample_every,
        coalesce_ms=options.coalesce_ms,
        settle_max_s=options.settle_seconds,
    )
    bench.progress.start(
        f"fanout C={clients} step {step}/{len(options.rates)}: {rate:g} msgs/s",
        options.step_seconds + 0.3,
    )
    wait = options.step_seconds + options.drain_seconds + options.settle_seconds + 60
    reports = pool.call([order] * len(pool), PhaseReport, wait, measurement.tick)
    measurement.sampler.take()
    t_end = max(r.t_end_ns for r in reports)
    wall_s = max(1e-3, (t_end - t0) / 1e9)
    expected = messages * (clients - 1)
    delivered = sum(r.got for r in reports)
    late = sum(r.late for r in reports)
    unsent = sum(r.unsent for r in reports)
    sent = sum(r.queued for r in reports) - unsent
    lost = max(0, sent * (clients - 1) - delivered - late)
    over = delivered + late - sent * (clients - 1)
    last_rx = max((r.last_rx_ns for r in reports), default=0)
    span_s = max(options.step_seconds, (last_rx - t0) / 1e9) if last_rx else options.step_seconds
    latency = WeightedSamples()
    for r in reports:
        latency.extend(r.samples, r.weights, total=r.got + r.late)
    max_ns = max((r.max_ns for r in reports), default=0)
    # CPU shares are taken over the time load was offered (t0 until the last
    # message was due): a failing step's long drain would otherwise dilute them.
    send_end = t0 + int(messages / rate * 1e9)
    send_s = max(1e-3, (send_end - t0) / 1e9)
    server_cpu = measurement.sampler.cpu_pct(t0, send_end)
    start_cpu, end_cpu = measurement.sampler.cpu_at(t0), measurement.sampler.cpu_at(t_end)
    lg_cpu = 100.0 * sum(r.cpu_send_s for r in reports) / send_s
    lg_cores = bench.lg_cores
    lg_bound = lg_cpu >= BUSY_PERCENT * lg_cores and not measurement.server_busy(server_cpu)
    p99 = latency.quantile(0.99)
    problems: list[str] = []
    # Lines missing on connections that stayed open are a bug; lines missing
    # on connections that ended went with them (the reason says why). When a
    # sender's connection ended, lines it had handed to the kernel may never
    # have been read by the server, so no loss can be pinned on the server.
    open_clients = sum(r.open_clients for r in reports)
    senders_gone = len(sender_names) - sum(r.senders_open for r in reports)
    lost_open = 0
    if not senders_gone:
        lost_open = max(
            0,
            open_clients * sent
            - sum(r.open_own_sent for r in reports)
            - sum(r.open_received for r in reports),
        )
    lost_closed = max(0, lost - lost_open)
    where = f"at {rate:g} msgs/s (fanout C={clients}, step {step})"
    if lost_open > 0:
        bench.alert(
            f"LOST {lost_open:,} of {sent * (clients - 1):,} deliveries {where} on connections that stayed "
            "open: the server dropped them (a bug)"
        )
        problems.append(f"{lost_open:,} lost on open connections")
    if lost_closed:
        closed = _merge([r.closed for r in reports])
        bench.alert(
            f"LOST {lost_closed:,} deliveries {where} with {clients - open_clients} clients whose "
            f"connections ended ({senders_gone} of them senders): {closed}"
        )
        problems.append(
            f"{lost_closed:,} lost with {clients - open_clients} clients whose connections ended"
            + (f" ({senders_gone} of them senders)" if senders_gone else "")
        )
    if over > 0:
        bench.alert(f"{over:,} deliveries more than sent at {rate:g} msgs/s (fanout C={clients}): duplicates")
        problems.append(f"{over:,} duplicated")
    if unsent:
        problems.append(f"{unsent:,} messages never sent (the server stopped reading the senders)")
    if late:
        problems.append(f"{late:,} delivered after the {options.drain_seconds:g} s drain")
    if delivered < expected and not (lost or unsent or late):
        problems.append(f"{expected - delivered:,} not delivered")
    bad = sum(r.foreign + r.wrong_sender for r in reports)
    if bad:
        examples = [example for r in reports for example in r.bad_examples][:3]
        bench.alert(
            f"{bad} malformed or misattributed lines at {rate:g} msgs/s (fanout C={clients}): {examples}"
        )
        problems.append(f"{bad:,} malformed lines")
    stale = sum(r.stale for r in reports)
    notices = _merge([r.notices for r in reports])
    if notices:
        problems.append(f"server said {notices}")
    if p99 is None or p99 >= P99_LIMIT_MS:
        problems.append(f"p99 {_ms(p99)} (limit {P99_LIMIT_MS:g} ms)")
    machine_cpu = measurement.sampler.machine_cpu_pct(t0, send_end)
    machine_cores = procstat.online_cpus()
    if lg_bound:
        problems.append("load-generator bound")
    elif machine_cpu is not None and machine_cpu >= BUSY_PERCENT * machine_cores:
        problems.append("every CPU of the machine busy")
    passed = delivered == expected and not bad and not over and p99 is not None and p99 < P99_LIMIT_MS
    return FanoutStep(
        step=step,
        rate_msgs=rate,
        messages=messages,
        offered_deliveries_s=rate * (clients - 1),
        expected=expected,
        delivered=delivered,
        late=late,
        unsent=unsent,
        lost=lost,
        lost_open=lost_open,
        disconnected=clients - open_clients,
        delivered_pct=100.0 * delivered / expected if expected else 0.0,
        deliveries_s=delivered / span_s,
        p50_ms=latency.quantile(0.5),
        p99_ms=p99,
        max_ms=max(max_ns / 1e6, latency.quantile(1.0) or 0.0) if len(latency) else None,
        latency_samples=len(latency),
        server_cpu_pct=server_cpu,
        server_rss_kb=measurement.sampler.peak_rss(t0, t_end),
        server_us_per_delivery=(
            (end_cpu - start_cpu) / delivered * 1e6
            if start_cpu is not None and end_cpu is not None and delivered
            else None
        ),
        lg_cpu_pct=lg_cpu,
        lg_cores=lg_cores,
        lg_bound=lg_bound,
        machine_cpu_pct=machine_cpu,
        machine_cores=machine_cores,
        passed=passed,
        problems=problems,
        wall_s=wall_s,
        lg_round_max_ms=max(r.round_max_ms for r in reports),
        sender_lag_max_ms=max(r.send_lag_max_ms for r in reports),
        stale_lines=stale,
        foreign_lines=bad,
        clients_alive=sum(r.alive for r in reports),
    )


def _sum_up(result: FanoutResult) -> None:
    passing = [row for row in result.steps if row.passed]
    if not passing:
        return
    best = max(passing, key=lambda row: row.rate_msgs)
    result.max_sustainable_deliveries_s = best.deliveries_s
    result.max_sustainable_rate_msgs = best.rate_msgs
    # A lower bound when nothing above it failed, or when the load generator was the limit.
    failed_above = any(not row.passed and row.rate_msgs > best.rate_msgs for row in result.steps)
    result.max_is_lower_bound = best.lg_bound or not failed_above


def _merge(counters: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for counter in counters:
        for key, value in counter.items():
            total[key] = total.get(key, 0) + value
    return total


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"
