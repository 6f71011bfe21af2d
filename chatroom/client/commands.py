"""What a line typed at the prompt means: chat to send, a command for the client, or one for the server.

Shared by every client frontend (line mode, line editor, full screen), so
`!help` means the same everywhere. The client's own commands are !help, !exit
and !clear; any other `!word` goes to the server, which answers it (rooms,
private lines, follows, history: docs/PROTOCOL.md section 6). A server
without commands relays such a line as text.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass

COMMANDS_HELP = """\
Type a line and press Enter to send it to everyone in your room.
The client's commands (never sent to the server):
  !help    this help
  !exit    leave the chat (same as Ctrl-D or Ctrl-C)
  !clear   clear the screen (same as Ctrl-L)
The server's commands (a server that has them answers; one that does not shows the line to everyone):
  !join #room   !leave   !rooms   !topic [TEXT]   !untopic   !list [all]   !msg NAME TEXT
  !follow #topic|@name   !unfollow ...   !follow?   !history [N]
Start a line with !! to send a line that begins with a single !."""
# The commands every frontend has; each adds the keys of its own.

HELP_TEXT = (
    COMMANDS_HELP
    + "\nTab completes a command, a #room or a name; a Tab that can add nothing lists the choices."
    + "\nCtrl-Z suspends the client and restores the terminal; fg resumes it."
)
# What !help shows in the line client (the full screen leaves Ctrl-Z to Textual).


class Command(enum.Enum):
    HELP = "help"
    EXIT = "exit"
    CLEAR = "clear"


SERVER_COMMANDS = (
    "!help", "!join", "!leave", "!rooms", "!topic", "!untopic", "!list", "!msg",
    "!follow", "!unfollow", "!follow?", "!history",
)  # fmt: skip
# The commands a server with rooms answers (docs/PROTOCOL.md 6.3), for Tab to complete.

ALL_COMMANDS = tuple(sorted({*SERVER_COMMANDS, *(f"!{command.value}" for command in Command)}))
# Every `!word` Tab completes: the server's and the client's own.


@dataclass(frozen=True)
class SendText:
    """Chat text to send; `shown` is how the user sees their own line, when that differs."""

    text: str
    shown: str | None = None


@dataclass(frozen=True)
class ServerCommand:
    """A `!command` for the server: sent as typed; its answer arrives as reply lines."""

    line: str


@dataclass(frozen=True)
class RunCommand:
    command: Command


@dataclass(frozen=True)
class LocalError:
    message: str


@dataclass(frozen=True)
class Ignore:
    """An empty or blank line: nothing is sent."""


Interpretation = SendText | ServerCommand | RunCommand | LocalError | Ignore


def interpret(line: str) -> Interpretation:
    """Decide what the typed `line` is; it never contains a line break."""
    if not line.strip():
        return Ignore()
    if any(ch != "\t" and unicodedata.category(ch) == "Cc" for ch in line):
        return LocalError("Not sent: the line contains control characters.")
    if line.startswith("!!"):
        return SendText(line, shown=line[1:])  # the server relays it with one '!' removed
    if line.startswith("!"):
        word = line[1:].strip()
        try:
            return RunCommand(Command(word))
        except ValueError:
            return ServerCommand(line)
    return SendText(line)
