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

    NFKC folds look-alike compatibility forms and casefold folds case, so one
    user cannot be impersonated by a name that merely renders the same.
    """
    return unicodedata.normalize("NFKC", name).casefold()
