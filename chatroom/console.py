"""What a program does when the reader of its output has gone away (a closed pipe).

`python3 server.py | head -2`, or a terminal that closed: the next write fails
with EPIPE, and so would the interpreter's final flush, printing a traceback
and turning exit status 0 into 120. Pointing the dead descriptor at /dev/null
lets the program carry on (the server keeps serving) and exit quietly.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from typing import TextIO


def discard_output(fd: int) -> None:
    """From now on, what is written to `fd` goes to /dev/null."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)


def replace_unencodable(*streams: TextIO) -> None:
    """Characters a stream's encoding lacks (`café` on an ASCII console) become escapes, not errors.

    A console that is not UTF-8 (PYTHONIOENCODING=ascii, an ISO-8859 locale)
    must not make the program die, or log a traceback, on the first line of
    someone else's text.
    """
    for stream in streams:
        if isinstance(stream, io.TextIOWrapper):
            with contextlib.suppress(ValueError, OSError):  # closed, or not reconfigurable
                stream.reconfigure(errors="backslashreplace")


def say(line: str, stream: TextIO | None = None) -> None:
    """Print `line` and flush it at once; if nobody reads any more, stop writing quietly."""
    out = stream if stream is not None else sys.stdout
    try:
        out.write(line + "\n")
        out.flush()
    except BrokenPipeError:
        discard_output(out.fileno())


class ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Log lines as they are, flushed one by one; a closed pipe silences them, not the program."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.setFormatter(logging.Formatter("%(message)s"))

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, BrokenPipeError):
            discard_output(self.stream.fileno())
            return
        super().handleError(record)
