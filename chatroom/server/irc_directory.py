"""The server's side of chatroom.irc.directory: IRC's look-ups in the hub, and lines to IRC users."""

from __future__ import annotations

from collections.abc import Callable

from chatroom.hub.hub import Hub
from chatroom.irc.codec import IrcCodec
from chatroom.irc.directory import LineFor
from chatroom.net.connection import Connection, Phase


class HubDirectory:
    """An IrcShared's Directory over one server's hub: names and counts from its router."""

    def __init__(self, hub: Hub, full: Callable[[Connection], None]) -> None:
        self.hub = hub
        self._full = full  # full(conn): it could not take more output (the server closes it)

    def members(self, room: str) -> list[str] | None:
        router = self.hub.router
        if not router.room_exists(room):
            return None
        return [member.name for member in router.members(room)]

    def has_room(self, room: str) -> bool:
        return self.hub.router.room_exists(room)

    def census(self) -> tuple[int, int]:
        router = self.hub.router
        return len(router), router.room_count()

    def online(self, name: str) -> str | None:
        member = self.hub.router.find(name)
        return member.name if member is not None else None

    def tell(self, names: list[str], line_for: LineFor) -> None:
        router = self.hub.router
        router.deliver()  # after what was said before
        for name in names:
            member = router.find(name)
            if not isinstance(member, Connection) or not isinstance(member.codec, IrcCodec):
                continue
            if member.phase is Phase.OPEN:
                data = line_for(member.codec)
                if data and not member.deliver(data):
                    self._full(member)
