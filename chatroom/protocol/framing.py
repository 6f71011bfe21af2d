"""Splitting a byte stream into bounded lines: the framing every line protocol here shares."""

from __future__ import annotations

from chatroom.limits import MAX_LINE_BYTES


class LineFramer:
    """Splits a byte stream into LF-terminated lines, each at most `max_line` bytes.

    A CR right before the LF is dropped. Lines are returned without their
    terminator. When a line (or the unfinished tail) grows past the limit the
    framer returns the lines before it, sets `overflowed`, and takes no more
    input: the connection is over.
    """

    __slots__ = ("max_line", "overflowed", "_tail")

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.max_line = max_line
        self.overflowed = False
        self._tail = b""

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held back."""
        return len(self._tail)

    def feed(self, data: bytes) -> list[bytes]:
        if self.overflowed:
            return []
        if self._tail:
            data = self._tail + data
        if b"\n" not in data:
            self._tail = data
            if len(data) > self.max_line + 1:  # +1: a CR may still precede the LF
                self._overflow()
            return []
        lines = data.split(b"\n")
        self._tail = lines.pop()
        if len(data) > self.max_line:
            # Slow path, only for big chunks: find the first line over the limit.
            for index, line in enumerate(lines):
                if len(line) > self.max_line and not (
                    len(line) == self.max_line + 1 and line.endswith(b"\r")
                ):
                    self._overflow()
                    del lines[index:]
                    break
            else:
                if len(self._tail) > self.max_line + 1:
                    self._overflow()
        if b"\r" not in data:
            return lines
        return [line[:-1] if line.endswith(b"\r") else line for line in lines]

    def whole_line(self, data: bytes) -> bytes | None:
        """The line `data` is, when it is exactly one whole line and nothing is held back; else None.

        Takes nothing: it only spares the common read of a busy connection the
        list that `feed` builds. On None, `feed(data)` does the full work.
        """
        if not data or self._tail or self.overflowed or len(data) > self.max_line:
            return None
        if data.find(b"\n") != len(data) - 1:  # the only LF is the last byte
            return None
        return data[:-2] if data.endswith(b"\r\n") else data[:-1]

    def discard(self) -> None:
        """Forget any unfinished line (the connection is over; free its memory now)."""
        self._tail = b""

    def _overflow(self) -> None:
        self.overflowed = True
        self._tail = b""
