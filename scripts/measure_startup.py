#!/usr/bin/env python3
"""Time from starting server.py to its port line, and from client.py to its prompt.

Usage: scripts/measure_startup.py [RUNS]    (default 10). Prints the median and
the worst run of each. The client runs in a pseudo-terminal, as a person
would start it, against a server this script starts.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def server_to_port_line() -> tuple[float, int, subprocess.Popen[bytes]]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "server.py", "--no-log-messages"], cwd=ROOT, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    return elapsed, int(line.split()[-1]), proc


def client_to_prompt(port: int, name: str) -> float:
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "client.py", name, f"chat://127.0.0.1:{port}"])
    seen = b""
    while b"> " not in seen.partition(b"Ready for messaging!")[2]:
        ready, _, _ = select.select([fd], [], [], 10)
        if not ready:
            raise SystemExit(f"no prompt within 10 s; the client printed {seen!r}")
        seen += os.read(fd, 4096)
    elapsed = time.perf_counter() - started
    os.write(fd, b"\x04")  # Ctrl-D: leave
    os.waitpid(pid, 0)
    os.close(fd)
    return elapsed


def report(what: str, times: list[float]) -> None:
    print(f"{what}: median {statistics.median(times) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    server_times, client_times = [], []
    for run in range(runs):
        elapsed, port, proc = server_to_port_line()
        server_times.append(elapsed)
        client_times.append(client_to_prompt(port, f"u{run}"))
        proc.send_signal(signal.SIGINT)
        proc.wait()
    report("python3 server.py -> port line", server_times)
    report("python3 client.py -> prompt (pty)", client_times)


if __name__ == "__main__":
    main()
