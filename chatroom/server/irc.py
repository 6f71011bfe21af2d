"""The server's IRC listener (issue #12): its settings and command-line flags, apart from app.py.

An IRC connection is one more wire into the same hub: the listener hands
each accepted socket to the server with an IrcCodec (chatroom.irc), and the
server serves it like any client, with the same limits.
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from chatroom import limits
from chatroom.irc.codec import IrcSettings
from chatroom.net.listener import Listener, open_listening_socket
from chatroom.net.loop import EventLoop
from chatroom.net.tls import Ready, TLSAcceptor
from chatroom.server.tls import TLSService


@dataclass(frozen=True)
class IrcConfig:
    """--irc-port, --server-name, --irc-oper, --irc-tls-port, --irc-password."""

    port: int = 0
    ping_interval: float = limits.IRC_PING_INTERVAL_S
    settings: IrcSettings = field(default_factory=IrcSettings)
    tls_port: int | None = None  # None: no IRC over TLS


def add_irc_arguments(parser: argparse.ArgumentParser) -> None:
    irc = parser.add_argument_group(
        "IRC clients",
        "serve IRC clients (irssi, WeeChat, HexChat): docs/IRC.md; a protected name logs in with SASL PLAIN",
    )
    irc.add_argument(
        "--irc-port",
        type=int,
        default=None,
        metavar="PORT",
        help="port for IRC clients (0: the OS picks; printed at start) (default: no IRC port)",
    )
    irc.add_argument(
        "--server-name",
        default=None,
        metavar="NAME",
        help="the name the server gives itself on IRC (default: the host name)",
    )
    irc.add_argument(
        "--irc-ping-interval",
        type=float,
        default=limits.IRC_PING_INTERVAL_S,
        metavar="SECONDS",
        help="PING IRC clients silent this long; close them when still silent as long again "
        f"(default: {limits.IRC_PING_INTERVAL_S:g})",
    )
    irc.add_argument(
        "--irc-oper",
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="an IRC operator login (OPER NAME PASSWORD): KICK in any channel it is in, KILL, WALLOPS; "
        "repeatable",
    )
    add_irc_auth_arguments(irc)


def add_irc_auth_arguments(irc: argparse._ArgumentGroup) -> None:
    """IRC over TLS and the connection password (SASL PLAIN needs no flag: it logs in to the accounts)."""
    irc.add_argument(
        "--irc-tls-port",
        type=int,
        default=None,
        metavar="PORT",
        help="port for IRC clients over TLS, with the certificate of --tls-cert/--tls-key "
        "(0: the OS picks; printed at start) (default: none)",
    )
    password = irc.add_mutually_exclusive_group()
    password.add_argument(
        "--irc-password-file",
        metavar="FILE",
        help="a connection password IRC clients must give with PASS, read from the first line of FILE "
        "(default: none)",
    )
    password.add_argument(
        "--irc-password",
        metavar="PASSWORD",
        help="the same, given on the command line (other local users may see it in ps: "
        "prefer --irc-password-file)",
    )


def irc_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> IrcConfig | None:
    uses_irc = args.server_name is not None or args.irc_oper
    tls_port, connection_password = _irc_auth(parser, args)
    if args.irc_port is None:
        if uses_irc or args.irc_ping_interval != limits.IRC_PING_INTERVAL_S:
            parser.error("--server-name, --irc-oper and --irc-ping-interval need --irc-port PORT")
        return None
    if not args.irc_ping_interval > 0:
        parser.error("--irc-ping-interval takes a number of seconds above 0")
    if not 0 <= args.irc_port <= 65535:
        parser.error(f"--irc-port {args.irc_port} is out of range 0-65535")
    operators: dict[str, str] = {}
    for login in args.irc_oper:
        name, colon, password = login.partition(":")
        if not colon or not name or not password:
            parser.error(f"--irc-oper takes NAME:PASSWORD, not {login!r}")
        operators[name] = password
    name = args.server_name or socket.gethostname() or "chatroom"
    if not name or any(ch.isspace() or ch in ":!@" for ch in name):
        parser.error(f"--server-name {name!r}: a server name has no spaces or ':', '!', '@'")
    return IrcConfig(
        args.irc_port,
        args.irc_ping_interval,
        IrcSettings(server_name=name, operators=operators, password=connection_password),
        tls_port,
    )


def _irc_auth(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[int | None, str | None]:
    """--irc-tls-port and the connection password, or one argparse error sentence."""
    password = args.irc_password
    if args.irc_password_file is not None:
        try:
            with open(args.irc_password_file, encoding="utf-8") as file:
                password = file.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as error:
            parser.error(f"--irc-password-file: cannot read {args.irc_password_file}: {error}")
    given = [
        flag
        for flag, used in (
            ("--irc-tls-port", args.irc_tls_port is not None),
            ("--irc-password", password is not None),
        )
        if used
    ]
    if given and args.irc_port is None:
        parser.error(f"{' and '.join(given)} need{'s' if len(given) == 1 else ''} --irc-port PORT")
    if password is not None and not password:
        parser.error("--irc-password: the connection password is empty")
    if args.irc_tls_port is not None:
        if args.tls_cert is None or args.tls_key is None:
            parser.error("--irc-tls-port needs --tls-cert FILE and --tls-key FILE")
        if not 0 <= args.irc_tls_port <= 65535:
            parser.error(f"--irc-tls-port {args.irc_tls_port} is out of range 0-65535")
    return args.irc_tls_port, password


class IrcTLSService:
    """The IRC TLS listener: handshakes in the loop (the TLS listener's timeout and certificate, as
    reloaded on SIGHUP), screened by flood control first; `ready` gets each connection once it is done."""

    def __init__(
        self,
        loop: EventLoop,
        port: int,
        host: str,
        tls: TLSService,
        ready: Ready,
        screen: Callable[[socket.socket, tuple[str, int]], bool],
    ) -> None:
        acceptor = self.acceptor = TLSAcceptor(
            loop, tls.acceptor.context, ready, tls.config.handshake_timeout
        )

        def make(sock: socket.socket, address: tuple[str, int]) -> None:
            if screen(sock, address):
                acceptor.context = tls.acceptor.context  # the certificate as last (re)loaded
                acceptor.make(sock, address)

        self.listener = Listener(loop, open_listening_socket(host, port), make, "IRC TLS")
        self.port = self.listener.port

    def close(self) -> None:
        """Stop accepting; close the handshakes under way (none of them is a user yet)."""
        self.listener.close()
        self.acceptor.close()
