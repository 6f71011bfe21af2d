"""The command parser (chatroom/hub/commands.py `parse`): any text after one '!'.

Invariants: `parse` never raises and returns a command or a Mistake; a
Mistake is a 4xx code with one sentence (no LF: it becomes one reply line);
each command's arguments obey the rules the hub relies on (a Join's room is
valid, a Whisper goes to a valid name with some text, a History asks for 1 to
the most lines, a topic is within its limit), and the command word is
case-insensitive.
"""

from __future__ import annotations

from chatroom.hub import commands
from chatroom.limits import HISTORY_MAX_REPLAY, MAX_BAN_S, MAX_TOPIC_CHARS
from chatroom.protocol.lines import is_clean_text
from chatroom.protocol.names import is_valid_room_name, is_valid_username


def test_one_input(data: bytes) -> None:
    if not is_clean_text(data):
        return  # the server parses only clean chat text
    text = "!" + data.decode()
    parsed = commands.parse(text)
    if isinstance(parsed, commands.Mistake):
        assert parsed.code in (400, 404, 421), parsed
        assert "\n" not in parsed.sentence and parsed.sentence
    elif isinstance(parsed, commands.Join):
        assert is_valid_room_name(parsed.room)
    elif isinstance(parsed, commands.Leave):
        assert parsed.room is None or is_valid_room_name(parsed.room)
    elif isinstance(parsed, commands.Whisper):
        assert is_valid_username(parsed.to) and parsed.text.strip(" ")
        assert text.endswith(parsed.text)
    elif isinstance(parsed, commands.History):
        assert 1 <= parsed.lines <= HISTORY_MAX_REPLAY
    elif isinstance(parsed, commands.Topic):
        assert parsed.text is None or 0 < len(parsed.text) <= MAX_TOPIC_CHARS
    elif isinstance(parsed, commands.Follow | commands.Unfollow):
        target = parsed.target
        assert is_valid_room_name(target) or (target.startswith("@") and is_valid_username(target[1:]))
    elif isinstance(parsed, commands.Kick):
        assert is_valid_username(parsed.name) and "\n" not in parsed.reason
    elif isinstance(parsed, commands.Ban):
        assert is_valid_username(parsed.name)
        assert parsed.seconds is None or 0 < parsed.seconds <= MAX_BAN_S
    elif isinstance(parsed, commands.Unban):
        assert is_valid_username(parsed.name)
    elif isinstance(parsed, commands.Close):
        assert is_valid_room_name(parsed.room)
    else:
        assert isinstance(
            parsed,
            commands.Help | commands.Rooms | commands.ListMembers | commands.Follows | commands.Unclaim,
        ), parsed
    word, space, rest = text[1:].partition(" ")
    if not isinstance(parsed, commands.Mistake) and word.upper().lower() == word.lower():
        assert commands.parse("!" + word.upper() + space + rest) == parsed  # !JOIN is !join
