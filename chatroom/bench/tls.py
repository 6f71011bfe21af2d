"""TLS for the benchmark: a throwaway certificate for the server it starts, and the clients' side.

The certificate is made at run time with trustme (the `bench` extra) and
deleted after the run; nothing is ever written where a user keeps keys. The
load generator does not verify it: verification costs the clients' CPU, not
the server's, and the benchmark measures the server.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile

from chatroom.bench.errors import BenchError
from chatroom.tlssocket import NonBlockingTLSSocket

MISSING_TRUSTME = (
    "--tls makes a throwaway certificate with trustme, which is not installed: pip install 'chatroom[bench]'"
)


def require_trustme() -> None:
    """Say before anything runs (BenchError) that --tls cannot make its certificate."""
    try:
        import trustme  # noqa: F401
    except ImportError:
        raise BenchError(MISSING_TRUSTME) from None


def client_context() -> ssl.SSLContext:
    """The load generator's context: TLS as a client would speak it, without verifying (see above)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.sslsocket_class = NonBlockingTLSSocket
    return context


class ThrowawayCertificate:
    """A self-made CA and a certificate for localhost and 127.0.0.1, as files in a temporary directory."""

    def __init__(self) -> None:
        try:
            import trustme
        except ImportError:
            raise BenchError(MISSING_TRUSTME) from None
        self._directory = tempfile.TemporaryDirectory(prefix="chatroom-bench-tls-")
        leaf = trustme.CA().issue_cert("localhost", "127.0.0.1")
        self.cert = os.path.join(self._directory.name, "cert.pem")
        self.key = os.path.join(self._directory.name, "key.pem")
        with open(self.cert, "wb") as cert:
            cert.write(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(self.key)

    def server_args(self) -> tuple[str, ...]:
        """The started server serves TLS only, so its one port line is the TLS port."""
        return ("--no-plain", "--tls-cert", self.cert, "--tls-key", self.key)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._directory.cleanup()
