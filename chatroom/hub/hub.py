"""The chat's rules, apart from any wire or socket: who may register, who said what, who left.

The server turns a connection's requests into calls here; the hub decides,
keeps the console's record of what happened, and routes messages through its
router. A registration may be decided later (an accounts store, a
cluster-wide name claim): `Admission` answers when it can, and the hub tells
the caller then.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Protocol

from chatroom.hub.message import Recipient
from chatroom.hub.router import Router
from chatroom.text import printable

log = logging.getLogger("chatroom.server")


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    TAKEN = "taken"


Decided = Callable[[Recipient, str, Verdict], None]
# decided(member, name, verdict): called once per registration, now or later.


class Admission(Protocol):
    """Whether `name` may be registered at all; may answer after a delay, exactly once."""

    def check(self, name: str, answer: Callable[[bool], None]) -> None: ...


class Hub:
    """Registered users and what they say, routed by a Router."""

    def __init__(self, *, log_messages: bool = True, admission: Admission | None = None) -> None:
        self.router = Router()
        self.log_messages = log_messages
        self._admission = admission
        self._deciding: dict[Recipient, Decided] = {}  # registrations waiting for admission

    # -- registering -------------------------------------------------------------------------

    def register(self, member: Recipient, name: str, decided: Decided) -> None:
        """Ask for `name`; `decided(member, name, verdict)` follows, now or once admission answers."""
        if name in self.router:
            decided(member, name, Verdict.TAKEN)
            return
        if self._admission is None:
            self._admit(member, name, decided)
            return
        self._deciding[member] = decided

        def answer(allowed: bool) -> None:
            if self._deciding.pop(member, None) is None:
                return  # the connection ended while we waited
            if allowed:
                self._admit(member, name, decided)
            else:
                decided(member, name, Verdict.TAKEN)

        self._admission.check(name, answer)

    def _admit(self, member: Recipient, name: str, decided: Decided) -> None:
        if not self.router.add(member, name):  # taken while admission thought it over
            decided(member, name, Verdict.TAKEN)
            return
        decided(member, name, Verdict.ACCEPTED)
        log.info("Connection to client established, waiting to receive messages from user '%s'...", name)

    # -- talking and leaving -------------------------------------------------------------------

    def say(self, sender: Recipient, text: str) -> None:
        """`sender` says `text` to its room."""
        self.router.say(sender, text)
        if self.log_messages:
            # The operator's terminal is a terminal too: no bidi overrides or controls reach it raw.
            log.info("Received message from user %s:  %s", sender.name, printable(f"@{sender.name}: {text}"))

    def leave(self, member: Recipient, reason: str) -> bool:
        """`member` is gone (or its registration is no longer wanted); True if it was a user."""
        self._deciding.pop(member, None)
        if not self.router.remove(member):
            return False
        log.info("Disconnecting user %s", member.name)
        log.debug("User %s left: %s", member.name, reason)
        return True

    # -- delivery ------------------------------------------------------------------------------

    def has_pending(self) -> bool:
        return self.router.has_pending()

    def deliver(self) -> None:
        self.router.deliver()

    def take_dropped(self) -> list[Recipient]:
        return self.router.take_dropped()
