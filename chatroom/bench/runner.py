"""What every workload shares: the worker pool, the server of each measurement, sampling, warnings.

Each measurement (one fanout client count, one scale size, the soak) gets a
fresh server when the benchmark starts its own, so one measurement's memory
does not carry into the next; a given address is reused as it is. After a
measurement every client says DISCONNECT and the started server is stopped
with SIGINT; an exit status other than 0 is reported as a problem.
"""

from __future__ import annotations

import bisect
import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from chatroom.bench import oslimits, procstat
from chatroom.bench.body import run_tag
from chatroom.bench.errors import BenchError
from chatroom.bench.options import Options, available_cpus
from chatroom.bench.orders import Close, CloseReport, Ramp, RampReport
from chatroom.bench.pool import WorkerPool
from chatroom.bench.progress import Progress
from chatroom.bench.results import BUSY_PERCENT, ServerRun
from chatroom.bench.target import ExternalServer, LocalServer, Server, probe
from chatroom.bench.tls import ThrowawayCertificate
from chatroom.fdlimit import raise_fd_limit

BACKGROUND_PROBE_S = 0.3
BACKGROUND_WARN_PCT = 25.0
# Other work on the machine before the run starts; above a quarter of a core
# it visibly lowers what the server and the load generator get.


@dataclass
class Tick:
    t_ns: int
    sample: procstat.ProcSample
    machine_idle_s: float | None


class Sampler:
    """The server's CPU, RSS and descriptors, sampled on every tick of a wait."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.ticks: list[Tick] = []

    def take(self) -> procstat.ProcSample:
        sample = self.server.sample()
        self.ticks.append(Tick(time.monotonic_ns(), sample, procstat.machine_idle_seconds()))
        return sample

    def _nearest(self, t_ns: int) -> Tick | None:
        if not self.ticks:
            return None
        times = [tick.t_ns for tick in self.ticks]
        index = bisect.bisect_left(times, t_ns)
        candidates = [i for i in (index - 1, index) if 0 <= i < len(times)]
        return self.ticks[min(candidates, key=lambda i: abs(times[i] - t_ns))]

    def cpu_at(self, t_ns: int) -> float | None:
        """The server's CPU seconds at the tick nearest to `t_ns`."""
        tick = self._nearest(t_ns)
        return tick.sample.cpu_s if tick is not None else None

    def cpu_pct(self, t0_ns: int, t1_ns: int) -> float | None:
        """The server's CPU use between two times, in % of one core."""
        return _pct(self.cpu_at(t0_ns), self.cpu_at(t1_ns), t0_ns, t1_ns)

    def machine_cpu_pct(self, t0_ns: int, t1_ns: int) -> float | None:
        """The whole machine's CPU use between two times, in % of one core (all cores: N x 100%)."""
        start, end = self._nearest(t0_ns), self._nearest(t1_ns)
        if start is None or end is None or start.machine_idle_s is None or end.machine_idle_s is None:
            return None
        elapsed = (end.t_ns - start.t_ns) / 1e9
        if elapsed <= 0:
            return None
        idle = end.machine_idle_s - start.machine_idle_s
        return max(0.0, 100.0 * (procstat.online_cpus() * elapsed - idle) / elapsed)

    def peak_rss(self, t0_ns: int, t1_ns: int) -> int | None:
        values = [
            tick.sample.rss_kb
            for tick in self.ticks
            if t0_ns <= tick.t_ns <= t1_ns and tick.sample.rss_kb is not None
        ]
        return max(values) if values else None


def _pct(start: float | None, end: float | None, t0_ns: int, t1_ns: int) -> float | None:
    if start is None or end is None or t1_ns <= t0_ns:
        return None
    return 100.0 * (end - start) / ((t1_ns - t0_ns) / 1e9)


class Measurement:
    """One server and the clients registered on it."""

    def __init__(self, bench: Bench, server: Server) -> None:
        self.bench = bench
        self.server = server
        self.sampler = Sampler(server)
        self.run = ServerRun(server.where(), server.started_here, server.pid)

    def tick(self) -> None:
        self.sampler.take()
        self.bench.progress.tick()

    def ramp(self, names: list[str], timeout: float) -> list[RampReport]:
        """Register `names`, spread round-robin over the workers."""
        pool = self.bench.workers()
        shares = [tuple(names[index :: len(pool)]) for index in range(len(pool))]
        orders = [Ramp(self.server.endpoint, share, timeout) for share in shares]
        return pool.call(orders, RampReport, timeout + 60, self.tick)

    def server_busy(self, cpu_pct: float | None) -> bool:
        """Whether the server was saturated (at most one core per thread, and per pinned CPU)."""
        if cpu_pct is None:
            return False
        threads = self.server.sample().threads or 1
        cores = len(self.bench.options.server_cpus or available_cpus())
        return cpu_pct >= BUSY_PERCENT * min(threads, cores)


class Bench:
    """A benchmark run: options, worker processes, notes for the report."""

    def __init__(self, options: Options, progress: Progress) -> None:
        self.options = options
        self.progress = progress
        self.tag = run_tag()
        self.notes: list[str] = options.notes
        self._pool: WorkerPool | None = None
        self._external: ExternalServer | None = None
        self._certificate: ThrowawayCertificate | None = None  # made for the first TLS measurement
        self.fd_limit = raise_fd_limit()
        if options.address is not None:
            self._external = ExternalServer(options.address, options.server_pid)
            probe(self._external, f"{self.tag}probe")
        self.background_cpu_pct = self._background_load()

    def _background_load(self) -> float | None:
        """How busy the machine is before the run starts (% of one core); warns when it is."""
        start, began = procstat.machine_idle_seconds(), time.monotonic()
        time.sleep(BACKGROUND_PROBE_S)
        end, elapsed = procstat.machine_idle_seconds(), time.monotonic() - began
        if start is None or end is None:
            return None
        busy = max(0.0, 100.0 * (procstat.online_cpus() * elapsed - (end - start)) / elapsed)
        if busy >= BACKGROUND_WARN_PCT:
            self.warn(
                f"the machine was already busy before the run ({busy:.0f}% of a core used by other "
                "processes): every number below is lower than this machine can do"
            )
        return busy

    @property
    def lg_cores(self) -> int:
        """Cores the load generator can use: one per worker, as far as its CPUs go."""
        cores = len(self.options.lg_cpus or available_cpus())
        return max(1, min(self.options.workers, cores))

    def workers(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool(self.options.workers, self.options.lg_cpus)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._certificate is not None:
            self._certificate.close()
            self._certificate = None

    def warn(self, text: str) -> None:
        """A note that belongs in the report and on the screen now."""
        self.notes.append(text)
        self.progress.note(f"chatroom-bench: {text}")

    def alert(self, text: str) -> None:
        """Something that must not happen (lost messages): loud on stderr, and in the report."""
        self.notes.append(text)
        bar = "!" * 78
        self.progress.note(f"{bar}\n!! {text}\n{bar}")

    def capacity(self, server: Server) -> oslimits.Capacity:
        server_fds = procstat.fd_limit(server.pid) if server.pid is not None else None
        return oslimits.Capacity(
            workers=self.options.workers,
            worker_fds=self.fd_limit if self.fd_limit > 0 else None,
            server_fds=server_fds,
            ports=oslimits.ephemeral_ports(),
        )

    @contextlib.contextmanager
    def measurement(
        self, server_args: Sequence[str] = (), *, tls: bool = False, websocket: bool = False
    ) -> Iterator[Measurement]:
        """A server for one measurement (fresh when started here, with `server_args` added to its
        command line; with `tls` serving only TLS, with a throwaway certificate; with `websocket`
        its clients on its web port); cleaned up however it ends."""
        server: Server
        if self._external is not None:
            if tls:
                raise BenchError("--tls measures a server this benchmark starts, not one given by address")
            if websocket:
                raise BenchError(
                    "--websocket measures a server this benchmark starts, not one given by address"
                )
            server = self._external
        else:
            cpus = set(self.options.server_cpus) if self.options.server_cpus else None
            if tls and self._certificate is None:
                self._certificate = ThrowawayCertificate()
            server = LocalServer(cpus, server_args, self._certificate if tls else None, websocket)
        measurement = Measurement(self, server)
        clean = False
        try:
            if server.started_here:
                probe(server, f"{self.tag}probe")
            measurement.sampler.take()
            yield measurement
            clean = True
        finally:
            try:
                if not clean:
                    self.close()  # workers may be mid-order: do not queue another behind it
                elif self._pool is not None:
                    self.progress.start(
                        "closing the clients" + (", stopping the server" if server.started_here else "")
                    )
                    self._pool.call([Close()] * len(self._pool), CloseReport, 60, measurement.tick)
            except BenchError as error:
                self.warn(f"closing the clients failed: {error}")
            finally:
                if isinstance(server, LocalServer):
                    measurement.run.exit_code = server.stop()
                    measurement.run.said = server.problems()[:20]
                    server.close()
                    if clean and measurement.run.exit_code != 0:
                        self.alert(
                            f"the server exited with status {measurement.run.exit_code} after SIGINT "
                            "(expected 0)"
                            + (f"; it said: {measurement.run.said[-1]}" if measurement.run.said else "")
                        )
