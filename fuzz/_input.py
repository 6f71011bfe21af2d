"""Structured choices out of the fuzzer's bytes, in pure Python so a harness runs without atheris.

A small subset of atheris.FuzzedDataProvider: the first bytes steer (limits,
how the stream is cut into reads, decisions), the rest is the payload. Every
call succeeds whatever the input (missing bytes read as 0), so a harness never
fails for running out of input.
"""

from __future__ import annotations

from collections.abc import Iterator

MAX_CUTS = 8  # at most this many read sizes, repeated over the stream


class FuzzInput:
    """Consumes `data` from the front; `rest()` is what is left."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def byte(self) -> int:
        if self._at >= len(self._data):
            return 0
        self._at += 1
        return self._data[self._at - 1]

    def int_in(self, low: int, high: int) -> int:
        """low..high inclusive (from one byte: the range should be small)."""
        return low + self.byte() % (high - low + 1)

    def flag(self) -> bool:
        return bool(self.byte() & 1)

    def cuts(self) -> list[int]:
        """Read sizes (1 to 256 bytes) to cut a stream into; empty: one read of everything."""
        return [1 + self.byte() for _ in range(self.byte() % (MAX_CUTS + 1))]

    def take(self, count: int) -> bytes:
        piece = self._data[self._at : self._at + count]
        self._at += len(piece)
        return piece

    def rest(self) -> bytes:
        piece = self._data[self._at :]
        self._at = len(self._data)
        return piece


def split(stream: bytes, cuts: list[int]) -> Iterator[bytes]:
    """`stream` in reads of the sizes in `cuts`, repeated; one read when `cuts` is empty."""
    if not cuts:
        yield stream
        return
    at, turn = 0, 0
    while at < len(stream):
        size = cuts[turn % len(cuts)]
        yield stream[at : at + size]
        at += size
        turn += 1


def fields(payload: bytes, count: int) -> list[bytes]:
    """`payload` split at NUL into exactly `count` fields (missing ones empty, the last keeps extra NULs)."""
    parts = payload.split(b"\0", count - 1)
    return parts + [b""] * (count - len(parts))
