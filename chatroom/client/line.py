"""The line client: one thread, `selectors` over the socket, the user's input and signals.

The protocol lives in chatroom.protocol, the user interface in a frontend
(chatroom.client.frontend for pipes, chatroom.client.terminal for a terminal);
`ChatClient` connects them: it owns the socket and decides what happens next.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal

from chatroom.client.connect import ClientError, describe_os_error
from chatroom.client.frontend import (
    LEAVE_SIGNALS,
    RESUME_SIGNAL,
    SUSPEND_SIGNAL,
    Frontend,
    Quit,
    Submit,
    Suspend,
    UserAction,
)
from chatroom.client.session import (
    ClearScreen,
    Effect,
    Ended,
    InRoom,
    LeaveRequested,
    NoticeKind,
    Ready,
    Reconnect,
    Send,
    Session,
    SessionState,
    ShowIncoming,
    ShowNotice,
    ShowSent,
)
from chatroom.limits import CLIENT_RECV_BYTES, CONNECT_TIMEOUT_S, FAREWELL_TIMEOUT_S
from chatroom.protocol import VERSION_1_1, Credentials
from chatroom.signals import SignalPipe

_Source = Literal["socket", "input", "signal"]


class ChatClient:
    """Runs one session: register, then relay between the user and the server until one leaves.

    What the lines mean is the `Session`'s business; this class moves bytes
    between it, the socket and the frontend. `connect_again` opens a new
    connection when the session asks for one (a server that knows only
    CHAT/1.0 refused CHAT/1.1); without it that ends the session.
    """

    def __init__(
        self,
        sock: socket.socket,
        username: str,
        frontend: Frontend,
        *,
        version: bytes = VERSION_1_1,
        connect_again: Callable[[], socket.socket] | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.sock = sock
        self.session = Session(username, version=version, credentials=credentials)
        self.frontend = frontend
        self.frontend.set_completer(self.session.complete)
        self._connect_again = connect_again
        self._deadline = 0.0  # when the registration reply must have come
        self.selector = selectors.DefaultSelector()
        self._out = bytearray()
        self._exit_code: int | None = None
        self._input_fd: int | None = None
        self._writing = False
        # Actions read but not carried out yet: lines wait here while the send queue is full
        # (input is not read meanwhile, so this holds at most one read, INPUT_READ_BYTES).
        self._pending: deque[UserAction] = deque()

    def run(self, registration_timeout: float = CONNECT_TIMEOUT_S) -> int:
        """Chat until one side leaves; returns the exit status.

        Unwinds in reverse order of setup: the signals are caught before the
        frontend takes the terminal (at registration) and released only after it
        has given the terminal back, so no signal can leave it in raw mode.
        """
        signals = SignalPipe(_client_signals())
        try:
            try:
                return self._loop(signals, registration_timeout)
            finally:
                self.frontend.close()
                self.selector.close()
                self.sock.close()
        finally:
            signals.close()

    def _loop(self, signals: SignalPipe, registration_timeout: float) -> int:
        self.selector.register(self.sock, selectors.EVENT_READ, "socket")
        self.selector.register(signals.fileno(), selectors.EVENT_READ, "signal")
        self._registration_timeout = registration_timeout
        self._start()
        while self._exit_code is None:
            self._take_pending()
            self._sync_input()
            self._flush()
            if self._exit_code is not None:
                break
            timeout = None
            if self.session.state is SessionState.REGISTERING:
                timeout = self._deadline - time.monotonic()
                if timeout <= 0:
                    self._apply(self.session.registration_timed_out(registration_timeout))
                    break
            for key, _ in self.selector.select(timeout):
                source: _Source = key.data
                if source == "socket":
                    self._on_socket()
                elif source == "input":
                    self._on_actions(self.frontend.read_input())
                else:
                    for signum in signals.read():
                        self._on_signal(signum)
                if self._exit_code is not None:
                    break
        assert self._exit_code is not None
        return self._exit_code

    def _start(self) -> None:
        """Register on the connection just opened, and wait for the reply at most so long."""
        self._deadline = time.monotonic() + self._registration_timeout
        self._apply(self.session.start())

    def _reconnect(self) -> None:
        """The session wants a new connection: drop this one (and what it had queued), open one, register."""
        self.selector.unregister(self.sock)
        self.sock.close()
        self._out.clear()
        self._writing = False
        if self._connect_again is None:
            self._apply(self.session.fail("Cannot connect again: no address to connect to."))
            return
        try:
            self.sock = self._connect_again()
        except ClientError as error:
            self._apply(self.session.fail(str(error)))
            return
        self.selector.register(self.sock, selectors.EVENT_READ, "socket")
        self._start()

    # -- what the session asks for -----------------------------------------------------

    def _apply(self, effects: Sequence[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self._out += effect.data
            elif isinstance(effect, ShowIncoming):
                self.frontend.show_incoming(effect.lines)
            elif isinstance(effect, ShowSent):
                self.frontend.show_sent(effect.text)
            elif isinstance(effect, ShowNotice):
                self.frontend.show_notice(effect.text, effect.kind)
            elif isinstance(effect, Ready):
                # The terminal is taken before the greeting shows, so a key pressed once the
                # greeting is on screen reaches the editor: typed while the terminal is still
                # in line mode, a Ctrl-D would be turned into a NUL byte by the kernel.
                self.frontend.start()
                self.frontend.show_notice("")
                self.frontend.show_notice(effect.greeting)
                self.frontend.set_ready(True)
            elif isinstance(effect, ClearScreen):
                self.frontend.clear()
            elif isinstance(effect, InRoom):
                self.frontend.set_room(effect.room)
            elif isinstance(effect, Reconnect):
                self._reconnect()
            elif isinstance(effect, LeaveRequested):
                self._leave()
            elif isinstance(effect, Ended):
                if effect.message is not None:
                    kind = NoticeKind.ERROR if effect.failed else NoticeKind.INFO
                    self.frontend.show_notice(effect.message, kind)
                self._exit_code = effect.status

    # -- from the server -------------------------------------------------------------

    def _on_socket(self) -> None:
        try:
            data = self.sock.recv(CLIENT_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            if self.session.state is SessionState.REGISTERING and not isinstance(self.sock, ssl.SSLSocket):
                # A TLS server resets a plain REGISTER line at once.
                self._apply(
                    self.session.fail(
                        f"Lost the connection to the server before it answered: {describe_os_error(error)} "
                        "(if that port speaks TLS, use a chats:// address)."
                    )
                )
                return
            self._apply(self.session.connection_error(describe_os_error(error)))
            return
        if data and isinstance(self.sock, ssl.SSLSocket):
            data += _held_by_tls(self.sock)
        self._apply(self.session.receive(data))

    # -- from the user ---------------------------------------------------------------

    def _on_signal(self, signum: int) -> None:
        """Signals act at once, ahead of any lines still waiting to be sent."""
        if self.session.state is not SessionState.CHATTING and signum in LEAVE_SIGNALS:
            actions: list[UserAction] = [Quit()]  # the frontend is not started yet; leave at once
        else:
            actions = self.frontend.handle_signal(signum)
        for action in actions:
            if self._exit_code is None:
                self._do(action)

    def _on_actions(self, actions: Sequence[UserAction]) -> None:
        self._pending.extend(actions)
        self._take_pending()

    def _take_pending(self) -> None:
        """Carry out what the user did, in order; a line waits while the send queue has no room for it."""
        while self._pending and self._exit_code is None:
            if isinstance(self._pending[0], Submit) and not self.session.has_room(len(self._out)):
                return
            self._do(self._pending.popleft())

    def _do(self, action: UserAction) -> None:
        if isinstance(action, Quit):
            self._leave()
        elif isinstance(action, Submit):
            self._apply(self.session.type_line(action.text, len(self._out)))
        elif isinstance(action, Suspend):
            self._suspend()

    def _leave(self) -> None:
        """Say DISCONNECT (if registered), write it out, and end the session."""
        self._apply(self.session.leave())
        if self._out:
            self._drain(timeout=FAREWELL_TIMEOUT_S)

    def _suspend(self) -> None:
        """Ctrl-Z or SIGTSTP: give the terminal back, stop, and take it again when continued."""
        self.frontend.suspend()
        try:
            _stop_until_continued()
        finally:
            self.frontend.resume()

    # -- bytes out -------------------------------------------------------------------

    def _flush(self) -> None:
        if self._out:
            try:
                sent = self.sock.send(self._out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as error:
                self._out.clear()
                self._apply(self.session.connection_error(describe_os_error(error)))
                return
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
        if isinstance(self.sock, ssl.SSLSocket):  # TLS: close_notify first, without waiting for the reply
            with contextlib.suppress(OSError):
                self.sock.unwrap()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def _sync_input(self) -> None:
        """Watch the user's input only once registered, and only while it is open."""
        # While the server is not reading what we sent, stop reading the user (backpressure).
        open_for_input = (
            self.session.state is SessionState.CHATTING
            and not self._pending
            and self.session.has_room(len(self._out))
        )
        wanted = self.frontend.input_fileno() if open_for_input else None
        if wanted == self._input_fd:
            return
        if self._input_fd is not None:
            self.selector.unregister(self._input_fd)
        if wanted is not None:
            self.selector.register(wanted, selectors.EVENT_READ, "input")
        self._input_fd = wanted


def _held_by_tls(sock: ssl.SSLSocket) -> bytes:
    """Bytes TLS has already decrypted, which select() cannot see (a record longer than one recv)."""
    held = bytearray()
    with contextlib.suppress(OSError):  # BlockingIOError included; a real error shows on the next read
        while len(held) < CLIENT_RECV_BYTES and sock.pending():
            held += sock.recv(sock.pending())
    return bytes(held)


def _client_signals() -> tuple[int, ...]:
    wanted = sorted(LEAVE_SIGNALS)
    wanted += [signum for signum in (SUSPEND_SIGNAL, RESUME_SIGNAL) if signum is not None]
    if hasattr(signal, "SIGWINCH"):
        wanted.append(signal.SIGWINCH)
    return tuple(wanted)


def _stop_until_continued() -> None:
    """Stop this process the way Ctrl-Z does by default; return once it is continued (fg).

    The stop is the kernel's default action for SIGTSTP, so the handler is
    set aside for the moment of the kill. A process nobody could continue (in
    an orphaned process group) is not stopped at all: then this returns at once.
    """
    if SUSPEND_SIGNAL is None:
        return
    caught = signal.signal(SUSPEND_SIGNAL, signal.SIG_DFL)
    try:
        os.kill(os.getpid(), SUSPEND_SIGNAL)
    finally:
        signal.signal(SUSPEND_SIGNAL, caught)
