"""Test helpers: the real server and client as child processes, and a raw CHAT/1.0 peer.

`Peer` speaks CHAT/1.0 over a plain socket and imports nothing from chatroom,
so the server is checked against an independent implementation of the
protocol, not against its own code. Nothing here sleeps for a fixed time:
every wait is for an event (a line, a log line, a closed socket) with a
deadline that is only reached when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parent.parent

DEADLINE_S = 5.0
# How long to wait for something that normally takes milliseconds. Only a
# failing (or badly overloaded) run ever waits this long.

STARTUP_DEADLINE_S = 15.0
# Starting a Python interpreter on a loaded CI machine can take seconds.

READY_LINE = "Registration successful.  Ready for messaging!"


def child_env() -> dict[str, str]:
    """The environment for child processes: no unbuffered-output or debug switches.

    The programs must flush their own output when it is a pipe, and must not
    show tracebacks, so the switches that would hide either are removed.
    """
    env = dict(os.environ)
    for name in ("PYTHONUNBUFFERED", "CHATROOM_DEBUG", "PYTHONWARNINGS"):
        env.pop(name, None)
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


class OutputLines:
    """The lines of one child-process stream, collected by a thread as they arrive."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self.name = name
        self._lines: list[str] = []
        self._eof = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._collect, args=(stream,), name=name, daemon=True)
        self._thread.start()

    def _collect(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").removesuffix("\n")
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        stream.close()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    @property
    def lines(self) -> list[str]:
        with self._changed:
            return list(self._lines)

    @property
    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)

    def mark(self) -> int:
        """The number of lines so far: pass it as `after` to wait only for later lines."""
        with self._changed:
            return len(self._lines)

    def wait_for(
        self, needle: str | Callable[[str], bool], *, after: int = 0, timeout: float = DEADLINE_S
    ) -> str:
        """The first line at index >= `after` containing `needle` (or for which it is true)."""
        matches = needle if callable(needle) else lambda line: needle in line
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self._lines[after:]:
                    if matches(line):
                        return line
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    why = "the stream ended" if self._eof else f"{timeout:g} s passed"
                    shown = "".join(f"\n  | {line[:300]}" for line in self._lines[-40:])
                    raise AssertionError(f"{self.name}: no line with {needle!r}; {why}. Last lines:{shown}")
                self._changed.wait(remaining)

    def wait_for_count(self, needle: str, count: int, *, after: int = 0, timeout: float = DEADLINE_S) -> None:
        """Wait until `count` lines at index >= `after` contain `needle`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(needle in line for line in self._lines[after:]) < count:
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    seen = sum(needle in line for line in self._lines[after:])
                    raise AssertionError(f"{self.name}: {seen} of {count} lines with {needle!r}")
                self._changed.wait(remaining)

    def wait_closed(self, timeout: float = DEADLINE_S) -> None:
        """Wait until the child closed this stream (normally: it exited)."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"{self.name} still open after {timeout:g} s")


# -- a raw CHAT/1.0 peer ------------------------------------------------------------------


class Peer:
    """One end of a CHAT/1.0 conversation on a plain blocking socket, with a line buffer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()

    @classmethod
    def connect(cls, port: int, host: str = "127.0.0.1", *, rcvbuf: int | None = None) -> Peer:
        """Connect to host:port; `rcvbuf` shrinks the receive buffer (set before connecting)."""
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(DEADLINE_S)
        try:
            sock.connect((host, port))
        except OSError:
            sock.close()
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock)

    @property
    def local_port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    def send(self, data: bytes) -> None:
        self.sock.settimeout(DEADLINE_S)
        self.sock.sendall(data)

    def send_line(self, line: str | bytes) -> None:
        """Send `line` and an LF."""
        self.send((line.encode() if isinstance(line, str) else line) + b"\n")

    def register(self, name: str) -> None:
        """REGISTER `name` and insist on 200."""
        self.send_line(f"REGISTER {name} CHAT/1.0")
        reply = self.recv_line()
        assert reply == b"200 Registration successful", f"registering {name!r}: {reply!r}"

    def recv_line(self, timeout: float = DEADLINE_S) -> bytes:
        """The next line, without its LF (a CR before it is kept: the test sees every byte)."""
        deadline = time.monotonic() + timeout
        while (end := self._buffer.find(b"\n")) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no complete line within {timeout:g} s; buffered: {bytes(self._buffer[:200])!r}"
                )
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(256 * 1024)
            except TimeoutError:
                continue
            except ConnectionResetError:
                raise AssertionError(
                    f"connection reset before a complete line; buffered: {bytes(self._buffer[:200])!r}"
                ) from None
            if not chunk:
                raise AssertionError(
                    f"connection closed before a complete line; buffered: {bytes(self._buffer[:200])!r}"
                )
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line

    def recv_lines(self, count: int, timeout: float = DEADLINE_S) -> list[bytes]:
        deadline = time.monotonic() + timeout
        return [self.recv_line(max(0.0, deadline - time.monotonic())) for _ in range(count)]

    def has_nothing_to_read(self) -> bool:
        """True when no byte has arrived (yet) and the connection is still open; does not wait."""
        if self._buffer:
            return False
        self.sock.setblocking(False)
        try:
            self.sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            self.sock.setblocking(True)
        return False

    def expect_closed(self, timeout: float = DEADLINE_S) -> None:
        """Assert that the other side closes (EOF or reset) without sending anything more."""
        assert not self._buffer, f"unread bytes before the close: {bytes(self._buffer[:200])!r}"
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"connection still open after {timeout:g} s")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                return
            if not chunk:
                return
            raise AssertionError(f"expected the connection to close, received {chunk[:200]!r}")

    def drain_until_closed(self, timeout: float = DEADLINE_S) -> int:
        """Read and discard until EOF or reset; returns the byte count. Fails if still open."""
        total = len(self._buffer)
        self._buffer.clear()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"connection still open after {timeout:g} s ({total} bytes read)")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1024 * 1024)
            except TimeoutError:
                continue
            except ConnectionResetError:
                return total
            if not chunk:
                return total
            total += len(chunk)

    def reset(self) -> None:
        """Close abruptly: SO_LINGER 0 makes the kernel send RST instead of FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


# -- the real server ------------------------------------------------------------------------


class ChildProcess:
    """What the server and the client children share: their output, waiting, killing."""

    def __init__(self, proc: subprocess.Popen[bytes], name: str) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self.stdout = OutputLines(proc.stdout, f"{name} stdout")
        self.stderr = OutputLines(proc.stderr, f"{name} stderr")

    def _wait_exit(self, timeout: float, still_running: Callable[[], str]) -> int:
        """The exit status once the child exited and closed its output; killed after `timeout`."""
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(still_running()) from None
        self.stdout.wait_closed()
        self.stderr.wait_closed()
        return status

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class ServerProcess(ChildProcess):
    """`python server.py ARGS` as a child process, with its output collected line by line."""

    BANNER = "Will wait for client connections at port "

    def __init__(self, args: Sequence[str], preexec_fn: Callable[[], None] | None = None) -> None:
        proc = subprocess.Popen(
            [sys.executable, "server.py", *args],
            cwd=REPO_ROOT,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=preexec_fn,
        )
        super().__init__(proc, "server")
        self.peers: list[Peer] = []
        try:
            banner = self.stdout.wait_for(self.BANNER, timeout=STARTUP_DEADLINE_S)
        except AssertionError:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"server did not start; stderr:\n{self.stderr.text}") from None
        self.port = int(banner.removeprefix(self.BANNER))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_for_log(
        self, needle: str | Callable[[str], bool], *, after: int = 0, timeout: float = DEADLINE_S
    ) -> str:
        return self.stdout.wait_for(needle, after=after, timeout=timeout)

    def log_mark(self) -> int:
        return self.stdout.mark()

    def connect(self, *, rcvbuf: int | None = None) -> Peer:
        peer = Peer.connect(self.port, rcvbuf=rcvbuf)
        self.peers.append(peer)
        return peer

    def register(self, name: str, *, rcvbuf: int | None = None) -> Peer:
        """A new connection registered as `name`."""
        peer = self.connect(rcvbuf=rcvbuf)
        peer.register(name)
        return peer

    def close_peers(self) -> None:
        for peer in self.peers:
            peer.close()
        self.peers.clear()

    def stop(self, signum: int = signal.SIGINT, timeout: float = DEADLINE_S) -> int:
        """Send `signum` (if still running) and return the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.wait(timeout)

    def wait(self, timeout: float = DEADLINE_S) -> int:
        return self._wait_exit(
            timeout, lambda: f"server still running {timeout:g} s after it was asked to stop"
        )


class ServerFactory:
    """Starts servers for one test and stops them after it (see conftest.start_server)."""

    def __init__(self) -> None:
        self.servers: list[ServerProcess] = []

    def __call__(
        self, *args: str, preexec_fn: Callable[[], None] | None = None, bare: bool = False
    ) -> ServerProcess:
        """`server.py --port 0 ARGS`; with bare=True exactly `server.py ARGS`."""
        server = ServerProcess(list(args) if bare else ["--port", "0", *args], preexec_fn)
        self.servers.append(server)
        return server

    def stop_all(self) -> None:
        problems: list[str] = []
        for server in self.servers:
            server.close_peers()
            stopped_by_test = server.proc.poll() is not None
            try:
                status = server.stop()
            except AssertionError as error:
                problems.append(str(error))
                continue
            if not stopped_by_test and status != 0:
                problems.append(f"server exited with status {status} on SIGINT")
            if "Traceback" in server.stderr.text:
                problems.append(f"server printed a traceback:\n{server.stderr.text}")
        assert not problems, "\n".join(problems)


# -- the real client ------------------------------------------------------------------------


class ClientProcess(ChildProcess):
    """`python client.py ARGS` with stdin, stdout and stderr pipes (so: plain mode)."""

    def __init__(self, args: Sequence[str]) -> None:
        proc = subprocess.Popen(
            [sys.executable, "client.py", *args],
            cwd=REPO_ROOT,
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        super().__init__(proc, "client")
        assert proc.stdin is not None
        self._stdin: IO[bytes] | None = proc.stdin

    def type_text(self, text: str | bytes) -> None:
        """Write `text` to the client's standard input as it is (add the LF yourself)."""
        assert self._stdin is not None, "standard input is already closed"
        self._stdin.write(text.encode() if isinstance(text, str) else text)
        self._stdin.flush()

    def type_line(self, text: str) -> None:
        self.type_text(text + "\n")

    def close_input(self) -> None:
        """End of input, as Ctrl-D at a terminal."""
        if self._stdin is not None:
            self._stdin.close()
            self._stdin = None

    def wait_ready(self, timeout: float = STARTUP_DEADLINE_S) -> None:
        self.stdout.wait_for(READY_LINE, timeout=timeout)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = DEADLINE_S) -> int:
        """The exit status, once the client has exited and closed its output."""
        status = self._wait_exit(
            timeout,
            lambda: (
                f"client still running after {timeout:g} s;\nstdout:\n{self.stdout.text}"
                f"stderr:\n{self.stderr.text}"
            ),
        )
        if self._stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self._stdin.close()
            self._stdin = None
        return status


class ClientFactory:
    """Starts clients for one test and makes sure none outlives it (see conftest.start_client)."""

    def __init__(self) -> None:
        self.clients: list[ClientProcess] = []

    def __call__(self, *args: str) -> ClientProcess:
        client = ClientProcess(args)
        self.clients.append(client)
        return client

    def stop_all(self) -> None:
        problems: list[str] = []
        for client in self.clients:
            client.kill()
            client.close_input()
            client.stdout.wait_closed()
            client.stderr.wait_closed()
            if "Traceback" in client.stderr.text or "Traceback" in client.stdout.text:
                problems.append(f"client printed a traceback:\n{client.stderr.text}")
        assert not problems, "\n".join(problems)


# -- facts about processes and sockets (Linux /proc) ------------------------------------------


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
