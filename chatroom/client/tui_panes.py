"""The full screen's message panes: one per room, so switching rooms shows that room's lines.

Only the pane being viewed is on screen. The others stay mounted at height
zero rather than hidden: a hidden RichLog does not know its width, so it would
hold every line written to it unrendered (without its line limit) until shown.
At height zero it renders each line as it comes, at the width it will be
shown at, and keeps only the last TUI_PANE_MAX_LINES.
"""

from __future__ import annotations

import itertools

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RichLog

from chatroom.limits import TUI_PANE_MAX_LINES

NO_ROOM = ""  # the key of the pane that is in no room yet (connecting, CHAT/1.0 before its 210)


class Panes(Vertical):
    """Message panes by room key (chatroom.protocol.names.room_key); exactly one is viewed."""

    DEFAULT_CSS = """
    Panes RichLog {
        height: 1fr;
        padding: 0 1;
        scrollbar-size-vertical: 1;
        background: $background;
    }
    Panes RichLog.-hidden {
        height: 0;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._ids = itertools.count()
        self._logs: dict[str, RichLog] = {NO_ROOM: self._new_log()}
        self.viewed = NO_ROOM

    def compose(self) -> ComposeResult:
        yield from self._logs.values()

    def pane(self, key: str | None = None) -> RichLog:
        """The pane of room `key`, the viewed one by default."""
        return self._logs[self.viewed if key is None else key]

    def room_keys(self) -> list[str]:
        return list(self._logs)

    def has(self, key: str) -> bool:
        return key in self._logs

    def add(self, key: str) -> RichLog:
        """A new, empty pane for room `key`, not viewed."""
        log = self._logs[key] = self._new_log()
        log.add_class("-hidden")
        self.mount(log)
        return log

    def rename(self, old: str, new: str) -> None:
        """The pane of `old` is `new`'s from now on (CHAT/1.0 moved rooms; or the first room entered)."""
        self._logs[new] = self._logs.pop(old)
        if self.viewed == old:
            self.viewed = new

    def drop(self, key: str) -> None:
        """Forget the pane of a room the user left (never the viewed one)."""
        if key != self.viewed and key in self._logs:
            self._logs.pop(key).remove()

    def view(self, key: str) -> None:
        """Put the pane of `key` on screen, and the others out of sight."""
        if key not in self._logs:
            return
        self.viewed = key
        for other, log in self._logs.items():
            log.set_class(other != key, "-hidden")

    def _new_log(self) -> RichLog:
        log = RichLog(
            id=f"pane-{next(self._ids)}", max_lines=TUI_PANE_MAX_LINES, wrap=True, markup=False, min_width=1
        )  # min_width: wrap at the pane's width, however narrow the side lists leave it
        log.can_focus = False  # the input keeps the keyboard; the wheel still scrolls
        return log
