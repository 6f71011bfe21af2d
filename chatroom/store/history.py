"""The rooms' chat history in SQLite, written by a thread of its own so that the loop never waits for a disk.

The server is one thread around a `selectors` loop, which must never block, so
its side of the store only queues, in O(1): `append` a line, or ask for the
`recent` lines of a room. One writer thread does all the SQLite work (its
connection is made and used only there, which is also what lets ':memory:'
work): it commits queued lines in one transaction at most `flush_interval_s`
after the first of them was appended, so a crash loses at most that much, and
it commits what is queued before reading for a request. Answers come back on a
queue; the writer makes `fileno()` readable and the loop calls `run_answers()`,
which runs them on the loop's thread in the order they were asked.

The file holds one table of room lines (the server never appends private
ones), looked up by the room's folded key and kept with its name as said, and
the accounts' tables (chatroom.store.accounts; their work comes through
`submit`, so this thread stays the one owner of the connection);
`PRAGMA application_id` marks it as ours, `PRAGMA user_version` is the schema
version a later change migrates from. WAL with synchronous=NORMAL: a commit
survives the process being killed (a power cut may lose the last ones), and a
reader (a backup, the sqlite3 shell) never stops the writer. Retention: at most
`max_rows` lines, none older than `max_age_s`, deleted in bulk by the writer.

The default file (`default_history_path()`) is
$XDG_DATA_HOME/chatroom/history.sqlite3, or
~/.local/share/chatroom/history.sqlite3 when XDG_DATA_HOME is unset, empty or
relative (the XDG base directory rule); the writer creates its directory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

from chatroom.limits import (
    HISTORY_BUSY_TIMEOUT_S,
    HISTORY_CLOSE_TIMEOUT_S,
    HISTORY_FLUSH_INTERVAL_S,
    HISTORY_MAX_AGE_S,
    HISTORY_MAX_REPLAY,
    HISTORY_MAX_ROWS,
    HISTORY_OPEN_TIMEOUT_S,
    HISTORY_PRUNE_EVERY_LINES,
    HISTORY_PRUNE_INTERVAL_S,
    HISTORY_QUEUE_MAX,
    HISTORY_WARNING_INTERVAL_S,
    HISTORY_WRITER_NICE,
)
from chatroom.store import accounts

log = logging.getLogger("chatroom.server")

APPLICATION_ID = 0x43484154  # "CHAT" in PRAGMA application_id: this file is a chatroom history
SCHEMA_VERSION = 2  # PRAGMA user_version of the schema below

_SCHEMA = (
    "CREATE TABLE lines (id INTEGER PRIMARY KEY, room_key TEXT NOT NULL, room TEXT NOT NULL,"
    " sender TEXT NOT NULL, text TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX lines_by_room ON lines (room_key, id)",  # the last N of a room
    f"PRAGMA application_id = {APPLICATION_ID}",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
# Schema 1 also had an index on `at`, for pruning by age. Every insert paid for it
# (3.6 instead of 2.5 microseconds of CPU a line, on the server's core), and ids
# already grow with time, so pruning walks ids from the oldest instead.
_MIGRATIONS = {1: ("DROP INDEX IF EXISTS lines_by_age", "PRAGMA user_version = 2")}
_INSERT = "INSERT INTO lines (room_key, room, sender, text, at) VALUES (?, ?, ?, ?, ?)"
_RECENT = (
    "SELECT room_key, room, sender, text, at FROM lines INDEXED BY lines_by_room"
    " WHERE room_key = ? AND at >= ? ORDER BY id DESC LIMIT ?"
)
# Lines are written in the order they were said, so ids grow with time: everything
# before the oldest line young enough to keep goes (a walk over the lines deleted,
# from the oldest; if none is young enough, all go).
_PRUNE_BY_AGE = (
    "DELETE FROM lines WHERE id < coalesce("
    "(SELECT id FROM lines WHERE at >= ? ORDER BY id LIMIT 1), (SELECT max(id) + 1 FROM lines))"
)
# At opening and closing, where a scan is affordable: also lines that came in with
# an older time than the lines before them (a clock set back), which the walk
# above leaves until they reach the front. They are never answered meanwhile.
_PRUNE_BY_AGE_FULLY = "DELETE FROM lines WHERE at < ?"
# Ids grow with every line, so the newest max_rows lines are among the last max_rows ids.
_PRUNE_BY_ROWS = "DELETE FROM lines WHERE id <= (SELECT max(id) FROM lines) - ?"


def default_history_path() -> str:
    """$XDG_DATA_HOME/chatroom/history.sqlite3, else ~/.local/share/chatroom/history.sqlite3."""
    data_home = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(data_home):  # unset, empty or relative: the XDG rule says ignore it
        data_home = os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data_home, "chatroom", "history.sqlite3")


class HistoryError(Exception):
    """The history database cannot be used; the message is one sentence naming the file."""


class HistoryLine(NamedTuple):
    """One line said in a room.

    `room_key` is the folded name the server matches rooms by ("#dev"), so that
    "#Dev" and "#DEV" share a history; `room` is the name as it was said
    ("#Dev"). `when` is time.time() when it was said. A tuple in the order of
    the INSERT's columns: the writer hands a batch to SQLite as it is.
    """

    room_key: str
    room: str
    sender: str
    text: str
    when: float


Answer = Callable[[list[HistoryLine]], None]
T = TypeVar("T")


@dataclass(slots=True)
class _Recent:
    room_key: str
    limit: int
    answer: Answer


@dataclass(slots=True)
class _Job:
    """Other work on the database (accounts, bans): `work(db)` on the writer, its result to `answer`."""

    work: Callable[[sqlite3.Connection], Any]
    answer: Callable[[Any], None] | None  # None: `done` is set and the result kept (call())
    done: threading.Event | None = None
    result: Any = None


@dataclass(slots=True)
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)
    written: bool = True  # False when the write it waited for failed


class HistoryStore:
    """The history: `append` and `recent` from the loop's thread, SQLite only on the writer thread.

    Everything the two threads share (the queued lines and requests, the
    closed flag) is behind one lock that either side holds only for O(1) steps,
    never across SQLite work; answers travel back on a deque and a socket pair.
    """

    def __init__(
        self,
        path: str,
        *,
        max_rows: int = HISTORY_MAX_ROWS,
        max_age_s: float = HISTORY_MAX_AGE_S,
        flush_interval_s: float = HISTORY_FLUSH_INTERVAL_S,
        queue_max: int = HISTORY_QUEUE_MAX,
    ) -> None:
        """Open (create) the database on the writer thread and wait for that, at most HISTORY_OPEN_TIMEOUT_S.

        Raises HistoryError with one sentence naming the file when it cannot
        be used (a bad path, a read-only file, not a chatroom history), so the
        server can refuse to start with it.
        """
        if max_rows < 1 or queue_max < 1 or max_age_s <= 0 or flush_interval_s < 0:
            raise ValueError("max_rows, queue_max, max_age_s must be positive; flush_interval_s not negative")
        self.path = path
        self._flush_interval_s = flush_interval_s
        self._queue_max = queue_max
        self._mutex = threading.Lock()  # `with self._mutex` where no wait or notify follows: no Python frames
        self._lock = threading.Condition(self._mutex)
        # Shared, behind the lock:
        self._pending: deque[HistoryLine] = deque()
        self._first_pending_at = 0.0  # time.monotonic() when _pending last became non-empty
        self._requests: list[_Recent | _Flush | _Job] = []
        self._dropped = 0  # lines dropped from a full queue, not yet reported
        self._closed = False
        self._wake_closed = False
        # Writer -> caller: deque appends and pops are atomic, and the socket says when to look.
        self._answers: deque[tuple[Callable[[Any], None], Any]] = deque()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._opened = threading.Event()
        self._open_error: str | None = None
        self._thread = threading.Thread(
            target=self._run, args=(max_rows, max_age_s), name="chatroom-history", daemon=True
        )
        self._thread.start()
        if not self._opened.wait(HISTORY_OPEN_TIMEOUT_S):
            self._stop(0)  # the writer closes the database when (if) the open ends
            raise HistoryError(
                f"Opening the history database {path} took longer than {HISTORY_OPEN_TIMEOUT_S:g} seconds."
            )
        if self._open_error is not None:
            self._stop(HISTORY_CLOSE_TIMEOUT_S)
            raise HistoryError(self._open_error)

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # -- the caller's side (the loop's thread) --------------------------------------------------

    def fileno(self) -> int:
        """Readable when answers to `recent` are ready: watch it for EVENT_READ, then call run_answers()."""
        return self._wake_reader.fileno()

    def append(self, line: HistoryLine) -> None:
        """Queue `line` for the writer: O(1), no SQLite, no waiting.

        The writer commits it at most flush_interval_s later. If it has fallen
        behind by queue_max lines, the oldest queued line is dropped for this
        one and counted (the writer logs the count, at most once per
        HISTORY_WARNING_INTERVAL_S). Raises HistoryError once closed.
        """
        with self._mutex:  # the Condition's own lock (notify needs it held): append runs per room line
            if self._closed:
                raise HistoryError(f"The history store of {self.path} is closed.")
            pending = self._pending
            if not pending:
                self._first_pending_at = time.monotonic()
                self._lock.notify()
            elif len(pending) >= self._queue_max:
                pending.popleft()
                self._dropped += 1
            pending.append(line)

    def recent(self, room_key: str, limit: int, answer: Answer) -> None:
        """Ask for the last `limit` lines of the room (at most HISTORY_MAX_REPLAY), oldest first.

        Never waits: `answer(lines)` is called later, on the thread that calls
        run_answers(). Every line appended before this call is in the answer
        (the writer commits what is queued before it reads). Raises
        HistoryError once closed.
        """
        request = _Recent(room_key, max(0, min(limit, HISTORY_MAX_REPLAY)), answer)
        with self._lock:
            if self._closed:
                raise HistoryError(f"The history store of {self.path} is closed.")
            self._requests.append(request)
            self._lock.notify()

    def submit(self, work: Callable[[sqlite3.Connection], T], answer: Callable[[T | None], None]) -> None:
        """Run `work(db)` on the writer thread (after the lines queued before it); never waits.

        `answer(result)` follows on the thread that calls run_answers(), in
        order with the answers to `recent`; `answer(None)` if the work raised
        (logged). This is how the accounts (chatroom.store.accounts) reach the
        one connection: SQLite and scrypt both stay off the caller's thread.
        Raises HistoryError once closed.
        """
        request = _Job(work, answer)
        with self._lock:
            if self._closed:
                raise HistoryError(f"The store of {self.path} is closed.")
            self._requests.append(request)
            self._lock.notify()

    def call(self, work: Callable[[sqlite3.Connection], T], timeout: float) -> T | None:
        """Run `work(db)` on the writer thread and wait for its result (only before serving: it blocks).

        None if it raised (logged) or took longer than `timeout`.
        """
        request = _Job(work, None, threading.Event())
        with self._lock:
            if self._closed:
                raise HistoryError(f"The store of {self.path} is closed.")
            self._requests.append(request)
            self._lock.notify()
        assert request.done is not None
        if not request.done.wait(timeout):
            return None
        result: T | None = request.result
        return result

    def run_answers(self) -> None:
        """Call the ready answers in the order they were asked; the loop does when fileno() is readable.

        An exception in one answer is logged and the rest still run.
        """
        with self._lock:
            if not self._wake_closed:
                with contextlib.suppress(BlockingIOError, InterruptedError):
                    while self._wake_reader.recv(4096):
                        pass
        answers = self._answers
        while answers:
            answer, lines = answers.popleft()
            try:
                answer(lines)
            except Exception:
                log.exception("Unexpected error in an answer from the history; still serving")

    def flush(self, timeout: float) -> bool:
        """Wait until every line appended so far is committed (for tests and shutdown).

        False if that took longer than `timeout`, or the write failed (logged).
        When it returns True, the answers to every `recent` asked before it
        are ready and fileno() is readable.
        """
        request = _Flush()
        with self._lock:
            if self._closed:
                return not self._pending
            self._requests.append(request)
            self._lock.notify()
        return request.done.wait(timeout) and request.written

    def close(self, timeout: float = HISTORY_CLOSE_TIMEOUT_S) -> None:
        """Commit what is queued, stop the writer and close the database, waiting at most `timeout`.

        Closing again does nothing. Unwatch fileno() first: it is closed here.
        """
        with self._lock:
            if self._closed:
                return
        if not self._stop(timeout):
            log.warning(
                "The history writer did not finish within %g s; lines not yet written to %s are lost",
                timeout,
                self.path,
            )

    def _stop(self, timeout: float) -> bool:
        """Tell the writer to finish, wait for it at most `timeout`, close the pair; True if it finished."""
        with self._lock:
            if self._closed:  # someone else is stopping it
                return True
            self._closed = True
            self._lock.notify()
        self._thread.join(timeout)
        with self._lock:  # the writer sends on the pair only under the lock, and checks this first
            self._wake_closed = True
            self._wake_reader.close()
            self._wake_writer.close()
        return not self._thread.is_alive()

    # -- the writer thread ------------------------------------------------------------------------

    def _run(self, max_rows: int, max_age_s: float) -> None:
        _yield_to_the_loop()
        try:
            db = _open(self.path)
        except Exception as error:
            if isinstance(error, HistoryError):
                self._open_error = str(error)
            else:  # an OS or library error sqlite3 did not wrap
                self._open_error = f"Cannot open the history database {self.path}: {error}."
            self._opened.set()
            return
        self._opened.set()
        writer = _Writer(db, max_rows, max_age_s, self._queue_max)
        try:
            writer.prune(fully=True)
            self._serve(writer)
        finally:
            writer.close()

    def _serve(self, writer: _Writer) -> None:
        while True:
            taken = self._take(writer.report_due())
            if taken is None:
                writer.finish()
                return
            batch, requests, dropped = taken
            try:
                writer.dropped(dropped)
                written = writer.write(batch)
                writer.after_writing()  # before the answers, so that flush() sees its report
                answered = False
                for request in requests:
                    if isinstance(request, _Flush):  # once it returns, the answers asked before are ready
                        if answered:
                            self._wake()
                            answered = False
                        request.written = written
                        request.done.set()
                    elif isinstance(request, _Job):
                        try:
                            result = request.work(writer.db)
                        except Exception:
                            log.exception("Unexpected error in the store's work; still serving")
                            result = None
                        if request.answer is None:
                            assert request.done is not None
                            request.result = result
                            request.done.set()
                        else:
                            self._answers.append((request.answer, result))
                            answered = True
                    else:
                        self._answers.append((request.answer, writer.recent(request.room_key, request.limit)))
                        answered = True
                if answered:
                    self._wake()
            except Exception:
                log.exception("Unexpected error in the history writer; still writing")

    def _take(
        self, report_due: float | None
    ) -> tuple[deque[HistoryLine], list[_Recent | _Flush | _Job], int] | None:
        """Wait for work, then take all of it; None once closed with nothing left.

        Lines alone wait until flush_interval_s after the first of them, so
        that one transaction takes them all; a request or closing takes them
        at once. `report_due` (monotonic) ends an idle wait to log losses.
        """
        with self._lock:
            while not (self._pending or self._requests or self._closed):
                if report_due is None:
                    self._lock.wait()
                else:
                    remaining = report_due - time.monotonic()
                    if remaining <= 0:
                        break
                    self._lock.wait(remaining)
            if self._pending and not self._requests and not self._closed:
                deadline = self._first_pending_at + self._flush_interval_s
                while not (self._requests or self._closed):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._lock.wait(remaining)
            if self._closed and not self._pending and not self._requests:
                return None
            batch, self._pending = self._pending, deque()
            requests, self._requests = self._requests, []
            dropped, self._dropped = self._dropped, 0
            return batch, requests, dropped

    def _wake(self) -> None:
        with self._lock:
            if self._wake_closed:
                return
            with contextlib.suppress(BlockingIOError, InterruptedError):  # full: readable already
                self._wake_writer.send(b"!")


def _yield_to_the_loop() -> None:
    """Lower this thread's priority below the loop's (Linux: nice is per thread).

    The writer commits a batch every flush interval in one go; on the loop's
    core, at the same priority, it would hold the core for that long while
    chat lines wait. Niced, it runs when the loop sleeps.
    """
    if sys.platform == "linux":
        thread = threading.get_native_id()
        with contextlib.suppress(OSError):
            niced = min(19, os.getpriority(os.PRIO_PROCESS, thread) + HISTORY_WRITER_NICE)
            os.setpriority(os.PRIO_PROCESS, thread, niced)


def _open(path: str) -> sqlite3.Connection:
    """Open or create the database at `path`, checked to be ours and writable (on the writer thread)."""
    if path != ":memory:":
        directory = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(path):
            raise HistoryError(f"Cannot open the history database {path}: it is a directory.")
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as error:
            in_the_way = isinstance(error, FileExistsError | NotADirectoryError)
            reason = "a file is in the way" if in_the_way else error.strerror or str(error)
            raise HistoryError(
                f"Cannot open the history database {path}: cannot create {directory} ({reason})."
            ) from error
    try:
        db = sqlite3.connect(path, timeout=HISTORY_BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as error:
        raise HistoryError(f"Cannot open the history database {path}: {error}.") from error
    try:
        _prepare(db, path)
        try:
            accounts.prepare(db)  # the accounts and bans live in the same file (their own tables)
        except sqlite3.Error as error:
            raise HistoryError(f"Cannot open the history database {path}: {error}.") from error
    except BaseException:
        db.close()
        raise
    return db


def _prepare(db: sqlite3.Connection, path: str) -> None:
    try:
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if application_id == 0 and version == 0 and tables == 0:  # new (or empty): make it ours
            db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute("COMMIT")
        elif application_id != APPLICATION_ID:
            raise HistoryError(f"{path} is not a chatroom history database (it is another SQLite database).")
        elif version in _MIGRATIONS:
            db.execute("BEGIN IMMEDIATE")
            for statement in _MIGRATIONS[version]:
                db.execute(statement)
            db.execute("COMMIT")
        elif version != SCHEMA_VERSION:
            raise HistoryError(
                f"{path} holds chatroom history in schema {version}, which this version "
                f"(schema {SCHEMA_VERSION}) cannot read."
            )
        # Only now, once it is known to be ours, is the file changed: WAL ('memory' stays 'memory').
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode not in ("wal", "memory"):
            log.warning(
                "The history in %s cannot use WAL (journal mode %s): readers delay writes", path, mode
            )
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("BEGIN IMMEDIATE")  # a read-only file or directory fails here, not at the first line
        db.execute("COMMIT")
    except sqlite3.OperationalError as error:  # cannot open, read-only, locked, I/O error
        raise HistoryError(f"Cannot open the history database {path}: {error}.") from error
    except sqlite3.DatabaseError as error:  # "file is not a database"
        raise HistoryError(f"{path} is not a chatroom history database ({error}).") from error


class _Writer:
    """The writer thread's own state: the one connection, pruning, and the report of lost lines."""

    def __init__(self, db: sqlite3.Connection, max_rows: int, max_age_s: float, queue_max: int) -> None:
        self.db = db
        self._max_rows = max_rows
        self._max_age_s = max_age_s
        self._queue_max = queue_max
        self._since_prune = 0  # lines written since the last pruning
        self._last_prune = time.monotonic()
        self._dropped = 0  # lines lost and not yet reported: the queue was full
        self._failed = 0  # ... writing failed
        self._error = ""  # the last write error
        self._last_report = float("-inf")

    def write(self, batch: deque[HistoryLine]) -> bool:
        """Commit `batch` in one transaction; False if some of it was lost (counted)."""
        if not batch:
            return True
        try:  # a HistoryLine is its row, in the INSERT's order
            self._transaction(lambda: self.db.executemany(_INSERT, batch))
        except sqlite3.OperationalError as error:  # the disk: full, locked too long, I/O
            self._lost(len(batch), str(error))
            return False
        except (sqlite3.Error, ValueError):  # a line SQLite cannot take (a lone surrogate): keep the rest
            return self._write_one_by_one(batch)
        self._since_prune += len(batch)
        return True

    def _write_one_by_one(self, rows: deque[HistoryLine]) -> bool:
        refused: list[str] = []

        def insert_each() -> None:
            for row in rows:
                try:
                    self.db.execute(_INSERT, row)
                except (sqlite3.IntegrityError, sqlite3.InterfaceError, ValueError) as error:
                    refused.append(str(error))

        try:
            self._transaction(insert_each)
        except sqlite3.Error as error:
            self._lost(len(rows), str(error))
            return False
        if refused:
            self._lost(len(refused), refused[-1])
        self._since_prune += len(rows) - len(refused)
        return not refused

    def recent(self, room_key: str, limit: int) -> list[HistoryLine]:
        """The last `limit` lines of the room within the age bound, oldest first ([] if reading fails)."""
        cutoff = time.time() - self._max_age_s
        try:
            rows = self.db.execute(_RECENT, (room_key, cutoff, limit)).fetchall()
        except sqlite3.Error as error:
            log.warning("Could not read the history of %s: %s", room_key, error)
            return []
        return [HistoryLine(*row) for row in reversed(rows)]

    def after_writing(self) -> None:
        """Prune when enough was written since the last time, and report losses when due."""
        now = time.monotonic()
        if self._since_prune >= HISTORY_PRUNE_EVERY_LINES or (
            self._since_prune and now - self._last_prune >= HISTORY_PRUNE_INTERVAL_S
        ):
            self.prune()
        self._report(now)

    def prune(self, *, fully: bool = False) -> None:
        """Delete the lines past the row bound and the age bound, in one transaction.

        `fully` (at opening and closing) also finds old lines that are not at the front.
        """
        cutoff = time.time() - self._max_age_s

        def delete() -> None:
            self.db.execute(_PRUNE_BY_AGE_FULLY if fully else _PRUNE_BY_AGE, (cutoff,))
            self.db.execute(_PRUNE_BY_ROWS, (self._max_rows,))

        try:
            self._transaction(delete)
        except sqlite3.Error as error:
            log.warning("Could not prune the history: %s", error)
        self._since_prune = 0
        self._last_prune = time.monotonic()

    def dropped(self, count: int) -> None:
        self._dropped += count

    def report_due(self) -> float | None:
        """When (monotonic) the unreported losses may be logged; None if there are none."""
        if not (self._dropped or self._failed):
            return None
        return self._last_report + HISTORY_WARNING_INTERVAL_S

    def finish(self) -> None:
        """Closing: prune what was written since the last time, report every loss."""
        if self._since_prune:
            self.prune(fully=True)
        self._report(time.monotonic(), force=True)

    def close(self) -> None:
        self.db.close()

    def _lost(self, count: int, error: str) -> None:
        self._failed += count
        self._error = error

    def _report(self, now: float, force: bool = False) -> None:
        """At most one warning per HISTORY_WARNING_INTERVAL_S, each counting the lines since the last."""
        if not (self._dropped or self._failed):
            return
        if not force and now - self._last_report < HISTORY_WARNING_INTERVAL_S:
            return
        self._last_report = now
        if self._dropped:
            log.warning(
                "History queue full (%d lines waiting to be written): dropped the %d oldest",
                self._queue_max,
                self._dropped,
            )
        if self._failed:
            log.warning("Could not write %d history lines: %s", self._failed, self._error)
        self._dropped = self._failed = 0

    def _transaction(self, work: Callable[[], object]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            work()
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
