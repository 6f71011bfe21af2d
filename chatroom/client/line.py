"""The CHAT/1.0 terminal client: one thread, `selectors` over the socket, input and signals.

The protocol lives in chatroom.protocol, the user interface in a frontend
(chatroom.frontend for pipes, chatroom.terminal for a terminal); this module
connects them: it owns the socket and decides what happens next.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Sequence
from typing import Literal

from chatroom.client import commands
from chatroom.client.frontend import Frontend, NoticeKind, PlainFrontend, Quit, Submit, UserAction
from chatroom.console import discard_output
from chatroom.limits import CLIENT_SENDQ_MAX_BYTES, CONNECT_TIMEOUT_S, FAREWELL_TIMEOUT_S, MAX_LINE_BYTES
from chatroom.protocol import (
    ClientConnection,
    ClientState,
    ConnectionLost,
    Incoming,
    Registered,
    RegistrationRefused,
    ServerClosing,
    is_valid_username,
)
from chatroom.protocol.address import AddressError, ChatAddress, parse_chat_address
from chatroom.signals import SignalPipe
from chatroom.text import printable

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

USERNAME_RULES = "1 to 32 characters, no spaces or control characters, not starting with @, # or !"

_Source = Literal["socket", "input", "signal"]


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


def connect(address: ChatAddress, timeout: float = CONNECT_TIMEOUT_S) -> socket.socket:
    """A connected TCP socket, or ClientError saying in plain words why not."""
    try:
        sock = socket.create_connection((address.host, address.port), timeout=timeout)
    except OSError as error:
        raise ClientError(describe_connect_error(address, error, timeout)) from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


class ChatClient:
    """Runs one session: register, then relay between the user and the server until one leaves."""

    def __init__(self, sock: socket.socket, username: str, frontend: Frontend) -> None:
        self.sock = sock
        self.protocol = ClientConnection(username)
        self.frontend = frontend
        self.selector = selectors.DefaultSelector()
        self._out = bytearray()
        self._exit_code: int | None = None
        self._input_fd: int | None = None
        self._writing = False

    def run(self, registration_timeout: float = CONNECT_TIMEOUT_S) -> int:
        signals = SignalPipe(_client_signals())
        try:
            self.selector.register(self.sock, selectors.EVENT_READ, "socket")
            self.selector.register(signals.fileno(), selectors.EVENT_READ, "signal")
            self._send(self.protocol.register())
            deadline = time.monotonic() + registration_timeout
            while self._exit_code is None:
                self._sync_input()
                self._flush()
                timeout = None
                if self.protocol.state is ClientState.AWAITING_REPLY:
                    timeout = deadline - time.monotonic()
                    if timeout <= 0:
                        raise ClientError(
                            f"The server did not answer the registration within {registration_timeout:g} s."
                        )
                for key, _ in self.selector.select(timeout):
                    source: _Source = key.data
                    if source == "socket":
                        self._on_socket()
                    elif source == "input":
                        self._on_actions(self.frontend.read_input())
                    else:
                        for signum in signals.read():
                            self._on_actions(self._on_signal(signum))
                    if self._exit_code is not None:
                        break
            return self._exit_code
        finally:
            signals.close()
            self.selector.close()
            self.sock.close()

    # -- from the server -------------------------------------------------------------

    def _on_socket(self) -> None:
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            raise ClientError(f"Lost the connection to the server: {describe_os_error(error)}.") from None
        batch: list[str] = []
        for event in self.protocol.receive(data):
            if isinstance(event, Incoming):
                batch.append(event.line)
                continue
            if batch:
                self.frontend.show_incoming(batch)
                batch = []
            if isinstance(event, Registered):
                self.frontend.show_notice("")
                self.frontend.show_notice("Registration successful.  Ready for messaging!")
                self.frontend.start()
                self.frontend.set_ready(True)
            elif isinstance(event, RegistrationRefused):
                self.frontend.show_notice(f"Registration refused: {printable(event.reply)}", NoticeKind.ERROR)
                self._exit_code = EXIT_FAILURE
            elif isinstance(event, ServerClosing):
                self.frontend.show_notice("Disconnected from server ... exiting!")
                self._exit_code = EXIT_OK
            elif isinstance(event, ConnectionLost):
                raise ClientError(f"Lost the connection: {event.reason}.")
        if batch:
            self.frontend.show_incoming(batch)

    # -- from the user ---------------------------------------------------------------

    def _on_signal(self, signum: int) -> list[UserAction]:
        if self.protocol.state is not ClientState.REGISTERED and signum in (signal.SIGINT, signal.SIGTERM):
            return [Quit()]  # the frontend is not started yet; leave at once
        return self.frontend.handle_signal(signum)

    def _on_actions(self, actions: Sequence[UserAction]) -> None:
        for action in actions:
            if self._exit_code is not None:
                return
            if isinstance(action, Quit):
                self._leave()
            elif isinstance(action, Submit):
                self._on_line(action.text)

    def _on_line(self, line: str) -> None:
        meaning = commands.interpret(line)
        if isinstance(meaning, commands.SendText):
            data = self.protocol.chat(meaning.text)
            if len(data) > MAX_LINE_BYTES + 1:  # the server would cut us off (413)
                self.frontend.show_notice(
                    f"Not sent: the line is longer than the protocol's {MAX_LINE_BYTES} bytes.",
                    NoticeKind.ERROR,
                )
                return
            self._send(data)
            self.frontend.show_sent(meaning.text)
        elif isinstance(meaning, commands.RunCommand):
            if meaning.command is commands.Command.EXIT:
                self._leave()
            elif meaning.command is commands.Command.CLEAR:
                self.frontend.clear()
            else:
                self.frontend.show_notice(commands.HELP_TEXT)
        elif isinstance(meaning, commands.LocalError):
            self.frontend.show_notice(meaning.message, NoticeKind.ERROR)

    def _leave(self) -> None:
        """Say DISCONNECT (if registered), write it out, and end the session with status 0."""
        if self.protocol.state is ClientState.REGISTERED:
            self._send(self.protocol.disconnect())
            self._drain(timeout=FAREWELL_TIMEOUT_S)
        self._exit_code = EXIT_OK

    # -- bytes out -------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        self._out += data

    def _flush(self) -> None:
        if self._out:
            try:
                sent = self.sock.send(self._out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as error:
                raise ClientError(f"Lost the connection to the server: {describe_os_error(error)}.") from None
            del self._out[:sent]
        wants_write = bool(self._out)
        if wants_write != self._writing:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if wants_write else 0)
            self.selector.modify(self.sock, events, "socket")
            self._writing = wants_write

    def _drain(self, timeout: float) -> None:
        """Write everything queued (the farewell), waiting at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self._out and time.monotonic() < deadline:
            self._flush()
            if self._out:
                with selectors.DefaultSelector() as waiter:
                    waiter.register(self.sock, selectors.EVENT_WRITE)
                    waiter.select(max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def _sync_input(self) -> None:
        """Watch the user's input only once registered, and only while it is open."""
        # While the server is not reading what we sent, stop reading the user (backpressure).
        open_for_input = (
            self.protocol.state is ClientState.REGISTERED and len(self._out) < CLIENT_SENDQ_MAX_BYTES
        )
        wanted = self.frontend.input_fileno() if open_for_input else None
        if wanted == self._input_fd:
            return
        if self._input_fd is not None:
            self.selector.unregister(self._input_fd)
        if wanted is not None:
            self.selector.register(wanted, selectors.EVENT_READ, "input")
        self._input_fd = wanted


def _client_signals() -> tuple[int, ...]:
    wanted = [signal.SIGINT, signal.SIGTERM]
    if hasattr(signal, "SIGWINCH"):
        wanted.append(signal.SIGWINCH)
    return tuple(wanted)


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatroom-client",
        description=(
            "Chat with everyone on a CHAT/1.0 server. Type a line and press Enter to send it; "
            "!help lists the client's commands; Ctrl-D, Ctrl-C or !exit leaves."
        ),
        epilog="Example: chatroom-client alice chat://localhost:54307",
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
    parser.add_argument("--bell", action="store_true", help="ring the terminal bell when a line mentions you")
    parser.add_argument("--timestamps", action="store_true", help="show the time before each line")
    parser.add_argument(
        "--tui",
        action="store_true",
        help="full-screen mode (needs the optional extra: pip install 'chatroom[tui]')",
    )
    return parser


def _make_frontend(args: argparse.Namespace) -> Frontend:
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_arg_parser()
    args = parser.parse_args(argv)
    if not is_valid_username(args.username):
        print(f"chatroom-client: invalid username {args.username!r}: {USERNAME_RULES}", file=sys.stderr)
        return EXIT_USAGE
    try:
        address = parse_chat_address(args.address)
    except AddressError as error:
        print(f"chatroom-client: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.tui:
        from chatroom.client.tui import run_tui

        return run_tui(args.username, address)
    frontend = _make_frontend(args)
    try:
        frontend.show_notice("Connecting to server ...")
        sock = connect(address)
        frontend.show_notice("Connection to server established. Sending intro message...")
        return ChatClient(sock, args.username, frontend).run()
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
        frontend.show_notice(f"chatroom-client: unexpected error: {error!r}", NoticeKind.ERROR)
        return EXIT_FAILURE
    finally:
        frontend.close()


if __name__ == "__main__":
    sys.exit(main())
