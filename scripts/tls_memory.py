"""What an idle registered user costs the server's memory, on plain TCP and on TLS.

Starts our server with a throwaway certificate (trustme, the `bench` extra),
registers N plain users and then N TLS users, and prints the growth of the
server's resident memory per user for each:

    python3 scripts/tls_memory.py 1000

The numbers are in docs/PERFORMANCE.md ("TLS").
"""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trustme

SETTLE_S = 0.5


def resident_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        found = re.search(r"VmRSS:\s+(\d+)", status.read())
    assert found is not None
    return int(found.group(1))


def register(port: int, count: int, prefix: str, context: ssl.SSLContext | None) -> list[socket.socket]:
    users = []
    for index in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname="localhost")
        sock.sendall(f"REGISTER {prefix}{index} CHAT/1.0\n".encode())
        assert sock.recv(100).startswith(b"200"), "registration refused"
        users.append(sock)
    return users


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        ca = trustme.CA()
        leaf = ca.issue_cert("localhost")
        cert, key = Path(directory, "cert.pem"), Path(directory, "key.pem")
        cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(key))
        context = ssl.create_default_context()
        ca.configure_trust(context)
        server = subprocess.Popen(
            [
                sys.executable,
                "server.py",
                "--no-history",
                "--log-level",
                "warning",
                "--tls-cert",
                str(cert),
                "--tls-key",
                str(key),
            ],
            cwd=Path(__file__).resolve().parents[1],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            plain_port = int(server.stdout.readline().split()[-1])
            tls_port = int(server.stdout.readline().split()[-1])
            time.sleep(SETTLE_S)
            before = resident_kib(server.pid)
            plain = register(plain_port, count, "p", None)
            time.sleep(SETTLE_S)
            after_plain = resident_kib(server.pid)
            tls = register(tls_port, count, "t", context)
            time.sleep(SETTLE_S)
            after_tls = resident_kib(server.pid)
            print(
                f"{count} idle users each: plain {(after_plain - before) / count:.2f} KiB a user, "
                f"TLS {(after_tls - after_plain) / count:.2f} KiB a user"
            )
            for sock in plain + tls:
                sock.close()
        finally:
            server.send_signal(2)
            server.wait(10)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
