"""What an IRC connection may look up about the whole server, and how it tells other IRC users.

IRC answers some commands from what the hub knows (LUSERS counts, MODE +o
and INVITE need to know who is in a channel) and sends some lines to other
IRC users that no hub message carries (MODE changes, INVITE). The codec asks
a `Directory`; the server implements it over its hub and connections
(chatroom/server/irc_directory.py), so the hub never learns IRC and the codec
stays without I/O. `NoDirectory` stands in when there is no server (unit tests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class IrcRecipient(Protocol):
    """An IRC connection as a line's sender sees it (IrcCodec): it builds lines its own way."""

    def line(self, command: str, *params: str, prefix: str = "") -> str:
        """One line with this connection's tags (server-time when it asked for it)."""

    def tags(self) -> str: ...


LineFor = Callable[[IrcRecipient], bytes]
# line_for(recipient): the bytes for one IRC recipient (its own tags and caps), b"" for none.


class Directory(Protocol):
    def members(self, room: str) -> list[str] | None:
        """The names in `room`; None when there is no such room."""

    def has_room(self, room: str) -> bool: ...

    def census(self) -> tuple[int, int]:
        """(users on the server, rooms), for LUSERS."""

    def online(self, name: str) -> str | None:
        """The user's name as registered when `name` is online (any wire), else None."""

    def tell(self, names: list[str], line_for: LineFor) -> None:
        """Send `line_for(codec)` to each of `names` that is an IRC user, after what was routed before."""


class NoDirectory:
    """No server behind the codec: no rooms, nobody to tell."""

    def members(self, room: str) -> list[str] | None:
        return None

    def has_room(self, room: str) -> bool:
        return False

    def census(self) -> tuple[int, int]:
        return 0, 0

    def online(self, name: str) -> str | None:
        return None

    def tell(self, names: list[str], line_for: LineFor) -> None:
        return None
