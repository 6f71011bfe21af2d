"""The server under test: one this benchmark starts, or one already running somewhere.

A started server is our own (`python -m chatroom.server`), on a port the OS
picks, with its output in a temporary file (a pipe nobody reads could fill
and stall it). It runs in its own session, so a Ctrl-C at the terminal
reaches only the benchmark, which then stops the server with SIGINT, the way
a user would, and checks that it exits with status 0.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import chatroom
from chatroom.bench import procstat
from chatroom.bench.errors import BenchError
from chatroom.bench.tls import ThrowawayCertificate, client_context
from chatroom.bench.websocket import PATH as WEB_PATH
from chatroom.bench.websocket import WEB_PORT_BANNER, WebSocketSocket, upgrade_request, upgrade_response
from chatroom.protocol.address import ChatAddress

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0
# The server's own shutdown flush is bounded by 3 s plus 0.5 s of grace
# (chatroom/limits.py); a server that is still there after 15 s is stuck.

PROBE_TIMEOUT_S = 5.0

_PORT_LINE = re.compile(rb"port (\d+)")
_WEB_PORT_LINE = re.compile(re.escape(WEB_PORT_BANNER.encode()) + rb" (\d+)")
_BANNERS = (
    "Will wait for client connections",
    "Will wait for TLS client",
    WEB_PORT_BANNER,
    "Waiting for",
    "Keeping room history in",
    "Keeping no room",
)
# What the server prints at every start; anything else it says is kept as a warning.


@dataclass(frozen=True)
class Endpoint:
    """Where workers connect: a resolved socket address (resolved once, by the coordinator)."""

    family: int
    sockaddr: tuple[Any, ...]  # (host, port) or, for IPv6, (host, port, flowinfo, scope_id)
    tls: bool = False  # chats://: clients shake hands first (chatroom.bench.tls)
    websocket: bool = False  # --websocket: clients upgrade GET /ws, then one line per frame


def resolve(address: ChatAddress) -> Endpoint:
    try:
        infos = socket.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise BenchError(f"cannot resolve host {address.host!r}: {error.strerror}") from None
    family, _, _, _, sockaddr = infos[0]
    if family not in (socket.AF_INET, socket.AF_INET6):
        raise BenchError(f"{address.host!r} is not an IPv4 or IPv6 host")
    return Endpoint(family, tuple(sockaddr), address.tls)


class Server:
    """What the workloads need of a server: where it is and, when known, its process."""

    def __init__(self, address: ChatAddress, pid: int | None, started_here: bool) -> None:
        self.address = address
        self.pid = pid
        self.started_here = started_here
        self.endpoint = resolve(address)

    def where(self) -> str:
        """The address as reports show it (a WebSocket endpoint as the URL its clients open)."""
        if self.endpoint.websocket:
            return f"ws://{self.address.host}:{self.address.port}{WEB_PATH}"
        return str(self.address)

    def sample(self) -> procstat.ProcSample:
        return procstat.sample(self.pid)

    def alive(self) -> bool:
        return True

    def stop(self) -> int | None:
        """Stop the server if this benchmark started it; its exit status (None: not ours)."""
        return None

    def problems(self) -> list[str]:
        """What the server said that looks wrong (warnings in its output)."""
        return []


class LocalServer(Server):
    """`python -m chatroom.server --port 0 ... ARGS` started here, stopped with SIGINT.

    With `tls` it serves only TLS, with that certificate (its one port line is the TLS port).
    With `websocket` it also opens its web port (--web-port 0), where the clients connect.
    """

    def __init__(
        self,
        cpus: set[int] | None = None,
        args: Sequence[str] = (),
        tls: ThrowawayCertificate | None = None,
        websocket: bool = False,
    ) -> None:
        # Kept open for the server's lifetime and closed in close(), hence no `with`.
        self._log = tempfile.NamedTemporaryFile(prefix="chatroom-bench-server-", suffix=".log")  # noqa: SIM115
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(chatroom.__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        # The history is on, as it is for users, but in a file of this run's: never the user's own.
        self._history_dir: tempfile.TemporaryDirectory[str] | None = None
        if "--db" not in args and "--no-history" not in args:
            self._history_dir = tempfile.TemporaryDirectory(prefix="chatroom-bench-history-")
            args = (*args, "--db", os.path.join(self._history_dir.name, "history.sqlite3"))
        if tls is not None:
            args = (*args, *tls.server_args())
        if websocket:
            args = (*args, "--web-port", "0")
        self.command = [
            sys.executable,
            "-m",
            "chatroom.server",
            "--port",
            "0",
            "--no-log-messages",
            "--log-level",
            "warning",
            *args,
        ]
        try:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        except OSError as error:
            self._log.close()
            raise BenchError(f"cannot start the server ({' '.join(self.command)}): {error}") from None
        self.exit_code: int | None = None
        if cpus:
            with contextlib.suppress(OSError, AttributeError):
                os.sched_setaffinity(self.process.pid, cpus)
        port = self._wait_for_port(_WEB_PORT_LINE if websocket else _PORT_LINE)
        super().__init__(ChatAddress("127.0.0.1", port, tls=tls is not None), self.process.pid, True)
        if websocket:
            self.endpoint = Endpoint(self.endpoint.family, self.endpoint.sockaddr, websocket=True)

    def _wait_for_port(self, line: re.Pattern[bytes]) -> int:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            match = line.search(self._output())
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                self._log.close()
                raise BenchError(
                    f"the server exited with status {self.process.returncode} before listening: "
                    f"{self._last_line() or 'no output'}"
                )
            time.sleep(0.02)
        self.stop()
        raise BenchError(f"the server did not print its port within {START_TIMEOUT_S:g} s")

    def _output(self) -> bytes:
        with open(self._log.name, "rb") as log:
            return log.read()

    def _last_line(self) -> str:
        lines = self._output().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int | None:
        if self.exit_code is not None:
            return self.exit_code
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()  # our own child, by its PID
                self.process.wait(5)
        self.exit_code = self.process.returncode
        return self.exit_code

    def problems(self) -> list[str]:
        lines = self._output().decode(errors="replace").splitlines()
        return [line for line in lines if line.strip() and not any(banner in line for banner in _BANNERS)]

    def close(self) -> None:
        self.stop()
        self._log.close()
        if self._history_dir is not None:
            self._history_dir.cleanup()


class ExternalServer(Server):
    """A server someone else runs; its process is known only through --server-pid."""

    def __init__(self, address: ChatAddress, pid: int | None) -> None:
        super().__init__(address, pid, False)
        if pid is not None and procstat.cpu_seconds(pid) is None:
            raise BenchError(f"--server-pid {pid}: no such process in /proc")

    def alive(self) -> bool:
        return self.pid is None or procstat.cpu_seconds(self.pid) is not None


def probe(server: Server, name: str) -> None:
    """Register one client and leave: the address speaks CHAT/1.0, or a one-sentence BenchError."""
    endpoint = server.endpoint
    where = server.where()
    sock = socket.socket(endpoint.family, socket.SOCK_STREAM)
    sock.settimeout(PROBE_TIMEOUT_S)
    try:
        try:
            sock.connect(endpoint.sockaddr)
            if endpoint.tls:
                sock = client_context().wrap_socket(sock)
        except OSError as error:
            raise BenchError(f"cannot connect to {where}: {error.strerror or error}") from None
        try:
            if endpoint.websocket:
                sock = _upgraded(sock, endpoint)  # type: ignore[assignment]
        except OSError as error:
            raise BenchError(f"cannot connect to {where}: {error.strerror or error}") from None
        try:
            sock.sendall(b"REGISTER " + name.encode() + b" CHAT/1.0\n")
            reply = b""
            while b"\n" not in reply and len(reply) < 4096:
                data = sock.recv(4096)
                if not data:
                    break
                reply += data
        except OSError as error:
            raise BenchError(f"{where} did not answer a registration: {error.strerror or error}") from None
        first = reply.split(b"\n", 1)[0].decode(errors="replace").strip()
        if not first.startswith("200"):
            said = f"it said {first!r}" if first else "it closed the connection"
            raise BenchError(f"{where} does not speak CHAT/1.0: REGISTER got no 200 reply ({said})")
        with contextlib.suppress(OSError):
            sock.sendall(b"DISCONNECT " + name.encode() + b" CHAT/1.0\n")
            sock.settimeout(1.0)
            while sock.recv(4096):
                pass
    finally:
        sock.close()


def _upgraded(sock: socket.socket, endpoint: Endpoint) -> WebSocketSocket:
    """The probe's opening handshake (blocking, under the probe's timeout)."""
    request, accept = upgrade_request(endpoint.sockaddr[0], endpoint.sockaddr[1])
    sock.sendall(request)
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            raise OSError("closed during the WebSocket upgrade")
        data += chunk
        verdict, rest = upgrade_response(data, accept)
        if verdict is None:
            continue
        if verdict:
            raise OSError(verdict)
        return WebSocketSocket(sock, rest)
