"""Progress on stderr: a redrawn bar on a terminal, a plain line now and then otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24
PLAIN_EVERY_S = 10.0  # without a terminal, a line at most this often within one task
REDRAW_EVERY_S = 0.2


class Progress:
    def __init__(self, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._label = ""
        self._total = 0.0
        self._start = 0.0
        self._last = 0.0
        self._drawn = False

    def start(self, label: str, expected_s: float = 0.0) -> None:
        """A new task; expected_s (when known) fills the bar."""
        self._clear()
        self._label = label
        self._total = expected_s
        self._start = self._last = time.monotonic()
        if not self.tty:
            self._write(f"{label} ...\n")
        else:
            self.tick()

    def tick(self, detail: str = "") -> None:
        now = time.monotonic()
        elapsed = now - self._start
        if self.tty:
            if now - self._last < REDRAW_EVERY_S and self._drawn:
                return
            self._last = now
            if self._total > 0:
                fraction = min(1.0, elapsed / self._total)
                filled = int(fraction * BAR_WIDTH)
                bar = "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"
                text = f"\r{bar} {self._label} {elapsed:5.1f}/{self._total:.1f} s"
            else:
                text = f"\r{self._label} {elapsed:5.1f} s"
            if detail:
                text += f"  {detail}"
            self._write(text[:160] + "\x1b[K")
            self._drawn = True
        elif now - self._last >= PLAIN_EVERY_S:
            self._last = now
            extra = f" ({detail})" if detail else ""
            self._write(f"{self._label}: {elapsed:.0f} s{extra}\n")

    def note(self, text: str) -> None:
        """A line that stays (a result, a warning)."""
        self._clear()
        self._write(text + "\n")

    def finish(self) -> None:
        self._clear()

    def _clear(self) -> None:
        if self.tty and self._drawn:
            self._write("\r\x1b[K")
            self._drawn = False

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass
