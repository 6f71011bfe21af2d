"""CHAT/1.0's fixed lines and the small parsers and builders for the rest.

docs/PROTOCOL.md is the prose version of what this module and its siblings implement.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode, b64encode
from dataclasses import dataclass, field

from chatroom.limits import HISTORY_MAX_REPLAY, MAX_PASSWORD_BYTES
from chatroom.protocol.names import is_valid_room_name, is_valid_username

VERSION = b"CHAT/1.0"
VERSION_1_1 = b"CHAT/1.1"  # events for clients that ask (docs/PROTOCOL.md section 7)

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


def register_line(name: str, version: bytes = VERSION, options: str = "") -> bytes:
    """REGISTER name version, with CHAT/1.1 `options` ('replay=0') when given."""
    tail = b" " + options.encode() if options else b""
    return b"REGISTER " + name.encode() + b" " + version + tail + b"\n"


def disconnect_line(name: str, version: bytes = VERSION) -> bytes:
    return b"DISCONNECT " + name.encode() + b" " + version + b"\n"


def server_disconnect_line(version: bytes = VERSION) -> bytes:
    return b"DISCONNECT " + version + b"\n"


@dataclass(frozen=True, slots=True)
class Credentials:
    """CHAT/1.1's password options (docs/PROTOCOL.md section 9.1); never shown in a repr or a log."""

    password: str = field(repr=False)
    claim: bool = False  # claim=yes: protect the name with `password`
    new_password: str | None = field(default=None, repr=False)  # new-password=: change it


@dataclass(frozen=True, slots=True)
class Registration:
    """A well-formed REGISTER line: who, which version, and CHAT/1.1's options."""

    name: str
    version: bytes = VERSION
    replay: int | None = None  # CHAT/1.1 replay=N; None: the server's default
    credentials: Credentials | None = None  # CHAT/1.1 password=, claim=, new-password=


def password_option(password: str) -> str:
    """'hunter 2' -> 'aHVudGVyIDI=': the base64 of its UTF-8, so any character survives a line."""
    return b64encode(password.encode()).decode("ascii")


def credentials_options(credentials: Credentials | None) -> str:
    """The REGISTER options that carry `credentials` ('' for none)."""
    if credentials is None:
        return ""
    options = [f"password={password_option(credentials.password)}"]
    if credentials.claim:
        options.append("claim=yes")
    if credentials.new_password is not None:
        options.append(f"new-password={password_option(credentials.new_password)}")
    return " ".join(options)


def _password(value: bytes) -> str | None:
    """The password a password= or new-password= value carries, or None when it is not valid."""
    try:
        raw = b64decode(value, validate=True)
        password = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password if 1 <= len(raw) <= MAX_PASSWORD_BYTES else None


_OPTION_KEY = re.compile(rb"[a-z-]+\Z")


def parse_registration(line: bytes) -> Registration | None:
    """A REGISTER line of either version (CHAT/1.1 with options), else None."""
    parts = line.split(b" ")
    if len(parts) < 3 or parts[0] != b"REGISTER":
        return None
    if parts[2] == VERSION:
        name = parse_register(line)
        return Registration(name) if name is not None else None
    if parts[2] != VERSION_1_1:
        return None
    name = parse_register(b" ".join([*parts[:2], VERSION]))
    if name is None:
        return None
    replay: int | None = None
    password: str | None = None
    new_password: str | None = None
    claim = False
    for option in parts[3:]:
        key, equals, value = option.partition(b"=")
        if not equals or not value or _OPTION_KEY.match(key) is None or not value.isascii():
            return None
        if not all(0x21 <= byte <= 0x7E for byte in value):
            return None
        if key == b"replay":  # keys we do not know are skipped: later versions may add some
            if not value.isdigit() or int(value) > HISTORY_MAX_REPLAY:
                return None
            replay = int(value)
        elif key == b"password" or key == b"new-password":
            given = _password(value)
            if given is None:
                return None
            if key == b"password":
                password = given
            else:
                new_password = given
        elif key == b"claim":
            if value != b"yes":
                return None
            claim = True
    if password is None:
        if claim or new_password is not None:
            return None
        return Registration(name, VERSION_1_1, replay)
    if claim and new_password is not None:
        return None
    return Registration(name, VERSION_1_1, replay, Credentials(password, claim, new_password))


def parse_room_prefix(line: bytes, prefix: bytes) -> tuple[str, int] | None:
    """For CHAT/1.1's `@name #room: text` (prefix b'@name #'): the room and where the text starts."""
    end = line.find(b": ", len(prefix))
    if end < 0:
        return None
    try:
        room = line[len(prefix) - 1 : end].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return (room, end + 2) if is_valid_room_name(room) else None


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


def is_disconnect_line(line: bytes, version: bytes = VERSION) -> bool:
    """DISCONNECT <any name> <version>, well formed."""
    parts = line.split(b" ")
    return len(parts) == 3 and parts[0] == b"DISCONNECT" and parts[2] == version and parts[1] != b""


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
