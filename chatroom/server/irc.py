"""The server's IRC listener (issue #12): its settings and command-line flags, apart from app.py.

An IRC connection is one more wire into the same hub: the listener hands
each accepted socket to the server with an IrcCodec (chatroom.irc), and the
server serves it like any client, with the same limits.
"""

from __future__ import annotations

import argparse
import socket
from dataclasses import dataclass, field

from chatroom import limits
from chatroom.irc.codec import IrcSettings


@dataclass(frozen=True)
class IrcConfig:
    """--irc-port, --server-name, --irc-oper."""

    port: int = 0
    ping_interval: float = limits.IRC_PING_INTERVAL_S
    settings: IrcSettings = field(default_factory=IrcSettings)


def add_irc_arguments(parser: argparse.ArgumentParser) -> None:
    irc = parser.add_argument_group("IRC clients", "serve IRC clients (irssi, WeeChat, HexChat): docs/IRC.md")
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


def irc_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> IrcConfig | None:
    uses_irc = args.server_name is not None or args.irc_oper
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
        args.irc_port, args.irc_ping_interval, IrcSettings(server_name=name, operators=operators)
    )
