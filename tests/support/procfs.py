"""Facts about processes and sockets from Linux's /proc, and a free port."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def resident_bytes(pid: int) -> int:
    """VmRSS of the process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def listening_addresses(port: int) -> set[str]:
    """Hex local addresses of TCP sockets listening on `port` (from /proc/net/tcp and tcp6)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: TCP_LISTEN
                found.add(address)
    return found


def unused_port() -> int:
    """A port nothing listens on (bound and released; nobody else is expected to grab it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


TCP_STATES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
}
# The `st` column of /proc/net/tcp (include/net/tcp_states.h).


@dataclass(frozen=True)
class TcpSocket:
    """One row of /proc/net/tcp{,6}: the state and the bytes queued each way."""

    state: str
    send_queue: int  # bytes not yet acknowledged by the other side (tx_queue)
    receive_queue: int  # bytes received that the owning process has not read yet (rx_queue)


def tcp_socket(local_port: int, remote_port: int) -> TcpSocket | None:
    """The TCP socket on this machine from `local_port` to `remote_port`, or None when there is none."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, remote = fields[1].rpartition(":")[2], fields[2].rpartition(":")[2]
            if int(local, 16) == local_port and int(remote, 16) == remote_port:
                tx_queue, _, rx_queue = fields[4].partition(":")
                state = TCP_STATES.get(int(fields[3], 16), fields[3])
                return TcpSocket(state, int(tx_queue, 16), int(rx_queue, 16))
    return None
