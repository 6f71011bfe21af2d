"""chatroom-bench: measure a CHAT/1.0 server (ours, started here, or any at chat://host:port).

Exit status: 0 when every measurement was clean, 1 when one lost, duplicated
or garbled a line, hit an error, or the started server did not exit 0 (and
when the run could not go on), 2 for a usage mistake, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from typing import Any

from chatroom.bench import options as defaults
from chatroom.bench.body import DEFAULT_BODY_BYTES, header
from chatroom.bench.connections import run_setups_measurement
from chatroom.bench.errors import BenchError
from chatroom.bench.fanout import run_fanout
from chatroom.bench.options import WORKLOADS, OptionError, Options
from chatroom.bench.progress import Progress
from chatroom.bench.report import Report, command_line, machine, now_text, text, write_json
from chatroom.bench.rooms import run_rooms
from chatroom.bench.runner import Bench
from chatroom.bench.scale import run_scale
from chatroom.bench.soak import run_soak
from chatroom.limits import MAX_ROOMS
from chatroom.protocol.address import EXPECTED_FORM, AddressError, parse_chat_address

PROG = "chatroom-bench"
MAX_SENDERS = 9999  # sender names carry 4 digits
MAX_CLIENTS = 999_999  # other names carry 6


def _list(values: Sequence[float]) -> str:
    return ",".join(f"{value:g}" for value in values)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows '(default: X)' only where there is a default worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False) or "default:" in text:
            return text
        return super()._get_help_string(action) or text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [WORKLOAD ...] [chat://HOST:PORT] [options]",
        description=(
            "Benchmark a CHAT/1.0 server. WORKLOAD is fanout (everyone hears every line), scale (idle "
            "users), soak (users come and go), rooms (users in rooms, some lines private; the server "
            "must offer section 6 of docs/PROTOCOL.md) or all (default: all). "
            "Without an address it starts our own server (python -m chatroom.server) for each "
            "measurement, reads its CPU, memory and descriptors from /proc, and stops it with SIGINT. "
            "With chat://HOST:PORT it measures that server, which may be any CHAT/1.0 implementation "
            "on any machine (its CPU and memory only with --server-pid). Results: a table on stdout, "
            "every number with --json, a chart with --plot. See docs/PERFORMANCE.md."
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="WORKLOAD|ADDRESS",
        help="workloads to run (fanout, scale, soak, rooms, all) and/or the server's chat://host:port",
    )
    general = parser.add_argument_group("general")
    general.add_argument(
        "--workload",
        "-w",
        metavar="NAMES",
        default=None,
        help="workloads, comma-separated (same as WORKLOAD)",
    )
    general.add_argument(
        "--address",
        "-a",
        metavar="chat://HOST:PORT",
        default=None,
        help="the server to measure, chat://host:port",
    )
    general.add_argument(
        "--server-pid",
        metavar="PID",
        type=int,
        default=None,
        help="PID of a server given by address, to read its CPU and RSS",
    )
    general.add_argument(
        "--workers",
        metavar="N",
        type=int,
        default=None,
        help="load-generator processes (default: all cores but the server's, at least 1)",
    )
    general.add_argument(
        "--server-cpus",
        metavar="CPUS",
        default="none",
        help="pin the started server to these CPUs, e.g. 0 or 0-1",
    )
    general.add_argument(
        "--lg-cpus", metavar="CPUS", default="none", help="pin the load generator to these CPUs, e.g. 1"
    )
    general.add_argument(
        "--body-bytes",
        metavar="BYTES",
        type=int,
        default=DEFAULT_BODY_BYTES,
        help="chat text per message in bytes (at least the 42-byte header)",
    )
    general.add_argument(
        "--ramp-timeout",
        metavar="SECONDS",
        type=float,
        default=defaults.DEFAULT_RAMP_TIMEOUT,
        help="seconds allowed for registering",
    )
    general.add_argument(
        "--json", dest="json_path", metavar="FILE", help="write every number to FILE as JSON"
    )
    general.add_argument(
        "--plot",
        dest="plot_path",
        metavar="FILE.png",
        help="draw the results (needs matplotlib: chatroom[bench])",
    )
    fanout = parser.add_argument_group(
        "fanout: S of C clients send at stepped rates, all others receive (rooms steps too)"
    )
    fanout.add_argument(
        "--clients",
        metavar="LIST",
        default=_list(defaults.DEFAULT_CLIENTS),
        help="client counts C, comma-separated",
    )
    fanout.add_argument(
        "--senders", metavar="S", type=int, default=defaults.DEFAULT_SENDERS, help="senders S among them"
    )
    fanout.add_argument(
        "--rates",
        metavar="LIST",
        default=_list(defaults.DEFAULT_RATES),
        help="total msgs/s per step, comma-separated (10k ok)",
    )
    fanout.add_argument(
        "--step-seconds",
        metavar="SECONDS",
        type=float,
        default=defaults.DEFAULT_STEP_SECONDS,
        help="sending time per step",
    )
    fanout.add_argument(
        "--drain-seconds",
        metavar="SECONDS",
        type=float,
        default=defaults.DEFAULT_DRAIN_SECONDS,
        help="after a step, how long the last lines may take to arrive",
    )
    fanout.add_argument(
        "--settle-seconds",
        metavar="SECONDS",
        type=float,
        default=defaults.DEFAULT_SETTLE_SECONDS,
        help="after a short drain, at most this long reading stragglers (counted late, not lost)",
    )
    fanout.add_argument(
        "--keep-going", action="store_true", help="run every rate step, not stop after the first failing one"
    )
    fanout.add_argument(
        "--tls",
        action="store_true",
        help="measure fanout over TLS too, next to plain TCP (each on a fresh server serving only that), "
        "and new connections per second both ways (TLS: handshakes/s) for --step-seconds each; a "
        "started server only, with a throwaway certificate (needs trustme: pip install 'chatroom[bench]')",
    )
    fanout.add_argument(
        "--websocket",
        action="store_true",
        help="measure fanout over WebSocket too, next to plain TCP (each on a fresh server; the "
        "WebSocket clients on its --web-port, one line per frame); a started server only (its web "
        "gateway needs wsproto: pip install 'chatroom[web]')",
    )
    fanout.add_argument(
        "--sample-every",
        metavar="N",
        type=int,
        default=defaults.DEFAULT_SAMPLE_EVERY,
        help="time a few lines of one in this many received chunks (rounded up to a power of 2)",
    )
    fanout.add_argument(
        "--coalesce-ms",
        metavar="MS",
        type=float,
        default=defaults.DEFAULT_COALESCE_MS,
        help="receivers poll at most once per this many ms (0: at once)",
    )
    scale = parser.add_argument_group("scale: N idle registered clients")
    scale.add_argument(
        "--sizes",
        metavar="LIST",
        default=_list(defaults.DEFAULT_SIZES),
        help="client counts N, comma-separated",
    )
    scale.add_argument(
        "--broadcast-timeout",
        metavar="SECONDS",
        type=float,
        default=defaults.DEFAULT_BROADCAST_TIMEOUT,
        help="seconds for one message to reach all N-1",
    )
    soak = parser.add_argument_group("soak: clients connect, register, chat and leave, continuously")
    soak.add_argument(
        "--duration",
        metavar="SECONDS",
        type=float,
        default=defaults.DEFAULT_DURATION,
        help="seconds of churn",
    )
    soak.add_argument(
        "--soak-rate",
        metavar="MSGS",
        type=float,
        default=defaults.DEFAULT_SOAK_RATE,
        help="msgs/s, all sessions",
    )
    soak.add_argument(
        "--soak-sessions",
        metavar="N",
        type=int,
        default=defaults.DEFAULT_SOAK_SESSIONS,
        help="sessions in flight at once",
    )
    soak.add_argument(
        "--soak-residents",
        metavar="N",
        type=int,
        default=defaults.DEFAULT_SOAK_RESIDENTS,
        help="clients that stay and must receive every line",
    )
    soak.add_argument(
        "--session-messages",
        metavar="N",
        type=int,
        default=defaults.DEFAULT_SESSION_MESSAGES,
        help="lines each session sends before it leaves",
    )
    soak.add_argument(
        "--sample-interval",
        metavar="SECONDS",
        type=float,
        default=defaults.DEFAULT_SAMPLE_INTERVAL,
        help="seconds between samples of the server's RSS and fds",
    )
    rooms = parser.add_argument_group(
        "rooms: N users in K rooms, S send at stepped rates (step options as in fanout), some privately"
    )
    rooms.add_argument(
        "--room-users",
        metavar="N",
        type=int,
        default=defaults.DEFAULT_ROOM_USERS,
        help="users N; user i joins room #r<i mod K>",
    )
    rooms.add_argument(
        "--rooms", metavar="K", type=int, default=defaults.DEFAULT_ROOMS, help="rooms K (at most N)"
    )
    rooms.add_argument(
        "--room-senders",
        metavar="S",
        type=int,
        default=None,
        help="senders among the users: users 0 to S-1 (default: K, one per room)",
    )
    rooms.add_argument(
        "--room-rates",
        metavar="LIST",
        default=_list(defaults.DEFAULT_ROOM_RATES),
        help="total lines/s per step, private ones included, comma-separated (10k ok)",
    )
    rooms.add_argument(
        "--private-share",
        metavar="FRACTION",
        type=float,
        default=defaults.DEFAULT_PRIVATE_SHARE,
        help="share of the lines sent as '!msg USER ...' to a random other user",
    )
    rooms.add_argument(
        "--history",
        metavar="on,off",
        default=None,
        help="the started server's room history: on (a new --db file in a temporary directory), "
        "off (--no-history), or on,off for both, one after the other (default: on)",
    )
    return parser


def options_from(args: argparse.Namespace) -> Options:
    """Check the command line; raise OptionError or AddressError with one sentence."""
    workloads: list[str] = []
    address_text = args.address
    for target in args.targets:
        if "://" in target:
            if address_text is not None and address_text != target:
                raise OptionError(f"two addresses given: {address_text} and {target}")
            address_text = target
        else:
            workloads += _workloads(target)
    if args.workload:
        workloads += _workloads(args.workload)
    chosen = tuple(w for w in WORKLOADS if w in workloads) or WORKLOADS
    address = parse_chat_address(address_text) if address_text is not None else None
    if args.server_pid is not None and address is None:
        raise OptionError(
            "--server-pid is for a server given by address; a started server is measured anyway"
        )
    server_cpus = defaults.parse_cpus(args.server_cpus, "--server-cpus")
    lg_cpus = defaults.parse_cpus(args.lg_cpus, "--lg-cpus")
    if server_cpus and address is not None:
        raise OptionError(
            "--server-cpus pins a server this benchmark starts; it cannot pin one given by address"
        )
    workers = args.workers if args.workers is not None else defaults.default_workers(server_cpus, lg_cpus)
    _at_least(workers, 1, "--workers")
    minimum_body = len(header(0, 0, 0))
    _at_least(args.body_bytes, minimum_body, "--body-bytes")
    _at_most(args.body_bytes, 4000, "--body-bytes")
    clients = defaults.parse_int_list(args.clients, "--clients", minimum=2)
    _at_most(max(clients), MAX_CLIENTS, "--clients")
    _at_least(args.senders, 1, "--senders")
    _at_most(args.senders, MAX_SENDERS, "--senders")
    sizes = defaults.parse_int_list(args.sizes, "--sizes", minimum=2)
    _at_most(max(sizes), MAX_CLIENTS, "--sizes")
    for name in (
        "step_seconds",
        "duration",
        "soak_rate",
        "sample_interval",
        "ramp_timeout",
        "broadcast_timeout",
    ):
        if not getattr(args, name) > 0:
            raise OptionError(f"--{name.replace('_', '-')} must be above 0")
    for name in ("drain_seconds", "settle_seconds", "coalesce_ms"):
        _at_least(getattr(args, name), 0, f"--{name.replace('_', '-')}")
    _at_least(args.sample_every, 1, "--sample-every")
    _at_least(args.soak_sessions, 1, "--soak-sessions")
    _at_least(args.soak_residents, 1, "--soak-residents")
    _at_least(args.session_messages, 1, "--session-messages")
    _at_least(args.room_users, 2, "--room-users")
    _at_most(args.room_users, MAX_CLIENTS, "--room-users")
    _at_least(args.rooms, 1, "--rooms")
    _at_most(args.rooms, min(args.room_users, MAX_ROOMS - 1), "--rooms")  # (#lobby is one)
    room_senders = args.room_senders if args.room_senders is not None else args.rooms
    _at_least(room_senders, 1, "--room-senders")
    _at_most(room_senders, args.room_users, "--room-senders")
    _at_least(args.private_share, 0, "--private-share")
    _at_most(args.private_share, 1, "--private-share")
    history = defaults.parse_history(args.history) if args.history is not None else defaults.DEFAULT_HISTORY
    if args.tls and address is not None:
        raise OptionError(
            "--tls measures a server this benchmark starts (with a throwaway certificate), not one given "
            "by address"
        )
    if args.websocket and address is not None:
        raise OptionError(
            "--websocket measures a server this benchmark starts (on its web port), not one given by address"
        )
    if address is not None and args.history is not None:
        raise OptionError(
            "--history chooses how this benchmark starts our server; a server given by address keeps "
            "its own history settings"
        )
    return Options(
        workloads=chosen,
        address=address,
        server_pid=args.server_pid,
        workers=workers,
        server_cpus=server_cpus,
        lg_cpus=lg_cpus,
        body_bytes=args.body_bytes,
        clients=clients,
        senders=args.senders,
        rates=defaults.parse_rates(args.rates),
        step_seconds=args.step_seconds,
        drain_seconds=args.drain_seconds,
        settle_seconds=args.settle_seconds,
        keep_going=args.keep_going,
        sample_every=args.sample_every,
        coalesce_ms=args.coalesce_ms,
        sizes=sizes,
        ramp_timeout=args.ramp_timeout,
        broadcast_timeout=args.broadcast_timeout,
        duration=args.duration,
        soak_rate=args.soak_rate,
        soak_sessions=args.soak_sessions,
        soak_residents=args.soak_residents,
        session_messages=args.session_messages,
        sample_interval=args.sample_interval,
        room_users=args.room_users,
        rooms=args.rooms,
        room_senders=room_senders,
        room_rates=defaults.parse_rates(args.room_rates, "--room-rates"),
        private_share=args.private_share,
        history=history if address is None else ("as it runs",),
        tls=args.tls,
        websocket=args.websocket,
        json_path=args.json_path,
        plot_path=args.plot_path,
    )


def _workloads(text: str) -> list[str]:
    names: list[str] = []
    for part in text.split(","):
        part = part.strip().lower()
        if part == "all":
            names += WORKLOADS
        elif part in WORKLOADS:
            names.append(part)
        else:
            raise OptionError(
                f"unknown workload {part!r}: expected fanout, scale, soak, rooms or all, "
                f"or an address {EXPECTED_FORM}"
            )
    return names


def _at_least(value: float, minimum: float, what: str) -> None:
    if value < minimum:
        raise OptionError(f"{what} must be at least {minimum:g} (got {value:g})")


def _at_most(value: float, maximum: float, what: str) -> None:
    if value > maximum:
        raise OptionError(f"{what} must be at most {maximum:g} (got {value:g})")


def settings(options: Options) -> dict[str, Any]:
    data = dataclasses.asdict(options)
    data["address"] = str(options.address) if options.address else None
    for key in ("server_cpus", "lg_cpus"):
        data[key] = sorted(data[key]) if data[key] else None
    data.pop("notes", None)
    return data


def run(options: Options, report: Report, progress: Progress) -> None:
    bench = Bench(options, progress)
    report.background_cpu_pct = bench.background_cpu_pct
    try:
        for workload in options.workloads:
            if workload == "fanout":
                for clients in options.clients:
                    report.fanout.append(run_fanout(bench, clients))
                    if options.tls:  # side by side: the same measurement over TLS
                        report.fanout.append(run_fanout(bench, clients, tls=True))
                    if options.websocket:  # ... and over WebSocket
                        report.fanout.append(run_fanout(bench, clients, websocket=True))
                if options.tls:
                    report.setups.append(run_setups_measurement(bench, tls=False))
                    report.setups.append(run_setups_measurement(bench, tls=True))
            elif workload == "scale":
                for size in options.sizes:
                    report.scale.append(run_scale(bench, size))
            elif workload == "rooms":
                for history in options.history:
                    report.rooms.append(run_rooms(bench, history))
            else:
                report.soak = run_soak(bench)
    finally:
        progress.finish()
        bench.close()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(arguments)
    try:
        options = options_from(args)
    except (OptionError, AddressError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    try:
        if options.plot_path:
            from chatroom.bench.plot import require_matplotlib

            require_matplotlib()
        if options.tls:
            from chatroom.bench.tls import require_trustme

            require_trustme()
        if options.websocket:
            from chatroom.bench.websocket import require_wsproto

            require_wsproto()
    except BenchError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    progress = Progress()
    report = Report(command_line(arguments), machine(), settings(options), started=now_text())
    report.notes = options.notes
    began = time.monotonic()
    status = 0
    failure = ""
    try:
        run(options, report, progress)
    except BenchError as error:
        failure = str(error)
        status = 1
    except KeyboardInterrupt:
        failure = "interrupted"
        status = 130
    report.seconds = time.monotonic() - began
    measured = bool(report.fanout or report.scale or report.soak or report.rooms or report.setups)
    if measured:
        sys.stdout.write(text(report))
        sys.stdout.flush()
    try:
        if options.json_path and (measured or not failure):
            write_json(report, options.json_path)
        if options.plot_path and measured:
            from chatroom.bench.plot import write_plot

            write_plot(report, options.plot_path)
    except OSError as error:
        print(f"{PROG}: cannot write {error.filename}: {error.strerror}", file=sys.stderr)
        status = status or 1
    except BenchError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        status = status or 1
    if failure:
        print(f"{PROG}: {failure}", file=sys.stderr)
        return status
    return 0 if report.clean else 1
