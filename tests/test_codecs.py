"""The CHAT codecs without a network: CHAT/1.1's requests and events (docs/PROTOCOL.md section 7)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatroom.codecs.chat import CHAT11_WIRE, CHAT_WIRE, ChatCodec
from chatroom.codecs.requests import Command, Ending, Leave, Refuse, Register, Say
from chatroom.hub.message import (
    FollowedLine,
    Joined,
    Left,
    MemberList,
    PrivateLine,
    Replay,
    RoomLine,
    TopicShown,
)
from chatroom.protocol import VERSION_1_1, ChatMessage, Registration, parse_registration
from chatroom.protocol.names import is_valid_username

NOON = 1_796_040_000.0  # 2026-11-30T12:00:00Z


def registered(line: bytes, name: str = "alice") -> ChatCodec:
    codec = ChatCodec()
    requests = list(codec.requests(line + b"\n"))
    assert isinstance(requests[0], Register)
    codec.accept(name)
    return codec


def test_chat11_events_are_encoded_as_section_7_3_writes_them() -> None:
    encode = CHAT11_WIRE.encode
    assert encode(RoomLine("bob", "#dev", "hi  there")) == b"MSG #dev bob hi  there\n"
    assert encode(PrivateLine("bob", "alice", "psst")) == b"PRIVATE bob psst\n"
    assert encode(FollowedLine("bob", "#ops", "x")) == b"FOLLOWED #ops bob x\n"
    assert encode(Joined("#dev", ["bob", "carol"])) == b"JOINED #dev bob carol\n"
    assert encode(Left("#dev", ["bob"])) == b"LEFT #dev bob\n"
    assert encode(TopicShown("#dev", "ship: it")) == b"TOPIC #dev ship: it\n"
    assert encode(Replay("#dev", [(NOON, "bob", "one"), (NOON + 61, "carol", "two")])) == (
        b"HISTORY #dev 2026-11-30T12:00:00Z bob one\n"
        b"HISTORY #dev 2026-11-30T12:01:01Z carol two\n"
        b"HISTORY-END #dev 2\n"
    )
    assert encode(Replay("#dev", [])) == b"HISTORY-END #dev 0\n"


def test_member_lists_put_20_names_a_line_and_say_whether_presence_is_on() -> None:
    names = [f"u{n:02}" for n in range(45)]
    lines = CHAT11_WIRE.encode(MemberList("#big", names, 45, True)).decode().splitlines()
    assert [len(line.split(" ")) - 2 for line in lines[:-1]] == [20, 20, 5]
    assert lines[0].startswith("MEMBERS #big u00 u01 ") and lines[-1] == "MEMBERS-END #big 45 on"
    assert CHAT11_WIRE.encode(MemberList("#huge", [], 5000, False)) == b"MEMBERS-END #huge 5000 off\n"


def test_the_chat10_wire_never_carries_an_event() -> None:
    assert not CHAT_WIRE.events and CHAT11_WIRE.events
    for event in (Joined("#a", ["b"]), Left("#a", ["b"]), TopicShown("#a", "t"), Replay("#a", [])):
        assert CHAT_WIRE.encode(event) == b""
    assert CHAT_WIRE.encode(RoomLine("bob", "#dev", "hi")) == b"@bob: hi\n"


def test_a_chat11_codec_turns_room_addressed_lines_into_requests_for_that_room() -> None:
    codec = registered(b"REGISTER alice CHAT/1.1 replay=3")
    assert codec.wire is CHAT11_WIRE
    lines = b"@alice #dev: hi\n@alice #dev: !list\n@alice #dev: !!bang\n@alice: plain\n@alice #d ev: x\n"
    requests = list(codec.requests(lines))
    assert requests[:4] == [Say("hi", "#dev"), Command("!list", "#dev"), Say("!bang", "#dev"), Say("plain")]
    assert isinstance(requests[4], Refuse) and requests[4].reply == b"400 Invalid message\n"


def test_a_chat10_codec_refuses_the_room_addressed_form() -> None:
    codec = registered(b"REGISTER alice CHAT/1.0")
    assert codec.wire is CHAT_WIRE
    (refusal,) = codec.requests(b"@alice #dev: hi\n")
    assert isinstance(refusal, Refuse) and refusal.reply == b"403 Not your username\n"


@pytest.mark.parametrize(
    ("line", "last"), [(b"CHAT/1.0", b"DISCONNECT CHAT/1.0\n"), (b"CHAT/1.1", b"DISCONNECT CHAT/1.1\n")]
)
def test_shutdown_and_leaving_speak_the_version_registered(line: bytes, last: bytes) -> None:
    codec = registered(b"REGISTER alice " + line)
    assert codec.ending(Ending.SERVER_SHUTDOWN) == last
    (leave,) = codec.requests(b"DISCONNECT alice " + line + b"\n")
    assert type(leave).__name__ == "Leave"


@given(
    st.text(min_size=1, max_size=32).filter(is_valid_username),
    st.one_of(st.none(), st.integers(min_value=0, max_value=200)),
)
def test_any_valid_chat11_registration_parses_with_its_replay(name: str, replay: int | None) -> None:
    option = b"" if replay is None else b" replay=" + str(replay).encode()
    line = b"REGISTER " + name.encode() + b" CHAT/1.1" + option
    assert parse_registration(line) == Registration(name, VERSION_1_1, replay)


@given(st.binary(max_size=80))
def test_parse_registration_never_raises(line: bytes) -> None:
    found = parse_registration(line)
    assert found is None or is_valid_username(found.name)


@given(st.lists(st.binary(max_size=60), max_size=8))
def test_a_chat11_codec_turns_any_lines_into_requests_without_raising(lines: list[bytes]) -> None:
    codec = registered(b"REGISTER alice CHAT/1.1")
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n"
    for prefix in (b"", b"@alice #", b"@alice #dev: ", b"@alice: "):
        for request in codec.requests(prefix + data):
            assert isinstance(request, Say | Command | Refuse | Leave), request
            if isinstance(request, Say | Command) and request.room is not None:
                assert request.room.startswith("#")
        if not codec.registered:  # a DISCONNECT line among them ended it
            break


@pytest.mark.parametrize("version", [b"CHAT/1.0", b"CHAT/1.1"])
def test_said_is_the_text_of_a_read_that_is_one_ordinary_chat_line(version: bytes) -> None:
    codec = registered(b"REGISTER alice " + version)
    assert codec.said(b"@alice: hello there\n") == "hello there"
    assert codec.said("@alice: h\u00e9\r\n".encode()) == "h\u00e9"


@pytest.mark.parametrize(
    "data",
    [
        b"@alice: !join #dev\n",  # a command
        b"@alice: !!bang\n",  # text starting with '!', escaped: requests() unescapes it
        b"@alice #dev: hi\n",  # addressed to a room
        b"@bob: hi\n",  # another name
        b"@alice: a\n@alice: b\n",  # two lines
        b"@alice: half",  # no line yet
        b"@alice: bell\x07\n",  # a control character
        b"@alice: \xff\n",  # not UTF-8
        b"DISCONNECT alice CHAT/1.0\n",
    ],
)
def test_said_leaves_everything_else_to_requests(data: bytes) -> None:
    assert registered(b"REGISTER alice CHAT/1.1").said(data) is None


def test_said_is_none_before_registration() -> None:
    assert ChatCodec().said(b"REGISTER alice CHAT/1.0\n") is None


@given(st.binary(max_size=40))
def test_said_answers_only_what_the_full_parse_turns_into_that_one_chat_line(tail: bytes) -> None:
    # requests() itself starts with said(): compare with the parse underneath it instead.
    for data in (b"@alice: " + tail, b"@alice: " + tail + b"\n", b"@alice: " + tail + b"\r\n", tail):
        text = registered(b"REGISTER alice CHAT/1.1").said(data)
        if text is not None:
            codec = registered(b"REGISTER alice CHAT/1.1")
            events = list(codec.receive(data))
            assert events == [ChatMessage(events[0].line)] and codec.framer.pending == 0  # type: ignore[union-attr]
            assert events[0].line[len(b"@alice: ") :].decode() == text  # type: ignore[union-attr]
            assert not text.startswith("!")
            assert list(registered(b"REGISTER alice CHAT/1.1").requests(data)) == [Say(text)]
