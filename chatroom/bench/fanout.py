"""The fanout workload: S of C clients send at stepped rates; every other client must get every line.

Per step: R msgs/s for --step-seconds, paced open-loop (message k at
t0 + k/R, by sender k mod S), then up to --drain-seconds for the last lines.
A step passes when 100% was delivered and p99 < 100 ms; the maximum
sustainable rate is the best passing step, in deliveries per second. The
steps stop after the first failing one (--keep-going runs them all).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from chatroom.bench import procstat
from chatroom.bench.body import RECEIVER_ROLE, SENDER_ROLE, client_name
from chatroom.bench.orders import JoinReport, Phase, PhaseReport, RampReport
from chatroom.bench.results import BUSY_PERCENT, P99_LIMIT_MS, FanoutResult, FanoutStep, RoomsResult
from chatroom.bench.runner import Bench, Measurement
from chatroom.bench.stats import WeightedSamples

START_DELAY_NS = 300_000_000  # time for every worker to get the order before t0

StepT = TypeVar("StepT", bound=FanoutStep)


def run_fanout(
    bench: Bench, clients_wanted: int, *, tls: bool = False, websocket: bool = False
) -> FanoutResult:
    """`tls`: the same measurement with every client on TLS (--tls); `websocket`: on WebSocket."""
    options = bench.options
    with bench.measurement(tls=tls, websocket=websocket) as measurement:
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
            transport="tls" if tls else "websocket" if websocket else "tcp",
        )
        if clients < 2:
            result.problems.append("fanout needs at least 2 clients")
            return result
        sender_names = [client_name(bench.tag, SENDER_ROLE, i, 4) for i in range(senders)]
        receiver_names = [client_name(bench.tag, RECEIVER_ROLE, i, 6) for i in range(clients - senders)]
        label = f"fanout C={clients}" + (" TLS" if tls else " WebSocket" if websocket else "")
        if not register(bench, measurement, result, sender_names + receiver_names, label, "clients"):
            return result
        result.steps = run_steps(
            bench,
            options.rates,
            label,
            lambda step, rate: _run_step(bench, measurement, result, step, rate, sender_names),
        )
        sum_up(result)
    result.server = measurement.run
    if measurement.run.exit_code not in (0, None):
        result.problems.append(f"server exit status {measurement.run.exit_code}")
    return result


def register(
    bench: Bench,
    measurement: Measurement,
    result: FanoutResult | RoomsResult,
    names: list[str],
    label: str,
    who: str,
) -> bool:
    """Register `names` (`who`: 'clients', 'users'); False, with the problem noted, unless all did."""
    bench.progress.start(f"{label}: registering {len(names)} {who}")
    ramps = measurement.ramp(names, bench.options.ramp_timeout)
    result.registered = sum(r.registered for r in ramps)
    result.register_s = span_s(ramps)
    fails = [r.fails for r in ramps]
    return not shortfall(bench, result, label, f"{who} registered", result.registered, len(names), fails)


def span_s(reports: Sequence[RampReport | JoinReport]) -> float:
    """From the first worker's start to the last one's end."""
    return (max(r.t_end_ns for r in reports) - min(r.t_start_ns for r in reports)) / 1e9


def shortfall(
    bench: Bench,
    result: FanoutResult | RoomsResult,
    label: str,
    what: str,
    done: int,
    wanted: int,
    fails: list[dict[str, int]],
) -> bool:
    """Whether fewer than `wanted` clients did `what` (then a problem, with the reasons, and a warning)."""
    if done >= wanted:
        return False
    result.problems.append(f"only {done} of {wanted} {what}: {merge_counts(fails)}")
    bench.warn(f"{label}: {result.problems[-1]}")
    return True


def run_steps(
    bench: Bench, rates: Sequence[float], label: str, run_step: Callable[[int, float], StepT]
) -> list[StepT]:
    """One step per rate, each noted when done; after the first failing one, only with --keep-going."""
    steps: list[StepT] = []
    for step, rate in enumerate(rates, start=1):
        row = run_step(step, rate)
        steps.append(row)
        verdict = "ok" if row.passed else "FAILED: " + "; ".join(row.problems)
        bench.progress.note(
            f"{label} step {step}: {rate:g} msgs/s -> {row.deliveries_s:,.0f} deliveries/s, "
            f"{row.delivered_pct:.3f}% delivered, p99 {_ms(row.p99_ms)}: {verdict}"
        )
        if not row.passed and not bench.options.keep_going:
            break
    return steps


def _run_step(
    bench: Bench,
    measurement: Measurement,
    result: FanoutResult,
    step: int,
    rate: float,
    sender_names: list[str],
) -> FanoutStep:
    clients = result.clients
    order = new_phase(bench, step, rate, sender_names, bench.tag + SENDER_ROLE)
    label = f"fanout C={clients} step {step}/{len(bench.options.rates)}: {rate:g} msgs/s"
    reports = run_phase(bench, measurement, order, label)
    return judge_step(bench, measurement, order, reports, clients, f"fanout C={clients}, step {step}")


def new_phase(
    bench: Bench,
    step: int,
    rate: float,
    sender_names: list[str],
    name_prefix: str,
    private_to: Mapping[int, str] | None = None,
    expect: Mapping[str, int] | None = None,
) -> Phase:
    """The order for one step: --step-seconds at `rate`, paced, then the drain (see orders.Phase)."""
    options = bench.options
    t0 = time.monotonic_ns() + START_DELAY_NS
    return Phase(
        step=step,
        messages=step_messages(rate, options.step_seconds),
        rate=rate,
        t0_ns=t0,
        deadline_ns=t0 + int((options.step_seconds + options.drain_seconds) * 1e9),
        senders=tuple(sender_names),
        name_prefix=name_prefix,
        body_bytes=options.body_bytes,
        sample_every=options.sample_every,
        coalesce_ms=options.coalesce_ms,
        settle_max_s=options.settle_seconds,
        private_to=private_to or {},
        expect=expect,
    )


def step_messages(rate: float, step_seconds: float) -> int:
    return max(1, round(rate * step_seconds))


def run_phase(bench: Bench, measurement: Measurement, order: Phase, label: str) -> list[PhaseReport]:
    """Give every worker the order and wait for all of them, sampling the server meanwhile."""
    options = bench.options
    pool = bench.workers()
    bench.progress.start(label, options.step_seconds + 0.3)
    wait = options.step_seconds + options.drain_seconds + options.settle_seconds + 60
    reports = pool.call([order] * len(pool), PhaseReport, wait, measurement.tick)
    measurement.sampler.take()
    return reports


def judge_step(
    bench: Bench,
    measurement: Measurement,
    order: Phase,
    reports: list[PhaseReport],
    clients: int,
    label: str,
) -> FanoutStep:
    """What a step's reports add up to, with every problem named (loudly when lines were lost).

    Deliveries expected: every client gets every line but its own, or, with
    `order.expect`, the lines named there for each client.
    """
    options = bench.options
    rate, messages, t0 = order.rate, order.messages, order.t0_ns
    t_end = max(r.t_end_ns for r in reports)
    wall_s = max(1e-3, (t_end - t0) / 1e9)
    expected = sum(order.expect.values()) if order.expect is not None else messages * (clients - 1)
    delivered = sum(r.got for r in reports)
    late = sum(r.late for r in reports)
    unsent = sum(r.unsent for r in reports)
    sent = sum(r.queued for r in reports) - unsent
    if order.expect is None:
        owed = sent * (clients - 1)
        over = delivered + late - owed
    else:  # (when lines went unsent, which of them were owed is not known: an estimate)
        owed = round(expected * sent / messages)
        over = sum(r.open_surplus for r in reports)
    lost = max(0, owed - delivered - late)
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
    senders_gone = len(order.senders) - sum(r.senders_open for r in reports)
    lost_open = 0
    if not senders_gone and order.expect is None:
        lost_open = max(
            0,
            open_clients * sent
            - sum(r.open_own_sent for r in reports)
            - sum(r.open_received for r in reports),
        )
    elif not senders_gone and not unsent:
        lost_open = sum(r.open_missing for r in reports)
    lost_closed = max(0, lost - lost_open)
    where = f"at {rate:g} msgs/s ({label})"
    if lost_open > 0:
        bench.alert(
            f"LOST {lost_open:,} of {owed:,} deliveries {where} on connections that stayed "
            "open: the server dropped them (a bug)"
        )
        problems.append(f"{lost_open:,} lost on open connections")
    if lost_closed:
        closed = merge_counts([r.closed for r in reports])
        bench.alert(
            f"LOST {lost_closed:,} deliveries {where} with {clients - open_clients} clients whose "
            f"connections ended ({senders_gone} of them senders): {closed}"
        )
        problems.append(
            f"{lost_closed:,} lost with {clients - open_clients} clients whose connections ended"
            + (f" ({senders_gone} of them senders)" if senders_gone else "")
        )
    if over > 0 and order.expect is None:
        bench.alert(f"{over:,} deliveries more than sent {where}: duplicates")
        problems.append(f"{over:,} duplicated")
    elif over > 0:
        bench.alert(
            f"{over:,} deliveries to clients beyond what they were sent {where}: misrouted or duplicated"
        )
        problems.append(f"{over:,} misdelivered")
    if unsent:
        problems.append(f"{unsent:,} messages never sent (the server stopped reading the senders)")
    if late:
        problems.append(f"{late:,} delivered after the {options.drain_seconds:g} s drain")
    if delivered < expected and not (lost or unsent or late):
        problems.append(f"{expected - delivered:,} not delivered")
    bad = sum(r.foreign + r.wrong_sender for r in reports)
    if bad:
        examples = [example for r in reports for example in r.bad_examples][:3]
        bench.alert(f"{bad} malformed or misattributed lines {where}: {examples}")
        problems.append(f"{bad:,} malformed lines")
    stale = sum(r.stale for r in reports)
    notices = merge_counts([r.notices for r in reports])
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
        step=order.step,
        rate_msgs=rate,
        messages=messages,
        offered_deliveries_s=rate * expected / messages,
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


def sum_up(result: FanoutResult | RoomsResult) -> None:
    """The maximum sustainable rate: the best passing step."""
    passing = [row for row in result.steps if row.passed]
    if not passing:
        return
    best = max(passing, key=lambda row: row.rate_msgs)
    result.max_sustainable_deliveries_s = best.deliveries_s
    result.max_sustainable_rate_msgs = best.rate_msgs
    # A lower bound when nothing above it failed, or when the load generator was the limit.
    failed_above = any(not row.passed and row.rate_msgs > best.rate_msgs for row in result.steps)
    result.max_is_lower_bound = best.lg_bound or not failed_above


def merge_counts(counters: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for counter in counters:
        for key, value in counter.items():
            total[key] = total.get(key, 0) + value
    return total


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"
