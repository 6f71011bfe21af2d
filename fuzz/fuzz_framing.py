"""The framer (chatroom/protocol/framing.py): a byte stream cut into reads of any size.

Invariants: no line longer than the limit is ever yielded, none holds an LF;
what is held back is at most the limit plus one byte (a CR); the lines and the
overflow are the same whether the stream comes in one read or in many, and
match a three-line reference (split at LF, drop one CR, stop at the first
line over the limit); after an overflow nothing more is taken.
"""

from __future__ import annotations

from chatroom.protocol.framing import LineFramer
from fuzz._input import FuzzInput, split


def reference(stream: bytes, max_line: int) -> tuple[list[bytes], bool]:
    """The lines a framer must yield for `stream`, and whether it must overflow."""
    *complete, tail = stream.split(b"\n")
    lines: list[bytes] = []
    for line in complete:
        body = line[:-1] if line.endswith(b"\r") else line
        if len(body) > max_line:
            return lines, True
        lines.append(body)
    return lines, len(tail) > max_line + 1


def test_one_input(data: bytes) -> None:
    source = FuzzInput(data)
    max_line = source.int_in(1, 64)
    cuts = source.cuts()
    stream = source.rest()
    expected, overflow = reference(stream, max_line)

    whole = LineFramer(max_line)
    assert whole.feed(stream) == expected
    assert whole.overflowed is overflow

    framer = LineFramer(max_line)
    lines: list[bytes] = []
    for chunk in split(stream, cuts):
        got = framer.feed(chunk)
        for line in got:
            assert len(line) <= max_line, (len(line), max_line)
            assert b"\n" not in line
        lines += got
        assert framer.pending <= max_line + 1
        if framer.overflowed:
            assert framer.pending == 0
            assert framer.feed(b"more\n") == []
    assert lines == expected
    assert framer.overflowed is overflow
