"""Protected names and bans in the server's SQLite file: the SQL and the password hashing.

Everything here runs on the store's one thread (chatroom.store.history's
writer, through `HistoryStore.submit`), which owns the SQLite connection, so
neither the disk nor scrypt ever runs on the server's loop. The loop keeps
its own copy of which names are protected and banned (loaded once with
`load`), so a registration of an unprotected name never waits for this thread.

Passwords: hashlib.scrypt with a random 16-byte salt per account, n=2**14,
r=8, p=1 (16 MiB of memory, about 40 to 90 ms per check on the machine of
docs/SECURITY.md, "Protected names"), 32-byte key; each row keeps its n, r, p so that
stronger parameters can come later without invalidating old passwords.
Compared with hmac.compare_digest.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import sqlite3
import time

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
SALT_LEN = 16
# scrypt needs 128 * n * r * p bytes (16 MiB here) and a little more; OpenSSL
# refuses more than maxmem (default 32 MiB), so it is set from the parameters.
_SCRYPT_MAXMEM = 2 * 128 * SCRYPT_N * SCRYPT_R * SCRYPT_P

# WITHOUT ROWID: the primary key is the table itself (no second index to keep).
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS accounts (name_key TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " salt BLOB NOT NULL, hash BLOB NOT NULL, n INTEGER NOT NULL, r INTEGER NOT NULL,"
    " p INTEGER NOT NULL, created REAL NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS bans (name_key TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " until REAL, by TEXT NOT NULL, at REAL NOT NULL) WITHOUT ROWID",  # until NULL: for good
)


class Outcome(enum.Enum):
    """What a registration's credentials came to."""

    PROVEN = "proven"  # the password is the name's
    CLAIMED = "claimed"  # the name was free and is now protected by it
    CHANGED = "changed"  # proven, and the password is the new one from now on
    WRONG = "wrong"  # the name is protected by another password
    NOT_PROTECTED = "not protected"  # a password for a name nobody claimed (and no claim=yes)


def prepare(db: sqlite3.Connection) -> None:
    """Create the tables in a file that has none yet (any history schema version has room for them)."""
    for statement in SCHEMA:
        db.execute(statement)


def hash_password(
    password: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P
) -> bytes:
    """scrypt of the password's UTF-8 (it releases the GIL: the loop keeps running meanwhile)."""
    maxmem = max(_SCRYPT_MAXMEM, 2 * 128 * n * r * p)
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=SCRYPT_DKLEN)


def load(db: sqlite3.Connection, now: float) -> tuple[set[str], dict[str, float | None]]:
    """The protected name keys and the bans still in force (ended ones are deleted)."""
    db.execute("DELETE FROM bans WHERE until IS NOT NULL AND until <= ?", (now,))
    protected = {row[0] for row in db.execute("SELECT name_key FROM accounts")}
    bans = {row[0]: row[1] for row in db.execute("SELECT name_key, until FROM bans")}
    return protected, bans


def check(
    db: sqlite3.Connection,
    key: str,
    name: str,
    password: str,
    *,
    claim: bool = False,
    new_password: str | None = None,
) -> Outcome:
    """Prove, claim or change the password of `name` (folded: `key`); the thread runs these one by one.

    Two connections claiming one free name are therefore decided in turn: the
    first inserts the row, the second is checked against it.
    """
    row = db.execute("SELECT salt, hash, n, r, p FROM accounts WHERE name_key = ?", (key,)).fetchone()
    if row is None:
        if not claim:
            return Outcome.NOT_PROTECTED
        salt = os.urandom(SALT_LEN)
        db.execute(
            "INSERT INTO accounts (name_key, name, salt, hash, n, r, p, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key, name, salt, hash_password(password, salt), SCRYPT_N, SCRYPT_R, SCRYPT_P, time.time()),
        )
        return Outcome.CLAIMED
    salt, stored, n, r, p = row
    if not hmac.compare_digest(hash_password(password, salt, n, r, p), stored):
        return Outcome.WRONG
    if new_password is None:
        return Outcome.PROVEN
    new_salt = os.urandom(SALT_LEN)
    db.execute(
        "UPDATE accounts SET salt = ?, hash = ?, n = ?, r = ?, p = ? WHERE name_key = ?",
        (new_salt, hash_password(new_password, new_salt), SCRYPT_N, SCRYPT_R, SCRYPT_P, key),
    )
    return Outcome.CHANGED


def unclaim(db: sqlite3.Connection, key: str) -> bool:
    """The name is no longer protected; False if it was not."""
    return db.execute("DELETE FROM accounts WHERE name_key = ?", (key,)).rowcount > 0


def ban(db: sqlite3.Connection, key: str, name: str, until: float | None, by: str) -> None:
    """Ban the name until `until` (time.time(); None: for good), replacing an earlier ban."""
    db.execute(
        "INSERT OR REPLACE INTO bans (name_key, name, until, by, at) VALUES (?, ?, ?, ?, ?)",
        (key, name, until, by, time.time()),
    )


def unban(db: sqlite3.Connection, key: str) -> bool:
    """End the name's ban; False if there was none."""
    return db.execute("DELETE FROM bans WHERE name_key = ?", (key,)).rowcount > 0
