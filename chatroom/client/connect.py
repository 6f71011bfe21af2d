"""Opening the TCP connection, and saying in one sentence why it failed.

Both the line client (blocking connect, then `selectors`) and the full screen
(asyncio) word their errors with these functions, so a failure reads the same
in every mode.
"""

from __future__ import annotations

import socket
import ssl

from chatroom.client.tls import describe_tls_error, wrap
from chatroom.limits import CONNECT_TIMEOUT_S
from chatroom.protocol.address import ChatAddress


class ClientError(Exception):
    """A failure the user is told about in one sentence (no traceback)."""


def describe_connect_error(address: ChatAddress, error: BaseException, timeout: float) -> str:
    """One sentence saying why connecting failed; every client frontend words it so."""
    where = f"{address.host}:{address.port}"
    if isinstance(error, socket.gaierror):
        return f"Cannot connect to {where}: unknown host {address.host!r}."
    if isinstance(error, ConnectionRefusedError):
        return f"Cannot connect to {where}: connection refused (is the server running?)."
    if isinstance(error, TimeoutError):  # asyncio.TimeoutError is TimeoutError from 3.11 on
        return f"Cannot connect to {where}: no answer within {timeout:g} s."
    return f"Cannot connect to {where}: {describe_os_error(error)}."


def describe_os_error(error: BaseException) -> str:
    """'connection reset by peer': the OS's words, for the end of a sentence."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error).lower() or type(error).__name__


def connect(
    address: ChatAddress, timeout: float = CONNECT_TIMEOUT_S, tls: ssl.SSLContext | None = None
) -> socket.socket:
    """A connected TCP socket, or ClientError saying in plain words why not.

    For a chats:// address `tls` is the context to verify the server with; the
    handshake is done here, within `timeout` too.
    """
    try:
        sock = socket.create_connection((address.host, address.port), timeout=timeout)
    except OSError as error:
        raise ClientError(describe_connect_error(address, error, timeout)) from None
    if address.tls:
        try:
            sock = wrap(sock, address, tls if tls is not None else ssl.create_default_context())
        except OSError as error:  # ssl.SSLError is an OSError
            sock.close()
            raise ClientError(describe_tls_error(address, error)) from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock
