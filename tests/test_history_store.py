"""The history store: what `recent` answers, where and when answers arrive, what survives, what is pruned,
and that the caller's thread never does SQLite work.

The store folds nothing itself: the server passes the key it matches rooms
by; these tests use str.casefold as that key.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.processes import child_env

from chatroom.limits import (
    HISTORY_FLUSH_INTERVAL_S,
    HISTORY_MAX_AGE_S,
    HISTORY_MAX_REPLAY,
    HISTORY_PRUNE_EVERY_LINES,
    HISTORY_WRITER_NICE,
)
from chatroom.store import history
from chatroom.store.history import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    HistoryError,
    HistoryLine,
    HistoryStore,
    default_history_path,
)

DEADLINE_S = 10.0  # for waits that end as soon as the writer thread has done its part
WRITER = "chatroom-history"  # the writer thread's name
NEVER_S = 3600.0  # a flush interval that never passes in a test: only a request or close writes


def said(text: str, room: str = "#Dev", sender: str = "alice", when: float | None = None) -> HistoryLine:
    return HistoryLine(room.casefold(), room, sender, text, time.time() if when is None else when)


def ask(store: HistoryStore, room: str, limit: int) -> list[HistoryLine]:
    """What the store answers to recent(), waiting the way the loop does: select on fileno()."""
    answers: list[list[HistoryLine]] = []
    store.recent(room.casefold(), limit, answers.append)
    deadline = time.monotonic() + DEADLINE_S
    while not answers:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "the history writer did not answer"
        select.select([store], [], [], remaining)
        store.run_answers()
    assert len(answers) == 1
    return answers[0]


def texts(lines: list[HistoryLine]) -> list[str]:
    return [line.text for line in lines]


def rows_in(path: Path) -> list[tuple[Any, ...]]:
    """The file's lines as another process would see them: (text, at) in id order."""
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT text, at FROM lines ORDER BY id").fetchall()
    finally:
        db.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[HistoryStore]:
    with HistoryStore(str(path), flush_interval_s=NEVER_S) as store:
        yield store


# -- what recent() answers -----------------------------------------------------------------------


def test_recent_answers_the_last_n_lines_of_the_room_oldest_first(store: HistoryStore) -> None:
    for number in range(5):
        store.append(said(f"dev {number}"))
        store.append(said(f"ops {number}", room="#ops"))
    assert texts(ask(store, "#dev", 3)) == ["dev 2", "dev 3", "dev 4"]
    assert texts(ask(store, "#dev", 100)) == [f"dev {number}" for number in range(5)]
    assert texts(ask(store, "#ops", 1)) == ["ops 4"]
    assert ask(store, "#nowhere", 10) == []


def test_rooms_are_matched_by_their_key_and_keep_the_name_as_said(store: HistoryStore) -> None:
    store.append(said("first", room="#Dev"))
    store.append(said("second", room="#DEV"))
    store.append(said("elsewhere", room="#devs"))
    lines = ask(store, "#dEV", 10)
    assert [(line.room_key, line.room, line.text) for line in lines] == [
        ("#dev", "#Dev", "first"),
        ("#dev", "#DEV", "second"),
    ]


def test_a_line_comes_back_as_it_was_appended(store: HistoryStore) -> None:
    line = HistoryLine("#dev", "#Dev", "bob", "héllo 🌍 \x00 <b>", time.time() - 1.234567)
    store.append(line)
    assert ask(store, "#dev", 1) == [line]


def test_the_limit_is_capped_at_history_max_replay_and_zero_or_less_answers_nothing(
    store: HistoryStore,
) -> None:
    for number in range(HISTORY_MAX_REPLAY + 50):
        store.append(said(str(number)))
    lines = ask(store, "#dev", 10_000)
    assert texts(lines) == [str(number) for number in range(50, HISTORY_MAX_REPLAY + 50)]
    assert ask(store, "#dev", 0) == []
    assert ask(store, "#dev", -5) == []


def test_recent_includes_the_lines_appended_just_before_it(store: HistoryStore) -> None:
    """The flush interval never passes here: only the writer's flush before reading can find them."""
    store.append(said("one"))
    store.append(said("two"))
    assert texts(ask(store, "#dev", 10)) == ["one", "two"]
    store.append(said("three"))
    assert texts(ask(store, "#dev", 10)) == ["one", "two", "three"]


rooms = st.sampled_from(["#Dev", "#dev", "#DEV", "#ops", "#lobby"])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("say"), rooms, st.text(st.characters(codec="utf-8"), max_size=12)),
        st.tuples(st.just("ask"), rooms, st.integers(-2, HISTORY_MAX_REPLAY + 5)),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(operations)
def test_any_sequence_of_appends_and_requests_answers_exactly_the_last_n_of_each_room(
    steps: list[tuple[str, str, str | int]],
) -> None:
    model: dict[str, list[HistoryLine]] = {}
    with HistoryStore(":memory:", flush_interval_s=NEVER_S) as store:
        for action, room, argument in steps:
            if action == "say":
                line = said(str(argument), room=room)
                store.append(line)
                model.setdefault(line.room_key, []).append(line)
            else:
                limit = max(0, min(int(argument), HISTORY_MAX_REPLAY))
                expected = model.get(room.casefold(), [])[-limit:] if limit else []
                assert ask(store, room, int(argument)) == expected


# -- how answers arrive ------------------------------------------------------------------------------


def test_answers_are_called_only_by_run_answers_on_its_thread_in_the_order_asked(
    store: HistoryStore,
) -> None:
    for number in range(3):
        store.append(said(f"a{number}", room="#a"))
        store.append(said(f"b{number}", room="#b"))
    called: list[tuple[str, int, list[str]]] = []

    def answer(label: str) -> Callable[[list[HistoryLine]], None]:
        return lambda lines: called.append((label, threading.get_ident(), texts(lines)))

    store.recent("#a", 10, answer("first"))
    store.recent("#b", 1, answer("second"))
    store.recent("#a", 2, answer("third"))
    assert store.flush(DEADLINE_S)  # requests are served in order: the three answers are ready now
    assert select.select([store], [], [], DEADLINE_S)[0] == [store]
    assert called == [], "an answer ran on the writer thread, or before run_answers()"
    store.run_answers()
    me = threading.get_ident()
    assert called == [
        ("first", me, ["a0", "a1", "a2"]),
        ("second", me, ["b2"]),
        ("third", me, ["a1", "a2"]),
    ]
    assert select.select([store], [], [], 0)[0] == [], "run_answers() left the wake-up readable"


def test_an_exception_in_one_answer_is_logged_and_the_others_still_run(
    store: HistoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.append(said("hello"))
    called: list[str] = []

    def broken(lines: list[HistoryLine]) -> None:
        raise RuntimeError("bug in an answer")

    store.recent("#dev", 5, lambda lines: called.append("before"))
    store.recent("#dev", 5, broken)
    store.recent("#dev", 5, lambda lines: called.append("after"))
    assert store.flush(DEADLINE_S)
    with caplog.at_level(logging.ERROR, logger="chatroom.server"):
        store.run_answers()
    assert called == ["before", "after"]
    [record] = [record for record in caplog.records if record.exc_info]
    assert "answer from the history" in record.getMessage()
    assert record.exc_info is not None and str(record.exc_info[1]) == "bug in an answer"


# -- what survives --------------------------------------------------------------------------------


def test_history_survives_close_and_reopen(path: Path) -> None:
    lines = [said(f"line {number}") for number in range(10)]
    with HistoryStore(str(path)) as store:
        for line in lines:
            store.append(line)
    with HistoryStore(str(path)) as store:
        assert ask(store, "#dev", 100) == lines


CHILD = """
import sys, time
from chatroom.store.history import HistoryLine, HistoryStore

store = HistoryStore(sys.argv[1])  # the default flush interval
def say(text):
    store.append(HistoryLine("#dev", "#Dev", "alice", text, time.time()))

for number in range(50):
    say(f"flushed {number}")
assert store.flush(10)
for number in range(50):
    say(f"timed {number}")
time.sleep(float(sys.argv[2]))
for number in range(50):
    say(f"lost {number}")
print("ready", flush=True)
time.sleep(60)
"""


def test_a_killed_server_loses_at_most_the_last_flush_interval_of_lines(path: Path) -> None:
    # A real duration must pass here: the "timed" lines are committed only by the writer's timer,
    # at most one flush interval after they were appended (plus the commit itself, given a
    # generous margin for a loaded machine).
    wait_s = HISTORY_FLUSH_INTERVAL_S + 0.5
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(wait_s)], stdout=subprocess.PIPE, env=child_env()
    )
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], DEADLINE_S + wait_s)
        assert ready and child.stdout.readline() == b"ready\n"
    finally:
        child.kill()  # SIGKILL: no close, no atexit, no flush
        child.wait()
    assert child.returncode == -signal.SIGKILL
    with HistoryStore(str(path)) as store:
        found = texts(ask(store, "#dev", HISTORY_MAX_REPLAY))
    kept = [f"flushed {number}" for number in range(50)] + [f"timed {number}" for number in range(50)]
    assert found[:100] == kept
    assert found[100:] == [f"lost {number}" for number in range(len(found) - 100)], "a gap or a reorder"


def test_a_reader_holding_the_file_open_does_not_stop_the_writer(path: Path) -> None:
    """WAL: a backup or the sqlite3 shell in the middle of a read does not make writes wait or fail."""
    with HistoryStore(str(path), flush_interval_s=NEVER_S) as store:
        store.append(said("before"))
        assert store.flush(DEADLINE_S)
        reader = sqlite3.connect(path, isolation_level=None)
        try:
            reader.execute("BEGIN")
            assert reader.execute("SELECT count(*) FROM lines").fetchone() == (1,)
            store.append(said("during"))
            assert store.flush(DEADLINE_S), "the writer waited for the reader"
            assert reader.execute("SELECT count(*) FROM lines").fetchone() == (1,), "the read is a snapshot"
            reader.execute("COMMIT")
        finally:
            reader.close()
        assert texts(ask(store, "#dev", 10)) == ["before", "during"]


def test_the_file_is_a_versioned_chatroom_history_in_wal_mode(path: Path) -> None:
    with HistoryStore(str(path)) as store:
        store.append(said("hello"))
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert [row[2] for row in db.execute("PRAGMA index_info(lines_by_room)")] == ["room_key", "id"]
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM lines WHERE room_key = ? ORDER BY id DESC LIMIT 5", ("#dev",)
        ).fetchall()
        assert "USING INDEX lines_by_room" in str(plan)
    finally:
        db.close()


def test_a_memory_database_works(tmp_path: Path) -> None:
    with HistoryStore(":memory:") as store:
        store.append(said("only in memory"))
        assert texts(ask(store, "#dev", 5)) == ["only in memory"]
    assert list(tmp_path.iterdir()) == []


def test_the_directory_of_the_file_is_created_when_missing(tmp_path: Path) -> None:
    path = tmp_path / "data" / "chatroom" / "history.sqlite3"
    with HistoryStore(str(path)) as store:
        store.append(said("hello"))
    assert texts(ask_file(path)) == ["hello"]


def ask_file(path: Path) -> list[HistoryLine]:
    with HistoryStore(str(path)) as store:
        return ask(store, "#dev", HISTORY_MAX_REPLAY)


def test_the_default_path_follows_the_xdg_base_directory_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/ann")
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/data")
    assert default_history_path() == "/srv/data/chatroom/history.sqlite3"
    for ignored in ("", "relative/data"):
        monkeypatch.setenv("XDG_DATA_HOME", ignored)
        assert default_history_path() == "/home/ann/.local/share/chatroom/history.sqlite3"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_history_path() == "/home/ann/.local/share/chatroom/history.sqlite3"


# -- files it refuses ------------------------------------------------------------------------------


def a_directory(tmp_path: Path) -> Path:
    return tmp_path


def under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "notes").write_text("not a directory\n")
    return tmp_path / "notes" / "history.sqlite3"


def a_text_file(tmp_path: Path) -> Path:
    path = tmp_path / "history.sqlite3"
    path.write_text("These are my notes, not a database.\n" * 20)
    return path


def another_database(tmp_path: Path) -> Path:
    path = tmp_path / "users.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (name TEXT)")
    db.commit()
    db.close()
    return path


def a_newer_schema(tmp_path: Path) -> Path:
    path = tmp_path / "history.sqlite3"
    HistoryStore(str(path)).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (a_directory, "it is a directory"),
        (under_a_file, "a file is in the way"),
        (a_text_file, "is not a chatroom history database (file is not a database)"),
        (another_database, "is not a chatroom history database (it is another SQLite database)"),
        (a_newer_schema, f"schema {SCHEMA_VERSION + 1}, which this version"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_file_it_cannot_use_is_refused_with_one_sentence_naming_it(
    tmp_path: Path, make: Callable[[Path], Path], reason: str
) -> None:
    path = make(tmp_path)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(HistoryError) as refused:
        HistoryStore(str(path))
    message = str(refused.value)
    assert str(path) in message and reason in message
    assert message.endswith(".") and "\n" not in message and ". " not in message, message
    if before is not None:
        assert path.read_bytes() == before, "a file that is not ours was changed"
    assert not [thread for thread in threading.enumerate() if thread.name == WRITER]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files")
def test_a_read_only_file_is_refused_at_once_not_at_the_first_line(path: Path) -> None:
    HistoryStore(str(path)).close()
    path.chmod(0o444)
    with pytest.raises(HistoryError, match="readonly"):
        HistoryStore(str(path))


# -- retention --------------------------------------------------------------------------------------


def test_at_most_max_rows_lines_are_kept_pruned_in_bulk_by_the_writer(path: Path) -> None:
    with HistoryStore(str(path), max_rows=10, flush_interval_s=NEVER_S) as store:
        for number in range(HISTORY_PRUNE_EVERY_LINES - 1):
            store.append(said(str(number)))
        assert store.flush(DEADLINE_S)
        assert len(rows_in(path)) == HISTORY_PRUNE_EVERY_LINES - 1, "pruned before the amortised point"
        store.append(said(str(HISTORY_PRUNE_EVERY_LINES - 1)))
        assert store.flush(DEADLINE_S)
        newest = [str(number) for number in range(HISTORY_PRUNE_EVERY_LINES - 10, HISTORY_PRUNE_EVERY_LINES)]
        assert [text for text, _ in rows_in(path)] == newest
        for number in range(3):
            store.append(said(f"more {number}"))
    assert len(rows_in(path)) == 10, "closing prunes what was written since"
    with HistoryStore(str(path), max_rows=2):
        pass
    assert [text for text, _ in rows_in(path)] == ["more 1", "more 2"], "opening prunes too"


def test_lines_older_than_max_age_are_never_answered_and_are_deleted(path: Path) -> None:
    now = time.time()
    with HistoryStore(str(path), max_age_s=3600.0, flush_interval_s=NEVER_S) as store:
        store.append(said("two hours ago", when=now - 7200))
        store.append(said("half an hour ago", when=now - 1800))
        store.append(said("a day ago, late to the queue", when=now - 86400))
        store.append(said("now", when=now))
        assert texts(ask(store, "#dev", 10)) == ["half an hour ago", "now"]
    assert [text for text, _ in rows_in(path)] == ["half an hour ago", "now"]


def test_the_default_age_bound_deletes_lines_older_than_it(path: Path) -> None:
    now = time.time()
    with HistoryStore(str(path)) as store:
        store.append(said("too old", when=now - HISTORY_MAX_AGE_S - 60))
        store.append(said("just young enough", when=now - HISTORY_MAX_AGE_S + 600))
    assert [text for text, _ in rows_in(path)] == ["just young enough"]


# -- the caller's thread never does SQLite work --------------------------------------------------


class Recorder:
    """sqlite3.connect replaced: records the thread of every connect and every statement run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str]] = []  # (thread name, "connect" or the SQL)
        self.hold: threading.Event | None = None  # when set up, statements wait for it
        self._connect = sqlite3.connect
        monkeypatch.setattr(sqlite3, "connect", self.connect)

    def connect(self, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        self.calls.append((threading.current_thread().name, "connect"))
        db: sqlite3.Connection = self._connect(*args, **kwargs)
        db.set_trace_callback(self.statement)
        return db

    def statement(self, sql: str) -> None:
        self.calls.append((threading.current_thread().name, sql))
        if self.hold is not None and sql.startswith("INSERT"):
            self.hold.wait(DEADLINE_S)

    def threads(self) -> set[str]:
        return {thread for thread, _ in self.calls}


def test_every_sqlite_call_happens_on_the_writer_thread(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(monkeypatch)
    with HistoryStore(str(path), max_rows=5) as store:
        for number in range(HISTORY_PRUNE_EVERY_LINES):
            store.append(said(str(number)))
        assert len(ask(store, "#dev", 3)) == 3
        assert store.flush(DEADLINE_S)
        store.run_answers()
    statements = " ".join(sql for _, sql in recorder.calls)
    for done in ("connect", "CREATE TABLE", "INSERT", "SELECT", "DELETE"):
        assert done in statements
    assert recorder.threads() == {WRITER}


def test_appending_100_000_lines_does_constant_work_per_line_and_no_sqlite_work(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder(monkeypatch)
    count = 100_000
    lines = [said(str(number)) for number in range(count)]
    calls: dict[str, int] = {}

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            name = f"{frame.f_code.co_filename}:{frame.f_code.co_name}"
        elif event == "c_call":  # a method of a C type names its module through its object
            module = getattr(arg, "__module__", None) or type(getattr(arg, "__self__", None)).__module__
            name = f"{module}.{getattr(arg, '__qualname__', arg)}"
        else:
            return
        calls[name] = calls.get(name, 0) + 1

    with HistoryStore(str(path), flush_interval_s=NEVER_S) as store:
        sys.setprofile(profile)
        try:
            for line in lines:
                store.append(line)
        finally:
            sys.setprofile(None)
        caller_statements = [sql for thread, sql in recorder.calls if thread != WRITER]
        assert store.flush(DEADLINE_S)
    assert caller_statements == []
    assert sum(calls.values()) <= 12 * count, f"more than constant work per append: {calls}"
    waits = ("sqlite", "execute", "commit", "wait", "sleep", "join", "recv", "send")
    blocking = [name for name in calls if any(word in name for word in waits)]
    assert not blocking, f"append() may wait or touch SQLite: {blocking}"
    assert len(rows_in(path)) == count


def test_a_full_queue_drops_the_oldest_lines_and_the_writer_reports_the_count_at_intervals(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="chatroom.server")
    # The flush interval never passes, so lines wait in the queue until flush() asks for them.
    with HistoryStore(str(path), flush_interval_s=NEVER_S, queue_max=10) as store:
        for number in range(25):
            store.append(said(str(number)))
        assert store.flush(DEADLINE_S)
        assert texts(ask(store, "#dev", 100)) == [str(number) for number in range(15, 25)]
        full = [record.getMessage() for record in caplog.records if "queue full" in record.getMessage()]
        assert len(full) == 1 and "dropped the 15 oldest" in full[0]
        for number in range(12):
            store.append(said(f"again {number}"))
        assert store.flush(DEADLINE_S)
        full = [record.getMessage() for record in caplog.records if "queue full" in record.getMessage()]
        assert len(full) == 1, "a second warning within HISTORY_WARNING_INTERVAL_S"
    full = [record.getMessage() for record in caplog.records if "queue full" in record.getMessage()]
    assert len(full) == 2 and "dropped the 2 oldest" in full[1], "closing reports what was not yet"


def test_a_line_sqlite_cannot_take_is_lost_alone(
    store: HistoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="chatroom.server")
    store.append(said("before"))
    store.append(said("a lone surrogate \udc80"))
    store.append(said("after"))
    assert not store.flush(DEADLINE_S), "flush() said everything was written"
    assert texts(ask(store, "#dev", 10)) == ["before", "after"]
    assert any("Could not write 1 history lines" in record.getMessage() for record in caplog.records)


# -- closing and opening are bounded -----------------------------------------------------------------


def test_close_is_idempotent_and_bounded_even_when_the_writer_is_stuck(
    path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(monkeypatch)
    recorder.hold = threading.Event()  # the disk hangs: every INSERT waits for this
    store = HistoryStore(str(path), flush_interval_s=NEVER_S)
    store.append(said("stuck"))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="chatroom.server"):
        store.close(timeout=0.2)
    assert time.monotonic() - started < DEADLINE_S / 2
    assert any("did not finish within 0.2 s" in record.getMessage() for record in caplog.records)
    started = time.monotonic()
    store.close()
    assert time.monotonic() - started < 0.1, "closing again waited"
    with pytest.raises(HistoryError, match="closed"):
        store.append(said("too late"))
    with pytest.raises(HistoryError, match="closed"):
        store.recent("#dev", 1, print)
    recorder.hold.set()  # the disk comes back: the writer commits and ends
    store._thread.join(DEADLINE_S)
    assert not store._thread.is_alive()
    assert [text for text, _ in rows_in(path)] == ["stuck"]


def test_close_commits_everything_queued(path: Path) -> None:
    store = HistoryStore(str(path), flush_interval_s=NEVER_S)
    for number in range(100):
        store.append(said(str(number)))
    store.close()
    store.close()
    assert len(rows_in(path)) == 100


def test_an_open_that_hangs_is_refused_within_the_open_timeout(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hang = threading.Event()
    connect = sqlite3.connect

    def slow_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        hang.wait(DEADLINE_S)  # a hung network filesystem
        db: sqlite3.Connection = connect(*args, **kwargs)
        return db

    monkeypatch.setattr(sqlite3, "connect", slow_connect)
    monkeypatch.setattr(history, "HISTORY_OPEN_TIMEOUT_S", 0.2)
    with pytest.raises(HistoryError, match=r"took longer than 0\.2 seconds\.$"):
        HistoryStore(str(path))
    hang.set()
    for thread in threading.enumerate():
        if thread.name == WRITER:
            thread.join(DEADLINE_S)
            assert not thread.is_alive(), "the writer did not end after its open finished"


def test_old_lines_at_the_front_are_deleted_while_the_server_runs_not_only_at_close(path: Path) -> None:
    """The amortised prune walks ids from the oldest (there is no index on the time since schema 2)."""
    now = time.time()
    with HistoryStore(str(path), max_age_s=3600.0) as store:
        store.append(said("two hours ago", when=now - 7200))
        for n in range(HISTORY_PRUNE_EVERY_LINES):
            store.append(said(f"line {n}", when=now))
        assert store.flush(5.0)
        ask(store, "#dev", 1)  # the prune runs after the write that the request waits for
        kept = [text for text, _ in rows_in(path)]
        assert "two hours ago" not in kept and len(kept) == HISTORY_PRUNE_EVERY_LINES


def test_a_schema_1_file_is_migrated_and_keeps_its_lines(path: Path) -> None:
    """Schema 1 had an index on the time that cost every insert; opening drops it."""
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE lines (id INTEGER PRIMARY KEY, room_key TEXT NOT NULL, room TEXT NOT NULL,"
        " sender TEXT NOT NULL, text TEXT NOT NULL, at REAL NOT NULL);"
        "CREATE INDEX lines_by_room ON lines (room_key, id);"
        "CREATE INDEX lines_by_age ON lines (at);"
        f"PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 1;"
    )
    db.execute(
        "INSERT INTO lines (room_key, room, sender, text, at) VALUES ('#dev', '#Dev', 'bob', 'kept', ?)",
        (time.time(),),
    )
    db.commit()
    db.close()
    with HistoryStore(str(path)) as store:
        assert texts(ask(store, "#dev", 10)) == ["kept"]
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (2,)
        indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert indexes == {"lines_by_room"}
    finally:
        db.close()


@pytest.mark.skipif(sys.platform != "linux", reason="nice is per thread on Linux only")
def test_the_writer_thread_runs_niced_so_the_loop_preempts_its_commits(store: HistoryStore) -> None:
    writer = next(thread for thread in threading.enumerate() if thread.name == WRITER)
    assert writer.native_id is not None
    fields = Path(f"/proc/self/task/{writer.native_id}/stat").read_text().rsplit(")", 1)[1].split()
    expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + HISTORY_WRITER_NICE)  # relative to ours
    assert int(fields[16]) == expected  # field 19: nice
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == os.getpriority(os.PRIO_PROCESS, 0)
