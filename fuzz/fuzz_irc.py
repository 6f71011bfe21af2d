"""The IRC codec (chatroom/irc/codec.py, message.py, sasl.py): any bytes from an IRC client.

An IrcCodec is fed any bytes in any reads, and the hub's side is played:
registrations are accepted or refused, renames and SASL logins answered,
commands answered with any code. Invariants: nothing raises; every byte
string the codec hands out for the client (replies, refusals, encoded
messages) is whole IRC lines, each ending in CR LF with no other CR, LF or
NUL in it; a Say (and a `!msg`) carries clean text (CHAT's grammar: no
control character but TAB) to a room name; a Register and a Rename name a
valid user name.
"""

from __future__ import annotations

from chatroom.codecs.requests import (
    Authenticate,
    Command,
    Ending,
    Leave,
    Refuse,
    Register,
    Remove,
    Rename,
    Reply,
    Request,
    Say,
)
from chatroom.hub.message import Joined, Left, MemberList, PrivateLine, Renamed, RoomLine, TopicShown
from chatroom.irc.codec import IrcCodec, IrcSettings, IrcShared
from chatroom.protocol.lines import is_clean_text
from chatroom.protocol.names import is_valid_room_name, is_valid_username
from fuzz._input import FuzzInput, split

SETTINGS = IrcSettings(server_name="fuzz.server", operators={"op": "secret"})


def whole_lines(data: bytes) -> None:
    """`data` is zero or more IRC lines, each ending in CR LF, with no other CR, LF or NUL."""
    if not data:
        return
    assert data.endswith(b"\r\n"), data
    for line in data[:-2].split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line and b"\0" not in line, data


def answer(codec: IrcCodec, request: Request, choice: int) -> None:
    """Play the server and the hub for one request, checking what the codec hands out."""
    if isinstance(request, Register):
        assert is_valid_username(request.name), request
        if choice % 4 == 0:
            whole_lines(codec.refuse_taken())
            codec.close()
        else:
            whole_lines(codec.accept(request.name))
    elif isinstance(request, Rename):
        assert is_valid_username(request.name), request
        if choice % 2:
            request.renamed(request.name)
            whole_lines(codec.encode_reply(221, [f"You are now called {request.name}."]))
        else:
            whole_lines(codec.encode_reply(400 + choice % 30, ["No."]))
    elif isinstance(request, Authenticate):
        whole_lines(request.answered(None if choice % 2 else "Wrong password."))
    elif isinstance(request, Command | Remove):
        if isinstance(request, Command) and request.text.startswith("!msg "):
            said = request.text.split(" ", 2)[2]  # the hub answers an unknown target itself
            assert said and is_clean_text(said.encode()), request
        code = (200, 210, 211, 212, 213, 215, 221, 400, 403, 404, 409, 429)[choice % 12]
        whole_lines(codec.encode_reply(code, ["#room 2 members: a topic", "#room: alice bob", "2 things."]))
    elif isinstance(request, Say):  # what CHAT/1.0 users get: their grammar's clean text
        assert request.text and is_clean_text(request.text.encode()), request
        assert request.room is not None and request.room.startswith("#"), request
    elif isinstance(request, Reply):
        whole_lines(request.data)
    elif isinstance(request, Refuse):
        whole_lines(request.reply)
    else:
        assert isinstance(request, Leave), request


def hear(codec: IrcCodec, source: FuzzInput) -> None:
    """Hub messages and events about fuzzed names, in fuzzed rooms, encoded for this connection."""
    room = "#" + (source.take(source.int_in(1, 12)).decode(errors="replace") or "r")
    other = "n" + source.take(source.int_in(0, 8)).decode(errors="replace")
    raw_text = source.take(source.int_in(0, 200))
    text = raw_text.decode(errors="replace") or "x"
    if not (is_valid_room_name(room) and is_valid_username(other) and is_clean_text(text.encode())):
        return  # the hub makes messages only of valid names and rooms, and of clean text
    me = codec.name or "me"
    for message in (
        RoomLine(other, room, text),
        PrivateLine(other, me, text),
        Joined(room, [other, me]),
        MemberList(room, [other, me], 2, True),
        TopicShown(room, text),
        TopicShown(room, ""),
        Renamed(room, other, other + "2"),
        Left(room, [other]),
    ):
        whole_lines(codec.encode(message))


def test_one_input(data: bytes) -> None:
    source = FuzzInput(data)
    choices = [source.byte() for _ in range(4)]
    cuts = source.cuts()
    hear_after = source.flag()
    codec = IrcCodec(SETTINGS, IrcShared())
    turn = 0
    for chunk in split(source.rest(), cuts):
        for request in codec.requests(chunk):
            answer(codec, request, choices[turn % len(choices)])
            turn += 1
        for request in codec.waiting_requests():
            answer(codec, request, choices[turn % len(choices)])
            turn += 1
    if hear_after:
        hear(codec, FuzzInput(data[::-1]))
    whole_lines(codec.ending(Ending.FLOODING))
    whole_lines(codec.final_line(403, "You were kicked."))
    codec.close()
