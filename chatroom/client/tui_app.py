"""The full-screen client on Textual: a message pane, an input box and a status bar.

It drives the same sans-I/O `Session` as the line client (chatroom.client.session),
so the words, the commands and the exit status are the same; only the I/O
differs: asyncio streams inside Textual's event loop, one worker per
connection attempt, and every attempt gets a fresh `Session`. Needs the
optional extra (pip install 'chatroom[tui]'); chatroom.client.tui checks for it
before importing this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Input, RichLog, Static

from chatroom.client import commands, render
from chatroom.client.connect import describe_connect_error, describe_os_error
from chatroom.client.exitcodes import EXIT_OK
from chatroom.client.lineedit import LineEditor
from chatroom.client.session import (
    ClearScreen,
    Effect,
    Ended,
    InRoom,
    LeaveRequested,
    NoticeKind,
    Ready,
    Send,
    Session,
    SessionState,
    ShowIncoming,
    ShowNotice,
    ShowSent,
)
from chatroom.limits import (
    CLIENT_RECV_BYTES,
    CONNECT_TIMEOUT_S,
    FAREWELL_TIMEOUT_S,
    HISTORY_LINES,
    MAX_LINE_BYTES,
    NAME_STYLE_CACHE,
    TUI_PANE_MAX_LINES,
)
from chatroom.protocol import chat_prefix, split_chat_line
from chatroom.protocol.address import ChatAddress
from chatroom.text import printable

TUI_HELP = """\
Keys: Up/Down bring back earlier lines; PageUp/PageDown or the mouse wheel scroll the messages;
Ctrl-L clears them; Ctrl-C, Ctrl-Q or Ctrl-D on an empty line leave."""

HELP_TEXT = commands.COMMANDS_HELP + "\n" + TUI_HELP
# What !help shows here: the commands every client has, then the keys of the full screen.

OFFER_TEXT = "Press r to reconnect, or q to quit."

INFO_STYLE = Style(color="cyan")
ERROR_STYLE = Style(color="red", bold=True)
SERVER_STYLE = Style(color="yellow")
OWN_TEXT_STYLE = Style(dim=True)
MENTION_STYLE = Style(color="yellow", bold=True)
_ERROR_CODE = re.compile(r"[45]\d\d(?:\s|$)")


class Phase(enum.Enum):
    """Where the connection to the server is, as the status bar shows it."""

    CONNECTING = "connecting"  # opening the TCP connection or waiting for the registration reply
    REGISTERED = "registered"
    DISCONNECTED = "disconnected"  # failed, refused or lost: reconnect or quit


_PHASE_STYLE = {
    Phase.CONNECTING: Style(color="yellow", bold=True),
    Phase.REGISTERED: Style(color="green", bold=True),
    Phase.DISCONNECTED: Style(color="red", bold=True),
}
_PHASE_MARK = {Phase.CONNECTING: "◌", Phase.REGISTERED: "●", Phase.DISCONNECTED: "○"}
_PLACEHOLDER = {
    Phase.CONNECTING: "Connecting ... (Ctrl-C or !exit leaves)",
    Phase.REGISTERED: "Type a message, Enter sends it; !help lists the commands",
    Phase.DISCONNECTED: "Disconnected: press r to reconnect, or q to quit",
}


@dataclass(frozen=True)
class Farewell:
    """The last sentence of a session, printed after the screen is restored."""

    text: str
    error: bool


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Opener = Callable[[ChatAddress], Awaitable[Streams]]


async def open_streams(address: ChatAddress) -> Streams:
    """A TCP connection to `address` as asyncio streams (asyncio turns Nagle off for us)."""
    return await asyncio.open_connection(address.host, address.port)


def connect_error(address: ChatAddress, error: BaseException) -> str:
    """One sentence saying why connecting failed, worded as the line client words it."""
    if isinstance(error, asyncio.TimeoutError):  # not a TimeoutError on Python 3.10
        error = TimeoutError()
    return describe_connect_error(address, error, CONNECT_TIMEOUT_S)


# What lines look like ----------------------------------------------------------------


@functools.lru_cache(maxsize=NAME_STYLE_CACHE)
def name_style(name: str) -> Style:
    """The colour `name` has in every run: chatroom.render's sender colour, as a Rich style."""
    styled = Text.from_ansi(render.sgr(render.name_color(name), "@"))
    for span in styled.spans:
        return span.style if isinstance(span.style, Style) else Style.parse(span.style)
    return Style()


def chat_text(name: str, text: str, username: str, *, own: bool = False) -> Text:
    """'@name: text', the name in its colour; own lines step back, lines naming you stand out."""
    name, text = printable(name), printable(text)
    if own:
        return Text.assemble(("@" + name, name_style(name) + Style(bold=True)), ": ", (text, OWN_TEXT_STYLE))
    if render.mentions(text, username):
        return Text.assemble(("@" + name, name_style(name)), ": ", (text, MENTION_STYLE))
    return Text.assemble(("@" + name, name_style(name)), ": ", text)


def incoming_text(line: str, username: str) -> Text:
    """A line from the server: a chat line, or a notice such as '403 Not your username'."""
    chat = split_chat_line(line)
    if chat is not None:
        return chat_text(*chat, username)
    line = printable(line)
    return Text(line, style=ERROR_STYLE if _ERROR_CODE.match(line) else SERVER_STYLE)


def notice_texts(text: str, kind: NoticeKind) -> list[Text]:
    """A message of the client's own (or of the server), line by line."""
    if kind is NoticeKind.SERVER:
        return [incoming_text(line, "") for line in text.split("\n")]
    style = ERROR_STYLE if kind is NoticeKind.ERROR else INFO_STYLE
    return [Text(printable(line), style=style) for line in text.split("\n")]


def status_text(
    address: ChatAddress, username: str, phase: Phase, user_count: int | None, room: str | None = None
) -> Text:
    """The status bar: server, who you are, the connection, then the room and user count once known."""
    status = Text.assemble(
        (str(address), "bold"),
        "  │  ",
        (printable(username), name_style(username) + Style(bold=True)),
        "  │  ",
        (f"{_PHASE_MARK[phase]} {phase.value}", _PHASE_STYLE[phase]),
    )
    if room is not None:
        status.append(f"  │  {printable(room)}", style="bold")
    if user_count is not None:
        status.append(f"  │  {user_count} user{'' if user_count == 1 else 's'}")
    return status


# Widgets -------------------------------------------------------------------------------


class ChatInput(Input):
    """The input box: Textual's line editing, plus Up/Down through this session's lines."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history_previous", "Previous line", show=False),
        Binding("down", "history_next", "Next line", show=False),
        Binding("ctrl+d", "delete_right_or_leave", "Delete right, or leave on an empty line", show=False),
    ]

    def __init__(self, *, placeholder: str = "", max_length: int = 0, id: str | None = None) -> None:
        super().__init__(placeholder=placeholder, max_length=max_length, id=id)
        # The line editor's history: the same Up/Down behaviour as the line client,
        # drafts and edits to recalled lines included.
        self._history = LineEditor(history_lines=HISTORY_LINES)

    @property
    def history(self) -> list[str]:
        return self._history.history

    def remember(self, line: str) -> None:
        """`line` was entered: it becomes the newest history entry (blank lines are not kept)."""
        self._history.text = line
        self._history.cursor = len(line)
        self._history.submit()

    def action_history_previous(self) -> None:
        self._browse(self._history.history_up)

    def action_history_next(self) -> None:
        self._browse(self._history.history_down)

    async def action_delete_right_or_leave(self) -> None:
        if self.value:
            self.action_delete_right()
        else:
            await self.app.run_action("leave")

    def _browse(self, step: Callable[[], None]) -> None:
        self._history.text = self.value
        self._history.cursor = len(self.value)
        step()
        self.value = self._history.text
        self.cursor_position = len(self.value)


class ChatApp(App[int]):
    """One user's chat session, full screen. `run()` returns the exit status."""

    TITLE = "chatroom"
    ENABLE_COMMAND_PALETTE = False

    CSS = """
    #status {
        dock: top;
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    #messages {
        height: 1fr;
        padding: 0 1;
        scrollbar-size-vertical: 1;
        background: $background;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "leave", "Leave", priority=True),
        Binding("ctrl+q", "leave", "Leave", show=False, priority=True),
        Binding("ctrl+d", "leave", "Leave", show=False),
        Binding("ctrl+l", "clear", "Clear", show=False),
        Binding("pageup", "page(-1)", "Scroll up", show=False),
        Binding("pagedown", "page(1)", "Scroll down", show=False),
        Binding("r", "reconnect", "Reconnect"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, username: str, address: ChatAddress, opener: Opener = open_streams) -> None:
        super().__init__()
        self.username = username
        self.address = address
        self.phase = Phase.CONNECTING
        self.user_count: int | None = None  # CHAT/1.0 cannot tell yet; shown once something sets it
        self.room: str | None = None  # shown in the status bar once the server says which room we are in
        self.farewell: Farewell | None = None
        self.attempts = 0  # connection attempts so far, the first one included
        self._opener = opener
        self.session: Session | None = None  # the current (or the last) connection attempt
        self._writer: asyncio.StreamWriter | None = None
        self._leaving = False

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(self._status(), id="status")
        messages = RichLog(id="messages", max_lines=TUI_PANE_MAX_LINES, wrap=True, markup=False)
        messages.can_focus = False  # the input keeps the keyboard; the wheel still scrolls
        yield messages
        yield ChatInput(
            id="input",
            placeholder=_PLACEHOLDER[self.phase],
            max_length=MAX_LINE_BYTES - len(chat_prefix(self.username)),
        )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ChatInput).focus()
        self._connect()

    @property
    def messages(self) -> RichLog:
        return self.query_one("#messages", RichLog)

    def pane_lines(self) -> list[str]:
        """The message pane as plain text, one screen row per item (long lines are wrapped)."""
        return [strip.text for strip in self.messages.lines]

    def set_user_count(self, count: int | None) -> None:
        """Show how many users are in the room (None: unknown, not shown)."""
        self.user_count = count
        self._refresh_status()

    # -- showing lines -----------------------------------------------------------------

    def show(self, lines: Sequence[Text], *, follow: bool = False) -> None:
        """Append `lines` to the pane in one go; keep the view at the end if it was there."""
        if not lines:
            return
        pane = self.messages
        at_end = follow or pane.scroll_offset.y >= pane.max_scroll_y
        with self.batch_update():
            for line in lines:
                pane.write(line, scroll_end=False)
            if at_end:
                # At once, not after the next refresh: the next batch checks where the view is.
                pane.scroll_end(animate=False, immediate=True)

    def show_notice(self, text: str, kind: NoticeKind = NoticeKind.INFO) -> None:
        self.show(notice_texts(text, kind))

    # -- the connection ----------------------------------------------------------------

    def _connect(self) -> None:
        self.attempts += 1
        self.run_worker(self._attempt(), name="connection", group="connection", exclusive=True)

    async def _attempt(self) -> None:
        """One connection attempt: connect, register, then relay until it ends."""
        session = Session(self.username, help_text=HELP_TEXT)
        self.session, self._writer = session, None
        self._set_phase(Phase.CONNECTING)
        self.show_notice(f"Connecting to {self.address} ...")
        try:
            reader, writer = await asyncio.wait_for(self._opener(self.address), CONNECT_TIMEOUT_S)
        except Exception as error:  # a user never sees a traceback
            if os.environ.get("CHATROOM_DEBUG") and not isinstance(error, OSError | asyncio.TimeoutError):
                raise
            self._apply(session.fail(connect_error(self.address, error)))
            return
        self._writer = writer
        try:
            self.show_notice("Connection to server established. Sending intro message...")
            self._apply(session.start())
            deadline = asyncio.get_running_loop().time() + CONNECT_TIMEOUT_S
            while session.state is not SessionState.ENDED:
                if session.state is SessionState.REGISTERING:
                    remaining = max(deadline - asyncio.get_running_loop().time(), 0.0)
                    data = await asyncio.wait_for(reader.read(CLIENT_RECV_BYTES), remaining)
                else:
                    data = await reader.read(CLIENT_RECV_BYTES)
                self._apply(session.receive(data))
        except asyncio.TimeoutError:
            self._apply(session.registration_timed_out(CONNECT_TIMEOUT_S))
        except OSError as error:
            self._apply(session.connection_error(describe_os_error(error)))
        except Exception as error:  # a user never sees a traceback
            if os.environ.get("CHATROOM_DEBUG"):
                raise
            self._apply(session.fail(f"chatroom-client: unexpected error: {error!r}"))
        finally:
            writer.close()

    def _apply(self, effects: Sequence[Effect]) -> None:
        """Show what the session says; the lines of one read arrive as one batch."""
        for effect in effects:
            if isinstance(effect, Send):
                if self._writer is not None:
                    self._writer.write(effect.data)
            elif isinstance(effect, ShowIncoming):
                self.show([incoming_text(line, self.username) for line in effect.lines])
            elif isinstance(effect, ShowSent):
                self.show([chat_text(self.username, effect.text, self.username, own=True)], follow=True)
            elif isinstance(effect, ShowNotice):
                self.show_notice(effect.text, effect.kind)
            elif isinstance(effect, Ready):
                self._set_phase(Phase.REGISTERED)
                self.show_notice(effect.greeting)
            elif isinstance(effect, ClearScreen):
                self.action_clear()
            elif isinstance(effect, InRoom):
                self.room = effect.room
                self._refresh_status()
            elif isinstance(effect, LeaveRequested):
                self.call_later(self.action_leave)
            elif isinstance(effect, Ended):
                if effect.failed:
                    self._connection_ended(effect.message or "")
                else:
                    self._finish(effect.status, _farewell(effect))

    def _connection_ended(self, reason: str) -> None:
        """The attempt failed or the connection is gone: say why and offer to reconnect."""
        self._writer = None  # nothing more goes out on this connection
        self._set_phase(Phase.DISCONNECTED)
        self.show([*notice_texts(reason, NoticeKind.ERROR), *notice_texts(OFFER_TEXT, NoticeKind.INFO)])

    def _set_phase(self, phase: Phase) -> None:
        self.phase = phase
        self._refresh_status()
        entry = self.query_one(ChatInput)
        entry.placeholder = _PLACEHOLDER[phase]
        entry.disabled = phase is Phase.DISCONNECTED
        if not entry.disabled:
            entry.focus()
        self.refresh_bindings()

    def _status(self) -> Text:
        return status_text(self.address, self.username, self.phase, self.user_count, self.room)

    def _refresh_status(self) -> None:
        self.query_one("#status", Static).update(self._status())

    def _finish(self, status: int, farewell: Farewell | None) -> None:
        self.farewell = farewell
        self.exit(status)

    # -- the user ----------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        entry = self.query_one(ChatInput)
        line = event.value
        entry.value = ""
        entry.remember(line)
        if self.session is None:
            return
        writer = self._writer
        queued = writer.transport.get_write_buffer_size() if writer is not None else 0
        self._apply(self.session.type_line(line, queued))

    async def action_leave(self) -> None:
        """Ctrl-C, Ctrl-D, Ctrl-Q, !exit: say DISCONNECT if registered, then end the session."""
        if self._leaving:
            return
        self._leaving = True
        effects = self.session.leave() if self.session is not None else [Ended(EXIT_OK)]
        writer = self._writer
        for effect in effects:
            if isinstance(effect, Send) and writer is not None:
                writer.write(effect.data)
                with contextlib.suppress(OSError, asyncio.TimeoutError):
                    await asyncio.wait_for(writer.drain(), FAREWELL_TIMEOUT_S)
                    if writer.can_write_eof():
                        writer.write_eof()
            elif isinstance(effect, Ended):
                self._finish(effect.status, _farewell(effect))

    async def action_quit(self) -> None:
        """q, offered once disconnected."""
        await self.action_leave()

    def action_reconnect(self) -> None:
        """r, offered once disconnected: a new connection, registered under the same name."""
        if self.phase is Phase.DISCONNECTED and not self._leaving:
            self._connect()

    def action_clear(self) -> None:
        self.messages.clear()

    def action_page(self, direction: int) -> None:
        if direction < 0:
            self.messages.scroll_page_up(animate=False)
        else:
            self.messages.scroll_page_down(animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("reconnect", "quit"):
            return self.phase is Phase.DISCONNECTED
        return True


def _farewell(ended: Ended) -> Farewell | None:
    """The session's last word, printed once the screen is restored."""
    return Farewell(ended.message, error=ended.failed) if ended.message is not None else None
