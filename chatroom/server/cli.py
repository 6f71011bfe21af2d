"""`chatroom-server` / `python3 server.py`: the command line, the console, and the start."""

from __future__ import annotations

import argparse
import logging
import ssl
import sys
from collections.abc import Callable, Sequence

from chatroom import limits
from chatroom.console import ConsoleHandler, replace_unencodable, say
from chatroom.fdlimit import raise_fd_limit
from chatroom.net.flood import LOOPBACK, FloodPolicy, Network, Rate, parse_networks
from chatroom.net.tls import CertificateError, load_server_context
from chatroom.server.app import CAUGHT_SIGNALS, Server, ServerConfig
from chatroom.server.flooding import FloodSettings
from chatroom.server.irc import add_irc_arguments, irc_config
from chatroom.server.tls import TLSConfig
from chatroom.server.web import WebConfig, wsproto_missing
from chatroom.signals import SignalPipe
from chatroom.store.history import HistoryError, HistoryStore, default_history_path


def _at_least(minimum: float, kind: type[int] | type[float]) -> Callable[[str], float]:
    """An argparse type: a number of `kind` no smaller than `minimum`."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} is below the minimum {minimum:g}")
        return value

    return parse


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatroom-server",
        description=(
            "A CHAT/1.0 (and CHAT/1.1) chat room server. With no arguments it listens on every "
            "interface on a port the OS picks and prints that port. Stop it with Ctrl-C (or SIGTERM): "
            "every client is sent 'DISCONNECT CHAT/1.0' first. SIGHUP reloads the TLS certificate and "
            "key (with --tls-cert), and is otherwise logged and ignored."
        ),
    )
    parser.add_argument("--host", default="", help="address to listen on (default: every interface)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: 0, the OS picks)")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="console detail: info shows connections (and room lines with --log-messages), "
        "warning only problems (default: info)",
    )
    messages = parser.add_mutually_exclusive_group()
    messages.add_argument(
        "--log-messages",
        dest="log_messages",
        action="store_true",
        help="log every room line on the console (off by default: people's words are theirs; "
        "private lines are never logged)",
    )
    messages.add_argument(
        "--no-log-messages",
        "-q",
        dest="log_messages",
        action="store_false",
        help="do not log room lines (the default; kept for scripts that pass it)",
    )
    parser.add_argument(
        "--max-line",
        type=_at_least(64, int),
        default=limits.MAX_LINE_BYTES,
        metavar="BYTES",
        help=f"longest line a client may send, without its LF (default: {limits.MAX_LINE_BYTES})",
    )
    parser.add_argument(
        "--registration-timeout",
        type=_at_least(0.01, float),
        default=limits.REGISTRATION_TIMEOUT_S,
        metavar="SECONDS",
        help="close connections that have not registered by then "
        f"(default: {limits.REGISTRATION_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--delivery-interval",
        type=_at_least(0, float),
        default=limits.DELIVERY_INTERVAL_S * 1000,
        metavar="MS",
        help="under load, gather chat lines for at most this long and send each recipient them "
        "together; the server waits only while one room gets several lines in that time (many "
        "quiet rooms get every line at once); 0 never waits "
        f"(default: {limits.DELIVERY_INTERVAL_S * 1000:g})",
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=_at_least(0, float),
        default=limits.SHUTDOWN_FLUSH_TIMEOUT_S,
        metavar="SECONDS",
        help="on Ctrl-C or SIGTERM, how long to keep writing 'DISCONNECT CHAT/1.0' to clients that "
        "read slowly before exiting; a second Ctrl-C exits at once "
        f"(default: {limits.SHUTDOWN_FLUSH_TIMEOUT_S:g})",
    )
    history = parser.add_mutually_exclusive_group()
    history.add_argument(
        "--db",
        metavar="PATH",
        default=None,
        help="the SQLite file that keeps every room's history (never private lines), or :memory: "
        "to keep it only while the server runs (default: $XDG_DATA_HOME/chatroom/history.sqlite3, "
        "else ~/.local/share/chatroom/history.sqlite3)",
    )
    history.add_argument(
        "--no-history",
        action="store_true",
        help="keep no room history at all (!history answers that there is none; for benchmarks "
        "and servers that must not store what people say)",
    )
    _add_flood_options(parser)
    _add_account_options(parser)
    _add_tls_arguments(parser)
    _add_web_arguments(parser)
    add_irc_arguments(parser)
    return parser


def _rate(text: str) -> Rate:
    """An argparse type: RATE/BURST."""
    try:
        return Rate.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _networks(text: str) -> tuple[Network, ...]:
    try:
        return parse_networks(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_flood_options(parser: argparse.ArgumentParser) -> None:
    """Flood control and connection limits (docs/SECURITY.md, "Flood control")."""
    flood = parser.add_argument_group(
        "flood control and connection limits",
        "On by default for every address but --flood-exempt's (loopback): a connection over its "
        "allowance of lines or bytes is read more slowly (its lines wait, told once with a 429 line) "
        "and disconnected only when the flood goes on. RATE/BURST: BURST at once, then RATE a second.",
    )
    flood.add_argument(
        "--no-flood-control",
        action="store_true",
        help="no flood limits at all, and no per-address or server-wide connection cap unless "
        "--max-per-address or --max-connections is given",
    )
    flood.add_argument(
        "--flood-exempt",
        type=_networks,
        default=parse_networks(LOOPBACK),
        metavar="CIDR[,CIDR...]",
        help="addresses no flood limit applies to, or 'none'; a server behind a proxy, bouncer or "
        "gateway on the same host needs 'none' (everyone then comes from loopback) "
        f"(default: {LOOPBACK})",
    )
    policy = FloodPolicy()
    for option, dest, rate, what in (
        ("--flood-lines", "flood_lines", policy.lines, "lines (of any kind) one connection may send"),
        ("--flood-bytes", "flood_bytes", policy.bytes, "bytes one connection may send"),
        ("--flood-room", "flood_room", policy.room, "chat lines one room takes from all senders together"),
        ("--flood-connects", "flood_connects", policy.connects, "new connections from one address"),
    ):
        flood.add_argument(
            option,
            dest=dest,
            type=_rate,
            default=rate,
            metavar="RATE/BURST",
            help=f"{what} (default: {rate})",
        )
    flood.add_argument(
        "--flood-disconnect-after",
        type=_at_least(0.1, float),
        default=policy.sustained_s,
        metavar="SECONDS",
        help=f"disconnect a connection throttled for most of this long (default: {policy.sustained_s:g})",
    )
    flood.add_argument(
        "--max-per-address",
        type=_at_least(0, int),
        default=None,
        metavar="N",
        help="most connections at once from one address (an IPv6 /64) that is not exempt; 0 means "
        f"no limit (default: {limits.MAX_CONNECTIONS_PER_ADDRESS}; 0 with --no-flood-control)",
    )
    flood.add_argument(
        "--max-connections",
        type=_at_least(0, int),
        default=None,
        metavar="N",
        help="most connections at once in all, from any address; 0 means no limit (default: the "
        f"descriptor limit less {limits.MAX_CONNECTIONS_FD_RESERVE}, none under "
        f"{2 * limits.MAX_CONNECTIONS_FD_RESERVE} descriptors; 0 with --no-flood-control)",
    )


def flood_settings(args: argparse.Namespace, fd_limit: int) -> tuple[FloodSettings, int]:
    """The flood settings and the per-address limit the command line asks for."""
    off = args.no_flood_control
    per_address = args.max_per_address
    if per_address is None:
        per_address = 0 if off else limits.MAX_CONNECTIONS_PER_ADDRESS
    cap = args.max_connections
    if cap is None:
        reserve = limits.MAX_CONNECTIONS_FD_RESERVE
        # Under twice the reserve there is no room for a cap: accept pauses on EMFILE instead.
        cap = 0 if off or fd_limit <= 2 * reserve else fd_limit - reserve
    policy = None
    if not off:
        policy = FloodPolicy(
            lines=args.flood_lines,
            bytes=args.flood_bytes,
            room=args.flood_room,
            connects=args.flood_connects,
            sustained_s=args.flood_disconnect_after,
        )
    return FloodSettings(policy, args.flood_exempt, cap), per_address


def _add_account_options(parser: argparse.ArgumentParser) -> None:
    """Protected names and operators (docs/PROTOCOL.md section 9, docs/SECURITY.md, "Protected names")."""
    parser.add_argument(
        "--operator",
        action="append",
        default=[],
        metavar="NAME",
        help="give the account NAME operator powers (!kick, !ban, !unban, !close) while it is logged in "
        "with its password; repeatable. Claim NAME first, from this machine: "
        "chatroom-client --claim NAME chat://localhost:PORT",
    )
    parser.add_argument(
        "--allow-plain-passwords",
        action="store_true",
        help="accept passwords over plain TCP from other hosts too (by default only from this machine: "
        "anyone on the way could read them)",
    )


def _add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """TLS (issue #10): a second listener for chats:// clients."""
    tls = parser.add_argument_group("TLS", "a TLS listener next to the plain one (clients use chats://)")
    tls.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="the server's certificate in PEM, followed by its chain (e.g. Let's Encrypt's fullchain.pem); "
        "needs --tls-key",
    )
    tls.add_argument("--tls-key", metavar="FILE", help="the certificate's private key in PEM, unencrypted")
    tls.add_argument(
        "--tls-port",
        type=int,
        default=0,
        metavar="PORT",
        help="port of the TLS listener (default: 0, the OS picks; printed at start)",
    )
    tls.add_argument(
        "--tls-handshake-timeout",
        type=_at_least(0.01, float),
        default=limits.TLS_HANDSHAKE_TIMEOUT_S,
        metavar="SECONDS",
        help="close TLS connections whose handshake has not finished by then, at most "
        f"{limits.MAX_TLS_HANDSHAKE_TIMEOUT_S:g} (default: {limits.TLS_HANDSHAKE_TIMEOUT_S:g})",
    )
    tls.add_argument(
        "--no-plain",
        action="store_true",
        help="serve TLS only: no plain CHAT/1.0 listener (and no plain port line)",
    )


def _tls_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> TLSConfig | None:
    """The TLS settings, or one argparse error naming what is missing."""
    given = args.tls_cert is not None or args.tls_key is not None
    if given and (args.tls_cert is None or args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together: give both")
    if not given:
        for flag, used in (
            ("--tls-port", args.tls_port != 0),
            ("--no-plain", args.no_plain),
            ("--tls-handshake-timeout", args.tls_handshake_timeout != limits.TLS_HANDSHAKE_TIMEOUT_S),
        ):
            if used:
                parser.error(f"{flag} needs --tls-cert FILE and --tls-key FILE")
        return None
    if not 0 <= args.tls_port <= 65535:
        parser.error(f"--tls-port {args.tls_port} is out of range 0-65535")
    if args.tls_handshake_timeout > limits.MAX_TLS_HANDSHAKE_TIMEOUT_S:
        parser.error(f"--tls-handshake-timeout is at most {limits.MAX_TLS_HANDSHAKE_TIMEOUT_S:g} seconds")
    return TLSConfig(args.tls_cert, args.tls_key, args.tls_port, args.tls_handshake_timeout)


def _add_web_arguments(parser: argparse.ArgumentParser) -> None:
    """The web gateway (issue #11): the page and WebSocket connections on a port of their own."""
    web = parser.add_argument_group(
        "web browsers",
        "serve the chat page and WebSocket connections (needs the web extra: pip install 'chatroom[web]'); "
        "with --tls-cert the web port speaks https:// and wss://",
    )
    web.add_argument(
        "--web-port",
        type=int,
        default=None,
        metavar="PORT",
        help="port for web browsers (0: the OS picks; printed at start) (default: no web port)",
    )
    web.add_argument(
        "--web-origin",
        metavar="ORIGIN[,ORIGIN...]",
        default=None,
        help="the pages allowed to open a chat WebSocket, e.g. https://chat.example.org (default: the "
        "page's own origin, http(s):// and the Host it was asked for); a client sending no Origin "
        "(not a browser) is always allowed",
    )
    web.add_argument(
        "--web-idle-timeout",
        type=_at_least(0.01, float),
        default=limits.HTTP_IDLE_TIMEOUT_S,
        metavar="SECONDS",
        help="close web connections that send nothing by then (browsers open spare ones) "
        f"(default: {limits.HTTP_IDLE_TIMEOUT_S:g})",
    )
    web.add_argument(
        "--web-request-timeout",
        type=_at_least(0.01, float),
        default=limits.HTTP_REQUEST_TIMEOUT_S,
        metavar="SECONDS",
        help="close web connections whose request is not complete by then "
        f"(default: {limits.HTTP_REQUEST_TIMEOUT_S:g})",
    )


def _web_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> WebConfig | None:
    if args.web_port is None:
        for flag, used in (
            ("--web-origin", args.web_origin is not None),
            ("--web-idle-timeout", args.web_idle_timeout != limits.HTTP_IDLE_TIMEOUT_S),
            ("--web-request-timeout", args.web_request_timeout != limits.HTTP_REQUEST_TIMEOUT_S),
        ):
            if used:
                parser.error(f"{flag} needs --web-port PORT")
        return None
    if not 0 <= args.web_port <= 65535:
        parser.error(f"--web-port {args.web_port} is out of range 0-65535")
    origins: tuple[str, ...] = ()
    if args.web_origin is not None:
        origins = tuple(origin.strip() for origin in args.web_origin.split(",") if origin.strip())
        bad = [origin for origin in origins if "://" not in origin or origin.count("/") > 3]
        if not origins or bad:
            parser.error(f"--web-origin takes origins like https://chat.example.org, not {args.web_origin!r}")
    return WebConfig(args.web_port, origins, args.web_idle_timeout, args.web_request_timeout)


def configure_logging(level: str) -> None:
    """Plain lines on stdout, flushed one by one so a pipe shows the port at once."""
    root = logging.getLogger("chatroom")
    root.handlers[:] = [ConsoleHandler(sys.stdout)]
    root.setLevel(level.upper())
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_arg_parser()
    args = parser.parse_args(argv)
    tls = _tls_config(parser, args)
    web = _web_config(parser, args)
    if web is not None and (missing := wsproto_missing()) is not None:
        print(f"chatroom-server: {missing}", file=sys.stderr)
        return 2
    replace_unencodable(sys.stdout, sys.stderr)
    configure_logging(args.log_level)
    if not 0 <= args.port <= 65535:
        print(f"chatroom-server: port {args.port} is out of range 0-65535", file=sys.stderr)
        return 2
    flood, max_per_address = flood_settings(args, raise_fd_limit())
    config = ServerConfig(
        args.host,
        args.port,
        log_messages=args.log_messages,
        max_line=args.max_line,
        registration_timeout=args.registration_timeout,
        max_per_address=max_per_address,
        delivery_interval=args.delivery_interval / 1000,
        shutdown_timeout=args.shutdown_timeout,
        operators=tuple(args.operator),
        allow_plain_passwords=args.allow_plain_passwords,
        flood=flood,
        tls=tls,
        plain=not args.no_plain,
        web=web,
        irc=irc_config(parser, args),
    )
    tls_context = None
    if tls is not None:  # a bad pair is said before anything listens
        try:
            tls_context = load_server_context(tls.cert, tls.key)
        except CertificateError as error:
            print(f"chatroom-server: TLS: {error}", file=sys.stderr)
            return 2
    try:
        db = None if args.no_history else args.db if args.db is not None else default_history_path()
        return _run(config, args.host, args.port, db, tls_context)
    except KeyboardInterrupt:  # Ctrl-C before the loop took over signals
        return 0


def _run(
    config: ServerConfig, host: str, port: int, db: str | None, tls_context: ssl.SSLContext | None = None
) -> int:
    """Serve until stopped; `db` None keeps no history."""
    signals = SignalPipe(CAUGHT_SIGNALS)
    try:
        history = HistoryStore(db) if db is not None else None
        # Accounts and bans live in the history's file; without history, only while the server runs.
        accounts = history if history is not None else HistoryStore(":memory:")
    except HistoryError as error:
        signals.close()
        print(f"chatroom-server: {error}", file=sys.stderr)
        return 1
    try:
        server = Server(config, history=history, accounts=accounts, tls_context=tls_context)
    except (OSError, HistoryError) as error:
        signals.close()
        accounts.close()
        if history is not None:
            history.close()
        if isinstance(error, HistoryError):
            print(f"chatroom-server: {error}", file=sys.stderr)
            return 1
        where = f"{host or '*'}:{port}"
        if config.tls is not None:  # either listener may be the one that failed
            where = (
                f"{where} or {host or '*'}:{config.tls.port} (TLS)"
                if config.plain
                else f"{host or '*'}:{config.tls.port} (TLS)"
            )
        if config.web is not None:
            where = f"{where} or {host or '*'}:{config.web.port} (web)"
        if config.irc is not None:
            where = f"{where} or {host or '*'}:{config.irc.port} (IRC)"
            if config.irc.tls_port is not None:
                where = f"{where} or {host or '*'}:{config.irc.tls_port} (IRC over TLS)"
        print(f"chatroom-server: cannot listen on {where}: {error.strerror or error}", file=sys.stderr)
        return 1
    # Printed (not only logged) so that the port line appears whatever the log level.
    if config.plain:
        say(f"Will wait for client connections at port {server.port}")
    if server.tls is not None:
        say(f"Will wait for TLS client connections at port {server.tls.port}")
    if server.web is not None:
        say(f"Will wait for web browsers at port {server.web.port}")
    if config.irc is not None:
        say(f"Will wait for IRC clients at port {server.irc_port}")
    if server.irc_tls is not None:
        say(f"Will wait for IRC clients over TLS at port {server.irc_tls.port}")
    say("Waiting for incoming client connections ...")
    say(f"Keeping room history in {db}" if db is not None else "Keeping no room history")
    server.serve_forever(signals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
