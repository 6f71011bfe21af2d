"""The server's end of one IRC connection, speaking hub requests; it is also that connection's Wire.

IRC channels are the hub's rooms and nicks its user names. What IRC asks
that the hub knows (JOIN, PART, NAMES, LIST, TOPIC, WHO, WHOIS, private
PRIVMSG) goes to the hub as its `!` commands, and the hub's prose reply is
turned back into numerics: the codec remembers which IRC command a reply
answers, so each connection is a Wire of its own (docs/IRC.md says why).
What only IRC has (CAP, PING, MODE, AWAY, OPER) is answered here.

The hub puts every user in #lobby; an IRC client expects to start in no
channel, so #lobby stays hidden from an IRC user (its lines and presence are
not sent) until it JOINs #lobby, and is hidden again when it PARTs it.
"""

from __future__ import annotations

import datetime
import fnmatch
import functools
import hmac
from collections import deque
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field

from chatroom.codecs.requests import (
    Authenticate,
    Command,
    Ending,
    Leave,
    Register,
    Remove,
    Rename,
    Reply,
    Request,
    Say,
)
from chatroom.hub.message import (
    LOBBY,
    Event,
    FollowedLine,
    Joined,
    Left,
    MemberList,
    Message,
    PrivateLine,
    Renamed,
    RoomLine,
    TopicShown,
)
from chatroom.irc.channels import Channel, normal_mask
from chatroom.irc.directory import Directory, NoDirectory
from chatroom.irc.help import TOPICS
from chatroom.irc.message import IrcMessage, build, build_text, irc_text, parse, plain_text
from chatroom.irc.sasl import MECHANISMS, Challenge, Failed, Login, PlainExchange
from chatroom.limits import (
    IRC_ISUPPORT_PER_LINE,
    IRC_MAX_BANS_PER_CHANNEL,
    IRC_MAX_CAP_LINE_CHARS,
    IRC_MAX_CHANNEL_LIMIT,
    IRC_MAX_CLIENT_TAGS_BYTES,
    IRC_MAX_KEY_CHARS,
    IRC_MAX_KICK_TARGETS,
    IRC_MAX_LINE_BYTES,
    IRC_MAX_MASK_CHARS,
    IRC_MAX_REMEMBERED,
    IRC_MAX_TAGS_BYTES,
    IRC_MAX_WHOWAS,
    IRC_SHARED_LINES,
    MAX_ROOMS,
    MAX_ROOMS_PER_USER,
    MAX_TOPIC_CHARS,
    MAX_USERNAME_CHARS,
)
from chatroom.protocol.lines import Credentials
from chatroom.protocol.names import is_valid_room_name, is_valid_username, room_key, username_key

CAPABILITIES = ("server-time", "message-tags")
_NICK_FORBIDDEN = frozenset(",*?!@.:$&+%~#")  # would break prefixes, masks or targets
_MAX_INPUT_BYTES = IRC_MAX_LINE_BYTES + IRC_MAX_TAGS_BYTES


@dataclass(frozen=True)
class IrcSettings:
    """What every IRC connection of a server shares: its name and the operator logins."""

    server_name: str = "chatroom"
    operators: dict[str, str] = field(default_factory=dict)  # --irc-oper NAME:PASSWORD
    network: str = "chatroom"
    password: str | None = field(default=None, repr=False)  # --irc-password: PASS must give it
    sasl: bool = False  # the server has accounts: offer SASL PLAIN


def is_valid_nick(nick: str) -> bool:
    """A user name (one namespace with CHAT/1.0) that IRC can also carry in prefixes and targets."""
    return (
        is_valid_username(nick)
        and not nick[0].isdigit()
        and nick[0] != "-"
        and _NICK_FORBIDDEN.isdisjoint(nick)
    )


@dataclass
class IrcUser:
    """What IRC says about a user that the hub does not keep."""

    nick: str
    username: str
    realname: str
    away: str = ""
    oper: bool = False
    invisible: bool = False
    wallops: bool = False  # user mode +w: WALLOPS reach it


class IrcShared:
    """What every IRC connection of one server shares: users' IRC details, channel creators (their
    operators), and why someone left or whether a line was a NOTICE, for the others to relay."""

    def __init__(self) -> None:
        self.users: dict[str, IrcUser] = {}  # by name key: IRC users only
        self.creators: dict[str, str] = {}  # room key -> name key of who made the room (its @)
        self.unlocked: set[str] = set()  # room keys set -t: anyone may set the topic
        self.secret: set[str] = set()  # room keys set +s
        self.topic_set: dict[str, tuple[str, int]] = {}  # room key -> (who set its topic, when)
        self.reasons: dict[tuple[str, str], str] = {}  # (name key, room key or "") -> PART/QUIT reason
        self.notices: dict[tuple[str, str, str], None] = {}  # (name key, room key, text) said as NOTICE
        # Room lines as IRC bytes, by the message's identity (it is kept alive here, so no other
        # message takes its id): the router asks every IRC connection for the same line.
        self.said: dict[int, _Said] = {}
        # What IrcCodec.room_lines_key hands the router: one per (server-time, #lobby shown), so
        # IRC connections that see room lines alike share one payload, as CHAT/1.0 connections do.
        self.line_keys = (object(), object(), object(), object())
        self.channels: dict[str, Channel] = {}  # room key -> its IRC modes (chatroom.irc.channels)
        self.directory: Directory = NoDirectory()  # the server's rooms and IRC users (set by the server)
        self.whowas: deque[IrcUser] = deque(maxlen=IRC_MAX_WHOWAS)  # IRC users gone, newest last
        self.peak = 0  # the most users seen online at once (LUSERS 265/266)
        self.counts = {"invisible": 0, "oper": 0}  # IRC users with +i, with +o (LUSERS, without a walk)

    def room_line(self, message: RoomLine) -> _Said:
        """`message` as IRC lines, built once for every IRC connection that gets it."""
        said = self.said.get(id(message))
        if said is None or said.message is not message:
            if len(self.said) >= IRC_SHARED_LINES:
                del self.said[next(iter(self.said))]
            said = self.said[id(message)] = _Said(message, self)
        return said

    def set_flag(self, user: IrcUser, flag: str, on: bool) -> None:
        """user.invisible or user.oper = on, keeping the LUSERS counts."""
        if getattr(user, flag) != on:
            setattr(user, flag, on)
            self.counts[flag] += 1 if on else -1

    def remember(self, table: dict[tuple[str, str], str], key: tuple[str, str], value: str) -> None:
        if len(table) >= IRC_MAX_REMEMBERED:
            del table[next(iter(table))]
        table[key] = value


class _Said:
    """One room line's IRC bytes, without tags and (built when first asked for) with server-time."""

    __slots__ = ("message", "lobby", "_shared", "_plain", "_tagged")

    def __init__(self, message: RoomLine, shared: IrcShared) -> None:
        self.message = message
        self.lobby = room_key(message.room) == LOBBY
        self._shared = shared
        self._plain: bytes | None = None
        self._tagged: bytes | None = None

    def lines(self, server: str, tagged: bool) -> bytes:
        if tagged:
            if self._tagged is None:
                self._tagged = self._build(server, _server_time())
            return self._tagged
        if self._plain is None:
            self._plain = self._build(server, "")
        return self._plain

    def _build(self, server: str, tags: str) -> bytes:
        message = self.message
        said = (username_key(message.sender), room_key(message.room), message.text)
        verb = "NOTICE" if said in self._shared.notices else "PRIVMSG"
        user = self._shared.users.get(said[0])
        prefix = f"{message.sender}!{user.username if user is not None else message.sender}@{server}"
        return build_text(verb, message.room, irc_text(message.text), prefix, tags).encode()


class IrcCodec:
    """One IRC connection: lines in, hub requests out; hub messages in, IRC lines out."""

    __slots__ = (
        "settings",
        "shared",
        "_username",
        "_realname",
        "_quits_seen",
        "_heard",
        "_pinged",
        "_server",
        "_buffer",
        "_lines",
        "_skipping",
        "_nick",
        "_user",
        "_negotiating",
        "_deciding",
        "_closed",
        "caps",
        "_tagged",
        "_name",
        "_lobby_shown",
        "_asking",
        "_fresh",
        "_topic_by_me",
        "_asking_list",
        "_rooms",
        "operator",
        "_was",
        "_last_rename",
        "_sasl",
        "_checking",
        "_account",
        "_proof",
        "_pass",
    )  # one per IRC connection: no instance dict (docs/PERFORMANCE.md, W2)

    events = True  # presence and member lists become JOIN/PART/353: IRC clients need them

    def __init__(self, settings: IrcSettings, shared: IrcShared | None = None) -> None:
        self.settings = settings
        self.shared = shared if shared is not None else IrcShared()
        self._username = ""
        self._realname = ""
        self._quits_seen: set[str] = set()
        self._heard = True  # input since the last idle check
        self._pinged = False
        self._server = settings.server_name
        self._buffer = bytearray()
        self._lines: deque[bytes] | None = None  # lines read, not yet run (None while idle: it costs less)
        self._skipping = False  # discarding the rest of an over-long line
        self._nick = ""  # asked for, before registration
        self._user = False
        self._negotiating = False  # CAP LS/REQ seen, CAP END not yet
        self._deciding = False
        self._closed = False
        self.caps: set[str] = set()
        self._tagged = False  # server-time asked for
        self._name = ""
        self._lobby_shown = False
        self._asking: tuple[str, str] = ("", "")  # the IRC command the hub's next reply answers
        # The room being entered, from its member list until the JOIN command is done: a topic then is
        # RPL_TOPIC (the hub sends Joined, MemberList, TopicShown while it runs `!join`); later, a change.
        self._fresh = ""
        self._topic_by_me: set[str] = set()
        self._asking_list = ""
        self._rooms: set[str] = set()  # the keys of the rooms it is in (as IRC sees them)
        self.operator = False
        self._was = ""  # the name before the last NICK change
        self._last_rename: tuple[str, str] = ("", "")  # the last NICK line relayed (once per change)
        self._sasl = PlainExchange()  # SASL PLAIN (chatroom.irc.sasl) and PASS
        self._checking = False  # a SASL login is being checked: read nothing until it is answered
        self._account = ""  # the account a SASL login proved ("": none)
        self._proof: Credentials | None = None  # what proved it, kept only until the Register that uses it
        self._pass = ""

    # -- the Codec interface -------------------------------------------------------------------

    @property
    def wire(self) -> IrcCodec:
        return self

    @property
    def room_lines_key(self) -> Hashable:
        return self.shared.line_keys[self._tagged * 2 + self._lobby_shown]

    @property
    def name(self) -> str:
        return self._name

    @property
    def registered(self) -> bool:
        return bool(self._name)

    @property
    def paused(self) -> bool:
        return self._deciding or self._checking

    def requests(self, data: bytes) -> Iterator[Request]:
        self._heard = True
        too_long = self._frame(data)
        if too_long:
            self._queue().append(b"\0TOOLONG")
        return self._run()

    def said(self, data: bytes) -> str | None:
        return None  # an IRC line names its channel: requests() routes it

    def waiting_requests(self) -> Iterator[Request]:
        return self._run()

    def accept(self, name: str) -> bytes:
        self._deciding = False
        self._name = name
        key = username_key(name)
        self.shared.users[key] = IrcUser(name, self._username or name, self._realname or name)
        self.shared.reasons.pop((key, ""), None)
        return self._welcome().encode()

    def refuse_taken(self) -> bytes:
        return (
            self._numeric("433", self._nick, "Nickname is already in use") + self._error("Nick in use")
        ).encode()

    def refuse_with(self, code: int, sentence: str) -> bytes:
        if code == 401:  # a name protected by a password, without a SASL login for it (docs/IRC.md)
            why = f"The nick {self._nick} is protected by a password: log in with SASL, or choose another"
            return (self._numeric("433", self._nick, why) + self._error(why)).encode()
        return self._error(sentence).encode()

    def final_line(self, code: int, sentence: str) -> bytes:
        return self._error(sentence).encode()

    def ending(self, ending: Ending) -> bytes:
        return self._error(ending.value).encode()

    def idle_check(self) -> bytes | None:
        """Once per ping interval: b"" when the peer spoke since; else a PING to send; None: it timed out."""
        if self._heard:
            self._heard = self._pinged = False
            return b""
        if not self._pinged:
            self._pinged = True
            return build("PING", self._server, prefix=self._server).encode()
        return None

    def close(self) -> None:
        if self._name and not self._closed:
            key = username_key(self._name)
            gone = self.shared.users.pop(key, None)
            if gone is not None:
                self.shared.whowas.append(gone)
                self.shared.set_flag(gone, "invisible", False)
                self.shared.set_flag(gone, "oper", False)
            if (key, "") not in self.shared.reasons:
                self.shared.remember(self.shared.reasons, (key, ""), "Connection closed")
        self._closed = True
        self._lines = None
        self._buffer = bytearray()

    # -- framing -------------------------------------------------------------------------------

    def _frame(self, data: bytes) -> bool:
        """Complete lines go to the queue; True when an over-long line was cut off."""
        buffer = self._buffer
        buffer += data
        too_long = False
        while True:
            end = buffer.find(b"\n")
            if end < 0:
                break
            if self._skipping:
                self._skipping = False
            elif end <= _MAX_INPUT_BYTES and _fits(buffer, end):
                line = bytes(buffer[:end]).rstrip(b"\r")
                if b"\r" in line:  # a bare CR ends a line too: it never reaches a reply or a relay
                    self._queue().extend(part for part in line.split(b"\r") if part)
                else:
                    self._queue().append(line)
            else:
                too_long = True
            del buffer[: end + 1]
        if len(buffer) > _MAX_INPUT_BYTES:
            buffer.clear()
            self._skipping = True
            too_long = True
        return too_long

    # -- lines to requests ---------------------------------------------------------------------

    def _queue(self) -> deque[bytes]:
        if self._lines is None:
            self._lines = deque()
        return self._lines

    def _run(self) -> Iterator[Request]:
        while self._lines and not self.paused and not self._closed:
            raw = self._lines.popleft()
            if not self._lines:
                self._lines = None
            if raw == b"\0TOOLONG":
                yield Reply(self._numeric("417", "Input line was too long").encode())
                continue
            try:
                line = raw.decode()
                if "\0" in line:  # Modern IRC: never in a message; refused like bytes that are not UTF-8
                    raise UnicodeDecodeError("utf-8", raw, raw.index(b"\0"), raw.index(b"\0") + 1, "NUL")
            except UnicodeDecodeError:
                command = parse(raw.decode(errors="replace"))
                verb = command.command if command is not None and command.command.isalnum() else "*"
                yield _out(
                    build(
                        "FAIL", verb, "INVALID_UTF8", "Lines must be UTF-8, without NUL", prefix=self._server
                    )
                )
                continue
            message = parse(line)
            if message is None:
                continue
            if self._name:
                yield from self._registered(message)
            else:
                yield from self._registering(message)

    def _registering(self, m: IrcMessage) -> Iterator[Request]:
        command, params = m.command, m.params
        if command == "NICK":
            if not params or not params[0]:
                yield self._reply("431", "No nickname given")
            elif not is_valid_nick(params[0]):
                yield self._reply("432", params[0], "Erroneous nickname")
            else:
                self._nick = params[0]
                yield from self._try_register()
        elif command == "USER":
            if len(params) < 4 or not params[0] or not params[3]:
                yield self._reply("461", "USER", "Not enough parameters")
            else:
                self._user = True
                self._username = params[0][:MAX_USERNAME_CHARS]
                self._realname = params[3]
                yield from self._try_register()
        elif command == "CAP":
            yield from self._cap(params)
        elif command == "AUTHENTICATE":
            yield from self._authenticate(params)
        elif command == "PASS":
            self._pass = params[0] if params else ""
        elif command == "PONG":
            pass
        elif command == "PING":
            yield self._pong(params)
        elif command == "QUIT":
            yield Reply(self._error("Client quit").encode())
            yield Leave()
        else:
            yield self._reply("451", "You have not registered")

    def _try_register(self) -> Iterator[Request]:
        if self._nick and self._user and not self._negotiating:
            if not self._pass_given():
                refusal = self._numeric("464", "Password incorrect") + self._error("Bad password")
                yield Reply(refusal.encode())
                yield Leave()
                return
            if self._sasl.under_way:  # sasl-3.1: registering ends an unfinished exchange
                self._sasl.abort()
                yield self._reply("906", "SASL authentication aborted")
            credentials = None
            if self._account:  # the login names the account: it registers as that name
                credentials, self._proof = self._proof, None
                if username_key(self._nick) != username_key(self._account):
                    self._nick = self._account
            self._deciding = True
            yield Register(self._nick, 0, credentials)  # IRC users get no history on entering a room

    def _cap(self, params: list[str]) -> Iterator[Request]:
        sub = params[0].upper() if params else ""
        target = self._name or "*"
        if sub == "LS":
            if not self._name:
                self._negotiating = True
            version = params[1] if len(params) > 1 and params[1].isdigit() else "0"
            offered = " ".join(self._offered(int(version) >= 302))
            yield _out(self._line("CAP", target, "LS", offered[:IRC_MAX_CAP_LINE_CHARS]))
        elif sub == "LIST":
            yield _out(self._line("CAP", target, "LIST", " ".join(sorted(self.caps))))
        elif sub == "REQ":
            if not self._name:
                self._negotiating = True
            asked = params[1].split() if len(params) > 1 else []
            if asked and all(cap.lstrip("-") in self._offered(False) for cap in asked):
                for cap in asked:
                    if cap.startswith("-"):
                        self.caps.discard(cap[1:])
                    else:
                        self.caps.add(cap)
                self._tagged = "server-time" in self.caps
                yield _out(self._line("CAP", target, "ACK", " ".join(asked)))
            else:
                yield _out(self._line("CAP", target, "NAK", " ".join(asked)))
        elif sub == "END":
            if not self._name:
                self._negotiating = False
                yield from self._try_register()
        else:
            yield self._reply("410", sub or "*", "Invalid CAP command")

    def _registered(self, m: IrcMessage) -> Iterator[Request]:
        command, params = m.command, m.params
        if command in ("PRIVMSG", "NOTICE"):
            yield from self._privmsg(command, params)
        elif command == "JOIN":
            yield from self._join(params)
        elif command == "PART":
            yield from self._part(params)
        elif command == "NAMES":
            if not params:
                yield self._reply("366", "*", "End of /NAMES list")
            else:
                for room in params[0].split(","):
                    self._asking = ("NAMES", room)
                    yield Command("!list", room) if self._shown(room) else self._names_end(room)
        elif command == "LIST":
            self._asking_list = params[0] if params and params[0].startswith("#") else ""
            self._asking = ("LIST", self._asking_list)
            yield Command("!rooms")
        elif command == "TOPIC":
            yield from self._topic(params)
        elif command == "WHO":
            mask = params[0] if params else "*"
            self._asking = ("WHO", mask)
            yield Command("!list all")
        elif command == "WHOIS":
            if not params:
                yield self._reply("431", "No nickname given")
            else:
                self._asking = ("WHOIS", params[-1])
                yield Command("!list all")
        elif command == "MODE":
            yield self._mode(params)
        elif command == "AWAY":
            me = self._me()
            me.away = params[0] if params else ""
            if me.away:
                yield self._reply("306", "You have been marked as being away")
            else:
                yield self._reply("305", "You are no longer marked as being away")
        elif command == "OPER":
            yield self._oper(params)
        elif command == "KICK":
            yield from self._kick(params)
        elif command == "KILL":
            yield from self._kill(params)
        elif command == "INVITE":
            yield self._invite(params)
        elif command in ("HELP", "HELPOP"):
            yield self._help(params)
        elif command == "LINKS":
            server = self._server
            yield _out(
                self._numeric("364", server, server, "0 chatroom")
                + self._numeric("365", "*", "End of /LINKS list")
            )
        elif command == "WALLOPS":
            yield self._wallops(params)
        elif command == "WHOWAS":
            yield self._whowas(params)
        elif command == "USERHOST":
            yield self._userhost(params)
        elif command == "INFO":
            yield _out(
                self._numeric("371", "chatroom: rooms for CHAT/1.0, CHAT/1.1 and IRC users")
                + self._numeric("374", "End of INFO list")
            )
        elif command == "TIME":
            now = datetime.datetime.now(datetime.timezone.utc)
            yield self._reply(
                "391",
                self._server,
                str(int(now.timestamp())),
                "0",
                now.strftime("%A %B %d %Y -- %H:%M:%S UTC"),
            )
        elif command == "PING":
            yield self._pong(params)
        elif command == "PONG":
            pass
        elif command == "CAP":
            yield from self._cap(params)
        elif command in ("USER", "PASS"):
            yield self._reply("462", "You may not reregister")
        elif command == "AUTHENTICATE":
            if self._account:
                yield self._reply("907", "You have already authenticated using SASL")
            else:
                yield self._reply("462", "You may not reregister (SASL logs in only before registering here)")
        elif command == "NICK":
            yield from self._nick_change(params)
        elif command == "MOTD":
            yield self._reply("422", "MOTD File is missing")
        elif command == "LUSERS":
            yield Reply(self._lusers().encode())
        elif command == "QUIT":
            reason = params[0] if params else "Client quit"
            self.shared.remember(self.shared.reasons, (username_key(self._name), ""), f"Quit: {reason}")
            yield Reply(self._error(f"Closing link ({reason})").encode())
            yield Leave()
        else:
            yield self._reply("421", command, "Unknown command")

    def _privmsg(self, command: str, params: list[str]) -> Iterator[Request]:
        quiet = command == "NOTICE"
        if not params or not params[0]:
            if not quiet:
                yield self._reply("411", f"No recipient given ({command})")
            return
        if len(params) < 2 or not params[1]:
            if not quiet:
                yield self._reply("412", "No text to send")
            return
        raw = params[1]
        text = plain_text(raw)  # what the hub carries: no formatting codes; /me for a CTCP ACTION
        for target in params[0].split(","):
            self._asking = (command, target)
            if target.startswith("#"):
                if self._shown(target) and (refused := self._may_not_speak(target, raw)):
                    if not quiet:
                        yield self._reply("404", target, f"Cannot send to channel ({refused})")
                elif self._external(target):
                    yield from self._tell_room(command, target, raw)
                elif self._shown(target) and not text:
                    continue  # nothing left once the formatting codes are gone
                elif self._shown(target):
                    notices = self.shared.notices
                    if quiet or notices:  # a PRIVMSG costs nothing here while nobody sent a NOTICE
                        said = (username_key(self._name), room_key(target), text)
                        if not quiet:
                            notices.pop(said, None)
                        else:
                            if len(notices) >= IRC_MAX_REMEMBERED:
                                del notices[next(iter(notices))]
                            notices[said] = None
                    yield Say(text, target)
                elif not quiet:
                    yield self._reply("404", target, "Cannot send to channel")
            elif username_key(target) == username_key(self._name):
                yield Reply(build_text(command, self._name, raw, self._prefix(self._name)).encode())
            elif text:
                yield Command(f"!msg {target} {text}")

    def _join(self, params: list[str]) -> Iterator[Request]:
        if not params:
            yield self._reply("461", "JOIN", "Not enough parameters")
            return
        keys = params[1].split(",") if len(params) > 1 else []
        for room in params[0].split(","):
            if not room.startswith("#") or not is_valid_room_name(room):
                yield self._reply("403", room, "No such channel")
            elif room_key(room) == LOBBY:
                if not self._lobby_shown:
                    self._lobby_shown = True
                    yield _out(self._line("JOIN", LOBBY, prefix=self._prefix(self._name)))
                    self._asking = ("NAMES", LOBBY)
                    yield Command("!list", LOBBY)
            elif (refused := self._join_refused(room, keys.pop(0) if keys else "")) is not None:
                yield refused
            else:
                self._asking = ("JOIN", room)
                yield Command(f"!join {room}")
                self._fresh = ""  # entering the room was all sent while the hub ran the command

    def _part(self, params: list[str]) -> Iterator[Request]:
        if not params:
            yield self._reply("461", "PART", "Not enough parameters")
            return
        for room in params[0].split(","):
            if not self._shown(room):
                yield self._reply("442", room, "You're not on that channel")
            else:
                self._asking = ("PART", room)
                key = (username_key(self._name), room_key(room))
                self.shared.reasons.pop(key, None)
                if len(params) > 1 and params[1]:
                    self.shared.remember(self.shared.reasons, key, params[1])
                yield Command(f"!leave {room}")

    def _topic(self, params: list[str]) -> Iterator[Request]:
        if not params:
            yield self._reply("461", "TOPIC", "Not enough parameters")
            return
        room = params[0]
        if not self._shown(room) or room_key(room) not in self._rooms:
            if room_key(room) in self.shared.creators or room_key(room) == LOBBY:
                yield self._reply("442", room, "You're not on that channel")
            else:
                yield self._reply("403", room, "No such channel")
            return
        self._asking = ("TOPIC", room)
        if len(params) < 2:
            yield Command("!topic", room)
        elif room_key(room) not in self.shared.unlocked and not self._is_op(room):
            yield self._reply("482", room, "You're not channel operator")
        elif not params[1].strip(" "):
            self._topic_by_me.add(room_key(room))
            self.shared.topic_set.pop(room_key(room), None)
            yield Command("!untopic", room)
        else:
            self._topic_by_me.add(room_key(room))
            yield Command(f"!topic {params[1]}", room)

    def _nick_change(self, params: list[str]) -> Iterator[Request]:
        if not params or not params[0]:
            yield self._reply("431", "No nickname given")
        elif params[0] == self._name:
            return
        elif not is_valid_nick(params[0]):
            yield self._reply("432", params[0], "Erroneous nickname")
        else:
            self._asking = ("NICK", params[0])
            yield Rename(params[0], self._renamed)

    def _renamed(self, new: str) -> None:
        """The hub lets this connection be called `new`: its IRC details follow the name."""
        old, old_key, new_key = self._name, username_key(self._name), username_key(new)
        self._name = new
        self._was = old
        shared = self.shared
        user = shared.users.pop(old_key, None) or IrcUser(old, old, old)
        user.nick = new
        shared.users[new_key] = user
        for room, creator in shared.creators.items():
            if creator == old_key:
                shared.creators[room] = new_key

    def _nick_line(self, old: str, new: str) -> bytes:
        user = self.shared.users.get(username_key(new))
        prefix = f"{old}!{user.username if user is not None else old}@{self._server}"
        return self._line("NICK", new, prefix=prefix).encode()

    def _mode(self, params: list[str]) -> Reply:
        if not params:
            return self._reply("461", "MODE", "Not enough parameters")
        target = params[0]
        if target.startswith("#"):
            return self._channel_mode(target, params[1:])
        if username_key(target) != username_key(self._name):
            return self._reply("502", "Can't change mode for other users")
        me = self._me()
        if len(params) == 1:
            return self._reply("221", "+" + "i" * me.invisible + "o" * me.oper + "w" * me.wallops)
        return self._user_mode(me, params[1])

    def _oper(self, params: list[str]) -> Reply:
        if len(params) < 2:
            return self._reply("461", "OPER", "Not enough parameters")
        if self.settings.operators.get(params[0]) != params[1]:
            return self._reply("464", "Password incorrect")
        self.operator = True
        self.shared.set_flag(self._me(), "oper", True)
        return Reply(
            (
                self._numeric("381", "You are now an IRC operator") + self._line("MODE", self._name, "+o")
            ).encode()
        )

    # -- SASL PLAIN and PASS (chatroom.irc.sasl, docs/IRC.md) --------------------------------------

    def _offered(self, values: bool) -> list[str]:
        """The capabilities offered: SASL only with accounts to log in to (`values`: CAP LS 302's sasl=)."""
        if not self.settings.sasl:
            return list(CAPABILITIES)
        return [*CAPABILITIES, "sasl=" + ",".join(MECHANISMS) if values else "sasl"]

    def _authenticate(self, params: list[str]) -> Iterator[Request]:
        if not self.settings.sasl or "sasl" not in self.caps:
            yield self._reply("904", "SASL authentication failed: request the sasl capability first")
            return
        if self._account:
            yield self._reply("907", "You have already authenticated using SASL")
            return
        step = self._sasl.step(params[0] if params else "")
        if isinstance(step, Challenge):
            yield _out(build("AUTHENTICATE", "+"))
        elif isinstance(step, Failed):
            if step.mechanisms:
                yield self._reply("908", ",".join(MECHANISMS), "are available SASL mechanisms")
            yield self._reply(step.code, step.sentence)
        elif isinstance(step, Login):
            self._checking = True  # the server answers through _logged_in; reading waits until then
            credentials = Credentials(step.password)
            answered = functools.partial(self._logged_in, step.name, credentials)
            yield Authenticate(step.name, credentials, answered)

    def _logged_in(self, name: str, credentials: Credentials, refusal: str | None) -> bytes:
        """The accounts' answer to a SASL login: 900 and 903, or 904 with their reason."""
        self._checking = False
        if refusal is not None:
            return self._numeric("904", f"SASL authentication failed: {refusal}").encode()
        self._account, self._proof = name, credentials
        mask = f"{name}!{self._username or name}@{self._server}"  # the name it will register as
        return (
            self._numeric("900", mask, name, f"You are now logged in as {name}")
            + self._numeric("903", "SASL authentication successful")
        ).encode()

    def _pass_given(self) -> bool:
        """Whether PASS gave the connection password (--irc-password), when there is one."""
        password = self.settings.password
        return password is None or hmac.compare_digest(self._pass.encode(), password.encode())

    def _pong(self, params: list[str]) -> Reply:
        if not params:
            return self._reply("409", "No origin specified")
        return _out(self._line("PONG", self._server, params[0], prefix=self._server))

    def _shown(self, room: str) -> bool:
        """False for #lobby while it is hidden from this IRC user."""
        return self._lobby_shown or room_key(room) != LOBBY

    def _names_end(self, room: str) -> Reply:
        return self._reply("366", room, "End of /NAMES list")

    # -- channel modes, INVITE and what they refuse (chatroom.irc.channels) ------------------------

    def _channel_mode(self, room: str, params: list[str]) -> Reply:
        """MODE #room [changes [args]]: o v k l b m i n s t (Modern IRC), echoed to the room's IRC users."""
        members = self.shared.directory.members(room) if self._shown(room) else None
        if members is None:
            return self._reply("403", room, "No such channel")
        key = room_key(room)
        channel = self._channel(room)
        if not params:
            modes = channel.modes(key in self.shared.secret, key in self.shared.unlocked, key in self._rooms)
            return _out(self._numeric("324", room, *modes) + self._numeric("329", room, str(channel.created)))
        listed = params[0].lstrip("+-")
        if listed in _MASK_LISTS and len(params) == 1:
            item, end, sentence = _MASK_LISTS[listed]
            masks = channel.lists[listed].items()
            lines = [self._numeric(item, room, mask, by, str(when)) for mask, (by, when) in masks]
            return _out("".join(lines) + self._numeric(end, room, sentence))
        if not self._on(room):
            return self._reply("442", room, "You're not on that channel")
        if not self._is_op(room):
            return self._reply("482", room, "You're not channel operator")
        args = params[1:]
        sign = "+"
        done: list[tuple[str, str, str]] = []  # (sign, letter, argument or "")
        errors: list[str] = []
        for letter in params[0]:
            if letter in "+-":
                sign = letter
            elif letter in "ov" and args:
                nick = args.pop(0)
                found = next((name for name in members if username_key(name) == username_key(nick)), None)
                if found is None:
                    if self.shared.directory.online(nick) is None:
                        errors.append(self._numeric("401", _token(nick), "No such nick/channel"))
                    else:
                        errors.append(self._numeric("441", _token(nick), room, "They aren't on that channel"))
                    continue
                who = username_key(found)
                group = channel.ops if letter == "o" else channel.voiced
                if sign == "+":
                    group.add(who)
                else:
                    group.discard(who)
                    if letter == "o" and self.shared.creators.get(key) == who:
                        del self.shared.creators[key]
                done.append((sign, letter, found))
            elif letter == "k" and (args or sign == "-"):
                value = args.pop(0) if args else ""
                if sign == "-":
                    if channel.key:
                        channel.key = ""
                        done.append(("-", "k", "*"))
                elif not _valid_key(value):
                    errors.append(self._numeric("696", room, "k", "*", "Invalid key"))
                else:
                    channel.key = value
                    done.append(("+", "k", value))
            elif letter == "l" and (args or sign == "-"):
                if sign == "-":
                    if channel.limit:
                        channel.limit = 0
                        done.append(("-", "l", ""))
                    continue
                value = args.pop(0)
                if not (value.isascii() and value.isdigit() and 0 < int(value) <= IRC_MAX_CHANNEL_LIMIT):
                    errors.append(self._numeric("696", room, "l", _token(value), "Invalid limit"))
                else:
                    channel.limit = int(value)
                    done.append(("+", "l", value))
            elif letter in _MASK_LISTS and args:
                mask = normal_mask(args.pop(0))
                if not _valid_mask(mask):
                    errors.append(self._numeric("696", room, letter, "*", "Invalid mask"))
                    continue
                now = int(datetime.datetime.now().timestamp())
                entries = channel.lists[letter]
                if channel.add(letter, mask, self._name, now) if sign == "+" else entries.pop(mask, None):
                    done.append((sign, letter, mask))
            elif letter in "mintsC":
                if self._flag(room, channel, letter, sign == "+"):
                    done.append((sign, letter, ""))
            elif letter not in "ovklbeI":
                errors.append(self._numeric("472", _token(letter), "is unknown mode char to me"))
        if not done:
            return _out("".join(errors))
        change, shown_args, last = "", [], ""
        for sign, letter, arg in done:
            change += (sign if sign != last else "") + letter
            last = sign
            if arg:
                shown_args.append(arg)
        me = self._prefix(self._name)
        others = [name for name in members if username_key(name) != username_key(self._name)]
        self.shared.directory.tell(
            others, lambda codec: codec.line("MODE", room, change, *shown_args, prefix=me).encode()
        )
        return _out("".join(errors) + self._line("MODE", room, change, *shown_args, prefix=me))

    def _flag(self, room: str, channel: Channel, letter: str, on: bool) -> bool:
        """Set or clear a flag mode; True when it changed."""
        key = room_key(room)
        if letter == "s":
            before = key in self.shared.secret
            (self.shared.secret.add if on else self.shared.secret.discard)(key)
        elif letter == "t":
            before = key not in self.shared.unlocked
            (self.shared.unlocked.discard if on else self.shared.unlocked.add)(key)
        else:
            attribute = {"m": "moderated", "i": "invite_only", "n": "no_external", "C": "no_ctcp"}[letter]
            before = getattr(channel, attribute)
            setattr(channel, attribute, on)
        return before != on

    def _external(self, room: str) -> bool:
        """A line from outside a -n room (the hub relays only members' lines: it goes to IRC members)."""
        channel = self.shared.channels.get(room_key(room))
        return channel is not None and not channel.no_external and room_key(room) not in self._rooms

    def _tell_room(self, command: str, room: str, text: str) -> Iterator[Request]:
        members = self.shared.directory.members(room)
        if members is None:
            yield self._reply("401", room, "No such nick/channel")
            return
        me = self._prefix(self._name)
        self.shared.directory.tell(
            members, lambda codec: build_text(command, room, text, me, codec.tags()).encode()
        )

    def _may_not_speak(self, room: str, text: str) -> str:
        """Why this user may not say `text` in `room` ("+m", "+C"), or "" when it may.

        +m: only the room's operators and voiced users speak; +C: no CTCP but ACTION (/me).
        """
        channel = self.shared.channels.get(room_key(room))
        if channel is None:
            return ""
        if channel.moderated and not (self._is_op(room) or username_key(self._name) in channel.voiced):
            return "+m"
        if channel.no_ctcp and text.startswith("\x01") and not text.startswith("\x01ACTION "):
            return "+C"
        return ""

    def _join_refused(self, room: str, key: str) -> Reply | None:
        """What +b, +i, +k or +l say to this JOIN (an INVITE lets one past +i and +l), or None."""
        channel = self.shared.channels.get(room_key(room))
        if channel is None or room_key(room) in self._rooms:
            return None
        me = username_key(self._name)
        invited = me in channel.invited
        user = self._me()
        mask = f"{self._name}!{user.username}@{self._server}".lower()
        if channel.is_banned(mask):
            return self._reply("474", room, "Cannot join channel (+b)")
        if channel.invite_only and not invited and not channel.matches("I", mask):
            return self._reply("473", room, "Cannot join channel (+i)")
        if channel.key and key != channel.key:
            return self._reply("475", room, "Cannot join channel (+k)")
        members = (self.shared.directory.members(room) or []) if channel.limit else []
        if channel.limit and len(members) >= channel.limit and not invited:
            return self._reply("471", room, "Cannot join channel (+l)")
        channel.invited.discard(me)
        return None

    def _invite(self, params: list[str]) -> Reply:
        """INVITE nick #room: 341 here, an INVITE line to the nick (when it is an IRC user)."""
        if not params:  # the channels one is invited to (Modern IRC 336/337)
            me = username_key(self._name)
            rooms = [channel.name for channel in self.shared.channels.values() if me in channel.invited]
            listed = [self._numeric("336", room) for room in rooms if room]
            return _out("".join(listed) + self._numeric("337", "End of /INVITE list"))
        if len(params) < 2:
            return self._reply("461", "INVITE", "Not enough parameters")
        nick, room = params[0], params[1]
        found = self.shared.directory.online(nick)
        members = self.shared.directory.members(room) if self._shown(room) else None
        if found is None:
            return self._reply("401", _token(nick), "No such nick/channel")
        if members is not None:
            channel = self._channel(room)
            if not self._on(room):
                return self._reply("442", room, "You're not on that channel")
            if channel.invite_only and not self._is_op(room):
                return self._reply("482", room, "You're not channel operator")
            if username_key(found) in map(username_key, members):
                return self._reply("443", found, room, "is already on channel")
            channel.invite(username_key(found))
        me = self._prefix(self._name)
        self.shared.directory.tell(
            [found], lambda codec: codec.line("INVITE", found, room, prefix=me).encode()
        )
        return self._reply("341", found, room)

    # -- channel operators: KICK, KILL (Hub.remove_from_room, remove_from_server) -------------------

    def _kick(self, params: list[str]) -> Iterator[Request]:
        """KICK #room nick [reason], by the room's operator or an IRC operator (Modern IRC's numerics)."""
        if len(params) < 2 or not params[1]:
            yield self._reply("461", "KICK", "Not enough parameters")
            return
        rooms, nicks = params[0].split(","), params[1].split(",")
        if len(rooms) != 1 and len(rooms) != len(nicks):
            yield self._reply("461", "KICK", "Give one channel, or one channel per nick")
            return
        reason = params[2] if len(params) > 2 and params[2] else self._name
        pairs = zip(rooms * len(nicks) if len(rooms) == 1 else rooms, nicks, strict=True)
        for room, nick in list(pairs)[:IRC_MAX_KICK_TARGETS]:
            yield from self._kick_one(room, nick, reason)

    def _kick_one(self, room: str, nick: str, reason: str) -> Iterator[Request]:
        members = self.shared.directory.members(room) if room.startswith("#") else None
        if not self._shown(room):
            yield self._reply("442", room, "You're not on that channel")
        elif members is None:
            yield self._reply("403", room, "No such channel")
        elif not self._on(room):
            yield self._reply("442", room, "You're not on that channel")
        elif not (self._is_op(room) or self.operator):
            yield self._reply("482", room, "You're not channel operator")
        elif username_key(nick) not in map(username_key, members):
            yield self._reply("441", _token(nick), room, "They aren't on that channel")
        else:
            self._asking = ("KICK", f"{room} {nick}")
            yield Remove(nick, room, reason)

    def _kill(self, params: list[str]) -> Iterator[Request]:
        """KILL nick [reason], by an IRC operator: the hub's kick (the connection ends)."""
        if not params or not params[0]:
            yield self._reply("461", "KILL", "Not enough parameters")
        elif not self.operator:
            yield self._reply("481", "Permission Denied- You're not an IRC operator")
        else:
            nick = params[0]
            reason = f"Killed ({self._name} ({params[1] if len(params) > 1 and params[1] else 'no reason'}))"
            self.shared.remember(self.shared.reasons, (username_key(nick), ""), reason)
            self._asking = ("KILL", nick)
            yield Remove(nick, None, reason)

    def _removed(self, verb: str, target: str, code: int, sentence: str) -> str:
        """The hub's answer to a KICK or KILL: nothing when done (the KICK or QUIT line says it)."""
        room, _, nick = target.partition(" ")
        if 200 <= code < 300:
            return ""
        if verb == "KILL":
            return self._numeric("401", target, "No such nick/channel")
        if code == 404:
            return self._numeric("403", room, "No such channel")
        if code == 403:
            return self._numeric("442", room, "You're not on that channel")
        if code == 410:
            return self._numeric("441", _token(nick), room, "They aren't on that channel")
        return self._numeric("482", room, sentence)

    def line(self, command: str, *params: str, prefix: str = "") -> str:
        """A line as this connection gets it (IrcRecipient: what other IRC connections send it)."""
        return self._line(command, *params, prefix=prefix)

    def tags(self) -> str:
        return self._tags()

    def _whowas(self, params: list[str]) -> Reply:
        """WHOWAS nick [count]: the IRC users that had the nick, newest first (IRC_MAX_WHOWAS kept)."""
        if not params or not params[0]:
            return self._reply("431", "No nickname given")
        nick = params[0]
        wanted = params[1] if len(params) > 1 else ""
        count = int(wanted) if wanted.isascii() and wanted.isdigit() and len(wanted) < 6 else 0
        found = [
            user for user in reversed(self.shared.whowas) if username_key(user.nick) == username_key(nick)
        ]
        out = []
        for user in found[: count or len(found)]:
            out.append(self._numeric("314", user.nick, user.username, self._server, "*", user.realname))
            out.append(self._numeric("312", user.nick, self._server, "chatroom"))
        if not found:
            out.append(self._numeric("406", _token(nick), "There was no such nickname"))
        return _out("".join(out) + self._numeric("369", _token(nick), "End of WHOWAS"))

    def _userhost(self, params: list[str]) -> Reply:
        """USERHOST nick...: nick[*]=+|-user@host for each online (at most five, RFC 2812)."""
        if not params:
            return self._reply("461", "USERHOST", "Not enough parameters")
        replies = []
        for nick in params[:5]:
            found = self.shared.directory.online(nick)
            if found is None:
                continue
            user = self.shared.users.get(username_key(found)) or IrcUser(found, found, found)
            oper = "*" if user.oper else ""
            replies.append(f"{found}{oper}={'-' if user.away else '+'}{user.username}@{self._server}")
        return self._reply("302", " ".join(replies))

    def _user_mode(self, me: IrcUser, change: str) -> Reply:
        """MODE nick +i/-i, +w/-w, -o (+o only through OPER); the changes made are echoed."""
        sign, done, last = "+", "", ""
        for letter in change:
            if letter in "+-":
                sign = letter
                continue
            on = sign == "+"
            if letter == "i" and me.invisible != on:
                self.shared.set_flag(me, "invisible", on)
            elif letter == "w" and me.wallops != on:
                me.wallops = on
            elif letter == "o" and not on and me.oper:
                self.shared.set_flag(me, "oper", False)
                self.operator = False
            elif letter not in "iwo":
                return self._reply("501", "Unknown MODE flag")
            else:
                continue
            done += (sign if sign != last else "") + letter
            last = sign
        if not done:
            return Reply(b"")
        return _out(self._line("MODE", self._name, done, prefix=self._name))

    def _help(self, params: list[str]) -> Reply:
        subject = params[0].upper() if params else "*"
        lines = TOPICS.get(subject)
        if lines is None:
            return self._reply("524", _token(params[0]), "No help available on this topic")
        out = [self._numeric("704", subject, lines[0])]
        out += [self._numeric("705", subject, line) for line in lines[1:]]
        out.append(self._numeric("706", subject, "End of /HELP"))
        return _out("".join(out))

    def _wallops(self, params: list[str]) -> Reply:
        """WALLOPS text, by an IRC operator: to every IRC user with +w (itself too, as an echo)."""
        if not params or not params[0]:
            return self._reply("461", "WALLOPS", "Not enough parameters")
        if not self.operator:
            return self._reply("481", "Permission Denied- You're not an IRC operator")
        me, text = self._prefix(self._name), params[0]
        listeners = [
            user.nick for user in self.shared.users.values() if user.wallops and user.nick != self._name
        ]
        self.shared.directory.tell(listeners, lambda codec: codec.line("WALLOPS", text, prefix=me).encode())
        return _out(self._line("WALLOPS", text, prefix=me))

    def _on(self, room: str) -> bool:
        """Whether this user is in `room` as IRC sees it (#lobby: once it JOINed it)."""
        return self._lobby_shown if room_key(room) == LOBBY else room_key(room) in self._rooms

    def _prefixed(self, room: str, name: str) -> str:
        """`name` with its highest channel prefix in `room`: '@name', '+name' or 'name'."""
        if self._chanop(room, name):
            return "@" + name
        channel = self.shared.channels.get(room_key(room))
        return ("+" + name) if channel is not None and username_key(name) in channel.voiced else name

    def _channel(self, room: str) -> Channel:
        channel = self.shared.channels.get(room_key(room))
        return channel if channel is not None else self._new_channel(room)

    def _new_channel(self, room: str) -> Channel:
        """Fresh modes for `room`; at MAX_ROOMS of them, those of rooms gone since are forgotten first."""
        channels, directory = self.shared.channels, self.shared.directory
        if len(channels) >= MAX_ROOMS:
            for key in [key for key in channels if not directory.has_room(key)]:
                del channels[key]
        channel = channels[room_key(room)] = Channel(
            name=room, created=int(datetime.datetime.now().timestamp())
        )
        return channel

    # -- hub messages to lines (the Wire) --------------------------------------------------------

    def encode(self, message: Message | Event) -> bytes:
        if type(message) is RoomLine:  # the hot path: built once for all IRC connections
            said = self.shared.room_line(message)
            if said.lobby and not self._lobby_shown:
                return b""
            return said.lines(self._server, self._tagged)
        tags = self._tags()
        if isinstance(message, PrivateLine):
            return build_text(
                "PRIVMSG", self._name, irc_text(message.text), self._prefix(message.sender), tags
            ).encode()
        if isinstance(message, FollowedLine):
            return b""
        if isinstance(message, Joined | Left):
            if not self._shown(message.room):
                return b""
            if isinstance(message, Left):
                return self._departures(message).encode()
            self._quits_seen.difference_update(map(username_key, message.names))
            names = message.names
            if self._name in names:
                self._rooms.add(room_key(message.room))
                if room_key(message.room) == LOBBY:  # its own JOIN #lobby went out when it asked
                    names = [name for name in names if name != self._name]
            return "".join(self._line("JOIN", message.room, prefix=self._prefix(n)) for n in names).encode()
        if isinstance(message, Renamed):
            if not self._shown(message.room) or (message.old, message.new) == self._last_rename:
                return b""  # one NICK line, however many rooms it shares with the renamed user
            self._last_rename = (message.old, message.new)
            return self._nick_line(message.old, message.new)
        if isinstance(message, MemberList):
            if not self._shown(message.room):
                return b""
            self._fresh = room_key(message.room)
            if message.count == 1 and room_key(message.room) != LOBBY:  # it made the room: its operator
                self.shared.creators[room_key(message.room)] = username_key(self._name)
                self._new_channel(message.room)  # a room made anew: no old modes
            return self._names(message.room, message.names or [self._name]).encode()
        if isinstance(message, TopicShown):
            key = room_key(message.room)
            if not self._shown(message.room):
                return b""
            if key == self._fresh:
                self._fresh = ""
                return self._topic_is(message.room, message.text).encode()
            setter = self._name if key in self._topic_by_me else self._server
            if not message.text:  # cleared
                self.shared.topic_set.pop(key, None)
            elif setter == self._name or key not in self.shared.topic_set:
                self.shared.topic_set[key] = (setter, int(datetime.datetime.now().timestamp()))
            self._topic_by_me.discard(key)
            return self._line("TOPIC", message.room, message.text, prefix=self._prefix(setter)).encode()
        return b""  # IRC users see no history

    def encode_notice(self, code: int, lines: Sequence[str]) -> bytes:
        return self._server_notices(lines)

    def encode_reply(self, code: int, lines: Sequence[str]) -> bytes:
        verb, target = self._asking
        self._asking = ("", "")
        ok = 200 <= code < 300
        if verb in ("PRIVMSG", "NOTICE"):
            away = self.shared.users.get(username_key(target))
            if ok and verb == "PRIVMSG" and away is not None and away.away:
                return self._numeric("301", away.nick, away.away).encode()
            if ok or verb == "NOTICE":
                return b""
            if target.startswith("#"):
                return self._numeric("404", target, "Cannot send to channel").encode()
            if code == 404:
                return self._numeric("401", target, "No such nick/channel").encode()
            return self._numeric("412", "No text to send").encode()
        if verb == "JOIN":
            if ok or code == 409:
                return b""
            if code == 429:
                return self._numeric("405", target, "You have joined too many channels").encode()
            return self._numeric("403", target, lines[-1]).encode()
        if verb == "PART":
            if code == 409:  # it was only in #lobby: the hub keeps it there, IRC sees it leave
                self._lobby_shown = False
                return self._line("PART", target, prefix=self._prefix(self._name)).encode()
            if ok:
                return b""
            return self._numeric("442", target, "You're not on that channel").encode()
        if verb == "NAMES":
            if not ok:
                return self._names_end(target).data
            return self._names(target, _names_of(lines)).encode()
        if verb == "LIST":
            return self._list(lines if ok else []).encode()
        if verb == "TOPIC":
            return self._topic_reply(target, code, lines[-1]).encode()
        if verb == "WHO":
            return self._who(target, lines if ok else []).encode()
        if verb == "NICK":
            if ok:
                return self._nick_line(self._was, self._name)
            if code == 400:
                return self._numeric("432", target, "Erroneous nickname").encode()
            if code == 409:
                return self._numeric("433", target, "Nickname is already in use").encode()
            return self._numeric("433", target, lines[-1]).encode()  # protected or banned
        if verb == "WHOIS":
            return self._whois(target, lines if ok else []).encode()
        if verb in ("KICK", "KILL"):
            return self._removed(verb, target, code, lines[-1]).encode()
        return self._server_notices(lines)

    def _server_notices(self, lines: Sequence[str]) -> bytes:
        return "".join(
            self._line("NOTICE", self._name or "*", line, prefix=self._server) for line in lines
        ).encode()

    # -- replies --------------------------------------------------------------------------------

    def _names(self, room: str, names: list[str]) -> str:
        shown = [self._prefixed(room, name) for name in names]
        kind = "@" if room_key(room) in self.shared.secret else "="
        out = [
            self._numeric("353", kind, room, " ".join(shown[i : i + 20])) for i in range(0, len(shown), 20)
        ]
        out.append(self._numeric("366", room, "End of /NAMES list"))
        return "".join(out)

    def _list(self, lines: Sequence[str]) -> str:
        wanted = {room_key(room) for room in self._asking_list.split(",") if room}
        out = [self._numeric("321", "Channel", "Users  Name")]
        for line in lines[:-1]:
            room, _, rest = line.partition(" ")
            if (wanted and room_key(room) not in wanted) or not self._shown(room):
                continue
            if room_key(room) in self.shared.secret and room_key(room) not in self._rooms:
                continue  # +s: listed only to its members
            count, _, rest = rest.partition(" ")
            topic = rest.partition(": ")[2]
            out.append(self._numeric("322", room, count, topic))
        out.append(self._numeric("323", "End of /LIST"))
        return "".join(out)

    def _topic_reply(self, room: str, code: int, sentence: str) -> str:
        if code == 212 and (" is now: " in sentence or sentence.endswith(" was cleared.")):
            return ""  # TopicShown follows for every member, this one included
        if code == 212 and " is: " in sentence:
            return self._topic_is(room, sentence.partition(" is: ")[2])
        if code == 212:
            return self._numeric("331", room, "No topic is set")
        if code == 404:
            return self._numeric("442", room, "You're not on that channel")
        return self._numeric("482", room, sentence)

    def _topic_is(self, room: str, text: str) -> str:
        """RPL_TOPIC and RPL_TOPICTIME."""
        setter, when = self.shared.topic_set.get(room_key(room), (self._server, 0))
        return self._numeric("332", room, text) + self._numeric("333", room, setter, str(when))

    def _who(self, mask: str, lines: Sequence[str]) -> str:
        out: list[str] = []
        if mask.startswith("#"):
            for room, names in _everyone(lines):
                if room_key(room) == room_key(mask) and self._shown(room):
                    out.extend(self._who_line(room, name) for name in names)
        else:
            pattern = username_key(mask)
            seen: set[str] = set()
            for _, names in _everyone(lines):
                for name in names:
                    key = username_key(name)
                    if key not in seen and (mask == "0" or fnmatch.fnmatchcase(key, pattern)):
                        if ("*" in mask or "?" in mask) and not self._visible(name, lines):
                            continue
                        seen.add(key)
                        out.append(self._who_line("*", name))
        out.append(self._numeric("315", mask, "End of WHO list"))
        return "".join(out)

    def _visible(self, name: str, lines: Sequence[str]) -> bool:
        """+i users show in WHO masks only to themselves and to those who share a channel with them."""
        key = username_key(name)
        user = self.shared.users.get(key)
        if user is None or not user.invisible or key == username_key(self._name):
            return True
        theirs = {room_key(room) for room, names in _everyone(lines) if key in map(username_key, names)}
        return bool(theirs & {room for room in self._rooms if self._shown(room)})

    def _who_line(self, room: str, name: str) -> str:
        user = self.shared.users.get(username_key(name)) or IrcUser(name, name, name)
        flags = "G" if user.away else "H"
        if user.oper:
            flags += "*"
        if room != "*":
            flags += self._prefixed(room, name)[: -len(name)]
        server = self._server
        return self._numeric("352", room, user.username, server, server, name, flags, f"0 {user.realname}")

    def _whois(self, nick: str, lines: Sequence[str]) -> str:
        key = username_key(nick)
        rooms = [room for room, names in _everyone(lines) if key in map(username_key, names)]
        if not rooms:
            return self._numeric("401", nick, "No such nick/channel") + self._numeric(
                "318", nick, "End of /WHOIS list"
            )
        found = nick
        for _, names in _everyone(lines):
            found = next((name for name in names if username_key(name) == key), found)
        user = self.shared.users.get(key) or IrcUser(found, found, found)
        shown = [self._prefixed(room, found)[: -len(found)] + room for room in rooms if self._shown(room)]
        out = [self._numeric("311", found, user.username, self._server, "*", user.realname)]
        if shown:
            out.append(self._numeric("319", found, " ".join(shown)))
        out.append(self._numeric("312", found, self._server, "chatroom"))
        if user.oper:
            out.append(self._numeric("313", found, "is an IRC operator"))
        if user.away:
            out.append(self._numeric("301", found, user.away))
        out.append(self._numeric("318", found, "End of /WHOIS list"))
        return "".join(out)

    def _welcome(self) -> str:
        nick, server = self._name, self._server
        isupport = [
            "CASEMAPPING=ascii",
            "UTF8ONLY",
            "CHANTYPES=#",
            f"CHANNELLEN={MAX_USERNAME_CHARS + 1}",
            f"NICKLEN={MAX_USERNAME_CHARS}",
            f"TOPICLEN={MAX_TOPIC_CHARS}",
            f"CHANLIMIT=#:{MAX_ROOMS_PER_USER}",
            "CHANMODES=beI,k,l,Cimnst",
            "EXCEPTS",
            "INVEX",
            f"KEYLEN={IRC_MAX_KEY_CHARS}",
            f"MAXLIST=beI:{IRC_MAX_BANS_PER_CHANNEL}",
            "PREFIX=(ov)@+",
            f"TARGMAX=JOIN:,KICK:{IRC_MAX_KICK_TARGETS},PART:",
            f"NETWORK={self.settings.network}",
        ]
        return "".join(
            [
                self._numeric("001", f"Welcome to the {self.settings.network} IRC network, {nick}"),
                self._numeric("002", f"Your host is {server}, running chatroom"),
                self._numeric("003", "This server was created today"),
                self._numeric("004", server, "chatroom", "iow", "CIbeiklmnostv"),
                *[
                    self._numeric(
                        "005", *isupport[i : i + IRC_ISUPPORT_PER_LINE], "are supported by this server"
                    )
                    for i in range(0, len(isupport), IRC_ISUPPORT_PER_LINE)
                ],
                self._lusers(),
                self._numeric("422", "MOTD File is missing"),
            ]
        )

    def _lusers(self) -> str:
        """251-255, 265, 266: every wire's users count (this is one server: local is global)."""
        users, rooms = self.shared.directory.census()
        users = max(users, 1)  # (no server behind the codec: itself)
        shared = self.shared
        shared.peak = peak = max(shared.peak, users)
        invisible, opers = shared.counts["invisible"], shared.counts["oper"]
        return "".join(
            [
                self._numeric(
                    "251", f"There are {users - invisible} users and {invisible} invisible on 1 servers"
                ),
                self._numeric("252", str(opers), "operator(s) online"),
                self._numeric("254", str(rooms), "channels formed"),
                self._numeric("255", f"I have {users} clients and 0 servers"),
                self._numeric("265", str(users), str(peak), f"Current local users {users}, max {peak}"),
                self._numeric("266", str(users), str(peak), f"Current global users {users}, max {peak}"),
            ]
        )

    # -- building lines ---------------------------------------------------------------------------

    def _prefix(self, nick: str) -> str:
        user = self.shared.users.get(username_key(nick))
        return f"{nick}!{user.username if user is not None else nick}@{self._server}"

    def _is_op(self, room: str) -> bool:
        return self._chanop(room, self._name)

    def _chanop(self, room: str, name: str) -> bool:
        """Whether `name` is an operator (@) of `room`: its creator, or given +o."""
        key, who = room_key(room), username_key(name)
        channel = self.shared.channels.get(key)
        return self.shared.creators.get(key) == who or (channel is not None and who in channel.ops)

    def _me(self) -> IrcUser:
        key = username_key(self._name)
        user = self.shared.users.get(key)
        if user is None:
            user = self.shared.users[key] = IrcUser(self._name, self._name, self._name)
        return user

    def _departures(self, message: Left) -> str:
        """PART lines (with the reason the IRC user gave), or QUIT once for a user who left the server."""
        room = room_key(message.room)
        out: list[str] = []
        for name in message.names:
            key = username_key(name)
            if name == self._name:
                self._rooms.discard(room)
                if room == LOBBY:
                    self._lobby_shown = False
            if self.shared.creators.get(room) == key:  # who leaves a channel is no longer its operator
                del self.shared.creators[room]
            channel = self.shared.channels.get(room)
            if channel is not None:
                channel.ops.discard(key)
                channel.voiced.discard(key)
                if not self.shared.directory.has_room(room):  # its last member left: its modes go too
                    del self.shared.channels[room]
            if message.by:  # taken out by someone (Hub.remove_from_room): an IRC KICK
                out.append(
                    self._line(
                        "KICK",
                        message.room,
                        name,
                        message.reason or message.by,
                        prefix=self._prefix(message.by),
                    )
                )
                continue
            quit_reason = self.shared.reasons.get((key, ""))
            if quit_reason is not None and name != self._name:
                if key not in self._quits_seen:
                    self._quits_seen.add(key)
                    out.append(self._line("QUIT", quit_reason, prefix=self._prefix(name)))
                continue
            reason = self.shared.reasons.get((key, room))
            params = [message.room, reason] if reason else [message.room]
            out.append(self._line("PART", *params, prefix=self._prefix(name)))
        return "".join(out)

    def _tags(self) -> str:
        return _server_time() if self._tagged else ""

    def _line(self, command: str, *params: str, prefix: str = "") -> str:
        return build(command, *params, prefix=prefix or self._server, tags=self._tags())

    def _numeric(self, code: str, *params: str) -> str:
        return build(code, self._name or "*", *params, prefix=self._server)

    def _reply(self, code: str, *params: str) -> Reply:
        return Reply(self._numeric(code, *params).encode())

    def _error(self, sentence: str) -> str:
        return build("ERROR", f"Closing link: {sentence}")


def _server_time() -> str:
    """The IRCv3 server-time tag for now."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return "time=" + now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _names_of(lines: Sequence[str]) -> list[str]:
    """The names in a `!list` reply: every line but the count."""
    return [name for line in lines[:-1] for name in line.split(" ") if name]


def _everyone(lines: Sequence[str]) -> Iterator[tuple[str, list[str]]]:
    """(room, names) from a `!list all` reply."""
    for line in lines[:-1]:
        room, _, names = line.partition(": ")
        yield room, [name for name in names.split(" ") if name]


_MASK_LISTS = {
    "b": ("367", "368", "End of channel ban list"),
    "e": ("348", "349", "End of channel exception list"),
    "I": ("346", "347", "End of channel invite exception list"),
}  # a mask list's letter -> its item numeric, its end numeric and sentence


def _token(text: str) -> str:
    """`text` echoed in a middle parameter: '*' when it could not be one (empty, a space, a ':')."""
    return text if text and " " not in text and not text.startswith(":") else "*"


def _valid_mask(mask: str) -> bool:
    """A +b/+e/+I mask we keep: at most IRC_MAX_MASK_CHARS, no space or control character."""
    return len(mask) <= IRC_MAX_MASK_CHARS and " " not in mask and mask.isprintable()


def _valid_key(key: str) -> bool:
    """A channel key: 1 to IRC_MAX_KEY_CHARS printable ASCII characters, no space or comma (RFC 2812)."""
    return 0 < len(key) <= IRC_MAX_KEY_CHARS and all("!" <= ch <= "~" and ch != "," for ch in key)


def _out(line: str) -> Reply:
    return Reply(line.encode())


def _fits(buffer: bytearray, end: int) -> bool:
    """Whether the line buffer[:end] is within IRC's bounds: 510 bytes, tags aside (4094 of client tags)."""
    start = 0
    if buffer.startswith(b"@"):
        space = buffer.find(b" ", 0, end)
        if space < 0 or space > IRC_MAX_CLIENT_TAGS_BYTES + 1:
            return False
        start = space + 1
    return end - start <= IRC_MAX_LINE_BYTES - 2 + (1 if buffer[end - 1 : end] == b"\r" else 0)
