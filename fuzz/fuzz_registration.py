"""Registration and the other line parsers of chatroom/protocol/lines.py.

Invariants: `parse_registration` accepts only lines that `register_line` can
write back (the round trip gives the same Registration), with a valid name,
a known version, a replay in range and CHAT/1.1's password options; `parse_register` agrees with it on
CHAT/1.0; `is_clean_text` is exactly "UTF-8 without control characters but
TAB"; `split_chat_line` and `parse_room_prefix` return parts of their input.
No parser raises.
"""

from __future__ import annotations

import unicodedata

from chatroom.limits import HISTORY_MAX_REPLAY
from chatroom.protocol.lines import (
    VERSION,
    VERSION_1_1,
    Registration,
    credentials_options,
    is_clean_text,
    is_disconnect_line,
    parse_register,
    parse_registration,
    parse_room_prefix,
    register_line,
    split_chat_line,
)
from chatroom.protocol.names import is_valid_room_name, is_valid_username


def clean_by_definition(line: bytes) -> bool:
    """docs/PROTOCOL.md section 2's text: valid UTF-8 and no control character (Cc) but TAB."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch == "\t" or unicodedata.category(ch) != "Cc" for ch in text)


def test_one_input(data: bytes) -> None:
    line = data
    registration = parse_registration(line)
    name10 = parse_register(line)
    if name10 is not None:
        assert registration == Registration(name10), (registration, name10)
    if registration is not None:
        assert is_valid_username(registration.name)
        assert registration.version in (VERSION, VERSION_1_1)
        assert registration.replay is None or 0 <= registration.replay <= HISTORY_MAX_REPLAY
        assert registration.version == VERSION_1_1 or registration.replay is None
        assert b"\n" not in line and b"\r" not in line
        assert registration.version == VERSION_1_1 or registration.credentials is None
        replay = f"replay={registration.replay}" if registration.replay is not None else ""
        options = " ".join(filter(None, (replay, credentials_options(registration.credentials))))
        written = register_line(registration.name, registration.version, options)
        assert written.endswith(b"\n") and written.count(b"\n") == 1
        assert parse_registration(written[:-1]) == registration

    assert is_disconnect_line(line) in (True, False)
    assert is_clean_text(line) is clean_by_definition(line), line

    text = line.decode("utf-8", errors="replace")
    split_line = split_chat_line(text)
    if split_line is not None:
        name, said = split_line
        assert f"@{name}: {said}" == text

    name = split_line[0] if split_line is not None else "alice"
    prefix = b"@" + name.encode() + b" #"
    if line.startswith(prefix):
        found = parse_room_prefix(line, prefix)
        if found is not None:
            room, start = found
            assert is_valid_room_name(room)
            assert line[: start - 2] == prefix[:-1] + room.encode()
            assert line[start - 2 : start] == b": "
