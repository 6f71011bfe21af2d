"""A raw CHAT/1.0 peer on a plain socket.

It imports nothing from chatroom, so the server is checked against an
independent implementation of the protocol, not against its own code.
"""

from __future__ import annotations

import socket
import struct
import time

DEADLINE_S = 5.0
# How long to wait for something that normally takes milliseconds. Only a
# failing (or badly overloaded) run ever waits this long.


class Peer:
    """One end of a CHAT/1.0 conversation on a plain blocking socket, with a line buffer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()

    @classmethod
    def connect(
        cls, port: int, host: str = "127.0.0.1", *, rcvbuf: int | None = None, maxseg: int | None = None
    ) -> Peer:
        """Connect to host:port; `rcvbuf` shrinks the receive buffer (set before connecting).

        `maxseg` caps the TCP segment size the other side may send (TCP_MAXSEG,
        set before connecting). Linux sizes a socket's send buffer from its
        segment size, and on loopback (64 KiB segments) the server's kernel
        takes megabytes for a peer that does not read; with `maxseg=1000` it
        takes about 100 KiB, so the rest queues up inside the server process.
        """
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if maxseg is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, maxseg)
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

    def recv_until_closed(self, timeout: float = DEADLINE_S) -> bytes:
        """Every byte (buffered ones first) until the other side closes; fails on a reset or timeout."""
        received = bytearray(self._buffer)
        self._buffer.clear()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"connection still open after {timeout:g} s ({len(received)} bytes read)"
                )
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1024 * 1024)
            except TimeoutError:
                continue
            except ConnectionResetError:
                raise AssertionError(
                    f"connection reset after {len(received)} bytes; last: {bytes(received[-200:])!r}"
                ) from None
            if not chunk:
                return bytes(received)
            received += chunk

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


def non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (a peer connecting from it is 'another host')."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        host: str = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if host.startswith("127.") else host
