"""What the hub asks of protected names, bans and operators, without knowing where they are kept.

The server supplies an `Accounts` (chatroom.server.accounts, over the SQLite
store); the hub asks it about each registration and carries out the
operators' commands. docs/PROTOCOL.md section 9 is the prose version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from chatroom.protocol.lines import Credentials


@dataclass(frozen=True, slots=True)
class Refused:
    """A registration refused for a reason other than a name in use: the reply's code and sentence."""

    code: int
    sentence: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one registration brings: its credentials, and what the server knows of its channel.

    `host`, `safe` and `loopback` matter only with credentials (the server
    leaves them empty otherwise: an ordinary registration costs no lookup).
    """

    credentials: Credentials | None
    events: bool  # CHAT/1.1: it could have sent a password
    host: str = ""
    safe: bool = False  # the channel may carry a password (see chatroom.server.accounts)
    loopback: bool = False


Checked = Callable[[Refused | None, bool], None]
# checked(refused, proven): None lets the registration go on; proven: it gave the name's password.


class Accounts(Protocol):
    def check(self, name: str, attempt: Attempt, answer: Checked) -> None:
        """Whether `name` may be registered with `attempt`; answers once, at once when it can."""

    def is_operator_name(self, name: str) -> bool:
        """`name` is one of the server's operator accounts (powers also need the proof)."""

    def unclaim(self, name: str, answer: Callable[[bool], None]) -> None:
        """Remove the name's password; later, answer(whether it had one)."""

    def ban(self, name: str, seconds: float | None, by: str) -> float | None:
        """Ban `name` for `seconds` (None: for good), kept across restarts; returns until (time.time())."""

    def unban(self, name: str, by: str) -> bool:
        """End the name's ban; False if there was none."""
