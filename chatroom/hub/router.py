"""Who receives a line: the one place that knows the registered users.

Transports (today the TCP server; later TLS, WebSocket, IRC) hand the router
events; the router hands bytes to connections. Chat lines are collected until
the server calls deliver() (at the end of a loop turn, at most once per
delivery interval, and before a new user joins), and the lines collected are
joined into one payload that every recipient shares.
"""

from __future__ import annotations

from chatroom.net.connection import Connection
from chatroom.protocol import username_key


class Router:
    """The registered users and this turn's lines to relay."""

    __slots__ = ("_users", "_pending", "_dropped")

    def __init__(self) -> None:
        self._users: dict[str, Connection] = {}
        self._pending: list[tuple[Connection, bytes]] = []
        self._dropped: list[Connection] = []

    def __contains__(self, name: str) -> bool:
        return username_key(name) in self._users

    def add(self, conn: Connection, name: str) -> bool:
        """Register `conn` as `name`; False when the name (as username_key folds it) is taken."""
        key = username_key(name)
        if key == name:
            key = name  # one string object for both: an idle user costs less
        if key in self._users:
            return False
        # Lines routed earlier this turn were sent before this user joined.
        self.deliver()
        self._users[key] = conn
        return True

    def remove(self, conn: Connection) -> bool:
        """Forget `conn`'s user; its name is free again at once. False if it was not registered."""
        if not conn.name:
            return False
        key = username_key(conn.name)
        if self._users.get(key) is not conn:
            return False
        del self._users[key]
        return True

    def has_pending(self) -> bool:
        return bool(self._pending)

    def broadcast(self, sender: Connection, line: bytes) -> None:
        """Relay `line` (without LF) to every registered user but `sender`, at the turn's end."""
        self._pending.append((sender, line))

    def take_dropped(self) -> list[Connection]:
        """The recipients that could not take their lines since the last call: drop them."""
        if not self._dropped:
            return []
        dropped, self._dropped = self._dropped, []
        return dropped

    def deliver(self) -> None:
        """Send the lines routed since the last delivery."""
        pending = self._pending
        if pending:
            self._pending = []
            if len(pending) == 1:
                self._fan_out(pending[0][1] + b"\n", {pending[0][0]})
            else:
                self._fan_out_many(pending)

    def _fan_out(self, payload: bytes, skip: set[Connection]) -> None:
        dropped = self._dropped
        for conn in self._users.values():
            if conn not in skip and not conn.queue(payload):
                dropped.append(conn)

    def _fan_out_many(self, pending: list[tuple[Connection, bytes]]) -> None:
        # Everyone who sent nothing this turn gets one shared payload; each
        # sender gets the others' lines in the order they were read.
        senders = {sender for sender, _ in pending}
        self._fan_out(b"\n".join(line for _, line in pending) + b"\n", senders)
        dropped = self._dropped
        for sender in senders:
            if sender.registered:
                others = [line for conn, line in pending if conn is not sender]
                if others and not sender.queue(b"\n".join(others) + b"\n"):
                    dropped.append(sender)
