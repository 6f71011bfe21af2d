"""What the full screen draws, as Rich text: message lines of every kind, the status bar, the side lists.

The same looks as the line client's (chatroom.client.render), in Rich styles
instead of escape codes: a sender has the same colour in both, private lines
are marked `[private]` in bold magenta, history is dim with its time, joins
and leaves are dim `* ...` lines. Every string from the network goes through
`printable()` here. Imports Rich, which comes with Textual (the optional extra).
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from rich.style import Style
from rich.text import Text

from chatroom.client import render
from chatroom.client.roster import RoomInfo
from chatroom.client.session import NoticeKind
from chatroom.client.shown import Shown, ShownKind, elsewhere, history_stamp
from chatroom.limits import NAME_STYLE_CACHE
from chatroom.protocol import split_chat_line
from chatroom.protocol.address import ChatAddress
from chatroom.protocol.names import room_key
from chatroom.text import printable

INFO_STYLE = Style(color="cyan")
ERROR_STYLE = Style(color="red", bold=True)
SERVER_STYLE = Style(color="yellow")
OWN_TEXT_STYLE = Style(dim=True)
MENTION_STYLE = Style(color="yellow", bold=True)
PRIVATE_MARK_STYLE = Style(color="magenta", bold=True)
PRIVATE_TEXT_STYLE = Style(color="magenta")
DIM_STYLE = Style(dim=True)  # history, presence: what happened around the conversation
ROOM_STYLE = Style(bold=True)  # the room of a line from a room other than the one shown
_ERROR_CODE = re.compile(r"[45]\d\d(?:\s|$)")


class Phase(enum.Enum):
    """Where the connection to the server is, as the status bar shows it."""

    CONNECTING = "connecting"  # opening the TCP connection or waiting for the registration reply
    REGISTERED = "registered"
    DISCONNECTED = "disconnected"  # failed, refused or lost: reconnect or quit


_PHASE_STYLE = {
    Phase.CONNECTING: Style(color="yellow", bold=True),
    Phase.REGISTERED: Style(color="green", bold=True),
    Phase.DISCONNECTED: Style(color="red", bold=True),
}
_PHASE_MARK = {Phase.CONNECTING: "◌", Phase.REGISTERED: "●", Phase.DISCONNECTED: "○"}


@functools.lru_cache(maxsize=NAME_STYLE_CACHE)
def name_style(name: str) -> Style:
    """The colour `name` has in every run: chatroom.render's sender colour, as a Rich style."""
    styled = Text.from_ansi(render.sgr(render.name_color(name), "@"))
    for span in styled.spans:
        return span.style if isinstance(span.style, Style) else Style.parse(span.style)
    return Style()


def chat_text(name: str, text: str, username: str, *, own: bool = False) -> Text:
    """'@name: text', the name in its colour; own lines step back, lines naming you stand out."""
    name, text = printable(name), printable(text)
    if own:
        return Text.assemble(("@" + name, name_style(name) + Style(bold=True)), ": ", (text, OWN_TEXT_STYLE))
    if render.mentions(text, username):
        return Text.assemble(("@" + name, name_style(name)), ": ", (text, MENTION_STYLE))
    return Text.assemble(("@" + name, name_style(name)), ": ", text)


def incoming_text(line: str, username: str) -> Text:
    """A line from the server as it came: a chat line, or a notice such as '403 Not your username'."""
    chat = split_chat_line(line)
    if chat is not None:
        return chat_text(*chat, username)
    line = printable(line)
    return Text(line, style=ERROR_STYLE if _ERROR_CODE.match(line) else SERVER_STYLE)


def shown_text(item: Shown, username: str, *, viewed: str | None, now: datetime) -> Text:
    """One line from the server in its kind's look; `viewed` is the room of the pane it goes to."""
    if item.kind is ShownKind.PRESENCE:
        return Text("* " + printable(item.text), style=DIM_STYLE)
    if item.sender is None:
        return incoming_text(item.text, username)
    name, text = printable(item.sender), printable(item.text)
    room = Text(f"[{printable(item.room or '')}] ", style=ROOM_STYLE) if elsewhere(item, viewed) else Text()
    if item.kind is ShownKind.PRIVATE:
        return Text.assemble(
            (render.PRIVATE_MARK, PRIVATE_MARK_STYLE), " ", ("@" + name, name_style(name)), ": ",
            (text, PRIVATE_TEXT_STYLE),
        )  # fmt: skip
    if item.kind is ShownKind.HISTORY and item.time is not None:
        when = f"[{history_stamp(item.time, now)}] "
        return Text.assemble(
            (when, DIM_STYLE), room, ("@" + name, name_style(name) + DIM_STYLE), (": " + text, DIM_STYLE)
        )
    return Text.assemble(room, chat_text(name, text, username))


def notice_texts(text: str, kind: NoticeKind) -> list[Text]:
    """A message of the client's own (or of the server), line by line."""
    if kind is NoticeKind.SERVER:
        return [incoming_text(line, "") for line in text.split("\n")]
    style = ERROR_STYLE if kind is NoticeKind.ERROR else INFO_STYLE
    return [Text(printable(line), style=style) for line in text.split("\n")]


def status_text(
    address: ChatAddress, username: str, phase: Phase, user_count: int | None, room: str | None = None
) -> Text:
    """The status bar: server, who you are, the connection, then the room and user count once known."""
    status = Text.assemble(
        (str(address), "bold"),
        "  │  ",
        (printable(username), name_style(username) + Style(bold=True)),
        "  │  ",
        (f"{_PHASE_MARK[phase]} {phase.value}", _PHASE_STYLE[phase]),
    )
    if room is not None:
        status.append(f"  │  {printable(room)}", style="bold")
    if user_count is not None:
        status.append(f"  │  {user_count} user{'' if user_count == 1 else 's'}")
    return status


def rooms_text(rooms: Sequence[str], viewed: str | None, unread: Mapping[str, int]) -> Text:
    """The room list: the room shown marked ▸ and bold, the others with how many lines wait unread."""
    text = Text("Rooms", style="bold underline")
    if not rooms:
        text.append("\n(none yet)", style=DIM_STYLE)
    for room in rooms:
        key = room_key(room)
        if viewed is not None and key == room_key(viewed):
            text.append(f"\n▸ {printable(room)}", style="bold reverse")
            continue
        text.append(f"\n  {printable(room)}")
        waiting = unread.get(key, 0)
        if waiting:
            text.append(f" {waiting if waiting < 1000 else '999+'}", style="bold yellow")
    return text


def members_text(info: RoomInfo | None) -> Text:
    """The member list of the room shown: its size, then the names (or why there are none)."""
    if info is None:
        return Text("Members", style="bold underline")
    size = info.size
    text = Text(printable(info.name) + (f" · {size}" if size is not None else ""), style="bold underline")
    if not info.presence:
        text.append("\n(too many to list;\n !list shows them)", style=DIM_STYLE)
    elif not info.members:
        text.append("\n(!list shows them)", style=DIM_STYLE)
    for name in info.member_names():
        text.append("\n")
        text.append(printable(name), style=name_style(name))
    return text
