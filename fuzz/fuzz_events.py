"""The client's parser of server lines (chatroom/protocol/events.py), CHAT/1.1 and CHAT/1.0.

Invariants: `parse_event` never raises, for bytes or text and either
version; a CHAT/1.0 client never sees an event verb (only replies, relayed
lines and Unrecognised); and every event round-trips: the line `event_line`
writes for it parses back to the same event.
"""

from __future__ import annotations

from chatroom.protocol import events
from chatroom.protocol.lines import VERSION, VERSION_1_1

CHAT10_KINDS = (events.Reply, events.RoomLine, events.PrivateLine, events.FollowedLine, events.Unrecognised)


def test_one_input(data: bytes) -> None:
    line = data.split(b"\n", 1)[0]  # a client parses one line at a time
    for version in (VERSION_1_1, VERSION):
        event = events.parse_event(line, version)
        if version == VERSION:
            assert isinstance(event, CHAT10_KINDS), event
            assert not isinstance(event, events.RoomLine) or event.room is None
        written = events.event_line(event)
        assert "\n" not in written
        # event_line writes CHAT/1.1's form for private and followed lines (CHAT/1.0's differs).
        again = VERSION_1_1 if isinstance(event, events.PrivateLine | events.FollowedLine) else version
        assert events.parse_event(written, again) == event, (written, event)
        assert events.parse_event(line.decode("utf-8", errors="replace"), version) == event
