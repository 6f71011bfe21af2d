"""A join storm: N clients register at once, CHAT/1.0 against CHAT/1.1, and what the server pays for it.

CHAT/1.1 clients are told who joins their rooms, so a naive server would send
N x N notices when N clients reconnect at once. Ours stops telling a room's
joins once it has 200 members (docs/PROTOCOL.md 7.3). This starts our server
(history on, in a temporary file, as users run it), registers N clients of
one version with up to 500 connecting at a time, reads every line each one
gets until it is settled, and prints the time, the server's CPU and the lines
received, so the two versions can be compared at several N:

    python3 scripts/presence_storm.py 1000 5000 10000

The numbers are in docs/PERFORMANCE.md ("A join storm").
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

IN_FLIGHT = 500
TIMEOUT_S = 120.0


def server_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def storm(port: int, pid: int, count: int, version: str) -> tuple[float, float, int]:
    """Register `count` clients; (seconds, server CPU seconds, lines received) until all are settled."""
    selector = selectors.DefaultSelector()
    settled_by = b"MEMBERS-END " if version == "CHAT/1.1" else b"200 "
    waiting = 0
    started = 0
    lines = 0
    done = 0
    buffers: dict[socket.socket, bytes] = {}
    peers: list[socket.socket] = []
    cpu_before, t0 = server_cpu_s(pid), time.monotonic()
    while done < count:
        while started < count and waiting < IN_FLIGHT:
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setblocking(False)
            sock.sendall(
                f"REGISTER s{started} {version}{' replay=0' if version == 'CHAT/1.1' else ''}\n".encode()
            )
            selector.register(sock, selectors.EVENT_READ)
            buffers[sock] = b""
            peers.append(sock)
            started += 1
            waiting += 1
        assert time.monotonic() - t0 < TIMEOUT_S, f"only {done} of {count} settled"
        for key, _ in selector.select(1.0):
            ready = key.fileobj
            assert isinstance(ready, socket.socket)
            data = ready.recv(65536)
            assert data, "the server closed a connection"
            got = buffers[ready] + data
            *complete, buffers[ready] = got.split(b"\n")
            lines += len(complete)
            if any(line.startswith(settled_by) for line in complete):
                waiting -= 1
                done += 1
                del buffers[ready]
                selector.unregister(ready)  # later notices (joins after it) are counted by the drain below
    elapsed = time.monotonic() - t0
    time.sleep(0.5)  # let the last notices arrive
    for sock in peers:
        try:
            while chunk := sock.recv(1 << 20):
                lines += chunk.count(b"\n")
        except BlockingIOError:
            pass
    cpu = server_cpu_s(pid) - cpu_before
    for sock in peers:
        sock.close()
    selector.close()
    return elapsed, cpu, lines


def main(counts: list[int]) -> None:
    print(f"{'N':>7} {'version':>9} {'register all (s)':>17} {'server CPU (s)':>15} {'lines received':>15}")
    for count in counts:
        for version in ("CHAT/1.0", "CHAT/1.1"):
            with tempfile.TemporaryDirectory() as folder:
                log = open(f"{folder}/server.log", "w+b")  # noqa: SIM115  # read back, closed below
                server = subprocess.Popen(
                    [sys.executable, "server.py", "--log-level", "warning", "--db", f"{folder}/h.sqlite3"],
                    stdout=log,
                )
                match = None
                while match is None and server.poll() is None:
                    time.sleep(0.05)
                    log.seek(0)
                    match = re.search(rb"port (\d+)", log.read())
                assert match is not None
                try:
                    elapsed, cpu, lines = storm(int(match[1]), server.pid, count, version)
                finally:
                    server.send_signal(signal.SIGINT)
                    server.wait(30)
                    log.seek(0)
                    said = log.read().decode(errors="replace").splitlines()[3:]
                    log.close()
            print(f"{count:>7} {version:>9} {elapsed:>17.2f} {cpu:>15.2f} {lines:>15}")
            for line in said[:5]:
                print(f"        server said: {line}")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [1000, 5000, 10000])
