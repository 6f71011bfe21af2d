"""IRC messages: one line parsed into tags, prefix, command and parameters, and built back.

Modern IRC ("Messages") and IRCv3 message-tags. Parsing never raises on
what a peer sends: a line that is not a message parses to None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chatroom.limits import IRC_MAX_LINE_BYTES, IRC_MAX_PARAMS

_TAG_ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


@dataclass(frozen=True)
class IrcMessage:
    """One IRC line, without its CR LF; `command` upper-cased (numerics stay digits)."""

    command: str
    params: list[str] = field(default_factory=list)
    prefix: str = ""
    tags: dict[str, str] = field(default_factory=dict)


def _unescape(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_TAG_ESCAPES.get(nxt, nxt))
        else:
            out.append(ch)
    return "".join(out)


def parse(line: str) -> IrcMessage | None:
    """`line` without CR LF; None when it holds no command (empty, or only tags and prefix)."""
    rest = line.lstrip(" ")
    tags: dict[str, str] = {}
    if rest.startswith("@"):
        raw, _, rest = rest[1:].partition(" ")
        for item in raw.split(";"):
            if item:
                key, _, value = item.partition("=")
                tags[key] = _unescape(value)
        rest = rest.lstrip(" ")
    prefix = ""
    if rest.startswith(":"):
        prefix, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    command, _, rest = rest.partition(" ")
    if not command:
        return None
    params: list[str] = []
    while rest:
        rest = rest.lstrip(" ")
        if not rest:
            break
        if rest.startswith(":") or len(params) == IRC_MAX_PARAMS - 1:
            params.append(rest[1:] if rest.startswith(":") else rest)
            break
        param, _, rest = rest.partition(" ")
        params.append(param)
    return IrcMessage(command.upper(), params, prefix, tags)


def build(command: str, *params: str, prefix: str = "", tags: str = "") -> str:
    """One line with CR LF; the last parameter gets a ':' when it needs one (or is the only text)."""
    head = f"@{tags} " if tags else ""
    if prefix:
        head += f":{prefix} "
    parts = [command, *params]
    if any("\r" in part or "\n" in part or "\0" in part for part in parts):
        parts = [_one_line(part) for part in parts]  # never a second line out of one
    last = parts[-1]
    if len(parts) > 1 and (not last or " " in last or last.startswith(":")):
        parts[-1] = ":" + last
    return head + " ".join(parts) + "\r\n"


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ").replace("\0", " ")


def split_text(text: str, budget: int) -> list[str]:
    """`text` cut into pieces of at most `budget` UTF-8 bytes each, only between characters."""
    encoded = text.encode()
    if len(encoded) <= budget:
        return [text]
    budget = max(budget, 4)  # one character of any length always fits
    pieces: list[str] = []
    start = 0
    while start < len(encoded):
        end = min(start + budget, len(encoded))
        while end < len(encoded) and (encoded[end] & 0xC0) == 0x80:
            end -= 1  # never inside a UTF-8 sequence: back up to the start of a character
        pieces.append(encoded[start:end].decode())
        start = end
    return pieces


def build_text(command: str, target: str, text: str, prefix: str, tags: str = "") -> str:
    """PRIVMSG/NOTICE lines that carry `text` whole.

    A text an IRC client could have sent in one line goes out in one line,
    as modern servers relay it (the sender's prefix may take that line past
    512 bytes; irctest's buffering tests want the text whole, in one line).
    A longer one (CHAT/1.0 lines may be longer) is split on character
    boundaries into lines of at most IRC_MAX_LINE_BYTES each (tags aside).
    """
    head = f":{prefix} {command} {target} :"
    size = len(text.encode())
    if size <= IRC_MAX_LINE_BYTES - 2 - len(f"{command} {target} ".encode()):  # its ':' may be left out
        budget = size
    else:
        budget = IRC_MAX_LINE_BYTES - len(head.encode()) - 2
    tag_head = f"@{tags} " if tags else ""
    return "".join(f"{tag_head}{head}{piece}\r\n" for piece in split_text(text, budget))


# IRC's formatting codes (bold, colour, hex colour, reset, monospace, reverse, italic, strike,
# underline), dropped with a colour's digits; any other control character but TAB is dropped too.
_FORMATTING = re.compile(
    "\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?|[\x00-\x08\x0a-\x1f\x7f-\x9f]"
)
ACTION_PREFIX = "/me "  # how a CTCP ACTION (IRC's /me) reads as plain text, both ways
CTCP_PREFIX = "/ctcp "  # how any other CTCP (PING, VERSION, ...) reads as plain text, both ways


def plain_text(text: str) -> str:
    """An IRC client's PRIVMSG text as the hub carries it: plain text (docs/IRC.md, "Text is plain").

    A CTCP ACTION becomes '/me TEXT', any other CTCP '/ctcp VERB ARGS' (so IRC
    clients get it back as it was); formatting codes and other control
    characters are dropped.
    """
    if text.startswith("\x01"):
        inner = text[1:].removesuffix("\x01")
        if inner.startswith("ACTION "):
            text = ACTION_PREFIX + inner.removeprefix("ACTION ")
        else:
            text = CTCP_PREFIX + inner
    if text.isprintable():
        return text
    return _FORMATTING.sub("", text)


def irc_text(text: str) -> str:
    """Plain text as IRC clients show it: '/me TEXT' and '/ctcp VERB ARGS' are CTCP again."""
    if text.startswith(ACTION_PREFIX) and len(text) > len(ACTION_PREFIX):
        return f"\x01ACTION {text[len(ACTION_PREFIX) :]}\x01"
    if text.startswith(CTCP_PREFIX) and len(text) > len(CTCP_PREFIX):
        return f"\x01{text[len(CTCP_PREFIX) :]}\x01"
    return text
