"""Certificates made at run time (trustme), and TLS peers for the tests. No key is ever committed."""

from __future__ import annotations

import datetime
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

from support.peer import DEADLINE_S, Peer
from support.processes import ServerProcess

TLS_BANNER = "Will wait for TLS client connections at port "


@dataclass(frozen=True)
class CertFiles:
    """A CA and a server certificate it signed, as PEM files."""

    ca: trustme.CA
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_args(self) -> tuple[str, ...]:
        return ("--tls-cert", str(self.cert_file), "--tls-key", str(self.key_file))

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this CA (and checks host names)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return context


def make_certs(
    directory: Path,
    *identities: str,
    not_after: datetime.datetime | None = None,
    ca: trustme.CA | None = None,
) -> CertFiles:
    """A new CA (unless given) and a server certificate for `identities` (default: localhost, 127.0.0.1)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = ca if ca is not None else trustme.CA()
    names = identities or ("localhost", "127.0.0.1")
    if not_after is not None:
        not_before = not_after - datetime.timedelta(days=30)
        leaf = ca.issue_cert(*names, not_before=not_before, not_after=not_after)
    else:
        leaf = ca.issue_cert(*names)
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key_file))
    return CertFiles(ca, ca_file, cert_file, key_file)


def tls_port(server: ServerProcess) -> int:
    return int(server.wait_for_log(TLS_BANNER).removeprefix(TLS_BANNER))


def tls_peer(
    port: int,
    context: ssl.SSLContext,
    host: str = "localhost",
    *,
    rcvbuf: int | None = None,
    maxseg: int | None = None,
    ragged_eof_ok: bool = True,
) -> Peer:
    """A Peer whose socket speaks TLS to localhost:`port` (handshake done, verified by `context`).

    With `ragged_eof_ok` False, an end of stream without close_notify is an error (ssl.SSLEOFError).
    """
    plain = Peer.connect(port, "127.0.0.1", rcvbuf=rcvbuf, maxseg=maxseg)
    try:
        sock = context.wrap_socket(plain.sock, server_hostname=host, suppress_ragged_eofs=ragged_eof_ok)
    except BaseException:
        plain.close()
        raise
    sock.settimeout(DEADLINE_S)
    return Peer(sock)


def raw_connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
