"""One chat session without I/O: protocol bytes and typed lines in, what to send and show out.

The line client (chatroom.client.line) and the full screen
(chatroom.client.tui_app) both drive a `Session`, so what the user sees, what
a typed line means, which lines are refused and the exit status are decided
here once. The caller moves the bytes and draws the effects; nothing here
touches a socket, an event loop, a clock or a terminal.

    session = Session("alice")
    apply(session.start())             # [Send(b"REGISTER alice CHAT/1.0\\n")]
    apply(session.receive(data))       # [Ready(GREETING), ShowIncoming(("@bob: hi",))]
    apply(session.type_line("hello"))  # [Send(b"@alice: hello\\n"), ShowSent("hello")]
    apply(session.leave())             # [Send(b"DISCONNECT alice CHAT/1.0\\n"), Ended(EXIT_OK)]
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from chatroom.client import commands
from chatroom.client.exitcodes import EXIT_FAILURE, EXIT_OK
from chatroom.limits import CLIENT_SENDQ_MAX_BYTES, MAX_LINE_BYTES
from chatroom.protocol import (
    ClientConnection,
    ConnectionLost,
    Incoming,
    Registered,
    RegistrationRefused,
    ServerClosing,
)
from chatroom.protocol.names import is_valid_room_name
from chatroom.text import printable

GREETING = "Registration successful.  Ready for messaging!"
SERVER_CLOSING = "Disconnected from server ... exiting!"


class NoticeKind(enum.Enum):
    INFO = "info"  # the client's own status lines ("Connecting to server ...")
    ERROR = "error"  # one clear sentence when something went wrong
    SERVER = "server"  # a line from the server that is not a chat line (a 4xx notice)


# What the session asks of its user interface -------------------------------------------


@dataclass(frozen=True)
class Send:
    """Bytes for the server, in order."""

    data: bytes


@dataclass(frozen=True)
class Ready:
    """Registration succeeded: show the greeting, and from now on take the user's lines."""

    greeting: str


@dataclass(frozen=True)
class ShowIncoming:
    """Lines from the server (chat lines and notices) that arrived together: show them as one batch."""

    lines: tuple[str, ...]


@dataclass(frozen=True)
class ShowSent:
    """The user's own chat line, just sent."""

    text: str


@dataclass(frozen=True)
class ShowNotice:
    """A message of the client's own (one or more lines)."""

    text: str
    kind: NoticeKind = NoticeKind.INFO


@dataclass(frozen=True)
class ClearScreen:
    """!clear: empty the screen (or the message pane)."""


@dataclass(frozen=True)
class InRoom:
    """The server says the user is now in `room` (its reply to !join or !leave): show it in the prompt."""

    room: str


@dataclass(frozen=True)
class LeaveRequested:
    """!exit: leave the way Ctrl-D does; the interface calls `Session.leave()` when it is ready to."""


@dataclass(frozen=True)
class Ended:
    """The session is over: say `message` (if any) and exit with `status`."""

    status: int
    message: str | None = None

    @property
    def failed(self) -> bool:
        return self.status != EXIT_OK


Effect = Send | Ready | ShowIncoming | ShowSent | ShowNotice | ClearScreen | InRoom | LeaveRequested | Ended


class SessionState(enum.Enum):
    STARTING = "starting"  # nothing sent yet
    REGISTERING = "registering"  # REGISTER sent, waiting for the reply
    CHATTING = "chatting"  # registered: lines go both ways
    ENDED = "ended"  # left, refused, told to go or lost; `outcome` says which


class Session:
    """The client's side of one connection, as the user experiences it."""

    def __init__(self, username: str, help_text: str = commands.HELP_TEXT) -> None:
        self.username = username
        self.state = SessionState.STARTING
        self.outcome: Ended | None = None
        self._protocol = ClientConnection(username)
        self._help_text = help_text

    def start(self) -> list[Effect]:
        """The connection is open: register."""
        if self.state is not SessionState.STARTING:
            return []
        self.state = SessionState.REGISTERING
        return [Send(self._protocol.register())]

    # -- from the server ---------------------------------------------------------------

    def receive(self, data: bytes) -> list[Effect]:
        """Bytes from the server; b"" when it closed the connection."""
        if self.state is SessionState.ENDED:
            return []
        effects: list[Effect] = []
        batch: list[str] = []
        for event in self._protocol.receive(data):
            if isinstance(event, Incoming):
                batch.append(event.line)
                room = room_entered(event.line)
                if room is not None:  # after the reply itself, so the prompt changes below it
                    effects.extend((ShowIncoming(tuple(batch)), InRoom(room)))
                    batch = []
                continue
            if batch:
                effects.append(ShowIncoming(tuple(batch)))
                batch = []
            if isinstance(event, Registered):
                self.state = SessionState.CHATTING
                effects.append(Ready(GREETING))
            elif isinstance(event, RegistrationRefused):
                effects.append(self._end(EXIT_FAILURE, f"Registration refused: {printable(event.reply)}"))
            elif isinstance(event, ServerClosing):
                effects.append(self._end(EXIT_OK, SERVER_CLOSING))
            elif isinstance(event, ConnectionLost):
                effects.append(self._end(EXIT_FAILURE, f"Lost the connection: {event.reason}."))
        if batch:
            effects.append(ShowIncoming(tuple(batch)))
        return effects

    # -- from the user -----------------------------------------------------------------

    def type_line(self, line: str, queued: int = 0) -> list[Effect]:
        """The user entered `line`; `queued` is how many bytes still wait to reach the server."""
        meaning = commands.interpret(line)
        if isinstance(meaning, commands.SendText):
            return self._chat(meaning.text, queued, meaning.shown)
        if isinstance(meaning, commands.ServerCommand):
            return [effect for effect in self._chat(meaning.line, queued) if not isinstance(effect, ShowSent)]
        if isinstance(meaning, commands.RunCommand):
            if meaning.command is commands.Command.EXIT:
                return [LeaveRequested()]
            if meaning.command is commands.Command.CLEAR:
                return [ClearScreen()]
            return [ShowNotice(self._help_text)]
        if isinstance(meaning, commands.LocalError):
            return [ShowNotice(meaning.message, NoticeKind.ERROR)]
        return []

    def has_room(self, queued: int) -> bool:
        """Whether a line of any allowed length still fits in the send queue next to `queued` bytes.

        An interface that can wait (the line client) stops taking input until it
        does; one that cannot (the full screen) sends and is refused line by line.
        """
        return queued + MAX_LINE_BYTES + 1 <= CLIENT_SENDQ_MAX_BYTES

    def leave(self) -> list[Effect]:
        """Ctrl-D, Ctrl-C, !exit, a leave signal: say DISCONNECT if registered, and end.

        Once the session has ended this repeats how it ended, so leaving after a
        lost connection still exits with the failure.
        """
        if self.outcome is not None:
            return [self.outcome]
        effects: list[Effect] = []
        if self.state is SessionState.CHATTING:
            effects.append(Send(self._protocol.disconnect()))
        effects.append(self._end(EXIT_OK))
        return effects

    # -- from the I/O layer ------------------------------------------------------------

    def registration_timed_out(self, seconds: float) -> list[Effect]:
        if self.state is not SessionState.REGISTERING:
            return []
        return [self._end(EXIT_FAILURE, f"The server did not answer the registration within {seconds:g} s.")]

    def connection_error(self, description: str) -> list[Effect]:
        """Reading or writing failed; `description` is the OS's words ('connection reset by peer')."""
        return self.fail(f"Lost the connection to the server: {description}.")

    def fail(self, sentence: str) -> list[Effect]:
        """The session cannot go on, for a reason only the I/O layer knows (said in `sentence`)."""
        if self.state is SessionState.ENDED:
            return []
        return [self._end(EXIT_FAILURE, sentence)]

    # -- helpers -----------------------------------------------------------------------

    def _chat(self, text: str, queued: int, shown: str | None = None) -> list[Effect]:
        if self.state is not SessionState.CHATTING:
            return [ShowNotice("Not sent: not registered with the server yet.", NoticeKind.ERROR)]
        data = self._protocol.chat(text)
        if len(data) > MAX_LINE_BYTES + 1:  # the server would cut us off (413)
            return [
                ShowNotice(
                    f"Not sent: the line is longer than the protocol's {MAX_LINE_BYTES} bytes.",
                    NoticeKind.ERROR,
                )
            ]
        if queued + len(data) > CLIENT_SENDQ_MAX_BYTES:
            return [ShowNotice("Not sent: the server is not reading what we send.", NoticeKind.ERROR)]
        return [Send(data), ShowSent(text if shown is None else shown)]

    def _end(self, status: int, message: str | None = None) -> Ended:
        self.state = SessionState.ENDED
        self.outcome = Ended(status, message)
        return self.outcome


_IN_ROOM = "210 You are now in "


def room_entered(line: str) -> str | None:
    """'#dev' for the server's '210 You are now in #dev (2 members).' (docs/PROTOCOL.md 6.3), else None."""
    if not line.startswith(_IN_ROOM):
        return None
    room = line[len(_IN_ROOM) :].split(" ", 1)[0]
    return room if is_valid_room_name(room) else None
