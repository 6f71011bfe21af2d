"""CHAT/1.0's fixed lines and the small parsers and builders for the rest.

docs/PROTOCOL.md is the prose version of what this module and its siblings implement.
"""

from __future__ import annotations

import re

from chatroom.protocol.names import is_valid_username

VERSION = b"CHAT/1.0"

REGISTERED = b"200 Registration successful\n"
INVALID_REGISTRATION = b"400 Invalid registration\n"
ALREADY_REGISTERED = b"401 Client already registered\n"
INVALID_MESSAGE = b"400 Invalid message\n"
NOT_YOUR_NAME = b"403 Not your username\n"
REGISTRATION_TIMEOUT = b"408 Registration timeout\n"
LINE_TOO_LONG = b"413 Line too long\n"
TOO_MANY_CONNECTIONS = b"429 Too many connections\n"
SERVER_DISCONNECT = b"DISCONNECT CHAT/1.0\n"

# C0 controls but TAB, DEL, and C1 controls (U+0080-U+009F, UTF-8 \xc2\x80-\x9f):
# they could move a receiving terminal's cursor or rewrite its screen, so a
# chat line carrying one is refused, not relayed.
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]|\xc2[\x80-\x9f]")


class LocalProtocolError(Exception):
    """Our own code asked for something the protocol forbids in this state."""


def chat_prefix(name: str) -> bytes:
    """The bytes every chat line from `name` starts with."""
    return b"@" + name.encode() + b": "


def split_chat_line(line: str) -> tuple[str, str] | None:
    """('alice', 'hi') for '@alice: hi'; None for anything that is not a chat line."""
    if not line.startswith("@"):
        return None
    name, sep, text = line[1:].partition(": ")
    if not sep or not name or " " in name:
        return None
    return name, text


def register_line(name: str) -> bytes:
    return b"REGISTER " + name.encode() + b" " + VERSION + b"\n"


def disconnect_line(name: str) -> bytes:
    return b"DISCONNECT " + name.encode() + b" " + VERSION + b"\n"


def parse_register(line: bytes) -> str | None:
    """The username of a well-formed REGISTER line, else None."""
    parts = line.split(b" ")
    if len(parts) != 3 or parts[0] != b"REGISTER" or parts[2] != VERSION:
        return None
    try:
        name = parts[1].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return name if is_valid_username(name) else None


def is_disconnect_line(line: bytes) -> bool:
    """DISCONNECT <any name> CHAT/1.0, well formed."""
    parts = line.split(b" ")
    return len(parts) == 3 and parts[0] == b"DISCONNECT" and parts[2] == VERSION and parts[1] != b""


# Every byte an ASCII chat line may hold: printable ASCII and TAB.
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\t"


def is_clean_text(line: bytes) -> bool:
    """UTF-8 with no control characters but TAB."""
    if line.isascii():  # most lines: deleting every allowed byte must leave nothing (all in C)
        return not line.translate(None, _PRINTABLE_ASCII)
    if _CONTROL_BYTES.search(line) is not None:
        return False
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
