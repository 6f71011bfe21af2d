"""User names: which are valid, and the form under which they are unique."""

# ruff: noqa: RUF001, RUF002, RUF003  (look-alike letters are what this module is about)

from __future__ import annotations

import unicodedata

from chatroom.limits import MAX_USERNAME_CHARS

_FORBIDDEN_NAME_START = "@#!"
_FORBIDDEN_NAME_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


# Letters that look like Latin ones in common fonts, folded into the key so that a name
# written wholly in Cyrillic or Greek cannot pass for the Latin name it looks like
# ('аре' in Cyrillic is 'ape'). Applied after casefold, so lower case is enough.
# docs/PROTOCOL.md section 3.1 lists it; tests/test_confusables.py is its table.
CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "һ": "h", "і": "i", "ј": "j",
    "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p", "ԛ": "q", "ѕ": "s",
    "т": "t", "у": "y", "ԝ": "w", "х": "x", "ѵ": "v", "ё": "e", "ї": "i",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ζ": "z",
}  # fmt: skip
_CONFUSABLES_TABLE = str.maketrans(CONFUSABLES)
_CONFUSABLE_LETTERS = frozenset(CONFUSABLES)  # most non-ASCII names have none: str.translate is slow
_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")  # scripts whose letters look alike: never mixed in one name


def is_valid_username(name: str) -> bool:
    """1 to 32 characters, no whitespace or control/format characters, no @ # ! first, one script.

    A name may not mix letters of Latin, Cyrillic and Greek ('аlice' with a
    Cyrillic 'а'): such a name exists only to pass for another.
    """
    if not 1 <= len(name) <= MAX_USERNAME_CHARS or name[0] in _FORBIDDEN_NAME_START:
        return False
    if any(ch.isspace() or unicodedata.category(ch) in _FORBIDDEN_NAME_CATEGORIES for ch in name):
        return False
    return name.isascii() or not mixes_scripts(name)


def mixes_scripts(name: str) -> bool:
    """True when `name` (after NFKC: fullwidth is Latin) has letters of two of Latin, Cyrillic, Greek."""
    seen = ""
    for ch in unicodedata.normalize("NFKC", name):
        if not ch.isalpha():
            continue
        script = "LATIN" if ch.isascii() else unicodedata.name(ch, "").partition(" ")[0]
        if script in _SCRIPTS:
            if seen and script != seen:
                return True
            seen = script
    return False


def username_key(name: str) -> str:
    """The form under which names are unique: 'Alice', 'alice' and 'ALICE' in fullwidth letters are one user.

    NFKC folds compatibility forms (fullwidth letters, ligatures) and casefold
    folds case. NFKC(casefold(NFKC(name))) is used because neither order alone
    is closed: casefold can undo NFKC's composition ('ΐ' U+0390 and 'Ϊ́'
    U+03AA U+0301 differ under NFKC-then-casefold). Then Cyrillic and
    Greek letters that look like Latin ones are folded to them (CONFUSABLES), so
    'аре' written in Cyrillic is the user 'ape'; names that mix those scripts
    are not valid at all (is_valid_username). An ASCII name skips all of it.
    """
    if name.isascii():
        return name.lower()  # for ASCII, NFKC changes nothing and casefold is lower()
    key = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    if key.isascii() or _CONFUSABLE_LETTERS.isdisjoint(key):
        return key
    return key.translate(_CONFUSABLES_TABLE)


def is_valid_room_name(name: str) -> bool:
    """'#' and then 1 to 32 characters under the user-name rules (no whitespace, no control characters)."""
    if not name.startswith("#") or not 2 <= len(name) <= MAX_USERNAME_CHARS + 1:
        return False
    rest = name[1:]
    return not any(ch.isspace() or unicodedata.category(ch) in _FORBIDDEN_NAME_CATEGORIES for ch in rest)


def room_key(name: str) -> str:
    """The form under which rooms are one: '#Dev' and '#dev' fold as user names do."""
    return username_key(name)
