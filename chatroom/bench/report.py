"""The results as Markdown tables (stdout, and pasted into docs/PERFORMANCE.md) and as JSON."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import chatroom
from chatroom.bench.results import (
    P99_LIMIT_MS,
    FanoutResult,
    FanoutStep,
    RoomsResult,
    ScaleResult,
    SetupsResult,
    SoakResult,
)

NA = "n/a"


@dataclass
class Report:
    """Everything one run measured."""

    command: str
    machine: dict[str, str]
    settings: dict[str, Any]
    fanout: list[FanoutResult] = field(default_factory=list)
    scale: list[ScaleResult] = field(default_factory=list)
    soak: SoakResult | None = None
    rooms: list[RoomsResult] = field(default_factory=list)
    setups: list[SetupsResult] = field(default_factory=list)  # --tls: new connections/s, TCP and TLS
    notes: list[str] = field(default_factory=list)
    started: str = ""
    seconds: float = 0.0
    background_cpu_pct: float | None = None  # machine CPU used by others before the run (% of a core)

    @property
    def clean(self) -> bool:
        """No measurement lost a line on an open connection, duplicated or garbled one, or
        leaked a descriptor, and every started server exited 0. (Lines lost with clients the
        server disconnected, for reading too slowly under overload, are reported, not failed.)"""
        results: list[FanoutResult | ScaleResult | SoakResult | RoomsResult] = [
            *self.fanout,
            *self.scale,
            *self.rooms,
        ]
        if self.soak is not None:
            results.append(self.soak)
        for result in results:
            if result.server.exit_code not in (0, None):
                return False
        for fan in self.fanout:
            if (
                any(step.lost_open or step.foreign_lines for step in fan.steps)
                or fan.registered < fan.clients
            ):
                return False
        for rooms in self.rooms:
            if (
                any(step.lost_open or step.foreign_lines or step.misdelivered for step in rooms.steps)
                or rooms.joined < rooms.users
            ):
                return False
        for scale in self.scale:
            if scale.broadcast_received < scale.broadcast_expected or scale.registered < scale.clients:
                return False
        if self.soak is None:
            return True
        soak = self.soak
        leaked = (
            soak.fds_after is not None and soak.fds_before is not None and soak.fds_after > soak.fds_before
        )
        return not soak.lost and not soak.errors and not leaked and soak.delivered <= soak.expected


def machine() -> dict[str, str]:
    try:
        cores = str(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        cores = str(os.cpu_count())
    return {
        "nproc": cores,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "kernel": platform.release(),
        "system": platform.system(),
        "chatroom": chatroom.__version__,
    }


def now_text() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %z")


# -- numbers as text ---------------------------------------------------------------------


def count(value: float | None) -> str:
    return NA if value is None else f"{value:,.0f}"


def ms(value: float | None) -> str:
    if value is None:
        return NA
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def pct(value: float | None, digits: int = 0) -> str:
    return NA if value is None else f"{value:.{digits}f}%"


def mib(kib: int | None) -> str:
    return NA if kib is None else f"{kib / 1024:.1f} MiB"


def share(value: float) -> str:
    """Delivered share: 100% only when exactly everything arrived."""
    if value >= 100.0:
        return "100%"
    return f"{min(value, 99.999):.3f}%"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# -- the tables --------------------------------------------------------------------------


FANOUT_HEADERS = (
    "msgs/s",
    "offered deliveries/s",
    "deliveries/s",
    "delivered",
    "p50 ms",
    "p99 ms",
    "max ms",
    "server CPU",
    "server RSS",
    "server µs/delivery",
    "LG CPU",
    "machine CPU",
    "verdict",
)


def _step_cells(step: FanoutStep) -> list[str]:
    """A step's cells under FANOUT_HEADERS."""
    verdict = "ok" if step.passed else "FAIL"
    if step.problems:
        verdict += ": " + "; ".join(step.problems)
    return [
        count(step.rate_msgs),
        count(step.offered_deliveries_s),
        count(step.deliveries_s),
        share(step.delivered_pct),
        ms(step.p50_ms),
        ms(step.p99_ms),
        ms(step.max_ms),
        pct(step.server_cpu_pct),
        mib(step.server_rss_kb),
        us(step.server_us_per_delivery),
        pct(step.lg_cpu_pct) + (f" of {step.lg_cores * 100}%" if step.lg_cores > 1 else ""),
        pct(step.machine_cpu_pct) + f" of {step.machine_cores * 100}%",
        verdict,
    ]


def us(value: float | None) -> str:
    return NA if value is None else f"{value:.2f}"


_OVER = {"tls": " over TLS", "websocket": " over WebSocket"}


def fanout_text(result: FanoutResult) -> str:
    title = (
        f"### fanout{_OVER.get(result.transport, '')}: {result.clients} clients, "
        f"{result.senders} senders, {result.step_seconds:g} s steps "
        f"(+ up to {result.drain_seconds:g} s drain), {result.body_bytes}-byte bodies"
    )
    registered = None
    if result.register_s is not None:
        registered = f"Registered {result.registered}/{result.clients} clients in {result.register_s:.2f} s."
    return _stepped_text(title, result, registered, FANOUT_HEADERS, [_step_cells(s) for s in result.steps])


def _stepped_text(
    title: str,
    result: FanoutResult | RoomsResult,
    registered: str | None,
    headers: Sequence[str],
    rows: list[list[str]],
) -> str:
    """A measurement in steps: the title, its registration, a row per step, the best, the problems."""
    parts = [title, ""]
    if result.cap_note:
        parts += [f"Capped: {result.cap_note}.", ""]
    if registered:
        parts += [registered, ""]
    if rows:
        parts += [table(headers, rows), ""]
    parts.append(_sustainable_text(result))
    parts += [f"Problem: {problem}." for problem in result.problems]
    return "\n".join(parts)


def _sustainable_text(result: FanoutResult | RoomsResult) -> str:
    if result.max_sustainable_deliveries_s is None:
        return f"Maximum sustainable rate (100% delivered, p99 < {P99_LIMIT_MS:g} ms): none of the steps."
    bound = "at least " if result.max_is_lower_bound else ""
    why = ""
    if result.max_is_lower_bound:
        best = [s for s in result.steps if s.passed and s.rate_msgs == result.max_sustainable_rate_msgs]
        why = (
            " (the load generator was at its limit)"
            if best and best[0].lg_bound
            else " (no step above it failed)"
        )
    return (
        f"Maximum sustainable rate (100% delivered, p99 < {P99_LIMIT_MS:g} ms): {bound}"
        f"{count(result.max_sustainable_deliveries_s)} deliveries/s "
        f"({count(result.max_sustainable_rate_msgs)} msgs/s in){why}."
    )


HISTORY_TEXT = {"on": "history on (a new --db file)", "off": "history off (--no-history)"}


def rooms_text(result: RoomsResult) -> str:
    title = (
        f"### rooms: {result.users} users in {result.rooms} rooms, {result.senders} senders, "
        f"{result.private_share:.0%} private, "
        f"{HISTORY_TEXT.get(result.history, 'history as the server keeps it')}, "
        f"{result.step_seconds:g} s steps (+ up to {result.drain_seconds:g} s drain), "
        f"{result.body_bytes}-byte bodies"
    )
    registered = None
    if result.register_s is not None:
        joined = f"; joined their rooms in {result.join_s:.2f} s" if result.join_s is not None else ""
        registered = (
            f"Registered {result.registered}/{result.users} users in {result.register_s:.2f} s{joined}."
        )
    # The fanout columns, with three more: after msgs/s, after delivered, after µs/delivery.
    headers = list(FANOUT_HEADERS)
    headers[1:1] = ["private lines"]
    headers[5:5] = ["room + private deliveries"]
    headers[12:12] = ["server µs/stored msg"]
    rows = []
    for step in result.steps:
        cells = _step_cells(step)
        cells[1:1] = [count(step.private_sent)]
        cells[5:5] = [f"{step.room_delivered:,} + {step.private_delivered:,}"]
        cells[12:12] = [us(step.server_us_per_stored)]
        rows.append(cells)
    return _stepped_text(title, result, registered, headers, rows)


def scale_text(results: Sequence[ScaleResult]) -> str:
    headers = [
        "clients",
        "registered",
        "register time",
        "registrations/s",
        "RSS before",
        "RSS registered",
        "RSS per client",
        "server fds",
        "one message to all N-1",
        "its p50",
        "notes",
    ]
    rows = []
    for r in results:
        notes = [r.cap_note] if r.cap_note else []
        notes += r.problems
        if r.stalls_retried:
            notes.append(f"{r.stalls_retried} accept-queue stalls retried")
        rows.append(
            [
                count(r.clients),
                count(r.registered),
                NA if r.register_s is None else f"{r.register_s:.2f} s",
                count(r.registrations_s),
                mib(r.rss_before_kb),
                mib(r.rss_after_kb),
                NA if r.rss_per_client_bytes is None else f"{r.rss_per_client_bytes / 1024:.2f} KiB",
                count(r.fds_after),
                ms(r.broadcast_all_ms) + (" ms" if r.broadcast_all_ms is not None else ""),
                ms(r.broadcast_p50_ms) + (" ms" if r.broadcast_p50_ms is not None else ""),
                "; ".join(notes),
            ]
        )
    return "### scale: idle registered clients\n\n" + table(headers, rows)


def soak_text(r: SoakResult) -> str:
    title = (
        f"### soak: {r.duration_s:g} s, {r.sessions} sessions at once x {r.session_messages} messages, "
        f"{count(r.rate_msgs)} msgs/s, {r.residents} residents"
    )
    errors = sum(r.errors.values())
    rows = [
        [
            "sessions completed (connect, register, chat, leave)",
            f"{r.sessions_completed:,} ({r.sessions_per_s:.0f}/s)",
        ],
        ["messages sent", f"{r.sent:,}"],
        ["delivered to residents", f"{share(r.delivered_pct)} ({r.delivered:,} of {r.expected:,})"],
        ["latency p50 / p99 / max", f"{ms(r.p50_ms)} / {ms(r.p99_ms)} / {ms(r.max_ms)} ms"],
        ["registration p50 / p99", f"{ms(r.register_p50_ms)} / {ms(r.register_p99_ms)} ms"],
        ["errors", "none" if not errors else "; ".join(f"{why}: {n}" for why, n in r.errors.items())],
        [
            "server RSS before / start / end / max / after",
            " / ".join(
                mib(v) for v in (r.rss_before_kb, r.rss_start_kb, r.rss_end_kb, r.rss_max_kb, r.rss_after_kb)
            ),
        ],
        ["server RSS growth, start to end", pct(r.rss_growth_pct, 1)],
        [
            "server fds before / start / end / max / after",
            " / ".join(count(v) for v in (r.fds_before, r.fds_start, r.fds_end, r.fds_max, r.fds_after)),
        ],
        [
            "CPU: server / load generator / whole machine",
            f"{pct(r.server_cpu_pct)} / {pct(r.lg_cpu_pct)} / {pct(r.machine_cpu_pct)}",
        ],
    ]
    text = title + "\n\n" + table(["measure", "value"], rows)
    for problem in r.problems:
        text += f"\nProblem: {problem}."
    return text


def text(report: Report) -> str:
    m = report.machine
    parts = [
        f"## chatroom-bench {m['chatroom']}: {report.started}",
        "",
        f"Machine: {m['nproc']} cores, {m['implementation']} {m['python']}, {m['system']} {m['kernel']}. "
        f"Command: `{report.command}`",
        "",
    ]
    servers = {r.server.address if not r.server.started_here else "started here" for r in report.fanout}
    servers |= {r.server.address if not r.server.started_here else "started here" for r in report.scale}
    servers |= {r.server.address if not r.server.started_here else "started here" for r in report.rooms}
    if report.soak is not None:
        servers.add(report.soak.server.address if not report.soak.server.started_here else "started here")
    if servers == {"started here"}:
        parts += ["Server: `python -m chatroom.server`, started fresh for each measurement.", ""]
    elif servers:
        parts += [f"Server: {', '.join(sorted(servers))}.", ""]
    for result in report.fanout:
        parts += [fanout_text(result), ""]
    if report.scale:
        parts += [scale_text(report.scale), ""]
    if report.soak is not None:
        parts += [soak_text(report.soak), ""]
    for rooms in report.rooms:
        parts += [rooms_text(rooms), ""]
    if report.setups:
        parts += [tls_text(report.fanout, report.setups), ""]
    if any(f.transport == "websocket" for f in report.fanout):
        parts += [websocket_text(report.fanout), ""]
    if report.notes:
        parts += ["Notes:", ""] + [f"- {note}" for note in report.notes] + [""]
    return "\n".join(parts).rstrip() + "\n"


def tls_text(fanouts: Sequence[FanoutResult], setups: Sequence[SetupsResult]) -> str:
    """--tls: plain TCP and TLS side by side, the fan-out's best and the new connections per second."""
    rows = []
    for transport, name in (("tcp", "TCP"), ("tls", "TLS")):
        fan = [f for f in fanouts if f.transport == transport]
        best = fan[-1] if fan else None
        passed = [s for s in best.steps if s.passed] if best is not None else []
        top = max(passed, key=lambda s: s.deliveries_s) if passed else None
        setup = next((s for s in setups if s.transport == transport), None)
        rows.append(
            [
                name,
                f"C={best.clients}" if best is not None else NA,
                count(best.max_sustainable_deliveries_s) if best is not None else NA,
                us(top.server_us_per_delivery) if top is not None else NA,
                count(setup.setups_s) if setup is not None else NA,
                us(setup.server_us_per_setup) if setup is not None else NA,
                pct(setup.server_cpu_pct) if setup is not None else NA,
                ms(setup.p99_ms) if setup is not None else NA,
                str(sum(setup.fails.values())) if setup is not None else NA,
            ]
        )
    headers = [
        "transport",
        "fanout",
        "max deliveries/s",
        "µs/delivery",
        "setups/s",
        "server µs/setup",
        "server CPU",
        "setup p99 ms",
        "failed",
    ]
    first = setups[0] if setups else None
    about = (
        f"A setup is connect, TLS handshake (TLS row), REGISTER, 200, DISCONNECT, close; "
        f"{first.threads} at once for {first.seconds:g} s on a fresh server."
        if first is not None
        else ""
    )
    return "\n".join(["### TLS next to plain TCP", "", table(headers, rows), "", about]).rstrip()


def websocket_text(fanouts: Sequence[FanoutResult]) -> str:
    """--websocket: each rate step over plain TCP and over WebSocket side by side, per client count."""
    headers = [
        "C",
        "rate msg/s",
        "transport",
        "deliveries/s",
        "delivered",
        "p50 ms",
        "p99 ms",
        "server µs/delivery",
    ]
    rows = []
    for websocket in (f for f in fanouts if f.transport == "websocket"):
        plain = next((f for f in fanouts if f.transport == "tcp" and f.clients == websocket.clients), None)
        pairs = (
            [("TCP", plain), ("WebSocket", websocket)] if plain is not None else [("WebSocket", websocket)]
        )
        rates = sorted({s.rate_msgs for _, f in pairs for s in f.steps})
        for rate in rates:
            for name, result in pairs:
                step = next((s for s in result.steps if s.rate_msgs == rate), None)
                if step is None:
                    continue
                rows.append(
                    [
                        str(result.clients),
                        count(rate),
                        name,
                        count(step.deliveries_s),
                        f"{step.delivered_pct:.2f}%",
                        ms(step.p50_ms),
                        ms(step.p99_ms),
                        us(step.server_us_per_delivery),
                    ]
                )
    about = (
        "Each transport on a fresh server; WebSocket clients send each line as one masked text frame "
        "and get each line as one frame (the server's --web-port, GET /ws)."
    )
    return "\n".join(["### WebSocket next to plain TCP", "", table(headers, rows), "", about])


def to_json(report: Report) -> dict[str, Any]:
    data = dataclasses.asdict(report)
    data["clean"] = report.clean
    data["tool"] = "chatroom-bench"
    return data


def write_json(report: Report, path: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        json.dump(to_json(report), out, indent=1, allow_nan=False, default=str)
        out.write("\n")


def command_line(argv: Sequence[str]) -> str:
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "chatroom-bench"
    if program in ("__main__.py", "-m", "-c", ""):
        program = "python -m chatroom.bench"
    return " ".join([program, *argv])
