"""What the line client's loop needs from a user interface, and the plain line one.

The loop (chatroom.client.line) owns the socket and the session; a frontend
owns standard input and output. The terminal line editor
(chatroom.client.terminal) and the plain line mode below fit here; the full
screen (chatroom.client.tui_app) drives the same session from Textual instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TextIO

from chatroom.client import render
from chatroom.client.completion import Completer
from chatroom.client.session import NoticeKind
from chatroom.client.shown import Shown
from chatroom.limits import INPUT_READ_BYTES, MAX_LINE_BYTES
from chatroom.text import printable

LEAVE_SIGNALS = frozenset(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name)
)
# The ways of being asked to leave from outside: Ctrl-C (a byte in raw mode, a
# signal otherwise), kill, the terminal going away (SIGHUP) and kill -QUIT.
# Each leaves politely, like Ctrl-D: DISCONNECT, the terminal restored, status 0.

SUSPEND_SIGNAL: int | None = getattr(signal, "SIGTSTP", None)
RESUME_SIGNAL: int | None = getattr(signal, "SIGCONT", None)
# Ctrl-Z outside raw mode, or kill -TSTP; and fg, or kill -CONT (POSIX only).


@dataclass(frozen=True)
class Submit:
    """The user entered a line (not yet interpreted: it may be a !command)."""

    text: str


@dataclass(frozen=True)
class Quit:
    """Ctrl-C, Ctrl-D, end of input or !exit: leave politely."""


@dataclass(frozen=True)
class Suspend:
    """Ctrl-Z or SIGTSTP: give the terminal back, stop until continued, then take it again."""


UserAction = Submit | Quit | Suspend


class Frontend(Protocol):
    def start(self) -> None:
        """Take over the terminal, if any. Called once, when registration succeeds."""

    def close(self) -> None:
        """Give the terminal back exactly as it was. Safe to call twice."""

    def suspend(self) -> None:
        """Give the terminal back as it was (the process is about to stop)."""

    def resume(self) -> None:
        """The process was continued: take the terminal again and redraw what was there."""

    def input_fileno(self) -> int | None:
        """The descriptor to select for input, or None once input has ended."""

    def read_input(self) -> list[UserAction]:
        """Called when input_fileno() is readable; must not block."""

    def handle_signal(self, signum: int) -> list[UserAction]:
        """A caught signal (LEAVE_SIGNALS, SUSPEND_SIGNAL, RESUME_SIGNAL, SIGWINCH) reached the loop."""

    def show_incoming(self, lines: Sequence[Shown]) -> None:
        """Lines from the server, shown as one batch (one write, one flush)."""

    def show_sent(self, text: str) -> None:
        """The user's own chat line, just sent."""

    def show_notice(self, text: str, kind: NoticeKind = NoticeKind.INFO) -> None:
        """A status line of the client's own."""

    def set_ready(self, ready: bool) -> None:
        """Registration finished (True): from now on show the prompt."""

    def set_room(self, room: str) -> None:
        """The user is now in `room`: show it (the terminal's prompt becomes '#room> ')."""

    def set_completer(self, completer: Completer) -> None:
        """What Tab completes words to, if this interface has a Tab."""

    def clear(self) -> None:
        """Clear the screen (!clear, Ctrl-L)."""


_PLAIN = render.Style(color=False)


class PlainFrontend:
    """Line in, line out, no escape codes: for pipes, files, scripts and --plain.

    Each line that arrives is printed as one line of words, as the terminal
    shows it without colour: `[private] @bob: hi`, `[08:01] @bob: earlier`,
    `* bob joined #dev`, `[#dev] @bob: hi` for a room other than yours. Events
    that only update the lists of rooms and members print nothing.
    """

    def __init__(self, stdin_fd: int = 0, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self._room: str | None = None
        self._fd: int | None = stdin_fd
        self._out = stdout if stdout is not None else sys.stdout
        self._err = stderr if stderr is not None else sys.stderr
        self._pending = b""
        self._skipping = False  # inside a line too long to send, until its end

    def start(self) -> None:
        """Nothing to set up. (stdin stays blocking: it may share its file with stdout,
        and the loop reads only when select() said there is something to read.)"""

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._out.flush()

    def suspend(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._out.flush()

    def resume(self) -> None:
        """Nothing was taken, so nothing to take again."""

    def input_fileno(self) -> int | None:
        return self._fd

    def read_input(self) -> list[UserAction]:
        assert self._fd is not None
        try:
            chunk = os.read(self._fd, INPUT_READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:  # the terminal went away: same as end of input
            chunk = b""
        if not chunk:
            self._fd = None
            actions: list[UserAction] = []
            if self._pending and not self._skipping:
                actions.append(Submit(self._pending.decode("utf-8", errors="replace")))
            return [*actions, Quit()]
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        if self._skipping and lines:
            lines.pop(0)  # the rest of the over-long line
            self._skipping = False
        if len(self._pending) > MAX_LINE_BYTES:
            self.show_notice(f"Not sent: a line longer than {MAX_LINE_BYTES} bytes.", NoticeKind.ERROR)
            self._pending = b""
            self._skipping = True
        return [Submit(line.rstrip(b"\r").decode("utf-8", errors="replace")) for line in lines]

    def handle_signal(self, signum: int) -> list[UserAction]:
        if signum in LEAVE_SIGNALS:
            return [Quit()]
        if signum == SUSPEND_SIGNAL:
            return [Suspend()]
        return []

    def show_incoming(self, lines: Sequence[Shown]) -> None:
        now = datetime.now().astimezone()
        shown = (render.format_shown(line, _PLAIN, viewed=self._room, now=now).text for line in lines)
        self._out.write("".join(line + "\n" for line in shown))
        self._out.flush()

    def show_sent(self, text: str) -> None:
        """Plain mode does not echo: the input was the user's own line already."""

    def show_notice(self, text: str, kind: NoticeKind = NoticeKind.INFO) -> None:
        stream = self._err if kind is NoticeKind.ERROR else self._out
        stream.write("\n".join(printable(line) for line in text.split("\n")) + "\n")
        stream.flush()

    def set_ready(self, ready: bool) -> None:
        """No prompt in plain mode."""

    def set_room(self, room: str) -> None:
        """No prompt in plain mode (the server's reply line said it); lines from other rooms name theirs."""
        self._room = room

    def set_completer(self, completer: Completer) -> None:
        """No Tab in plain mode: it arrives as part of a line."""

    def clear(self) -> None:
        """Nothing to clear in plain mode."""
