"""The line client: one thread, `selectors` over the socket, the user's input and signals.

The protocol lives in chatroom.protocol, the user interface in a frontend
(chatroom.client.frontend for pipes, chatroom.client.terminal for a terminal);
`ChatClient` connects them: it owns the socket and decides what happens next.
"""

from __future__ import annotations

import contextlib
import selectors
import signal
import socket
import time
from collections.abc import Sequence
from typing import Literal

from chatroom.client import commands
from chatroom.client.connect import ClientError, describe_os_error
from chatroom.client.exitcodes import EXIT_FAILURE, EXIT_OK
from chatroom.client.frontend import Frontend, NoticeKind, Quit, Submit, UserAction
from chatroom.limits import CLIENT_SENDQ_MAX_BYTES, CONNECT_TIMEOUT_S, FAREWELL_TIMEOUT_S, MAX_LINE_BYTES
from chatroom.protocol import (
    ClientConnection,
    ClientState,
    ConnectionLost,
    Incoming,
    Registered,
    RegistrationRefused,
    ServerClosing,
)
from chatroom.signals import SignalPipe
from chatroom.text import printable

_Source = Literal["socket", "input", "signal"]


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
