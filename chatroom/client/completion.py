"""What Tab may complete a word to: a `!command`, a `#room` or a user name, from where the word stands.

Pure: the words come from the session's roster (chatroom.client.roster) and
the command list (chatroom.client.commands); the line editor
(chatroom.client.lineedit) decides what to do with one match or several.
Matching ignores case the way names are folded (`#Dev` completes `#d`).

    candidates("", "!jo", rooms, names)          # ['!join']
    candidates("!join ", "#d", rooms, names)     # ['#design', '#dev']
    candidates("!msg ", "b", rooms, names)       # ['bob']
    candidates("hi ", "@b", rooms, names)        # ['@bob']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from chatroom.client.commands import ALL_COMMANDS
from chatroom.protocol.names import username_key

Completer = Callable[[str, str], list[str]]
# (the line before the word, the word up to the cursor) -> what the word may become

_ROOM_COMMANDS = frozenset({"!join", "!leave"})
_NAME_COMMANDS = frozenset({"!msg"})
_FOLLOW_COMMANDS = frozenset({"!follow", "!unfollow"})


def candidates(
    before: str, word: str, rooms: Sequence[str], names: Sequence[str], commands: Iterable[str] = ALL_COMMANDS
) -> list[str]:
    """Every completion of `word`, sorted, each once; [] when there is nothing to complete."""
    words = before.split()
    command = words[0].casefold() if words and words[0].startswith("!") else None
    argument = len(words) == 1  # the word is the command's first argument
    if not words and word.startswith("!"):
        return _matching(word, commands, str.casefold)
    if word.startswith("#"):
        return _matching(word, rooms)
    if word.startswith("@"):
        return ["@" + name for name in _matching(word[1:], names)]
    if argument and command in _ROOM_COMMANDS:  # the '#' may be left out: `!join de` Tab
        return _matching("#" + word, rooms)
    if argument and command in _FOLLOW_COMMANDS and not word:
        return _matching("", rooms) + ["@" + name for name in _matching("", names)]
    if (argument and command in _NAME_COMMANDS) or (word and command is None):
        return _matching(word, names)
    return []


def _matching(word: str, options: Iterable[str], key: Callable[[str], str] = username_key) -> list[str]:
    wanted = key(word)
    found: dict[str, str] = {}
    for option in options:
        folded = key(option)
        if folded.startswith(wanted) and folded not in found:
            found[folded] = option
    return sorted(found.values(), key=lambda option: (key(option), option))


def common_prefix(options: Sequence[str]) -> str:
    """The longest start all `options` share, ignoring case; spelled as the first option spells it."""
    if not options:
        return ""
    first = options[0]
    length = len(first)
    for option in options[1:]:
        length = min(length, len(option))
        for index in range(length):
            if option[index].casefold() != first[index].casefold():
                length = index
                break
    return first[:length]
