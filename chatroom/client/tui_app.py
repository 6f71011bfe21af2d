"""The full-screen client on Textual: status bar, room list, a message pane per room, members, input box.

It drives the same sans-I/O `Session` as the line client (chatroom.client.session),
so the words, the commands and the exit status are the same; only the I/O
differs: asyncio streams inside Textual's event loop, one worker per
connection attempt, and every attempt gets a fresh `Session`. Ctrl-N and
Ctrl-P switch the room shown (CHAT/1.1), and the server's current room
follows. What the lines look like is chatroom.client.tui_text's business, the
panes chatroom.client.tui_panes'. Needs the optional extra (pip install
'chatroom[tui]'); chatroom.client.tui checks for it before importing this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer, Input, RichLog, Static

from chatroom.client import commands, render
from chatroom.client.completion import Completer
from chatroom.client.connect import describe_connect_error, describe_os_error
from chatroom.client.exitcodes import EXIT_OK
from chatroom.client.lineedit import Completions, LineEditor, Refused
from chatroom.client.session import (
    ClearScreen,
    Effect,
    Ended,
    InRoom,
    LeaveRequested,
    NoticeKind,
    Ready,
    Reconnect,
    RoomsChanged,
    Send,
    Session,
    SessionState,
    ShowIncoming,
    ShowNotice,
    ShowSent,
)
from chatroom.client.shown import Shown, ShownKind
from chatroom.client.tls import describe_tls_error
from chatroom.client.tui_panes import NO_ROOM, Panes
from chatroom.client.tui_text import (
    DIM_STYLE,
    Phase,
    chat_text,
    members_text,
    notice_texts,
    rooms_text,
    shown_text,
    status_text,
)
from chatroom.limits import (
    CLIENT_RECV_BYTES,
    CONNECT_TIMEOUT_S,
    FAREWELL_TIMEOUT_S,
    HISTORY_LINES,
    MAX_LINE_BYTES,
)
from chatroom.protocol import VERSION_1_1, Credentials, chat_prefix
from chatroom.protocol.address import ChatAddress
from chatroom.protocol.names import room_key

TUI_HELP = """\
Keys: Tab completes a command, #room or name (a Tab that adds nothing lists the choices);
Ctrl-N / Ctrl-P show the next / previous room (the server's current room follows);
Up/Down bring back earlier lines; PageUp/PageDown or the mouse wheel scroll the messages;
Ctrl-L clears them; Ctrl-C, Ctrl-Q or Ctrl-D on an empty line leave."""

HELP_TEXT = commands.COMMANDS_HELP + "\n" + TUI_HELP
# What !help shows here: the commands every client has, then the keys of the full screen.

OFFER_TEXT = "Press r to reconnect, or q to quit."

_NO_COLOR = render.Style(color=False)  # Rich does the colours here; render only chooses the words

PANELS_MIN_WIDTH = 70
# Narrower than this the room and member lists are hidden: the messages need the columns more.

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


async def open_streams(address: ChatAddress, tls: ssl.SSLContext | None = None) -> Streams:
    """A TCP connection to `address` as asyncio streams (asyncio turns Nagle off for us); TLS for chats://."""
    if address.tls:
        context = tls if tls is not None else ssl.create_default_context()
        return await asyncio.open_connection(
            address.host, address.port, ssl=context, server_hostname=address.host
        )
    return await asyncio.open_connection(address.host, address.port)


def local_now() -> datetime:
    """Now, in the local time zone (history lines are shown in local time)."""
    return datetime.now().astimezone()


def connect_error(address: ChatAddress, error: BaseException) -> str:
    """One sentence saying why connecting failed, worded as the line client words it."""
    if isinstance(error, asyncio.TimeoutError):  # not a TimeoutError on Python 3.10
        error = TimeoutError()
    if address.tls and isinstance(error, ssl.SSLError | ConnectionError):
        return describe_tls_error(address, error)
    return describe_connect_error(address, error, CONNECT_TIMEOUT_S)


# Widgets -------------------------------------------------------------------------------


class ChatInput(Input):
    """The input box: Textual's line editing, plus Up/Down through this session's lines and Tab."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history_previous", "Previous line", show=False),
        Binding("down", "history_next", "Next line", show=False),
        Binding("ctrl+d", "delete_right_or_leave", "Delete right, or leave on an empty line", show=False),
        Binding("tab", "complete", "Complete", show=False),
    ]

    def __init__(
        self,
        *,
        placeholder: str = "",
        max_length: int = 0,
        id: str | None = None,
        completer: Completer | None = None,
        list_completions: Callable[[tuple[str, ...]], None] | None = None,
    ) -> None:
        super().__init__(placeholder=placeholder, max_length=max_length, id=id)
        # The line editor's history and completion: the same Up/Down and Tab as the
        # line client, drafts and edits to recalled lines included.
        self._history = LineEditor(history_lines=HISTORY_LINES, completer=completer)
        self._list_completions = list_completions

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

    def action_complete(self) -> None:
        """Tab: complete the word before the cursor, as the line client does."""
        editor = self._history
        editor.text, editor.cursor = self.value, self.cursor_position
        outcome = editor.complete()
        self.value, self.cursor_position = editor.text, editor.cursor
        if isinstance(outcome, Refused):
            self.app.bell()
        elif isinstance(outcome, Completions) and self._list_completions is not None:
            self._list_completions(outcome.options)

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
    #body {
        height: 1fr;
    }
    #rooms, #members {
        width: 16;
        padding: 0 1;
        background: $panel;
    }
    #body.-narrow #rooms, #body.-narrow #members {
        display: none;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "leave", "Leave", priority=True),
        Binding("ctrl+q", "leave", "Leave", show=False, priority=True),
        Binding("ctrl+d", "leave", "Leave", show=False),
        Binding("ctrl+l", "clear", "Clear", show=False),
        Binding("pageup", "page(-1)", "Scroll up", show=False),
        Binding("pagedown", "page(1)", "Scroll down", show=False),
        Binding("ctrl+n", "switch_room(1)", "Next room"),
        Binding("ctrl+p", "switch_room(-1)", "Previous room"),
        Binding("r", "reconnect", "Reconnect"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        username: str,
        address: ChatAddress,
        opener: Opener = open_streams,
        *,
        version: bytes = VERSION_1_1,
        now: Callable[[], datetime] = local_now,
        credentials: Credentials | None = None,
    ) -> None:
        super().__init__()
        self.credentials = credentials  # a password to prove the name with (read before starting)
        self.username = username
        self.address = address
        self.version = version  # what to ask for; a CHAT/1.0 server makes a session fall back
        self.phase = Phase.CONNECTING
        self.user_count: int | None = None  # the room's members, once the server said
        self.room: str | None = None  # the room shown, once the server says which room we are in
        self.unread: dict[str, int] = defaultdict(int)  # room key -> lines come while not shown
        self.farewell: Farewell | None = None
        self.attempts = 0  # connection attempts so far, the first one included
        self._opener = opener
        self._now = now  # for history lines: today's say their time, older ones their date too
        self.session: Session | None = None  # the current (or the last) connection attempt
        self._writer: asyncio.StreamWriter | None = None
        self._leaving = False

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(self._status(), id="status")
        with Horizontal(id="body"):
            yield Static(rooms_text([], None, {}), id="rooms")
            yield Panes(id="panes")
            yield Static(members_text(None), id="members")
        yield ChatInput(
            id="input",
            placeholder=_PLACEHOLDER[self.phase],
            max_length=MAX_LINE_BYTES - len(chat_prefix(self.username)),
            completer=self._complete,
            list_completions=self._list_completions,
        )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ChatInput).focus()
        self._fit_panels(self.size.width)
        self._connect()

    def on_resize(self, event: events.Resize) -> None:
        self._fit_panels(event.size.width)

    def _fit_panels(self, width: int) -> None:
        """The room and member lists only when the terminal is wide enough for them and the messages."""
        self.query_one("#body").set_class(width < PANELS_MIN_WIDTH, "-narrow")

    @property
    def panes(self) -> Panes:
        return self.query_one(Panes)

    @property
    def messages(self) -> RichLog:
        """The message pane on screen: the viewed room's."""
        return self.panes.pane()

    def pane_lines(self) -> list[str]:
        """The message pane as plain text, one screen row per item (long lines are wrapped)."""
        return [strip.text for strip in self.messages.lines]

    def set_user_count(self, count: int | None) -> None:
        """Show how many users are in the room (None: unknown, not shown)."""
        self.user_count = count
        self._refresh_status()

    # -- showing lines -----------------------------------------------------------------

    def show(self, lines: Sequence[Text], *, follow: bool = False, key: str | None = None) -> None:
        """Append `lines` to a pane (the viewed one by default); a view at its end stays there."""
        if not lines:
            return
        pane = self.panes.pane(key)
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
        """One connection attempt: connect, register, then relay until it ends.

        A server that knows only CHAT/1.0 refuses CHAT/1.1: the session falls
        back and this connects once more, within the same attempt.
        """
        session = Session(
            self.username, help_text=HELP_TEXT, version=self.version, credentials=self.credentials
        )
        self.session, self._writer = session, None
        self._set_phase(Phase.CONNECTING)
        self._sync_rooms()
        self.show_notice(f"Connecting to {self.address} ...")
        first = True
        while session.state is SessionState.STARTING:
            await self._converse(session, first)
            first = False

    async def _converse(self, session: Session, first: bool) -> None:
        """One connection of `session`: open it, register, relay until the session ends or falls back."""
        try:
            reader, writer = await asyncio.wait_for(self._opener(self.address), CONNECT_TIMEOUT_S)
        except Exception as error:  # a user never sees a traceback
            if os.environ.get("CHATROOM_DEBUG") and not isinstance(error, OSError | asyncio.TimeoutError):
                raise
            self._apply(session.fail(connect_error(self.address, error)))
            return
        self._writer = writer
        try:
            if first:
                self.show_notice("Connection to server established. Sending intro message...")
            self._apply(session.start())
            deadline = asyncio.get_running_loop().time() + CONNECT_TIMEOUT_S
            while session.state in (SessionState.REGISTERING, SessionState.CHATTING):
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
                self._show_incoming(effect.lines)
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
                self._sync_rooms()
                self._view(effect.room)
            elif isinstance(effect, RoomsChanged):
                self._sync_rooms()
            elif isinstance(effect, Reconnect):
                self._writer = None  # this connection is done; _attempt opens the next
            elif isinstance(effect, LeaveRequested):
                self.call_later(self.action_leave)
            elif isinstance(effect, Ended):
                if effect.failed:
                    self._connection_ended(effect.message or "")
                else:
                    self._finish(effect.status, _farewell(effect))

    def _show_incoming(self, lines: Sequence[Shown]) -> None:
        """Each line to its room's pane (the viewed one when it has none); count what lands out of sight."""
        now = self._now()
        by_pane: dict[str, list[Text]] = defaultdict(list)
        rooms_by_key = (
            {room_key(room): room for room in self.session.roster.room_names()} if self.session else {}
        )
        for line in lines:
            key = self.panes.viewed
            if line.room is not None and line.kind is not ShownKind.FOLLOWED:
                candidate = room_key(line.room)
                key = candidate if self.panes.has(candidate) else key
            by_pane[key].append(shown_text(line, self.username, viewed=rooms_by_key.get(key), now=now))
            if key != self.panes.viewed and line.kind is ShownKind.CHAT:
                self.unread[key] += 1
        for key, texts in by_pane.items():
            self.show(texts, key=key)
        if any(key != self.panes.viewed for key in by_pane):
            self._refresh_lists()

    def _sync_rooms(self) -> None:
        """One pane per room the user is in: new rooms get one (or take over a pane left without a room)."""
        roster = self.session.roster if self.session is not None else None
        rooms = roster.room_names() if roster is not None else []
        keys = [room_key(room) for room in rooms]
        panes = self.panes
        for key in keys:
            if panes.has(key):
                continue
            if panes.viewed not in keys:  # the first room entered, or CHAT/1.0's one room moved
                panes.rename(panes.viewed, key)
            else:
                panes.add(key)
        for key in panes.room_keys():
            if key not in keys and key != panes.viewed:
                panes.drop(key)
                self.unread.pop(key, None)
        if roster is not None and roster.current is not None and panes.viewed not in (NO_ROOM, *keys):
            self._view(roster.current)
        self._refresh_lists()

    def _view(self, room: str) -> None:
        """Show `room`'s pane (its lines, its members) and mark it read."""
        key = room_key(room)
        if not self.panes.has(key):
            return
        self.panes.view(key)
        self.room = room
        self.unread.pop(key, None)
        pane = self.messages
        pane.scroll_end(animate=False, immediate=True)
        self._refresh_lists()

    def _refresh_lists(self) -> None:
        """The room list, the member list and the status bar, as the roster now says."""
        roster = self.session.roster if self.session is not None else None
        rooms = roster.room_names() if roster is not None else []
        info = roster.room(self.room) if roster is not None else None
        self.query_one("#rooms", Static).update(rooms_text(rooms, self.room, self.unread))
        self.query_one("#members", Static).update(members_text(info))
        self.user_count = info.size if info is not None else None
        self._refresh_status()
        self.refresh_bindings()  # Ctrl-N / Ctrl-P come and go with the second room

    def _complete(self, before: str, word: str) -> list[str]:
        return self.session.complete(before, word) if self.session is not None else []

    def _list_completions(self, options: tuple[str, ...]) -> None:
        """A Tab that could add nothing: the choices on one line, as the line client lists them."""
        width = self.messages.scrollable_content_region.width or self.size.width
        listed = render.format_completions(options, width, _NO_COLOR)
        self.show([Text(listed, style=DIM_STYLE)], follow=True)

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

    def action_switch_room(self, step: int) -> None:
        """Ctrl-N / Ctrl-P: show the next / previous room the user is in (CHAT/1.1; the server follows)."""
        if self.session is None:  # check_action offers it only with two rooms or more
            return
        rooms = self.session.roster.room_names()
        keys = [room_key(room) for room in rooms]
        here = keys.index(self.panes.viewed) if self.panes.viewed in keys else 0
        self._apply(self.session.switch_to(rooms[(here + step) % len(rooms)]))

    def action_page(self, direction: int) -> None:
        if direction < 0:
            self.messages.scroll_page_up(animate=False)
        else:
            self.messages.scroll_page_down(animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("reconnect", "quit"):
            return self.phase is Phase.DISCONNECTED
        if action == "switch_room":  # offered (and shown below) only while there is a room to switch to
            session = self.session
            return session is not None and session.version == VERSION_1_1 and len(session.roster.rooms) > 1
        return True


def _farewell(ended: Ended) -> Farewell | None:
    """The session's last word, printed once the screen is restored."""
    return Farewell(ended.message, error=ended.failed) if ended.message is not None else None
