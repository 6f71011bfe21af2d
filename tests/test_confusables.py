"""The names table of issue 10: which names are one user, which are two, which are refused.

NFKC + casefold (section 3 of docs/PROTOCOL.md), plus the rule for look-alike
scripts (section 9.5): a name may not mix Latin, Cyrillic and Greek letters,
and a name wholly in Cyrillic or Greek letters that look Latin is the Latin name.
"""

# ruff: noqa: RUF001, RUF003  (look-alike letters are what this table is about)

from __future__ import annotations

import time

import pytest

from chatroom.protocol import parse_registration
from chatroom.protocol.names import CONFUSABLES, is_valid_username, username_key

COLLIDE = [
    ("alice", "Alice"),
    ("alice", "ALICE"),
    ("alice", "ａｌｉｃｅ"),  # fullwidth
    ("ape", "аре"),  # Cyrillic a, er, ie
    ("APE", "АРЕ"),  # Cyrillic capitals
    ("coca", "соса"),  # Cyrillic es, o, es, a
    ("xoxo", "хохо"),  # Cyrillic ha, o
    ("Ooo", "Οοο"),  # Greek omicron
    ("kat", "κατ"),  # Greek kappa, alpha, tau
    ("strasse", "STRASSE"),
    ("straße", "STRASSE"),  # casefold: ß is ss
    ("ﬁx", "fix"),  # ligature
]

DISTINCT = [
    ("alice", "alicé"),  # an accent is a different name
    ("alice", "alice_"),
    ("иван", "ivan"),  # Cyrillic that does not look Latin stays Cyrillic
    ("Σοφία", "sofia"),
    ("anna", "анна"),  # н looks like h, not n: 'ahha'
    ("l", "1"),
    ("O", "0"),  # digits are not folded (documented limit)
]

REFUSED = [
    "аlice",  # Cyrillic а, Latin lice
    "alicе",  # Latin alic, Cyrillic е
    "pаypal",
    "Αlex",  # Greek capital alpha
    "ΑΡЕ",  # Greek alpha, rho, Cyrillic ie
    "ｐаypal",  # fullwidth Latin is Latin
]

ACCEPTED = ["alice", "иван", "Σοφία", "ｐａｙｐａｌ", "Ölaf", "李小龍", "ivan-иван"[:4], "bob_42"]


@pytest.mark.parametrize(("one", "other"), COLLIDE)
def test_names_that_look_alike_are_one_user(one: str, other: str) -> None:
    assert is_valid_username(one) and is_valid_username(other)
    assert username_key(one) == username_key(other)


@pytest.mark.parametrize(("one", "other"), DISTINCT)
def test_names_that_differ_are_two_users(one: str, other: str) -> None:
    assert username_key(one) != username_key(other)


@pytest.mark.parametrize("name", REFUSED)
def test_names_mixing_latin_cyrillic_or_greek_letters_are_refused_at_registration(name: str) -> None:
    assert not is_valid_username(name)
    assert parse_registration(f"REGISTER {name} CHAT/1.0".encode()) is None  # 400 Invalid registration


@pytest.mark.parametrize("name", ACCEPTED)
def test_names_in_one_script_are_valid(name: str) -> None:
    assert is_valid_username(name)


def test_the_table_maps_only_cyrillic_and_greek_lower_case_letters_to_ascii() -> None:
    import unicodedata

    for letter, latin in CONFUSABLES.items():
        assert unicodedata.name(letter).split()[0] in ("CYRILLIC", "GREEK"), letter
        assert letter == letter.casefold() and latin.isascii() and len(latin) == 1


def test_the_key_stays_fast_for_ten_thousand_ascii_names() -> None:
    """Every registration and name lookup computes it; ASCII names (the benchmarks') skip Unicode work."""
    names = [f"user{i}" for i in range(10_000)]
    start = time.perf_counter()
    keys = {username_key(name) for name in names}
    elapsed = time.perf_counter() - start
    assert len(keys) == 10_000
    assert elapsed < 0.1, f"{elapsed * 1000:.1f} ms for 10,000 keys"
