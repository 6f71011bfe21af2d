"""What the terminal client writes, as strings: styled message lines and the input line.

Pure functions only. chatroom.terminal decides when to write; this module
decides what the bytes are. Everything that came from the network goes through
`printable()` first, so a peer cannot move the cursor or retitle the window.
With colour off, message lines carry no escape codes at all (plain mode prints
the same words: chatroom.client.frontend).

Each kind of line (chatroom.client.shown) has a look of its own: private lines
are marked `[private]` in bold magenta, history lines are dim with the time they
were said, joins, leaves and topics are dim `* ...` lines, and a room line from
a room other than the one shown starts with that room.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from chatroom.client.lineedit import display_width, next_boundary, previous_boundary
from chatroom.client.session import NoticeKind
from chatroom.client.shown import Shown, ShownKind, elsewhere, history_stamp
from chatroom.protocol import split_chat_line, username_key
from chatroom.text import printable

PROMPT = "> "
CLEAR_LINE = "\r\x1b[K"
CLEAR_SCREEN = "\x1b[H\x1b[2J"
BELL = "\a"
BRACKETED_PASTE_ON = "\x1b[?2004h"
BRACKETED_PASTE_OFF = "\x1b[?2004l"

# Sender colours: mid-brightness hues that read on dark and light backgrounds.
# Reds are left out: red means an error here.
PALETTE_256 = (
    31, 32, 33, 35, 36, 37, 38, 39, 64, 67, 68, 70, 71, 72, 73, 74,
    97, 98, 99, 104, 128, 129, 130, 133, 134, 135, 136, 166, 169, 170, 172, 178,
)  # fmt: skip
PALETTE_16 = (32, 33, 34, 35, 36, 92, 93, 94, 95, 96)

_OWN_TEXT = "2"  # faint: your own lines step back
_MENTION_TEXT = "1;33"  # bold yellow: a line that names you
_ERROR = "1;31"
_SERVER_NOTICE = "33"
_INFO = "36"
_STAMP = "2"
_DIM = "2"  # history and presence: what happened around the conversation steps back
_PRIVATE_MARK = "1;35"  # bold magenta: for your eyes only
_PRIVATE_TEXT = "35"
_ROOM_MARK = "1"  # the room of a line from a room you are not looking at
PRIVATE_MARK = "[private]"
_ERROR_CODE = re.compile(r"[45]\d\d(?:\s|$)")


@dataclass(frozen=True)
class Style:
    """How message lines look: `username` is whose mentions stand out."""

    color: bool = True
    colors256: bool = True
    username: str = ""


class Rendered(NamedTuple):
    text: str
    mention: bool


def sgr(params: str, text: str) -> str:
    """`text` in the style given by SGR parameters, then back to normal."""
    return f"\x1b[{params}m{text}\x1b[0m"


def name_color(name: str, colors256: bool = True) -> str:
    """SGR parameters of `name`'s colour: the same in every run and on every machine."""
    digest = zlib.crc32(username_key(name).encode())
    if colors256:
        return f"38;5;{PALETTE_256[digest % len(PALETTE_256)]}"
    return str(PALETTE_16[digest % len(PALETTE_16)])


def mentions(text: str, username: str) -> bool:
    """Whether `text` says @username (any case or compatibility form), as a whole name."""
    if not username:
        return False
    pattern = r"(?<![\w@])@" + re.escape(username_key(username)) + r"(?![\w])"
    return re.search(pattern, username_key(text)) is not None


def _stamped(stamp: str | None, line: str, style: Style) -> str:
    if stamp is None or not line:
        return line
    prefix = f"[{stamp}] "
    return (sgr(_STAMP, prefix) if style.color else prefix) + line


def format_chat(
    name: str, text: str, style: Style, *, own: bool = False, stamp: str | None = None
) -> Rendered:
    """'@name: text' with the name in its colour; `name` and `text` must be printable already."""
    mention = not own and mentions(text, style.username)
    if not style.color:
        return Rendered(_stamped(stamp, f"@{name}: {text}", style), mention)
    color = name_color(name, style.colors256)
    if own:
        line = sgr("1;" + color, "@" + name) + ": " + sgr(_OWN_TEXT, text)
    elif mention:
        line = sgr(color, "@" + name) + ": " + sgr(_MENTION_TEXT, text)
    else:
        line = sgr(color, "@" + name) + ": " + text
    return Rendered(_stamped(stamp, line, style), mention)


def format_incoming(line: str, style: Style, stamp: str | None = None) -> Rendered:
    """One line from the server: a chat line, or a notice such as '403 Not your username'."""
    line = printable(line)
    chat = split_chat_line(line)
    if chat is not None:
        return format_chat(*chat, style, stamp=stamp)
    if not style.color:
        return Rendered(_stamped(stamp, line, style), False)
    params = _ERROR if _ERROR_CODE.match(line) else _SERVER_NOTICE
    return Rendered(_stamped(stamp, sgr(params, line), style), False)


def format_shown(
    item: Shown, style: Style, *, viewed: str | None = None, stamp: str | None = None, now: datetime
) -> Rendered:
    """One line from the server as its kind looks (see the module's docstring).

    `viewed` is the room being shown: room lines from another one start with
    `[#room]`. History lines carry the time they were said (local to `now`)
    instead of `stamp`, the time of arrival.
    """
    if item.kind is ShownKind.PRESENCE:
        words = "* " + printable(item.text)
        return Rendered(_stamped(stamp, sgr(_DIM, words) if style.color else words, style), False)
    if item.sender is None:  # a reply, or a line shown as it came
        return format_incoming(item.text, style, stamp)
    name, text = printable(item.sender), printable(item.text)
    room = f"[{printable(item.room or '')}] " if elsewhere(item, viewed) else ""
    if room and style.color:
        room = sgr(_ROOM_MARK, room[:-1]) + " "
    if item.kind is ShownKind.PRIVATE:
        if not style.color:
            return Rendered(_stamped(stamp, f"{PRIVATE_MARK} @{name}: {text}", style), True)
        color = name_color(name, style.colors256)
        line = f"{sgr(_PRIVATE_MARK, PRIVATE_MARK)} {sgr(color, '@' + name)}: {sgr(_PRIVATE_TEXT, text)}"
        return Rendered(_stamped(stamp, line, style), True)
    if item.kind is ShownKind.HISTORY and item.time is not None:
        when = f"[{history_stamp(item.time, now)}] "
        if not style.color:
            return Rendered(f"{when}{room}@{name}: {text}", False)
        color = name_color(name, style.colors256)
        return Rendered(
            sgr(_DIM, when) + room + sgr(f"{_DIM};{color}", "@" + name) + sgr(_DIM, ": " + text), False
        )
    chat = format_chat(name, text, style)
    return Rendered(_stamped(stamp, room + chat.text, style), chat.mention)


def format_completions(options: Sequence[str], width: int, style: Style) -> str:
    """The words Tab may complete to, on one line narrower than `width`; those left out are counted."""
    words = [printable(option) for option in options]
    kept: list[str] = []
    used = 0
    for index, word in enumerate(words):
        rest = len(words) - index - 1
        needed = used + display_width(word) + (len(f"  (+{rest} more)") if rest else 0)
        if needed > width - 1 and kept:
            break
        kept.append(word)
        used += display_width(word) + 2
    line = "  ".join(kept)
    if len(kept) < len(words):
        line += f"  (+{len(words) - len(kept)} more)"
    return sgr(_DIM, line) if style.color else line


def format_sent(text: str, style: Style, stamp: str | None = None) -> str:
    """The user's own chat line, as the others see it, but marked as one's own."""
    return format_chat(style.username, printable(text), style, own=True, stamp=stamp).text


def format_notice(text: str, kind: NoticeKind, style: Style, stamp: str | None = None) -> list[str]:
    """A status message of the client ('Connecting ...', the help) or of the server, line by line."""
    if kind is NoticeKind.SERVER:
        return [format_incoming(line, style, stamp).text for line in text.split("\n")]
    lines = [printable(line) for line in text.split("\n")]
    if style.color:
        params = _ERROR if kind is NoticeKind.ERROR else _INFO
        lines = [sgr(params, line) if line else line for line in lines]
    return [_stamped(stamp, line, style) for line in lines]


# The input line ------------------------------------------------------------------------


@dataclass(frozen=True)
class InputView:
    """The input line as it fits the terminal: what to draw and where the cursor goes.

    `scroll` is the index of the first buffer character shown; pass it back to
    the next `layout_input` so the view does not jump while you type.
    """

    line: str
    cursor_col: int
    scroll: int


EMPTY_VIEW = InputView("", 0, 0)


def layout_input(prompt: str, text: str, cursor: int, width: int, scroll: int = 0) -> InputView:
    """Fit prompt + text into `width` columns, scrolled sideways so the cursor shows.

    The last column stays empty, so the line never wraps (a wide character that
    does not fit whole is left out, never split). `text` must be printable.
    """
    width = max(width, 1)
    cursor = max(0, min(cursor, len(text)))
    prompt_width = display_width(prompt)
    if prompt_width + 3 > width:
        prompt, prompt_width = "", 0  # too narrow for a prompt and a wide character
    room = max(width - prompt_width - 1, 0)

    scroll = previous_boundary(text, next_boundary(text, max(0, min(scroll, cursor))))
    # The character under the cursor (or the empty cell after the text) must be in view.
    cursor_end = next_boundary(text, cursor) if cursor < len(text) else cursor
    needed = display_width(text[scroll:cursor_end])
    while needed > room and scroll < cursor:
        following = next_boundary(text, scroll)
        needed -= display_width(text[scroll:following])
        scroll = following
    # After a deletion, bring back what fits on the left instead of showing blank space.
    tail = display_width(text[scroll:])
    while scroll > 0:
        before = previous_boundary(text, scroll)
        extra = display_width(text[before:scroll])
        if tail + extra > room:
            break
        tail += extra
        scroll = before

    end, used = scroll, 0
    while end < len(text):
        following = next_boundary(text, end)
        step = display_width(text[end:following])
        if used + step > room:
            break
        used += step
        end = following
    cursor_col = prompt_width + display_width(text[scroll:cursor])
    return InputView(prompt + text[scroll:end], min(cursor_col, width - 1), scroll)


def draw_input(view: InputView) -> str:
    """Redraw the current terminal line as `view`, cursor included."""
    move = f"\x1b[{view.cursor_col}C" if view.cursor_col else ""
    return f"{CLEAR_LINE}{view.line}\r{move}"


def print_above(lines: Sequence[str], view: InputView) -> str:
    """Write `lines` where the input line was, then draw the input line again below them."""
    if not lines:
        return draw_input(view)
    return CLEAR_LINE + "\r\n".join(lines) + "\r\n" + draw_input(view)
