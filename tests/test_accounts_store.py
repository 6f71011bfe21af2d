"""chatroom.store.accounts through the store's own thread: claims, passwords, bans, a restart."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from chatroom.store import accounts
from chatroom.store.accounts import Outcome
from chatroom.store.history import HistoryStore

T = TypeVar("T")


def run(store: HistoryStore, work: Callable[[sqlite3.Connection], T]) -> T:
    result = store.call(work, 10.0)
    assert result is not None
    return result


def do(store: HistoryStore, work: Callable[[sqlite3.Connection], None]) -> None:
    """Run work that answers nothing (a ban), and wait for it."""

    def then_true(db: sqlite3.Connection) -> bool:
        work(db)
        return True

    assert store.call(then_true, 10.0)


@pytest.fixture
def store() -> Iterator[HistoryStore]:
    with HistoryStore(":memory:") as made:
        yield made


def check(store: HistoryStore, password: str, *, claim: bool = False, new: str | None = None) -> Outcome:
    return run(
        store, lambda db: accounts.check(db, "alice", "Alice", password, claim=claim, new_password=new)
    )


def test_a_claim_protects_the_name_and_only_its_password_proves_it(store: HistoryStore) -> None:
    assert check(store, "pw") is Outcome.NOT_PROTECTED
    assert check(store, "pw", claim=True) is Outcome.CLAIMED
    assert check(store, "pw") is Outcome.PROVEN
    assert check(store, "PW") is Outcome.WRONG
    assert check(store, "pw", claim=True) is Outcome.PROVEN  # a claim of one's own name is a login
    assert check(store, "other", claim=True) is Outcome.WRONG  # and never a takeover


def test_the_hash_is_salted_scrypt_with_its_parameters_and_never_the_password(store: HistoryStore) -> None:
    check(store, "pw", claim=True)
    row = run(store, lambda db: db.execute("SELECT salt, hash, n, r, p FROM accounts").fetchone())
    salt, stored, n, r, p = row
    assert (len(salt), len(stored), n, r, p) == (accounts.SALT_LEN, accounts.SCRYPT_DKLEN, 2**14, 8, 1)
    assert stored == accounts.hash_password("pw", salt) and b"pw" not in stored


def test_a_password_changes_only_with_the_old_one(store: HistoryStore) -> None:
    check(store, "old", claim=True)
    assert check(store, "wrong", new="new") is Outcome.WRONG
    assert check(store, "old") is Outcome.PROVEN
    assert check(store, "old", new="new") is Outcome.CHANGED
    assert check(store, "old") is Outcome.WRONG
    assert check(store, "new") is Outcome.PROVEN


def test_unclaim_frees_the_name(store: HistoryStore) -> None:
    check(store, "pw", claim=True)
    assert run(store, lambda db: accounts.unclaim(db, "alice")) is True
    assert run(store, lambda db: accounts.unclaim(db, "alice")) is False
    assert check(store, "pw") is Outcome.NOT_PROTECTED


def test_bans_load_until_they_end_and_unban_removes_them(store: HistoryStore) -> None:
    now = time.time()
    do(store, lambda db: accounts.ban(db, "bob", "Bob", now + 60, "root"))
    do(store, lambda db: accounts.ban(db, "carol", "carol", None, "root"))
    do(store, lambda db: accounts.ban(db, "dave", "dave", now - 1, "root"))
    protected, bans = run(store, lambda db: accounts.load(db, now))
    assert protected == set() and bans == {"bob": now + 60, "carol": None}
    _, later = run(store, lambda db: accounts.load(db, now + 61))
    assert later == {"carol": None}  # bob's is over (and deleted)
    assert run(store, lambda db: accounts.unban(db, "carol")) is True
    assert run(store, lambda db: accounts.unban(db, "carol")) is False


def test_accounts_and_bans_survive_a_restart_with_a_file(tmp_path: Path) -> None:
    path = str(tmp_path / "chat.sqlite3")
    with HistoryStore(path) as first:
        assert check(first, "pw", claim=True) is Outcome.CLAIMED
        do(first, lambda db: accounts.ban(db, "bob", "bob", None, "root"))
    with HistoryStore(path) as second:
        protected, bans = run(second, lambda db: accounts.load(db, time.time()))
        assert protected == {"alice"} and bans == {"bob": None}
        assert check(second, "pw") is Outcome.PROVEN


def test_work_that_raises_answers_none_and_the_store_goes_on(store: HistoryStore) -> None:
    def broken(db: sqlite3.Connection) -> int:
        raise sqlite3.OperationalError("disk on fire")

    assert store.call(broken, 10.0) is None
    assert check(store, "pw") is Outcome.NOT_PROTECTED


def test_submitted_work_is_answered_through_run_answers(store: HistoryStore) -> None:
    answers: list[Outcome | None] = []
    store.submit(lambda db: accounts.check(db, "x", "x", "pw", claim=True), answers.append)
    assert store.flush(10.0)
    store.run_answers()
    assert answers == [Outcome.CLAIMED]


# -- the loop's side: answers from memory when it can ------------------------------------------------


def test_an_unprotected_name_without_a_password_is_answered_at_once_without_the_store_thread() -> None:
    from chatroom.hub.accounts import Attempt, Refused
    from chatroom.net.loop import EventLoop
    from chatroom.server.accounts import LoopAccounts

    with HistoryStore(":memory:") as made:
        assert check(made, "pw", claim=True) is Outcome.CLAIMED  # 'alice' is protected
        loop = EventLoop()
        try:
            loop_accounts = LoopAccounts(made, loop, ())
            answers: list[tuple[Refused | None, bool]] = []
            loop_accounts.check("bob", Attempt(None, events=True), lambda *answer: answers.append(answer))
            assert answers == [(None, False)]  # synchronously: no thread, no wait
            loop_accounts.check("ALICE", Attempt(None, events=False), lambda *answer: answers.append(answer))
            assert answers[-1] == (Refused(401, "Client already registered"), False)
        finally:
            loop.close()


def test_the_server_and_client_help_name_the_account_options() -> None:
    from chatroom.client.cli import build_arg_parser as client_parser
    from chatroom.server.cli import build_arg_parser as server_parser

    server_help = server_parser().format_help()
    assert "--operator NAME" in server_help and "--allow-plain-passwords" in server_help
    client_help = client_parser().format_help()
    for option in ("--login", "--claim", "--change-password", "CHATROOM_PASSWORD"):
        assert option in client_help
