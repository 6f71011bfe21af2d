"""Signals as readable bytes: handlers do nothing, the event loop reads which arrived.

Python's C-level handler writes the signal number to a socket we registered
with `signal.set_wakeup_fd`; the loop selects on the other end. So a signal
wakes `select()` at once and is handled in the loop, never inside a handler.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

_Handler = Callable[[int, FrameType | None], Any] | int | None


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Python-level handler that leaves all the work to the loop."""


class SignalPipe:
    """Catch `signums` while open; `fileno()` becomes readable when one arrives."""

    def __init__(self, signums: Iterable[int]) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous_wakeup = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._previous: dict[int, _Handler] = {}
        for signum in signums:
            self._previous[signum] = signal.signal(signum, _ignore)

    def fileno(self) -> int:
        return self._reader.fileno()

    def read(self) -> list[int]:
        """The signals that arrived since the last call, in order."""
        received = bytearray()
        while True:
            try:
                chunk = self._reader.recv(512)
            except (BlockingIOError, InterruptedError):
                break
            if not chunk:
                break
            received += chunk
        return list(received)

    def close(self, *, then_ignore: bool = False) -> None:
        """Stop catching; the previous handlers come back, or with `then_ignore` the signals are ignored
        (a program that is exiting anyway must not die of a late SIGINT while it does)."""
        for signum, handler in self._previous.items():
            if then_ignore:
                signal.signal(signum, signal.SIG_IGN)
            else:
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(self._previous_wakeup)
        self._reader.close()
        self._writer.close()
