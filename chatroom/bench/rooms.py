"""The rooms workload: N users in K rooms; S of them send at stepped rates, a share of it privately.

User i registers as <tag>m<i:06d> and joins #r<i mod K> (`!join`, answered
with 210) before anything is measured; the senders are users 0 to S-1 (with
the default S = K, one per room). Each step is paced as in fanout: line k is
due at t0 + k/R and sent by sender k mod S. Exactly round(share x lines) of
the lines, picked at random (seeded by the step, so a step is the same in
every run), are private: `!msg USER ...` to a random other user, who gets
`@sender (private): ...`, while the sender gets `215 Sent to USER.`. The
other lines are room lines, which every other member of the sender's room
must get, byte for byte. A delivery is either; both carry their send time.

Per step: deliveries/s, latency, and the server's CPU per delivery and per
stored line (the room lines; private lines are never stored). Without an
address the workload runs once per --history variant, each on a fresh
server: `on` keeps its history in a new file in a temporary directory (never
the user's own), `off` is `--no-history`. The difference between the two is
what keeping the history costs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import tempfile
from dataclasses import dataclass

from chatroom.bench.body import MEMBER_ROLE, client_name
from chatroom.bench.fanout import (
    judge_step,
    new_phase,
    register,
    run_phase,
    run_steps,
    shortfall,
    span_s,
    step_messages,
    sum_up,
)
from chatroom.bench.orders import Join, JoinReport, PhaseReport
from chatroom.bench.results import FanoutStep, RoomsResult, RoomsStep
from chatroom.bench.runner import Bench, Measurement


def room_of(user: int, rooms: int) -> int:
    return user % rooms


def room_name(room: int) -> str:
    return f"#r{room}"


def server_args(history: str, folder: str) -> tuple[str, ...]:
    """What a started server is given for a --history variant (`folder`: where its file may go)."""
    if history == "on":
        return ("--db", os.path.join(folder, "history.sqlite3"))
    if history == "off":
        return ("--no-history",)
    return ()


@dataclass(frozen=True)
class Plan:
    """One step's lines: which go privately to whom, and what every user must receive."""

    private_to: dict[int, int]  # line k -> the user it is sent to
    expect: list[int]  # per user: the room lines of the others in its room, and the private lines to it
    room_lines: int

    @property
    def deliveries(self) -> int:
        return sum(self.expect)


def plan_step(messages: int, users: int, rooms: int, senders: int, share: float, seed: int) -> Plan:
    """Pick the private lines and their addressees; count what each user must receive."""
    rng = random.Random(seed)
    private_to: dict[int, int] = {}
    if users > 1:
        for k in sorted(rng.sample(range(messages), round(messages * share))):
            other = rng.randrange(users - 1)  # anyone but the sender
            private_to[k] = other + (other >= k % senders)
    room_sent = [(messages - g + senders - 1) // senders for g in range(senders)]  # lines k = g mod S
    for k in private_to:
        room_sent[k % senders] -= 1
    in_room = [0] * rooms
    for sender, count in enumerate(room_sent):
        in_room[room_of(sender, rooms)] += count
    expect = [
        in_room[room_of(user, rooms)] - (room_sent[user] if user < senders else 0) for user in range(users)
    ]
    for user in private_to.values():
        expect[user] += 1
    return Plan(private_to, expect, sum(room_sent))


def run_rooms(bench: Bench, history: str) -> RoomsResult:
    """One measurement: a server (fresh, with the `history` variant, if started here), N users, the steps."""
    with contextlib.ExitStack() as stack:
        folder = ""
        if history == "on":
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="chatroom-bench-history-"))
        args = server_args(history, folder)
        with bench.measurement(args) as measurement:
            result = _measure(bench, measurement, history)
    result.server = measurement.run
    result.server_args = list(args)
    if measurement.run.exit_code not in (0, None):
        result.problems.append(f"server exit status {measurement.run.exit_code}")
    return result


def _measure(bench: Bench, measurement: Measurement, history: str) -> RoomsResult:
    options = bench.options
    users, cap_note = bench.capacity(measurement.server).cap(options.room_users)
    if cap_note:
        bench.warn(f"rooms: {cap_note}")
    rooms = max(1, min(options.rooms, users))
    senders = max(1, min(options.room_senders, users))
    result = RoomsResult(
        users_wanted=options.room_users,
        users=users,
        rooms=rooms,
        senders=senders,
        private_share=options.private_share,
        history=history,
        step_seconds=options.step_seconds,
        drain_seconds=options.drain_seconds,
        body_bytes=options.body_bytes,
        server=measurement.run,
        cap_note=cap_note,
    )
    label = f"rooms N={users} K={rooms} history {history}"
    if users < 2:
        result.problems.append("rooms needs at least 2 users")
        return result
    names = [client_name(bench.tag, MEMBER_ROLE, i, 6) for i in range(users)]
    if not register(bench, measurement, result, names, label, "users"):
        return result
    bench.progress.start(f"{label}: joining {rooms} rooms")
    pool = bench.workers()
    order = Join({name: room_name(room_of(i, rooms)) for i, name in enumerate(names)}, options.ramp_timeout)
    joins = pool.call([order] * len(pool), JoinReport, options.ramp_timeout + 60, measurement.tick)
    result.joined = sum(j.joined for j in joins)
    result.join_s = span_s(joins)
    if shortfall(
        bench, result, label, "users joined their rooms", result.joined, users, [j.fails for j in joins]
    ):
        return result
    result.steps = run_steps(
        bench,
        options.room_rates,
        label,
        lambda step, rate: _run_step(bench, measurement, result, step, rate, names),
    )
    sum_up(result)
    return result


def _run_step(
    bench: Bench, measurement: Measurement, result: RoomsResult, step: int, rate: float, names: list[str]
) -> RoomsStep:
    options = bench.options
    users = result.users
    plan = plan_step(
        step_messages(rate, options.step_seconds),
        users,
        result.rooms,
        result.senders,
        result.private_share,
        seed=step,
    )
    order = new_phase(
        bench,
        step,
        rate,
        names[: result.senders],
        bench.tag + MEMBER_ROLE,
        private_to={k: names[user] for k, user in plan.private_to.items()},
        expect={name: plan.expect[user] for user, name in enumerate(names)},
    )
    label = f"rooms N={users} K={result.rooms} history {result.history}"
    reports = run_phase(
        bench, measurement, order, f"{label} step {step}/{len(options.room_rates)}: {rate:g} msgs/s"
    )
    row = judge_step(bench, measurement, order, reports, users, f"{label}, step {step}")
    start_cpu = measurement.sampler.cpu_at(order.t0_ns)
    end_cpu = measurement.sampler.cpu_at(max(r.t_end_ns for r in reports))
    cpu_s = end_cpu - start_cpu if start_cpu is not None and end_cpu is not None else None
    return rooms_step(row, reports, cpu_s)


def rooms_step(row: FanoutStep, reports: list[PhaseReport], server_cpu_s: float | None) -> RoomsStep:
    """A step's numbers (judged as in fanout) with what only rooms have: private lines and
    their receipts, lines misdelivered, and the server's CPU per stored (room) line."""
    unsent = sum(r.unsent for r in reports)
    private_sent = sum(r.private_queued for r in reports)  # (all of them, unless lines went unsent)
    stored = sum(r.queued for r in reports) - unsent - private_sent
    receipts = sum(r.receipts for r in reports)
    privates = sum(r.privates for r in reports)
    problems = list(row.problems)
    passed = row.passed
    if receipts != private_sent and not unsent:
        problems.append(f"{receipts:,} '215' receipts for {private_sent:,} private lines")
        passed = False
    misdelivered = sum(r.open_surplus for r in reports)
    return RoomsStep(
        **{**dataclasses.asdict(row), "problems": problems, "passed": passed},
        room_delivered=row.delivered - privates,
        private_delivered=privates,
        private_sent=private_sent,
        receipts=receipts,
        misdelivered=misdelivered,
        stored=stored,
        server_us_per_stored=server_cpu_s * 1e6 / stored if server_cpu_s is not None and stored > 0 else None,
    )
