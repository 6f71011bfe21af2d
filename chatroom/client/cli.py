"""`chatroom-client`: the command line, and the choice of user interface.

Plain lines when input or output is not a terminal (or with --plain), the line
editor on a terminal (chatroom.client.terminal), full screen with --tui
(chatroom.client.tui); the first two are driven by chatroom.client.line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from chatroom.client.connect import ClientError, connect
from chatroom.client.exitcodes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from chatroom.client.frontend import Frontend, PlainFrontend
from chatroom.client.line import ChatClient
from chatroom.client.session import NoticeKind
from chatroom.console import discard_output
from chatroom.protocol import VERSION, VERSION_1_1, is_valid_username
from chatroom.protocol.address import AddressError, parse_chat_address

USERNAME_RULES = (
    "1 to 32 characters, no spaces or control characters, not starting with @, # or ! nor ending with :"
)

EPILOG = f"""\
signals:
  SIGINT, SIGTERM, SIGHUP (the terminal went away) and SIGQUIT leave the way
  Ctrl-D does: DISCONNECT is sent, the terminal is restored, exit status 0.
  SIGTSTP (Ctrl-Z) suspends the client with the terminal restored; SIGCONT
  (fg) resumes it where it was.

exit status:
  {EXIT_OK}  you left, or the server said DISCONNECT
  {EXIT_FAILURE}  connecting failed, registration was refused or timed out, or the
     connection was lost
  {EXIT_USAGE}  a bad command line (or --tui without Textual)

example: chatroom-client alice chat://localhost:54307"""


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatroom-client",
        description=(
            "Chat with everyone on a CHAT/1.0 or CHAT/1.1 server. Type a line and press Enter to\n"
            "send it; Tab completes commands, #rooms and names; !help lists the commands;\n"
            "Ctrl-D, Ctrl-C or !exit leaves."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("username", help=f"your name in the chat ({USERNAME_RULES})")
    parser.add_argument("address", help="the server, as chat://<host>:<port>")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="line mode: no colours, no line editing, no escape codes (automatic when not on a terminal)",
    )
    parser.add_argument(
        "--no-color", action="store_true", help="no colours (also when the NO_COLOR variable is set)"
    )
    parser.add_argument(
        "--bell",
        action="store_true",
        help="ring the terminal bell when a line mentions you or is private to you",
    )
    parser.add_argument("--timestamps", action="store_true", help="show the time before each line")
    parser.add_argument(
        "--tui",
        action="store_true",
        help="full-screen mode (needs the optional extra: pip install 'chatroom[tui]')",
    )
    parser.add_argument(
        "--chat-1.0",
        dest="chat_1_0",
        action="store_true",
        help=(
            "speak CHAT/1.0 only (one room, no events). By default the client asks for CHAT/1.1 "
            "and connects again with CHAT/1.0 when the server knows only that"
        ),
    )
    return parser


def make_frontend(args: argparse.Namespace) -> Frontend:
    if args.plain or not (sys.stdin.isatty() and sys.stdout.isatty()):
        return PlainFrontend()
    try:
        from chatroom.client.terminal import TerminalFrontend, color_enabled
    except ImportError:  # no termios (Windows): line mode still works
        return PlainFrontend()

    return TerminalFrontend(
        username=args.username,
        color=color_enabled(sys.stdout, args.no_color),
        bell=args.bell,
        timestamps=args.timestamps,
    )


def replace_what_cannot_be_shown(*streams: TextIO) -> None:
    """Write '?' for what the output's encoding cannot carry, instead of dying on it.

    A terminal or pipe set to ASCII or Latin-1 (PYTHONIOENCODING, an old
    locale) would otherwise end the client at the first 'café' from the room.
    """
    for stream in streams:
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    replace_what_cannot_be_shown(sys.stdout, sys.stderr)
    parser = build_arg_parser()
    args = parser.parse_args(argv)
    if not is_valid_username(args.username) or args.username.endswith(":"):  # ':' last: docs/PROTOCOL.md 3
        print(f"chatroom-client: invalid username {args.username!r}: {USERNAME_RULES}", file=sys.stderr)
        return EXIT_USAGE
    try:
        address = parse_chat_address(args.address)
    except AddressError as error:
        print(f"chatroom-client: {error}", file=sys.stderr)
        return EXIT_USAGE
    version = VERSION if args.chat_1_0 else VERSION_1_1
    if args.tui:
        from chatroom.client.tui import run_tui

        return run_tui(args.username, address, version=version)
    frontend = make_frontend(args)
    try:
        frontend.show_notice("Connecting to server ...")
        sock = connect(address)
        frontend.show_notice("Connection to server established. Sending intro message...")
        client = ChatClient(
            sock, args.username, frontend, version=version, connect_again=lambda: connect(address)
        )
        return client.run()
    except ClientError as error:
        frontend.show_notice(str(error), NoticeKind.ERROR)
        return EXIT_FAILURE
    except KeyboardInterrupt:  # Ctrl-C while connecting, before signals reach the loop
        return EXIT_OK
    except BrokenPipeError:  # our output was closed (e.g. piped into head)
        discard_output(sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:  # a user never sees a traceback
        if os.environ.get("CHATROOM_DEBUG"):
            raise
        with contextlib.suppress(OSError, ValueError):  # the error may be that the terminal is gone
            frontend.show_notice(f"chatroom-client: unexpected error: {error!r}", NoticeKind.ERROR)
        return EXIT_FAILURE
    finally:
        frontend.close()


if __name__ == "__main__":
    sys.exit(main())
