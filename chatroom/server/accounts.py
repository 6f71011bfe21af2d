"""Protected names, bans and operators as the loop sees them: answers in memory, work on the store's thread.

The hub asks `check` about every registration. Most are for names nobody
claimed, without a password: those are answered at once from the sets loaded
at start (and kept current), never waiting for a thread. A password is
checked by scrypt on the store's thread (chatroom.store.accounts), and its
answer comes back through the store's descriptor. A wrong password is
answered PASSWORD_FAILURE_DELAY_S late, counted per address and per name, and
logged; past the counts, logins are refused without being checked.
"""

from __future__ import annotations

import datetime
import logging
import math
import selectors
import sqlite3
import ssl
import time
from collections.abc import Callable, Iterable

from chatroom.hub.accounts import Attempt, Checked, Refused
from chatroom.limits import (
    HISTORY_OPEN_TIMEOUT_S,
    MAX_PASSWORD_FAILURE_ENTRIES,
    MAX_PASSWORD_FAILURES_PER_ADDRESS,
    MAX_PASSWORD_FAILURES_PER_NAME,
    PASSWORD_FAILURE_DELAY_S,
    PASSWORD_FAILURE_WINDOW_S,
)
from chatroom.net.loop import EventLoop
from chatroom.net.transport import Transport, ip_of
from chatroom.protocol.names import username_key
from chatroom.store import accounts as sql
from chatroom.store.history import HistoryError, HistoryStore

log = logging.getLogger("chatroom.server")

UNSAFE_CHANNEL = (
    "The server refuses passwords over an unencrypted connection from another host; "
    "use TLS, or ask its operator."
)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8 and ::1 (and their IPv4-mapped forms); not a host name, never a lookup."""
    address = ip_of(host)
    return address is not None and address.is_loopback


def password_channel_is_safe(transport: Transport) -> bool:
    """Whether a password may travel over this connection: no one between the peer and us can read it.

    A TLS connection (encrypted on the way; a WebSocket over TLS too), or a loopback peer (the bytes
    never leave this machine). This is the one place that decides
    (--allow-plain-passwords overrides it, in the server).
    """
    if isinstance(transport, ssl.SSLSocket) or getattr(transport, "encrypted", False):  # wss:// too
        return True
    address = transport.address()
    return isinstance(address, tuple) and is_loopback(address[0])


def host_of(transport: Transport) -> str:
    address = transport.address()
    return address[0] if isinstance(address, tuple) else str(address)


class _Failures:
    """Wrong passwords counted per key ('addr 1.2.3.4', 'name alice') over a window; bounded in size."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, when the window started)

    def wait(self, key: str, limit: int, now: float) -> float:
        """Seconds until `key` may try again (0: it may now)."""
        count, since = self._counts.get(key, (0, now))
        if now - since >= PASSWORD_FAILURE_WINDOW_S:
            self._counts.pop(key, None)
            return 0.0
        return since + PASSWORD_FAILURE_WINDOW_S - now if count >= limit else 0.0

    def add(self, key: str, now: float) -> int:
        count, since = self._counts.pop(key, (0, now))
        if now - since >= PASSWORD_FAILURE_WINDOW_S:
            count, since = 0, now
        while len(self._counts) >= MAX_PASSWORD_FAILURE_ENTRIES:  # forget the oldest
            del self._counts[next(iter(self._counts))]
        self._counts[key] = (count + 1, since)
        return count + 1


class LoopAccounts:
    """Implements chatroom.hub.accounts.Accounts over a HistoryStore, answering on the loop's thread."""

    def __init__(self, store: HistoryStore, loop: EventLoop, operators: Iterable[str] = ()) -> None:
        """Load the protected names and bans (blocking: call before serving). Raises HistoryError."""
        self.store = store
        self._loop = loop
        loaded = store.call(lambda db: sql.load(db, time.time()), HISTORY_OPEN_TIMEOUT_S)
        if loaded is None:
            raise HistoryError(f"Could not read the accounts in {store.path}.")
        self._protected, self._bans = loaded
        self._operators = {username_key(name): name for name in operators}
        self._failures = _Failures()
        for key, name in self._operators.items():
            if key not in self._protected:
                log.warning(
                    "Operator %s has no password yet: claim it from this machine "
                    "(chatroom-client --claim %s chat://localhost:PORT)",
                    name,
                    name,
                )

    # -- registrations ---------------------------------------------------------------------------

    def check(self, name: str, attempt: Attempt, answer: Checked) -> None:
        key = username_key(name)
        banned = self._ban_of(key)
        if banned is not None:
            log.info("Registration refused: %s is banned", name)
            answer(Refused(403, f"The name {name} is banned{banned}."), False)
            return
        credentials = attempt.credentials
        if credentials is None:
            if key not in self._protected:
                answer(None, False)  # the common case: no thread, no lookup
            elif attempt.events:
                log.info("Registration refused: %s is protected and no password was given", name)
                answer(
                    Refused(
                        401,
                        f"The name {name} is protected by a password; register with it (password=...), "
                        "or choose another name.",
                    ),
                    False,
                )
            else:  # CHAT/1.0 cannot send one: for it the name is simply in use
                log.info("Registration refused: %s is protected (a CHAT/1.0 client)", name)
                answer(Refused(401, "Client already registered"), False)
            return
        if not attempt.safe:
            log.warning("Refused a password for %s over plain TCP from %s", name, attempt.host)
            answer(Refused(403, UNSAFE_CHANNEL), False)
            return
        protected = key in self._protected
        if not protected and not credentials.claim:
            answer(Refused(404, _not_protected(name)), False)
            return
        if not protected and key in self._operators and not attempt.loopback:
            log.warning("Refused a claim of the operator name %s from %s", name, attempt.host)
            answer(Refused(403, "Operator names are claimed only from the server's own machine."), False)
            return
        now = self._loop.now()
        wait = max(
            self._failures.wait(f"addr {attempt.host}", MAX_PASSWORD_FAILURES_PER_ADDRESS, now),
            self._failures.wait(f"name {key}", MAX_PASSWORD_FAILURES_PER_NAME, now),
        )
        if wait > 0:
            log.warning("Refused a login as %s from %s: too many wrong passwords", name, attempt.host)
            answer(Refused(429, f"Too many wrong passwords; try again in {math.ceil(wait)} seconds."), False)
            return

        def work(db: sqlite3.Connection) -> sql.Outcome:
            return sql.check(
                db,
                key,
                name,
                credentials.password,
                claim=credentials.claim,
                new_password=credentials.new_password,
            )

        self.store.submit(work, lambda outcome: self._checked(name, key, attempt.host, outcome, answer))

    def _checked(self, name: str, key: str, host: str, outcome: sql.Outcome | None, answer: Checked) -> None:
        if outcome is None:
            answer(Refused(503, "The server could not check the password; try again later."), False)
        elif outcome is sql.Outcome.WRONG:
            now = self._loop.now()
            count = self._failures.add(f"addr {host}", now)
            self._failures.add(f"name {key}", now)
            log.warning(
                "Wrong password for %s from %s (%d from there in %g s)",
                name,
                host,
                count,
                PASSWORD_FAILURE_WINDOW_S,
            )
            refused = Refused(403, f"Wrong password for {name}.")
            self._loop.call_at(now + PASSWORD_FAILURE_DELAY_S, lambda _: answer(refused, False), None)
        elif outcome is sql.Outcome.NOT_PROTECTED:  # unclaimed meanwhile
            answer(Refused(404, _not_protected(name)), False)
        else:
            if outcome is sql.Outcome.CLAIMED:
                self._protected.add(key)
                log.info("The name %s is now protected by a password (claimed from %s)", name, host)
            elif outcome is sql.Outcome.CHANGED:
                log.info("User %s changed its password (from %s)", name, host)
            else:
                log.info("User %s gave its password (from %s)", name, host)
            answer(None, True)

    # -- the hub's other questions ------------------------------------------------------------------

    def is_operator_name(self, name: str) -> bool:
        return username_key(name) in self._operators

    def unclaim(self, name: str, answer: Callable[[bool], None]) -> None:
        key = username_key(name)

        def done(had_one: bool | None) -> None:
            self._protected.discard(key)
            answer(bool(had_one))

        self.store.submit(lambda db: sql.unclaim(db, key), done)

    def ban(self, name: str, seconds: float | None, by: str) -> float | None:
        key = username_key(name)
        until = None if seconds is None else time.time() + seconds
        self._bans[key] = until
        self.store.submit(lambda db: sql.ban(db, key, name, until, by), _stored)
        return until

    def unban(self, name: str, by: str) -> bool:
        key = username_key(name)
        if self._ban_of(key) is None:
            return False
        del self._bans[key]
        self.store.submit(lambda db: sql.unban(db, key), _stored)
        return True

    def _ban_of(self, key: str) -> str | None:
        """None when `key` is not banned; else ' until ...' or '' (for good)."""
        if key not in self._bans:
            return None
        until = self._bans[key]
        if until is None:
            return ""
        if until <= time.time():
            del self._bans[key]  # over: the store forgets it at the next start
            return None
        return " until " + datetime.datetime.fromtimestamp(until, datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%MZ"
        )


def _not_protected(name: str) -> str:
    return f"The name {name} is not protected; register without a password, or add claim=yes to protect it."


def _stored(result: object) -> None:
    """The store did the work (a ban, an unban): nothing to answer; a failure was logged there."""


class StoreWatcher:
    """Runs the store's answers on the loop when no LoopHistory does (a server that keeps no history)."""

    def __init__(self, store: HistoryStore, loop: EventLoop) -> None:
        self.store = store
        self._loop = loop
        loop.watch(store, selectors.EVENT_READ, self)

    def handle_io(self, mask: int) -> None:
        self.store.run_answers()

    def handle_error(self, error: Exception) -> None:
        log.error("Unexpected error while answering account requests; still serving", exc_info=error)

    def close(self) -> None:
        self._loop.unwatch(self.store)
        self.store.close()
