"""The history store as the hub and the loop see it: time-stamped on the way in, answered in the loop.

The hub is pure (it reads no clock and touches no disk), so this adapter
stamps each room line with the time and hands it to the store's writer
thread; the store's answers come back through a descriptor the loop watches.
"""

from __future__ import annotations

import logging
import selectors
import time
from collections.abc import Callable

from chatroom.net.loop import EventLoop
from chatroom.store.history import HistoryLine, HistoryStore

log = logging.getLogger("chatroom.server")


class LoopHistory:
    """Implements chatroom.hub.hub.History over a HistoryStore, answering on the loop's thread."""

    def __init__(self, store: HistoryStore, loop: EventLoop) -> None:
        self.store = store
        self._loop = loop
        loop.watch(store, selectors.EVENT_READ, self)

    def record(self, room_key: str, room: str, sender: str, text: str) -> None:
        self.store.append(HistoryLine(room_key, room, sender, text, time.time()))

    def recent(
        self, room_key: str, limit: int, answer: Callable[[list[tuple[float, str, str]]], None]
    ) -> None:
        self.store.recent(
            room_key, limit, lambda lines: answer([(line.when, line.sender, line.text) for line in lines])
        )

    def handle_io(self, mask: int) -> None:
        self.store.run_answers()

    def handle_error(self, error: Exception) -> None:
        log.error("Unexpected error while answering history requests; still serving", exc_info=error)

    def close(self) -> None:
        """Stop watching, then write out what is queued and stop the writer (bounded)."""
        self._loop.unwatch(self.store)
        self.store.close()
