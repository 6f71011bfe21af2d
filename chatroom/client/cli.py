"""`chatroom-client`: the command line, and the choice of user interface.

Plain lines when input or output is not a terminal (or with --plain), the line
editor on a terminal (chatroom.client.terminal), full screen with --tui
(chatroom.client.tui); the first two are driven by chatroom.client.line.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import io
import os
import socket
import sys
from collections.abc import Sequence
from typing import TextIO

from chatroom.client.connect import ClientError, connect
from chatroom.client.exitcodes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from chatroom.client.frontend import Frontend, PlainFrontend
from chatroom.client.line import ChatClient
from chatroom.client.session import NoticeKind
from chatroom.client.tls import INSECURE_WARNING, TLSOptions
from chatroom.console import discard_output
from chatroom.limits import MAX_PASSWORD_BYTES
from chatroom.protocol import VERSION, VERSION_1_1, Credentials, is_valid_username
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

protected names:
  --login proves your name with its password, --claim protects a free name
  with one, --change-password sets a new one. The password is read from the
  CHATROOM_PASSWORD variable (the new one from CHATROOM_NEW_PASSWORD), else
  asked for at a prompt that does not echo; never from the command line.

example: chatroom-client alice chat://localhost:54307
         chatroom-client alice chats://chat.example.org:6697   (TLS)"""


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
    parser.add_argument(
        "address",
        help="the server, as chat://<host>:<port>, or chats://<host>:<port> for TLS (the server's "
        "certificate and host name are verified against the system's trusted authorities)",
    )
    parser.add_argument(
        "--cafile",
        metavar="FILE",
        help="chats:// only: also trust the certificate authority in FILE (PEM), e.g. a private CA",
    )
    parser.add_argument(
        "--insecure-no-verify",
        action="store_true",
        help="chats:// only, FOR TESTING: do not verify the server's certificate or host name "
        "(encrypted, but anyone in between can pretend to be the server); warns every time",
    )
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
    accounts = parser.add_argument_group("protected names (CHAT/1.1)")
    accounts.add_argument("--login", action="store_true", help="give your name's password (it is protected)")
    accounts.add_argument(
        "--claim",
        action="store_true",
        help="protect your name with a password from now on (a login if it is yours already)",
    )
    accounts.add_argument(
        "--change-password", action="store_true", help="log in, and change your name's password"
    )
    return parser


class PasswordError(Exception):
    """No usable password; the message is one sentence."""


def read_password(variable: str, prompt: str, *, confirm: bool = False) -> str:
    """From the environment variable, else a prompt without echo (on the terminal; before connecting)."""
    password = os.environ.get(variable)
    if password is None:
        try:
            password = getpass.getpass(prompt)
            if confirm and getpass.getpass("Once more: ") != password:
                raise PasswordError("The two passwords differ.")
        except EOFError:
            raise PasswordError(f"No password given (set {variable}, or run on a terminal).") from None
    if not password:
        raise PasswordError("The password is empty.")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise PasswordError(f"A password is at most {MAX_PASSWORD_BYTES} bytes.")
    return password


def credentials_from(args: argparse.Namespace) -> Credentials | None:
    """What --login, --claim or --change-password ask for; raises PasswordError."""
    if not (args.login or args.claim or args.change_password):
        return None
    if args.chat_1_0:
        raise PasswordError("Passwords need CHAT/1.1: drop --chat-1.0.")
    if args.claim and args.change_password:
        raise PasswordError("Use --claim or --change-password, not both.")
    password = read_password("CHATROOM_PASSWORD", f"Password for {args.username}: ", confirm=args.claim)
    new_password = None
    if args.change_password:
        new_password = read_password("CHATROOM_NEW_PASSWORD", "New password: ", confirm=True)
    return Credentials(password, args.claim, new_password)


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
    tls = None
    if (args.cafile is not None or args.insecure_no_verify) and not address.tls:
        flag = "--cafile" if args.cafile is not None else "--insecure-no-verify"
        print(f"chatroom-client: {flag} applies only to chats:// addresses", file=sys.stderr)
        return EXIT_USAGE
    if address.tls:
        if args.insecure_no_verify:
            print(INSECURE_WARNING, file=sys.stderr)
        try:
            tls = TLSOptions(args.cafile, args.insecure_no_verify).context()
        except OSError as error:  # ssl.SSLError too: a file that is no PEM certificate
            why = error.strerror.lower() if error.strerror else "it holds no PEM certificate"
            print(f"chatroom-client: cannot use --cafile {args.cafile}: {why}", file=sys.stderr)
            return EXIT_USAGE
    try:
        credentials = credentials_from(args)
    except PasswordError as error:
        print(f"chatroom-client: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    if args.tui:
        from chatroom.client.tui import run_tui

        return run_tui(args.username, address, version=version, credentials=credentials, tls=tls)
    frontend = make_frontend(args)

    def open_connection() -> socket.socket:
        return connect(address, tls=tls) if address.tls else connect(address)

    try:
        frontend.show_notice("Connecting to server ...")
        sock = open_connection()
        frontend.show_notice("Connection to server established. Sending intro message...")
        client = ChatClient(
            sock,
            args.username,
            frontend,
            version=version,
            connect_again=open_connection,
            credentials=credentials,
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
