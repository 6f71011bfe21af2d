"""chats://: connecting with TLS, verifying the server, and saying in one sentence why it failed.

The certificate and the host name are checked against the system's trust
store (`ssl.create_default_context()`), or against a private CA with
--cafile. --insecure-no-verify turns checking off for testing, and says so
every time. The handshake is done before the session starts, within the
connect timeout; after it the socket is non-blocking and its want-read /
want-write conditions read as BlockingIOError, as a plain socket's do.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from chatroom.protocol.address import ChatAddress
from chatroom.tlssocket import NonBlockingTLSSocket

INSECURE_WARNING = (
    "WARNING: --insecure-no-verify: the server's certificate is NOT checked; anyone between you "
    "and the server can read and change this chat. Use it only for testing."
)

# OpenSSL's verification results, as a user would say them (X509_V_ERR_*).
_UNTRUSTED = frozenset({2, 18, 19, 20, 21})  # no issuer known, self-signed, unable to verify the first cert
_EXPIRED = 10
_NOT_YET_VALID = 9
_HOST_MISMATCH = 62
_IP_MISMATCH = 64


@dataclass(frozen=True)
class TLSOptions:
    """--cafile and --insecure-no-verify."""

    cafile: str | None = None
    insecure: bool = False

    def context(self) -> ssl.SSLContext:
        """The client context; OSError / ssl.SSLError when --cafile cannot be read."""
        context = ssl.create_default_context(cafile=self.cafile)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        context.sslsocket_class = NonBlockingTLSSocket
        return context


def wrap(sock: socket.socket, address: ChatAddress, context: ssl.SSLContext) -> socket.socket:
    """Do the handshake on a connected blocking socket (its timeout bounds it); the TLS socket, ready.

    Raises ssl.SSLError or OSError; `describe_tls_error` words them.
    """
    return context.wrap_socket(sock, server_hostname=address.host)


def describe_tls_error(address: ChatAddress, error: BaseException) -> str:
    """One sentence naming why a TLS connection failed (verification, host name, not TLS at all)."""
    where = f"{address.host}:{address.port}"
    start = f"Cannot connect securely to {where}"
    if isinstance(error, ssl.SSLCertVerificationError):
        code = error.verify_code
        if code in (_HOST_MISMATCH, _IP_MISMATCH):
            return f"{start}: the server's certificate is not valid for the host name {address.host!r}."
        if code == _EXPIRED:
            return f"{start}: the server's certificate has expired."
        if code == _NOT_YET_VALID:
            return f"{start}: the server's certificate is not valid yet."
        if code in _UNTRUSTED:
            return (
                f"{start}: the server's certificate is not signed by an authority this computer trusts "
                "(for a private CA, pass --cafile FILE)."
            )
        reason = (error.verify_message or error.reason or "verification failed").rstrip(".")
        return f"{start}: the server's certificate failed verification ({reason})."
    if isinstance(error, ssl.SSLError):
        return f"{start}: the server did not answer in TLS (is it a plain chat:// port?)."
    if isinstance(error, TimeoutError):
        return f"{start}: the TLS handshake did not finish in time."
    if isinstance(error, OSError) and error.strerror:
        return (
            f"{start}: the server closed the connection during the TLS handshake ({error.strerror.lower()})."
        )
    return f"{start}: the server closed the connection during the TLS handshake."
