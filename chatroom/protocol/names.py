"""User names: which are valid, and the form under which they are unique."""

from __future__ import annotations

import unicodedata

from chatroom.limits import MAX_USERNAME_CHARS

_FORBIDDEN_NAME_START = "@#!"
_FORBIDDEN_NAME_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def is_valid_username(name: str) -> bool:
    """1 to 32 characters, no whitespace or control/format characters, no @ # ! first."""
    if not 1 <= len(name) <= MAX_USERNAME_CHARS or name[0] in _FORBIDDEN_NAME_START:
        return False
    return not any(ch.isspace() or unicodedata.category(ch) in _FORBIDDEN_NAME_CATEGORIES for ch in name)


def username_key(name: str) -> str:
    """The form under which names are unique: 'Alice', 'alice' and 'ALICE' in fullwidth letters are one user.

    NFKC folds compatibility forms (fullwidth letters, ligatures) and casefold
    folds case. NFKC(casefold(NFKC(name))) is used because neither order alone
    is closed: casefold can undo NFKC's composition ('ΐ' U+0390 and 'Ϊ́'
    U+03AA U+0301 differ under NFKC-then-casefold). It does not catch names
    that merely look alike across scripts (Latin 'a' and Cyrillic 'a', U+0430);
    confusables are a separate rule.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def is_valid_room_name(name: str) -> bool:
    """'#' and then 1 to 32 characters under the user-name rules (no whitespace, no control characters)."""
    if not name.startswith("#") or not 2 <= len(name) <= MAX_USERNAME_CHARS + 1:
        return False
    rest = name[1:]
    return not any(ch.isspace() or unicodedata.category(ch) in _FORBIDDEN_NAME_CATEGORIES for ch in rest)


def room_key(name: str) -> str:
    """The form under which rooms are one: '#Dev' and '#dev' fold as user names do."""
    return username_key(name)
