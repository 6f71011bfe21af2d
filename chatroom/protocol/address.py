"""The chat://host:port address form shared by the client and the benchmark; chats:// is CHAT over TLS."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEME = "chat"
TLS_SCHEME = "chats"  # the same bytes inside TLS (docs/PROTOCOL.md)
EXPECTED_FORM = "chat://<host>:<port> (or chats:// for TLS), for example chat://localhost:54307"


class AddressError(ValueError):
    """An address that is not chat://host:port; the message says what is wrong."""


@dataclass(frozen=True)
class ChatAddress:
    host: str
    port: int
    tls: bool = False

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{TLS_SCHEME if self.tls else SCHEME}://{host}:{self.port}"


def parse_chat_address(text: str) -> ChatAddress:
    """Parse chat://host:port or chats://host:port (IPv6 hosts in brackets); raise AddressError otherwise."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise AddressError(f"invalid address {text!r} ({error}); expected {EXPECTED_FORM}") from None
    if parts.scheme not in (SCHEME, TLS_SCHEME) or not parts.netloc:
        raise AddressError(f"invalid address {text!r}; expected {EXPECTED_FORM}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise AddressError(f"invalid address {text!r}; expected {EXPECTED_FORM}")
    if not parts.hostname:
        raise AddressError(f"address {text!r} has no host; expected {EXPECTED_FORM}")
    if port is None:
        raise AddressError(f"address {text!r} has no port; expected {EXPECTED_FORM}")
    if not 1 <= port <= 65535:
        raise AddressError(f"port {port} is out of range 1-65535; expected {EXPECTED_FORM}")
    return ChatAddress(parts.hostname, port, tls=parts.scheme == TLS_SCHEME)
