"""The real server and client as child processes, their output collected line by line."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from support.peer import DEADLINE_S, Peer

REPO_ROOT = Path(__file__).resolve().parents[2]

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
    # A server started without --db keeps its history under XDG_DATA_HOME: the
    # tests' own directory, never the user's.
    env["XDG_DATA_HOME"] = TEST_DATA_HOME
    return env


TEST_DATA_HOME = tempfile.mkdtemp(prefix="chatroom-tests-")


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

    def __init__(
        self,
        args: Sequence[str],
        preexec_fn: Callable[[], None] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`env` adds to (or overrides) child_env()."""
        proc = subprocess.Popen(
            # Each test's server forgets its history, unless the test asks for a file.
            [sys.executable, "server.py", *(() if "--db" in args else ("--db", ":memory:")), *args],
            cwd=REPO_ROOT,
            env={**child_env(), **(env or {})},
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

    def connect(self, *, rcvbuf: int | None = None, maxseg: int | None = None) -> Peer:
        peer = Peer.connect(self.port, rcvbuf=rcvbuf, maxseg=maxseg)
        self.peers.append(peer)
        return peer

    def register(self, name: str, *, rcvbuf: int | None = None, maxseg: int | None = None) -> Peer:
        """A new connection registered as `name` (see Peer.connect for `rcvbuf` and `maxseg`)."""
        peer = self.connect(rcvbuf=rcvbuf, maxseg=maxseg)
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
        self,
        *args: str,
        preexec_fn: Callable[[], None] | None = None,
        bare: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> ServerProcess:
        """`server.py --port 0 ARGS`; with bare=True exactly `server.py ARGS`; `env` adds variables."""
        server = ServerProcess(list(args) if bare else ["--port", "0", *args], preexec_fn, env)
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
