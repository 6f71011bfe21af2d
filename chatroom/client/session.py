"""One chat session without I/O: protocol bytes and typed lines in, what to send and show out.

The line client (chatroom.client.line) and the full screen
(chatroom.client.tui_app) both drive a `Session`, so what the user sees, what
a typed line means, which lines are refused and the exit status are decided
here once. The caller moves the bytes and draws the effects; nothing here
touches a socket, an event loop, a clock or a terminal.

    session = Session("alice")
    apply(session.start())             # [Send(b"REGISTER alice CHAT/1.1\\n")]
    apply(session.receive(data))       # [Ready(GREETING), InRoom("#lobby"), ShowIncoming((...,))]
    apply(session.type_line("hello"))  # [Send(b"@alice #lobby: hello\\n"), ShowSent("hello")]
    apply(session.leave())             # [Send(b"DISCONNECT alice CHAT/1.1\\n"), Ended(EXIT_OK)]

It speaks CHAT/1.1 (docs/PROTOCOL.md section 7) unless told to speak CHAT/1.0;
a server that answers CHAT/1.1 with 400 knows only CHAT/1.0, so the session
asks for a new connection (`Reconnect`) and registers with CHAT/1.0 on it.
What the server says about rooms and members goes to `roster`.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from chatroom.client import commands
from chatroom.client.completion import candidates
from chatroom.client.exitcodes import EXIT_FAILURE, EXIT_OK
from chatroom.client.roster import Roster, entered_room
from chatroom.client.shown import Shown, shown_for
from chatroom.limits import CLIENT_SENDQ_MAX_BYTES, MAX_LINE_BYTES, MAX_ROOMS_PER_USER
from chatroom.protocol import (
    VERSION,
    VERSION_1_1,
    ClientConnection,
    ConnectionLost,
    Credentials,
    Incoming,
    Registered,
    RegistrationRefused,
    ServerClosing,
)
from chatroom.protocol.events import Reply, parse_event
from chatroom.protocol.names import room_key
from chatroom.text import printable

GREETING = "Registration successful.  Ready for messaging!"
SERVER_CLOSING = "Disconnected from server ... exiting!"
FALLBACK = "The server speaks only CHAT/1.0; connecting again with it."
PROTECTED = (
    "Registration refused: the name {name} is protected by a password; "
    "run the client again with --login, or choose another name."
)
NO_PASSWORDS = (
    "Registration refused: the server speaks only CHAT/1.0, which has no passwords; "
    "connect without --login or --claim to use an unprotected name."
)


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
    """Lines from the server (chat lines, events, notices) that arrived together: show them as one batch."""

    lines: tuple[Shown, ...]


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
    """The user's current room is now `room` (the server said so, or the user switched): show it."""

    room: str


@dataclass(frozen=True)
class RoomsChanged:
    """The rooms, the current room, a member list or a topic changed: redraw what shows them."""


@dataclass(frozen=True)
class Reconnect:
    """The server knows only CHAT/1.0: close this connection, open a new one, then call `start()`."""


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


Effect = (
    Send
    | Ready
    | ShowIncoming
    | ShowSent
    | ShowNotice
    | ClearScreen
    | InRoom
    | RoomsChanged
    | Reconnect
    | LeaveRequested
    | Ended
)


class SessionState(enum.Enum):
    STARTING = "starting"  # nothing sent yet (on this connection)
    REGISTERING = "registering"  # REGISTER sent, waiting for the reply
    CHATTING = "chatting"  # registered: lines go both ways
    ENDED = "ended"  # left, refused, told to go or lost; `outcome` says which


class Session:
    """The client's side of one chat session, as the user experiences it.

    `version` is the protocol to ask for: CHAT/1.1 (the default) falls back to
    CHAT/1.0 once when the server refuses it; CHAT/1.0 never changes.
    """

    def __init__(
        self,
        username: str,
        help_text: str = commands.HELP_TEXT,
        *,
        version: bytes = VERSION_1_1,
        credentials: Credentials | None = None,
    ) -> None:
        """`credentials`: a password to prove (or claim) the name with; it needs CHAT/1.1, so no fallback."""
        self.username = username
        self._credentials = credentials
        self.state = SessionState.STARTING
        self.outcome: Ended | None = None
        self._help_text = help_text
        self._may_fall_back = version == VERSION_1_1
        self._use(version)

    def _use(self, version: bytes) -> None:
        """Speak `version` from the next connection on; what the last one said about rooms is void."""
        self.version = version
        credentials = self._credentials if version == VERSION_1_1 else None
        self._protocol = ClientConnection(self.username, version=version, credentials=credentials)
        self.roster = Roster(self.username, several_rooms=version == VERSION_1_1)
        self._quiet: deque[str] = deque()  # rooms switched to whose 210 reply is not shown
        # Typed !join/!leave not answered yet: until they are, lines go to the server's current
        # room (the plain form), which those commands change in order, not to the room shown.
        self._moves_pending = 0

    def start(self) -> list[Effect]:
        """The connection is open: register."""
        if self.state is not SessionState.STARTING:
            return []
        self.state = SessionState.REGISTERING
        return [Send(self._protocol.register())]

    # -- from the server ---------------------------------------------------------------

    def receive(self, data: bytes) -> list[Effect]:
        """Bytes from the server; b"" when it closed the connection."""
        if self.state is not SessionState.CHATTING and self.state is not SessionState.REGISTERING:
            return []
        effects: list[Effect] = []
        batch: list[Shown] = []
        rooms_changed = False

        def flush() -> None:
            if batch:
                effects.append(ShowIncoming(tuple(batch)))
                batch.clear()

        for event in self._protocol.receive(data):
            if isinstance(event, Incoming):
                before = self.roster.current
                shown, changed = self._incoming(event.line)
                rooms_changed = rooms_changed or changed
                if shown is not None:
                    batch.append(shown)
                current = self.roster.current
                if current is not None and (before is None or room_key(before) != room_key(current)):
                    flush()  # after the line that said it, so the prompt changes below it
                    effects.append(InRoom(current))
                continue
            flush()
            if isinstance(event, Registered):
                self.state = SessionState.CHATTING
                effects.append(Ready(GREETING))
            elif isinstance(event, RegistrationRefused):
                effects.extend(self._refused(event.reply))
            elif isinstance(event, ServerClosing):
                effects.append(self._end(EXIT_OK, SERVER_CLOSING))
            elif isinstance(event, ConnectionLost):
                effects.append(self._end(EXIT_FAILURE, f"Lost the connection: {event.reason}."))
        flush()
        if rooms_changed:
            effects.append(RoomsChanged())
        return effects

    def _incoming(self, line: str) -> tuple[Shown | None, bool]:
        """What `line` shows, and whether it changed the rooms; a switch's own 210 reply shows nothing."""
        event = parse_event(line, self.version)
        if isinstance(event, Reply):
            entered = entered_room(event)
            if entered is not None and room_key(entered[0]) in self._quiet:
                while self._quiet.popleft() != room_key(entered[0]):
                    pass  # replies come in order: the switches before it were answered already
                return None, False
            if self._moves_pending and event.final and (event.code == 210 or 400 <= event.code < 500):
                self._moves_pending -= 1
        changed = self.roster.apply(event)
        return shown_for(event, line, self.username), changed

    def _refused(self, reply: str) -> list[Effect]:
        if self._credentials is not None and (reply == "400" or reply.startswith("400 ")):
            return [self._end(EXIT_FAILURE, NO_PASSWORDS)]
        if self._may_fall_back and (reply == "400" or reply.startswith("400 ")):
            self._may_fall_back = False
            self._use(VERSION)
            self.state = SessionState.STARTING
            return [ShowNotice(FALLBACK), Reconnect()]
        if self._credentials is None and reply.startswith("401 ") and "protected by a password" in reply:
            return [self._end(EXIT_FAILURE, PROTECTED.format(name=self.username))]
        return [self._end(EXIT_FAILURE, f"Registration refused: {printable(reply)}")]

    # -- from the user -----------------------------------------------------------------

    def type_line(self, line: str, queued: int = 0) -> list[Effect]:
        """The user entered `line`; `queued` is how many bytes still wait to reach the server."""
        meaning = commands.interpret(line)
        if isinstance(meaning, commands.SendText):
            return self._chat(meaning.text, queued, meaning.shown)
        if isinstance(meaning, commands.ServerCommand):
            sent = self._chat(meaning.line, queued, to_room=False)  # a command is about the current room
            moves = meaning.line.split(" ", 1)[0].lower() in ("!join", "!leave")
            if moves and any(isinstance(effect, Send) for effect in sent):
                self._moves_pending += 1
            return [effect for effect in sent if not isinstance(effect, ShowSent)]
        if isinstance(meaning, commands.RunCommand):
            if meaning.command is commands.Command.EXIT:
                return [LeaveRequested()]
            if meaning.command is commands.Command.CLEAR:
                return [ClearScreen()]
            return [ShowNotice(self._help_text)]
        if isinstance(meaning, commands.LocalError):
            return [ShowNotice(meaning.message, NoticeKind.ERROR)]
        return []

    def switch_to(self, room: str) -> list[Effect]:
        """Show `room`, one the user is in (CHAT/1.1): `!join` makes it the server's current room too.

        The reply to that `!join` is not shown (the user pressed a key, not typed
        a command); switching to the current room, or in CHAT/1.0, does nothing.
        """
        if self.state is not SessionState.CHATTING or self.version != VERSION_1_1:
            return []
        info = self.roster.room(room)
        if info is None or self.roster.is_current(room):
            return []
        self._quiet.append(room_key(info.name))
        while len(self._quiet) > MAX_ROOMS_PER_USER:  # replies that never came: forget the oldest
            self._quiet.popleft()
        self.roster.set_current(info.name)
        return [Send(self._protocol.chat(f"!join {info.name}")), InRoom(info.name), RoomsChanged()]

    def complete(self, before: str, word: str) -> list[str]:
        """What Tab may complete `word` to (see chatroom.client.completion), from what this session saw."""
        return candidates(before, word, self.roster.known_rooms(), self.roster.known_names())

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

    def _chat(
        self, text: str, queued: int, shown: str | None = None, *, to_room: bool = True
    ) -> list[Effect]:
        """Send `text`; in CHAT/1.1 to the room shown, by name, so a switch on its way cannot misdirect it."""
        if self.state is not SessionState.CHATTING:
            return [ShowNotice("Not sent: not registered with the server yet.", NoticeKind.ERROR)]
        addressed = to_room and self.version == VERSION_1_1 and not self._moves_pending
        room = self.roster.current if addressed else None
        data = self._protocol.chat(text, room)
        if len(data) > MAX_LINE_BYTES + 1 and room is not None:
            data = self._protocol.chat(text)  # the server's current room is the one shown: the short form
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
