"""Text from a peer made safe to show: on a user's terminal and in the operator's log."""

from __future__ import annotations

# Joiners are invisible format characters, but emoji sequences need them; the
# other format characters (bidi overrides above all) could disguise a line.
_ALLOWED_INVISIBLE = frozenset("\t\u200c\u200d")


def printable(text: str) -> str:
    """`text` with control and format characters made visible, so a line cannot drive the terminal.

    Bidi overrides (U+202E and friends) are escaped too: they could make a line
    read as something it is not.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in _ALLOWED_INVISIBLE else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
