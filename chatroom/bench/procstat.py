"""What /proc says about a process: CPU time, resident memory, open descriptors, threads.

Linux only; every reader returns None where /proc (or the process) is not
there, and the report shows "n/a".
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class ProcSample:
    """One look at a process; None for what could not be read."""

    cpu_s: float | None
    rss_kb: int | None
    fds: int | None
    threads: int | None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of every thread of `pid` (/proc/PID/stat utime+stime)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text[text.rfind(b")") + 2 :].split()
    try:
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    except (IndexError, ValueError):
        return None


def _status_field(pid: int, field: bytes) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_kb(pid: int) -> int | None:
    """Resident memory (VmRSS) in KiB."""
    return _status_field(pid, b"VmRSS:")


def thread_count(pid: int) -> int | None:
    return _status_field(pid, b"Threads:")


def fd_count(pid: int) -> int | None:
    """Open file descriptors (entries of /proc/PID/fd)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def fd_limit(pid: int) -> int | None:
    """The soft RLIMIT_NOFILE of `pid`, from /proc/PID/limits."""
    try:
        with open(f"/proc/{pid}/limits") as limits:
            for line in limits:
                if line.startswith("Max open files"):
                    soft = line[len("Max open files") :].split()[0]
                    return None if soft == "unlimited" else int(soft)
    except (OSError, ValueError, IndexError):
        return None
    return None


def sample(pid: int | None) -> ProcSample:
    if pid is None:
        return ProcSample(None, None, None, None)
    return ProcSample(cpu_seconds(pid), rss_kb(pid), fd_count(pid), thread_count(pid))


def machine_idle_seconds() -> float | None:
    """Seconds every CPU of the machine spent idle (or waiting for I/O) since boot, from /proc/stat.

    Busy time over an interval is then cores x elapsed - idle. Idle time is
    measured exactly by a tickless kernel, while the user and system columns
    are sampled at each timer tick and, on some virtual machines, over-count
    short bursts several times over.
    """
    try:
        with open("/proc/stat", "rb") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if len(fields) < 6 or fields[0] != b"cpu":
        return None
    try:
        return (int(fields[4]) + int(fields[5])) / _CLOCK_TICKS  # idle, iowait
    except ValueError:
        return None


def online_cpus() -> int:
    """CPUs the /proc/stat totals cover (every online CPU, whatever our affinity)."""
    return os.cpu_count() or 1


def own_cpu_seconds() -> float:
    """CPU time (user+system) of the calling process."""
    times = os.times()
    return times.user + times.system
