"""The server's web listener (issue #11): its settings, and the gateway that serves it.

Kept apart from app.py like TLS (chatroom.server.tls): the server hands it a
`ready` callback and gets back WebSocket connections, which it then serves
as any client. The gateway needs wsproto (the `web` extra); it is imported
only when a web listener is asked for, so the core still runs on a bare
Python. With --tls-cert the web port speaks TLS first: the same certificate
(reloaded on SIGHUP with the TLS listener's), its own handshake acceptor.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatroom import limits
from chatroom.net.listener import Listener, open_listening_socket
from chatroom.net.loop import EventLoop
from chatroom.net.tls import TLSAcceptor, TLSTransport
from chatroom.net.transport import PlainTransport
from chatroom.server.tls import TLSService

if TYPE_CHECKING:
    from chatroom.web.gateway import Ready

MISSING_WSPROTO = "--web-port needs the wsproto library: pip install 'chatroom[web]'"


@dataclass(frozen=True)
class WebConfig:
    """--web-port, --web-origin and the HTTP timeouts."""

    port: int = 0
    origins: tuple[str, ...] = ()  # empty: the page's own origin only
    idle_timeout: float = limits.HTTP_IDLE_TIMEOUT_S
    request_timeout: float = limits.HTTP_REQUEST_TIMEOUT_S


def wsproto_missing() -> str | None:
    """The one sentence to print when the gateway cannot run here, else None."""
    try:
        import wsproto  # noqa: F401
    except ImportError:
        return MISSING_WSPROTO
    return None


class WebService:
    """The web listener and its gateway; `ready` gets each upgraded (chat) connection."""

    def __init__(
        self,
        loop: EventLoop,
        config: WebConfig,
        host: str,
        max_line: int,
        ready: Ready,
        screen: Callable[[socket.socket, tuple[str, int]], bool],
        tls: TLSService | None = None,
    ) -> None:
        """`screen(sock, address)`: flood control's connection limits at accept; False: it closed it."""
        from chatroom.web.gateway import WebGateway  # needs wsproto: only when a web port is asked for

        self.config = config
        self.gateway = gateway = WebGateway(
            loop,
            ready,
            max_line=max_line,
            origins=config.origins,
            secure=tls is not None,
            idle_timeout=config.idle_timeout,
            request_timeout=config.request_timeout,
        )
        self.acceptor: TLSAcceptor | None = None
        if tls is not None:
            acceptor = self.acceptor = TLSAcceptor(
                loop, tls.acceptor.context, self._handshake_done, tls.config.handshake_timeout
            )

            def start(sock: socket.socket, address: tuple[str, int]) -> None:
                acceptor.context = tls.acceptor.context  # the certificate as last (re)loaded
                acceptor.make(sock, address)

        else:

            def start(sock: socket.socket, address: tuple[str, int]) -> None:
                gateway.make(PlainTransport.adopt(sock), address)

        def make(sock: socket.socket, address: tuple[str, int]) -> None:
            if gateway.full():
                sock.close()  # MAX_HTTP_CONNECTIONS: page loads and idle sockets cannot take every descriptor
            elif screen(sock, address):
                start(sock, address)

        self.listener = Listener(loop, open_listening_socket(host, config.port), make, "web")
        self.port = self.listener.port

    def _handshake_done(self, transport: TLSTransport, address: tuple[str, int]) -> None:
        self.gateway.make(transport, address)

    def close(self) -> None:
        """Stop accepting; close handshakes and HTTP connections under way (none of them is a user)."""
        self.listener.close()
        if self.acceptor is not None:
            self.acceptor.close()
        self.gateway.close()
