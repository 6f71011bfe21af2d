"""Connection setups per second: connect, (TLS handshake,) REGISTER, 200, close; again and again.

What a new user costs the server before saying anything, and with TLS the
price of the handshake: run once on plain TCP and once on TLS, it gives the
handshakes per second side by side with plain connections. Each worker runs
`threads` blocking loops (OpenSSL lets go of the GIL while it computes a
handshake, so threads do overlap there).
"""

from __future__ import annotations

import collections
import socket
import ssl
import threading
import time

from chatroom.bench.orders import Setups, SetupsReport
from chatroom.bench.procstat import own_cpu_seconds
from chatroom.bench.tls import client_context

SETUP_TIMEOUT_S = 5.0
# A setup that takes longer than this is counted as failed (loopback setups take milliseconds).

SAMPLE_CAP = 20_000


def run_setups(order: Setups) -> SetupsReport:
    """Set up connections to `order.endpoint` on `order.threads` threads until `order.seconds` passed."""
    cpu0 = own_cpu_seconds()
    context = client_context() if order.endpoint.tls else None
    lock = threading.Lock()
    done = [0]
    fails: collections.Counter[str] = collections.Counter()
    setup_ms: list[float] = []
    t_start = time.monotonic_ns()
    t_stop = t_start + int(order.seconds * 1e9)

    def loop(thread: int) -> None:
        n = 0
        while time.monotonic_ns() < t_stop:
            name = f"{order.name_prefix}{thread:02d}x{n:07d}"[:32]
            n += 1
            began = time.monotonic_ns()
            why = _one_setup(order, context, name)
            took = (time.monotonic_ns() - began) / 1e6
            with lock:
                if why:
                    fails[why] += 1
                else:
                    done[0] += 1
                    if len(setup_ms) < SAMPLE_CAP:
                        setup_ms.append(took)

    threads = [threading.Thread(target=loop, args=(index,), daemon=True) for index in range(order.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(order.seconds + SETUP_TIMEOUT_S + 5)
    t_end = time.monotonic_ns()
    with lock:
        return SetupsReport(
            done=done[0],
            fails=dict(fails),
            t_start_ns=t_start,
            t_end_ns=t_end,
            setup_ms=list(setup_ms),
            cpu_s=own_cpu_seconds() - cpu0,
        )


def _one_setup(order: Setups, context: ssl.SSLContext | None, name: str) -> str:
    """One connection from connect to close: '' when it registered, else why not."""
    endpoint = order.endpoint
    try:
        sock = socket.socket(endpoint.family, socket.SOCK_STREAM)
    except OSError as error:
        return f"socket: {error.strerror}"
    try:
        sock.settimeout(SETUP_TIMEOUT_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.connect(endpoint.sockaddr)
        if context is not None:
            sock = context.wrap_socket(sock)
        sock.sendall(b"REGISTER " + name.encode() + b" CHAT/1.0\n")
        reply = b""
        while b"\n" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                return "closed before the registration reply"
            reply += chunk
        if not reply.startswith(b"200"):
            return f"registration refused: {reply[:40].decode(errors='replace')!r}"
        sock.sendall(b"DISCONNECT " + name.encode() + b" CHAT/1.0\n")
        return ""
    except ssl.SSLError as error:
        return f"TLS: {error.reason or error}"
    except OSError as error:
        return f"{error.strerror or type(error).__name__}"
    finally:
        sock.close()
