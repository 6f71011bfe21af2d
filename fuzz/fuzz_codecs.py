"""The CHAT codecs (chatroom/codecs/chat.py and requests.py): bytes to hub requests, messages to lines.

The input chooses one of two halves. Reading: a ChatCodec fed any bytes in
any reads turns them into requests; a Say's text is clean and never starts
with a single '!' (that is a Command, never relayed), a Command's text does,
a Refuse carries one reply line, and the requests are the same in one read
or many. Writing: hub messages made of fuzzed names, rooms and texts (valid
ones, as the hub makes them) are encoded by both wires into bytes ending in
one LF, and a client's parser (chatroom/protocol/events.py) reads back the
very message that was encoded.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

from chatroom.codecs.chat import CHAT11_WIRE, CHAT_WIRE, ChatCodec, encode_reply, is_unambiguous_name
from chatroom.codecs.requests import Command, Leave, Refuse, Register, Request, Say
from chatroom.hub import message
from chatroom.protocol import events
from chatroom.protocol.lines import VERSION, is_clean_text
from chatroom.protocol.names import is_valid_room_name, is_valid_username
from chatroom.protocol.server_side import ServerState
from fuzz._input import FuzzInput, fields, split

EPOCH_SPAN_S = 4_102_444_800  # 1970 to 2100: the times a server stamps history with


def read(reads: Iterator[bytes], max_line: int) -> list[Request]:
    codec = ChatCodec(max_line)
    got: list[Request] = []
    for chunk in reads:
        if codec.state is ServerState.CLOSED:
            break
        for request in codec.requests(chunk):
            got.append(request)
            if isinstance(request, Register):
                assert is_valid_username(request.name) and is_unambiguous_name(request.name)
                codec.accept(request.name)
            elif isinstance(request, Say):
                assert codec.registered
                assert is_clean_text(request.text.encode())
                assert request.room is None or is_valid_room_name(request.room)
            elif isinstance(request, Command):
                assert request.text.startswith("!") and not request.text.startswith("!!")
            elif isinstance(request, Refuse):
                assert request.reply.endswith(b"\n") and request.reply.count(b"\n") == 1
            else:
                assert isinstance(request, Leave)
    return got


def one_line(encoded: bytes) -> str:
    assert encoded.endswith(b"\n") and encoded.count(b"\n") == 1, encoded
    return encoded[:-1].decode()


def lines_of(encoded: bytes) -> list[str]:
    assert encoded.endswith(b"\n"), encoded
    return encoded[:-1].decode().split("\n")


def write(source: FuzzInput) -> None:
    count, hour, code, reply_count = (source.byte() for _ in range(4))
    raw_name, raw_room, raw_text = fields(source.rest(), 3)
    try:
        name, room_rest, text = raw_name.decode(), raw_room.decode(), raw_text.decode()
    except UnicodeDecodeError:
        return
    room = "#" + room_rest
    if not (is_valid_username(name) and is_unambiguous_name(name)):
        return  # the hub makes messages only of names the codec registers ...
    if not is_valid_room_name(room) or not is_clean_text(raw_text):
        return  # ... of valid rooms and of clean text
    parse11 = events.parse_event
    assert parse11(one_line(CHAT11_WIRE.encode(message.RoomLine(name, room, text)))) == events.RoomLine(
        room, name, text
    )
    assert parse11(one_line(CHAT11_WIRE.encode(message.PrivateLine(name, "to", text)))) == (
        events.PrivateLine(name, text)
    )
    assert parse11(one_line(CHAT11_WIRE.encode(message.FollowedLine(name, room, text)))) == (
        events.FollowedLine(room, name, text)
    )
    assert parse11(one_line(CHAT11_WIRE.encode(message.TopicShown(room, text)))) == events.Topic(room, text)
    names = [name] * (1 + count % 45)
    joined = [parse11(line) for line in lines_of(CHAT11_WIRE.encode(message.Joined(room, names)))]
    assert all(type(event) is events.Joined and event.room == room for event in joined), joined
    assert [n for event in joined if isinstance(event, events.Joined) for n in event.names] == names
    members = message.MemberList(room, names, 7, True)
    listed = [parse11(line) for line in lines_of(CHAT11_WIRE.encode(members))]
    assert listed[-1] == events.MembersEnd(room, 7, True)
    when = hour * (EPOCH_SPAN_S // 256)
    replayed = lines_of(CHAT11_WIRE.encode(message.Replay(room, [(float(when), name, text)])))
    stamp = datetime.fromtimestamp(when, timezone.utc)
    assert [parse11(line) for line in replayed] == [
        events.HistoryLine(room, stamp, name, text),
        events.HistoryEnd(room, 1),
    ]

    parse10 = events.parse_event
    wire10 = CHAT_WIRE.encode
    assert parse10(one_line(wire10(message.RoomLine(name, room, text))), VERSION) == events.RoomLine(
        None, name, text
    )
    assert parse10(one_line(wire10(message.PrivateLine(name, "to", text))), VERSION) == events.PrivateLine(
        name, text
    )
    assert parse10(one_line(wire10(message.FollowedLine(name, room, text))), VERSION) == events.FollowedLine(
        room, name, text
    )
    assert wire10(message.Joined(room, names)) == b""  # a CHAT/1.0 client gets no event

    code = 200 + code
    reply_lines = [text, name, room][: 1 + reply_count % 3]
    replies = [parse11(line) for line in lines_of(encode_reply(code, reply_lines))]
    assert replies == [
        events.Reply(code, line, final=n == len(reply_lines) - 1) for n, line in enumerate(reply_lines)
    ]


def test_one_input(data: bytes) -> None:
    source = FuzzInput(data)
    if source.flag():
        write(source)
        return
    max_line = source.int_in(16, 80)
    cuts = source.cuts()
    stream = source.rest()
    assert read(split(stream, cuts), max_line) == read(iter([stream]), max_line)
