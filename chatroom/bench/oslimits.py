"""Operating-system limits that cap how many clients one run can hold.

Each client costs a descriptor in a load-generator process and one in the
server, and a local port for its connection. The benchmark raises its own
descriptor limit as far as the hard limit allows, and when a limit still
falls short it runs fewer clients and says which limit did it.
"""

from __future__ import annotations

from dataclasses import dataclass

FD_RESERVE = 64
# Descriptors a load-generator worker needs besides its clients: stdio, the
# pipe to the coordinator, the epoll instance, and what imports open. Measured
# at about 12; 64 leaves room.

SERVER_FD_RESERVE = 16
# The server's own: listener, selector, signal pipe, stdio, log files.

PORT_RESERVE = 100
# Local ports left for everything else on the machine.


def ephemeral_ports() -> int | None:
    """How many local ports connect() can pick from (net.ipv4.ip_local_port_range)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            low, high = (int(part) for part in ports.read().split())
    except (OSError, ValueError):
        return None
    return high - low + 1


@dataclass(frozen=True)
class Capacity:
    """The limits in force for one run; None where unknown (no cap from it)."""

    workers: int
    worker_fds: int | None
    server_fds: int | None
    ports: int | None

    def cap(self, wanted: int) -> tuple[int, str | None]:
        """The number of clients that fit, and a sentence naming the limit when it is below `wanted`."""
        allowed = wanted
        reason: str | None = None
        if self.worker_fds is not None and self.worker_fds > 0:
            fit = max(0, self.worker_fds - FD_RESERVE) * self.workers
            if fit < allowed:
                allowed = fit
                per_worker = -(-wanted // self.workers)
                where = "one load-generator process" if self.workers == 1 else "each load-generator process"
                reason = f"{wanted} clients need {per_worker} fds in {where}; its limit is {self.worker_fds}"
        if self.server_fds is not None and self.server_fds > 0:
            fit = max(0, self.server_fds - SERVER_FD_RESERVE)
            if fit < allowed:
                allowed = fit
                reason = f"{wanted} clients need {wanted} fds in the server; its limit is {self.server_fds}"
        if self.ports is not None:
            fit = max(0, self.ports - PORT_RESERVE)
            if fit < allowed:
                allowed = fit
                reason = (
                    f"{wanted} clients need {wanted} local ports; "
                    f"net.ipv4.ip_local_port_range offers {self.ports}"
                )
        if reason is None:
            return wanted, None
        return allowed, f"{reason}: capped at {allowed}"
