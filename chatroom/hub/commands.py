"""What a command line means: `!join #dev` becomes Join('#dev'), or a usage error to send back.

Pure parsing, no state: the hub decides what a well-formed command does.
docs/PROTOCOL.md section 6 is the prose version.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatroom.limits import HISTORY_DEFAULT_REPLAY, HISTORY_MAX_REPLAY, MAX_BAN_S, MAX_TOPIC_CHARS
from chatroom.protocol.names import is_valid_room_name, is_valid_username

ROOM_RULES = "Room names start with # and have 1 to 32 more characters, without spaces or control characters."


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Join:
    room: str


@dataclass(frozen=True)
class Leave:
    room: str | None = None  # None: the current room


@dataclass(frozen=True)
class Rooms:
    pass


@dataclass(frozen=True)
class Topic:
    text: str | None  # None: show it; "": clear it (!untopic)


@dataclass(frozen=True)
class ListMembers:
    everyone: bool


@dataclass(frozen=True)
class Whisper:
    to: str
    text: str


@dataclass(frozen=True)
class Follow:
    target: str  # '#topic' or '@name'


@dataclass(frozen=True)
class Unfollow:
    target: str


@dataclass(frozen=True)
class Follows:
    pass


@dataclass(frozen=True)
class History:
    lines: int


@dataclass(frozen=True)
class Unclaim:
    pass


@dataclass(frozen=True)
class Kick:
    """An operator ends `name`'s connection."""

    name: str
    reason: str


@dataclass(frozen=True)
class Ban:
    name: str
    seconds: float | None  # None: for good


@dataclass(frozen=True)
class Unban:
    name: str


@dataclass(frozen=True)
class Close:
    room: str


@dataclass(frozen=True)
class Mistake:
    """Not a command we can carry out: `code` and `sentence` are the reply."""

    code: int
    sentence: str


OperatorCommand = Kick | Ban | Unban | Close
Command = (
    Help
    | Join
    | Leave
    | Rooms
    | Topic
    | ListMembers
    | Whisper
    | Follow
    | Unfollow
    | Follows
    | History
    | Unclaim
    | OperatorCommand
)
OPERATOR_COMMANDS = ("kick", "ban", "unban", "close")

_DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400}


def parse(text: str) -> Command | Mistake:
    """`text` is a chat line's text that starts with one '!'."""
    word, _, rest = text[1:].partition(" ")
    name = word.lower()
    args = [arg for arg in rest.split(" ") if arg]  # words are separated by spaces, nothing else
    if name == "help":
        return Help() if not args else Mistake(400, "Usage: !help")
    if name == "join":
        if len(args) != 1:
            return Mistake(400, "Usage: !join #room")
        return Join(args[0]) if is_valid_room_name(args[0]) else Mistake(400, ROOM_RULES)
    if name == "leave":
        if not args:
            return Leave()
        if len(args) != 1 or not args[0].startswith("#"):
            return Mistake(400, "Usage: !leave, or !leave #room (it takes you back to #lobby)")
        return Leave(args[0]) if is_valid_room_name(args[0]) else Mistake(400, ROOM_RULES)
    if name == "rooms":
        return Rooms() if not args else Mistake(400, "Usage: !rooms")
    if name == "topic":
        text_given = rest  # everything after the space that follows the word, kept exactly
        if not text_given.strip(" "):
            return Topic(None)
        if len(text_given) > MAX_TOPIC_CHARS:
            return Mistake(400, f"A topic is at most {MAX_TOPIC_CHARS} characters.")
        return Topic(text_given)
    if name == "untopic":
        return Topic("") if not args else Mistake(400, "Usage: !untopic (it clears your room's topic)")
    if name == "list":
        if not args:
            return ListMembers(everyone=False)
        if args == ["all"]:
            return ListMembers(everyone=True)
        return Mistake(400, "Usage: !list, or !list all")
    if name == "msg":
        to, _, said = rest.lstrip(" ").partition(" ")  # said: after the space after NAME, kept exactly
        if not to or not said.strip(" "):
            return Mistake(400, "Usage: !msg NAME TEXT")
        if not is_valid_username(to):
            return Mistake(404, f"No user named {to} is online; !list all shows who is.")
        return Whisper(to, said)
    if name in ("follow", "unfollow"):
        if len(args) != 1 or not _is_follow_target(args[0]):
            return Mistake(400, f"Usage: !{name} #topic, or !{name} @name")
        return Follow(args[0]) if name == "follow" else Unfollow(args[0])
    if name == "follow?":
        return Follows() if not args else Mistake(400, "Usage: !follow?")
    if name == "history":
        if not args:
            return History(HISTORY_DEFAULT_REPLAY)
        if len(args) == 1 and args[0].isdigit() and int(args[0]) > 0:
            return History(min(int(args[0]), HISTORY_MAX_REPLAY))
        return Mistake(400, f"Usage: !history, or !history N (1 to {HISTORY_MAX_REPLAY} lines)")
    if name in OPERATOR_COMMANDS or name == "unclaim":
        return _parse_accounts(name, rest, args)
    return Mistake(421, f"Unknown command !{word}; !help lists the commands.")


def _parse_accounts(name: str, rest: str, args: list[str]) -> Command | Mistake:
    """!unclaim, and the operators' !kick, !ban, !unban and !close (docs/PROTOCOL.md 9.3)."""
    if name == "unclaim":
        return Unclaim() if not args else Mistake(400, "Usage: !unclaim")
    if name == "close":
        if len(args) != 1:
            return Mistake(400, "Usage: !close #room")
        return Close(args[0]) if is_valid_room_name(args[0]) else Mistake(400, ROOM_RULES)
    if not args or not is_valid_username(args[0]):
        usage = {
            "kick": "!kick NAME [REASON]",
            "ban": "!ban NAME [DURATION: 10m, 2h, 7d]",
            "unban": "!unban NAME",
        }
        return Mistake(400, f"Usage: {usage[name]}")
    target = args[0]
    if name == "kick":
        reason = rest.lstrip(" ")[len(target) :].strip(" ")
        if len(reason) > MAX_TOPIC_CHARS:
            return Mistake(400, f"A reason is at most {MAX_TOPIC_CHARS} characters.")
        return Kick(target, reason)
    if name == "unban":
        return Unban(target) if len(args) == 1 else Mistake(400, "Usage: !unban NAME")
    if len(args) == 1:
        return Ban(target, None)
    seconds = parse_duration(args[1]) if len(args) == 2 else None
    if seconds is None:
        return Mistake(
            400, "Usage: !ban NAME [DURATION]: a number and m, h or d (10m, 2h, 7d); none bans for good"
        )
    return Ban(target, seconds)


def parse_duration(text: str) -> float | None:
    """'10m' -> 600.0, '2h', '7d'; None unless positive minutes, hours or days (at most MAX_BAN_S)."""
    number, unit = text[:-1], text[-1:]
    if unit not in _DURATION_UNITS or not number.isascii() or not number.isdigit():
        return None
    seconds = float(int(number) * _DURATION_UNITS[unit])
    return seconds if 0 < seconds <= MAX_BAN_S else None


def _is_follow_target(target: str) -> bool:
    if target.startswith("@"):
        return is_valid_username(target[1:])
    return is_valid_room_name(target)


HELP_LINES = (
    "Commands (type them as a line of their own):",
    "!join #room       enter #room (created when new); your lines go to its members only",
    "!leave [#room]    leave your room (or #room); back to #lobby when it was your only one",
    "!rooms            every room, with its member count and topic",
    "!topic [TEXT]     show, or set, your room's topic; !untopic clears it",
    "!list [all]       who is in your room (all: everyone online, by room)",
    "!msg NAME TEXT    TEXT to NAME alone",
    "!follow #topic    room lines with the word #topic, from every room (!follow @name: their lines)",
    "!unfollow X       stop following X; !follow? lists what you follow",
    f"!history [N]      the last N lines of your room (default {HISTORY_DEFAULT_REPLAY}, "
    f"at most {HISTORY_MAX_REPLAY})",
    "!unclaim          give up your name's password (when you logged in with it)",
    "Start a line with !! to say something that starts with one !.",
)

OPERATOR_HELP_LINES = (
    "Operator commands:",
    "!kick NAME [REASON]   end NAME's connection, telling it why",
    "!ban NAME [DURATION]  refuse NAME until DURATION (10m, 2h, 7d) is over; none: for good",
    "!unban NAME           end NAME's ban",
    "!close #room          send #room's members back to #lobby",
)
