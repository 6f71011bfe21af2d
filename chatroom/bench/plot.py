"""--plot FILE.png: deliveries/s and p99 against offered rate (fanout, rooms), RSS against clients (scale).

matplotlib is optional (the `bench` extra); it is imported only here, and
`require_matplotlib()` is called before a run starts so that a missing
package costs a one-line error, not a finished run without its plot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatroom.bench.errors import BenchError
from chatroom.bench.report import Report
from chatroom.bench.results import P99_LIMIT_MS, FanoutStep


def require_matplotlib() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; no display needed
        import matplotlib.pyplot as pyplot
    except ImportError:
        raise BenchError(
            "--plot needs matplotlib, which is not installed (pip install 'chatroom[bench]')"
        ) from None
    return pyplot


def write_plot(report: Report, path: str) -> None:
    pyplot = require_matplotlib()
    # Fanout and rooms steps share the throughput and latency panels, one line per measurement.
    series: list[tuple[str, Sequence[FanoutStep]]] = [(f"C={r.clients}", r.steps) for r in report.fanout]
    series += [(f"rooms N={r.users} K={r.rooms} history {r.history}", r.steps) for r in report.rooms]
    panels = []
    if series:
        panels += ["deliveries", "p99"]
    if report.scale:
        panels.append("rss")
    if report.soak is not None and report.soak.samples:
        panels.append("soak")
    if not panels:
        raise BenchError("--plot: this run measured nothing that can be plotted")
    columns = min(2, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = pyplot.subplots(rows, columns, figsize=(6.0 * columns, 4.4 * rows), squeeze=False)
    cells = [axis for row in axes for axis in row]
    for axis in cells[len(panels) :]:
        axis.set_visible(False)
    for axis, panel in zip(cells, panels, strict=False):
        if panel == "deliveries":
            for name, steps in series:
                offered = [step.offered_deliveries_s for step in steps]
                got = [step.deliveries_s for step in steps]
                axis.plot(offered, got, marker="o", label=name)
            top = max((step.offered_deliveries_s for _, steps in series for step in steps), default=1.0)
            axis.plot([0, top], [0, top], linestyle=":", color="grey", label="offered")
            axis.set_xscale("log")
            axis.set_yscale("log")
            axis.set_xlabel("offered deliveries/s")
            axis.set_ylabel("deliveries/s achieved")
            axis.set_title("throughput")
        elif panel == "p99":
            for name, steps in series:
                points = [(s.offered_deliveries_s, s.p99_ms) for s in steps if s.p99_ms is not None]
                axis.plot([x for x, _ in points], [y for _, y in points], marker="o", label=name)
            axis.axhline(P99_LIMIT_MS, linestyle=":", color="red", label=f"{P99_LIMIT_MS:g} ms")
            axis.set_xscale("log")
            axis.set_yscale("log")
            axis.set_xlabel("offered deliveries/s")
            axis.set_ylabel("p99 latency (ms)")
            axis.set_title("latency")
        elif panel == "rss":
            points = [
                (r.registered, r.rss_after_kb / 1024) for r in report.scale if r.rss_after_kb is not None
            ]
            axis.plot(
                [x for x, _ in points], [y for _, y in points], marker="o", label="RSS, clients registered"
            )
            before = [r.rss_before_kb / 1024 for r in report.scale if r.rss_before_kb is not None]
            if before:
                axis.axhline(min(before), linestyle=":", color="grey", label="RSS before clients")
            axis.set_xlim(left=0)
            axis.set_xlabel("idle registered clients")
            axis.set_ylabel("server RSS (MiB)")
            axis.set_ylim(bottom=0)
            axis.set_title("memory against clients")
        else:
            soak = report.soak
            assert soak is not None
            points = [(s.t_s, s.rss_kb / 1024) for s in soak.samples if s.rss_kb is not None]
            axis.plot([x for x, _ in points], [y for _, y in points], label="server RSS (MiB)")
            fds = [(s.t_s, s.fds) for s in soak.samples if s.fds is not None]
            twin = axis.twinx()
            twin.plot([x for x, _ in fds], [y for _, y in fds], color="tab:orange", label="server open fds")
            twin.set_ylabel("open fds")
            twin.set_ylim(0, max((y for _, y in fds), default=1) * 1.3)
            axis.set_xlabel("seconds into the soak")
            axis.set_ylabel("server RSS (MiB)")
            axis.set_ylim(0, max((y for _, y in points), default=1.0) * 1.3)
            axis.set_title("soak: memory and descriptors")
            handles = axis.get_legend_handles_labels()
            twin_handles = twin.get_legend_handles_labels()
            axis.legend(handles[0] + twin_handles[0], handles[1] + twin_handles[1], loc="lower right")
            axis.grid(True, alpha=0.3)
            continue
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(loc="best", fontsize="small")
    figure.tight_layout()
    try:
        figure.savefig(path, dpi=110)
    except OSError as error:
        raise BenchError(f"cannot write the plot to {path}: {error.strerror or error}") from None
    finally:
        pyplot.close(figure)
