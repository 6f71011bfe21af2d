"""A TLS socket that reads like a plain non-blocking one: the server's, the client's and the benchmark's.

ssl raises SSLWantReadError / SSLWantWriteError when a record is incomplete or
the TLS layer cannot take more; neither is BlockingIOError, which is what every
non-blocking path here expects of a socket. Turning them into it once, in this
`sslsocket_class`, keeps every caller as it is for plain TCP.
"""

from __future__ import annotations

import ssl

WANT = (ssl.SSLWantReadError, ssl.SSLWantWriteError)


class NonBlockingTLSSocket(ssl.SSLSocket):
    """Set as a context's `sslsocket_class`; never created directly (SSLSocket has no public constructor)."""

    def recv(self, bufsize: int = 1024, flags: int = 0) -> bytes:
        try:
            return super().recv(bufsize, flags)
        except WANT:
            raise BlockingIOError("TLS record not complete yet") from None

    def recv_into(self, buffer: memoryview | bytearray, nbytes: int | None = None, flags: int = 0) -> int:  # type: ignore[override]
        try:
            return super().recv_into(buffer, nbytes, flags)
        except WANT:
            raise BlockingIOError("TLS record not complete yet") from None

    def send(self, data: bytes | bytearray | memoryview, flags: int = 0) -> int:  # type: ignore[override]
        # After a want-write the next call must pass the same bytes again (longer is
        # allowed); an output queue that only grows at its end and is trimmed only by
        # what was sent keeps that, and Python sets SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
        # so a bytearray may move in memory between the two calls.
        try:
            return super().send(data, flags)
        except WANT:
            raise BlockingIOError("TLS layer cannot take more now") from None
