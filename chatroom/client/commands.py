"""What a line typed at the prompt means: chat to send, or a command for the client itself.

Shared by every client frontend (line mode, line editor, full screen), so
`!help` means the same everywhere.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass

COMMANDS_HELP = """\
Type a line and press Enter to send it to everyone.
Commands (never sent to the server):
  !help    this help
  !exit    leave the chat (same as Ctrl-D or Ctrl-C)
  !clear   clear the screen (same as Ctrl-L)
Start a line with !! to send a line that begins with a single !."""
# The commands every frontend has; each adds the keys of its own.

HELP_TEXT = COMMANDS_HELP + "\nCtrl-Z suspends the client and restores the terminal; fg resumes it."
# What !help shows in the line client (the full screen leaves Ctrl-Z to Textual).


class Command(enum.Enum):
    HELP = "help"
    EXIT = "exit"
    CLEAR = "clear"


@dataclass(frozen=True)
class SendText:
    text: str


@dataclass(frozen=True)
class RunCommand:
    command: Command


@dataclass(frozen=True)
class LocalError:
    message: str


@dataclass(frozen=True)
class Ignore:
    """An empty or blank line: nothing is sent."""


Interpretation = SendText | RunCommand | LocalError | Ignore


def interpret(line: str) -> Interpretation:
    """Decide what the typed `line` is; it never contains a line break."""
    if not line.strip():
        return Ignore()
    if any(ch != "\t" and unicodedata.category(ch) == "Cc" for ch in line):
        return LocalError("Not sent: the line contains control characters.")
    if line.startswith("!!"):
        return SendText(line[1:])
    if line.startswith("!"):
        word = line[1:].strip()
        try:
            return RunCommand(Command(word))
        except ValueError:
            return LocalError(f"Unknown command !{word}; type !help for the list.")
    return SendText(line)
