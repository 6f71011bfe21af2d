"""The client's default user interface on a terminal: messages scroll, the input line stays.

`TerminalFrontend` puts the terminal in raw mode, decodes keys with
chatroom.lineedit and draws with chatroom.render: incoming lines are printed
above the input line, which is then drawn again with what you were typing and
the cursor where it was. Ctrl-Z (or SIGTSTP) gives the terminal back until the
process is continued. It never installs signal handlers (the client's loop owns
them and passes them in) and never blocks on input.
"""

from __future__ import annotations

import contextlib
import enum
import os
import selectors
import signal
import sys
import termios
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TextIO

from chatroom.client import render
from chatroom.client.completion import Completer
from chatroom.client.frontend import (
    LEAVE_SIGNALS,
    RESUME_SIGNAL,
    SUSPEND_SIGNAL,
    Quit,
    Submit,
    Suspend,
    UserAction,
)
from chatroom.client.lineedit import (
    ClearRequested,
    Completions,
    KeyDecoder,
    LineEditor,
    QuitRequested,
    Refused,
    Submitted,
    SuspendRequested,
)
from chatroom.client.session import NoticeKind
from chatroom.client.shown import Shown
from chatroom.console import discard_output
from chatroom.limits import INPUT_READ_BYTES, MAX_LINE_BYTES
from chatroom.protocol import chat_prefix
from chatroom.text import printable

DEFAULT_WIDTH = 80
# Used when the terminal will not say how wide it is (0 columns, or not a terminal).


class _State(enum.Enum):
    IDLE = "idle"  # constructed; the terminal is as we found it
    RAW = "raw"  # start() ran: raw mode, bracketed paste on
    SUSPENDED = "suspended"  # suspend() ran: the terminal is as we found it until resume()
    CLOSED = "closed"  # close() ran: the terminal is restored


def color_enabled(stream: TextIO, no_color_flag: bool = False) -> bool:
    """Colour only on a terminal, and never with --no-color, NO_COLOR=<anything> or TERM=dumb."""
    if no_color_flag or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or the stream is closed
        return False


def supports_256_colors() -> bool:
    term = os.environ.get("TERM", "")
    return "256" in term or os.environ.get("COLORTERM", "") in ("truecolor", "24bit")


class TerminalFrontend:
    """Line editing on a real terminal (see chatroom.frontend.Frontend for the calls)."""

    def __init__(
        self,
        username: str,
        color: bool = True,
        bell: bool = False,
        timestamps: bool = False,
        *,
        stdin_fd: int = 0,
        stdout: TextIO | None = None,
        get_width: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.time,
        colors256: bool | None = None,
        prompt: str = render.PROMPT,
    ) -> None:
        self._fd: int | None = stdin_fd
        self._stdin_fd = stdin_fd
        self._out = stdout if stdout is not None else sys.stdout
        self._get_width = get_width if get_width is not None else self._terminal_width
        self._clock = clock
        self._bell = bell
        self._timestamps = timestamps
        self._prompt = prompt
        self._room: str | None = None
        if colors256 is None:
            colors256 = supports_256_colors()
        self._style = render.Style(color=color, colors256=colors256, username=username)
        self._decoder = KeyDecoder()
        # The server drops a client whose line is too long, so the editor stops there.
        self._editor = LineEditor(max_bytes=MAX_LINE_BYTES - len(chat_prefix(username)))
        self._state = _State.IDLE
        self._saved_mode: list[Any] | None = None  # the terminal as we found it
        self._raw_mode: list[Any] | None = None  # the mode we set
        self._poller: selectors.BaseSelector | None = None
        self._ready = False
        self._width = DEFAULT_WIDTH
        self._scroll = 0

    # -- the terminal --------------------------------------------------------------------

    def start(self) -> None:
        if self._state is not _State.IDLE:
            return
        self._saved_mode = termios.tcgetattr(self._stdin_fd)
        try:
            # read_input() checks readiness itself rather than setting O_NONBLOCK:
            # stdin and stdout usually share one open file, and a non-blocking
            # stdout would make a big write fail halfway.
            self._poller = selectors.DefaultSelector()
            self._poller.register(self._stdin_fd, selectors.EVENT_READ)
            self._enter_raw()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._state is _State.CLOSED:
            return
        try:
            self._leave_raw(_State.CLOSED)
        finally:
            if self._poller is not None:
                self._poller.close()
                self._poller = None
            self._saved_mode = None

    def suspend(self) -> None:
        """Ctrl-Z: the terminal as it was (cooked mode, no bracketed paste), the input line cleared."""
        if self._state is _State.RAW:
            self._leave_raw(_State.SUSPENDED)

    def resume(self) -> None:
        """Continued after a suspend: raw mode again, and the prompt and the half-typed line redrawn."""
        if self._state is not _State.SUSPENDED:
            return
        try:
            # The terminal as the shell hands it back is the one to restore next time.
            self._saved_mode = termios.tcgetattr(self._stdin_fd)
            self._enter_raw()
        except (termios.error, OSError):  # the terminal went away meanwhile: reading will say so
            self._discard_output()

    def _enter_raw(self) -> None:
        """Raw mode and bracketed paste on, derived from the saved mode; then draw the input line."""
        assert self._saved_mode is not None
        mode = [*self._saved_mode[:6], list(self._saved_mode[6])]
        # Input: no CR->NL mapping (Enter arrives as \r), no Ctrl-S/Ctrl-Q flow control.
        mode[0] &= ~(termios.ICRNL | termios.INLCR | termios.IGNCR | termios.IXON | termios.ISTRIP)
        # No line buffering, no echo, and Ctrl-C / Ctrl-Z / Ctrl-V arrive as bytes.
        mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN)
        mode[6][termios.VMIN] = 1
        mode[6][termios.VTIME] = 0
        # Output post-processing (OPOST) stays on, so a stray \n still starts a new line.
        termios.tcsetattr(self._stdin_fd, termios.TCSADRAIN, mode)
        self._raw_mode = mode
        self._state = _State.RAW
        self._width = self._get_width()
        self._write(render.BRACKETED_PASTE_ON + render.draw_input(self._view()))

    def _leave_raw(self, state: _State) -> None:
        """Clear the input line, bracketed paste off, the saved mode back; then be in `state`."""
        was_raw = self._state is _State.RAW
        self._state = state
        try:
            if was_raw:  # leave the cursor at the start of an empty line for the shell
                self._write(render.CLEAR_LINE + render.BRACKETED_PASTE_OFF)
            else:
                self._out.flush()
        except (OSError, ValueError):  # the terminal is gone; still restore what can be restored
            self._discard_output()
        finally:
            if self._saved_mode is not None:
                with contextlib.suppress(termios.error, OSError):
                    termios.tcsetattr(self._stdin_fd, termios.TCSADRAIN, self._saved_mode)

    # -- input ---------------------------------------------------------------------------

    def input_fileno(self) -> int | None:
        return self._fd

    def read_input(self) -> list[UserAction]:
        if self._fd is None:
            return []
        if self._poller is not None and not self._poller.select(0):
            return []
        try:
            data = os.read(self._fd, INPUT_READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:  # EIO: the terminal hung up
            data = b""
        if not data:
            self._fd = None
            return [Quit()]
        return self._apply(data)

    def _apply(self, data: bytes) -> list[UserAction]:
        actions: list[UserAction] = []
        effects: list[str] = []
        before = (self._editor.text, self._editor.cursor)
        for event in self._decoder.feed(data):
            outcome = self._editor.handle(event)
            if isinstance(outcome, Submitted):
                actions.append(Submit(outcome.text))
            elif isinstance(outcome, QuitRequested):
                actions.append(Quit())
                break
            elif isinstance(outcome, ClearRequested):
                effects.append(render.CLEAR_SCREEN)
            elif isinstance(outcome, SuspendRequested):
                actions.append(Suspend())
            elif isinstance(outcome, Refused):
                effects.append(render.BELL)
            elif isinstance(outcome, Completions):
                listed = render.format_completions(outcome.options, self._width, self._style)
                effects.append(render.print_above([listed], render.EMPTY_VIEW))
        if effects or before != (self._editor.text, self._editor.cursor):
            self._write("".join(effects) + render.draw_input(self._view()))
        return actions

    def handle_signal(self, signum: int) -> list[UserAction]:
        if signum in LEAVE_SIGNALS:
            return [Quit()]
        if signum == SUSPEND_SIGNAL:
            return [Suspend()]
        if signum == RESUME_SIGNAL and self._state is _State.RAW and self._raw_mode is not None:
            # Continued after a stop we did not arrange (kill -STOP): the shell may have
            # reset the terminal meanwhile, so take raw mode again and redraw.
            try:
                termios.tcsetattr(self._stdin_fd, termios.TCSADRAIN, self._raw_mode)
                self._write(render.BRACKETED_PASTE_ON + render.draw_input(self._view()))
            except (termios.error, OSError, ValueError):  # the terminal is gone: reading will say so
                self._discard_output()
            return []
        if signum == getattr(signal, "SIGWINCH", None):
            self._width = self._get_width()
            if self._state is _State.RAW:
                self._write(render.draw_input(self._view()))
        return []

    # -- output --------------------------------------------------------------------------

    def show_incoming(self, lines: Sequence[Shown]) -> None:
        stamp, now = self._stamp(), datetime.fromtimestamp(self._clock()).astimezone()
        rendered = [
            render.format_shown(line, self._style, viewed=self._room, stamp=stamp, now=now) for line in lines
        ]
        ring = self._bell and any(line.mention for line in rendered)
        text = render.print_above([line.text for line in rendered], self._view())
        self._write(text + render.BELL if ring else text)

    def show_sent(self, text: str) -> None:
        self._write(render.print_above([render.format_sent(text, self._style, self._stamp())], self._view()))

    def show_notice(self, text: str, kind: NoticeKind = NoticeKind.INFO) -> None:
        lines = render.format_notice(text, kind, self._style, self._stamp())
        self._write(render.print_above(lines, self._view()))

    def set_ready(self, ready: bool) -> None:
        self._ready = ready
        self._write(render.draw_input(self._view()))

    def set_room(self, room: str) -> None:
        self._room = room
        self._prompt = f"{printable(room)}{render.PROMPT}"
        self._write(render.draw_input(self._view()))

    def set_completer(self, completer: Completer) -> None:
        self._editor.completer = completer

    def clear(self) -> None:
        self._write(render.CLEAR_SCREEN + render.draw_input(self._view()))

    # -- helpers -------------------------------------------------------------------------

    def _view(self) -> render.InputView:
        """The input line as it should look now: the prompt only once registered."""
        text, cursor = self._editor.text, self._editor.cursor
        if self._state in (_State.CLOSED, _State.SUSPENDED) or (not self._ready and not text):
            return render.EMPTY_VIEW  # the terminal is the shell's: a notice is a plain line
        prompt = self._prompt if self._ready else ""
        view = render.layout_input(prompt, text, cursor, self._width, self._scroll)
        self._scroll = view.scroll
        return view

    def _stamp(self) -> str | None:
        if not self._timestamps:
            return None
        return time.strftime("%H:%M", time.localtime(self._clock()))

    def _write(self, text: str) -> None:
        """One write and one flush per batch, so a burst of lines costs one system call."""
        self._out.write(text)
        self._out.flush()

    def _terminal_width(self) -> int:
        for fd in (self._out_fileno(), self._stdin_fd):
            if fd is None:
                continue
            try:
                columns = os.get_terminal_size(fd).columns
            except OSError:
                continue
            if columns > 0:
                return columns
        return DEFAULT_WIDTH

    def _discard_output(self) -> None:
        """Point our dead output at /dev/null, so the text still buffered in it cannot make
        the interpreter's last flush fail (which turns exit status 0 into 120)."""
        fd = self._out_fileno()
        if fd is not None:
            discard_output(fd)

    def _out_fileno(self) -> int | None:
        try:
            return self._out.fileno()
        except (AttributeError, OSError, ValueError):
            return None
