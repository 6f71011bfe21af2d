"""chatroom.protocol.events: what a server line means to a client, as docs/PROTOCOL.md 6.4 and 7.3 write it.

Examples from the spec first, then properties: every event survives the trip
to its line and back, and no line whatever (bytes included) makes the parser
fail: what it does not know is `Unrecognised`, to be shown as it is.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatroom.protocol import VERSION, VERSION_1_1
from chatroom.protocol.events import (
    Event,
    FollowedLine,
    HistoryEnd,
    HistoryLine,
    Joined,
    Left,
    Members,
    MembersEnd,
    PrivateLine,
    Reply,
    RoomLine,
    Topic,
    Unrecognised,
    event_line,
    format_time,
    parse_event,
    parse_relayed,
    parse_time,
)
from chatroom.protocol.names import is_valid_room_name, is_valid_username

MORNING = datetime(2026, 11, 30, 8, 1, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("line", "event"),
    [
        ("MSG #lobby bob hi alice", RoomLine("#lobby", "bob", "hi alice")),
        ("MSG #dev carol ", RoomLine("#dev", "carol", "")),
        ("FOLLOWED #Dev bob ship it", FollowedLine("#Dev", "bob", "ship it")),
        ("PRIVATE bob psst", PrivateLine("bob", "psst")),
        ("JOINED #lobby alice", Joined("#lobby", ("alice",))),
        ("LEFT #dev alice bob", Left("#dev", ("alice", "bob"))),
        ("MEMBERS #lobby alice bob", Members("#lobby", ("alice", "bob"))),
        ("MEMBERS-END #lobby 2 on", MembersEnd("#lobby", 2, True)),
        ("MEMBERS-END #big 5000 off", MembersEnd("#big", 5000, False)),
        ("TOPIC #dev release on Friday", Topic("#dev", "release on Friday")),
        (
            "HISTORY #lobby 2026-11-30T08:01:10Z bob good morning",
            HistoryLine("#lobby", MORNING, "bob", "good morning"),
        ),
        ("HISTORY-END #lobby 1", HistoryEnd("#lobby", 1)),
        ("210 You are now in #dev (2 members).", Reply(210, "You are now in #dev (2 members).")),
        ("211-#lobby 1 member", Reply(211, "#lobby 1 member", final=False)),
        ("@bob: hi", RoomLine(None, "bob", "hi")),
        ("@bob (private): psst", PrivateLine("bob", "psst")),
        ("@bob (#Dev): ship it", FollowedLine("#Dev", "bob", "ship it")),
    ],
)
def test_the_specs_lines_parse_to_their_events(line: str, event: Event) -> None:
    assert parse_event(line) == event
    assert parse_event(line.encode()) == event
    assert parse_event(event_line(event)) == event  # CHAT/1.0's private and followed forms become events
    if not line.startswith("@bob ("):
        assert event_line(event) == line


@pytest.mark.parametrize(
    "line",
    [
        "WAVE #lobby bob",  # a verb of a later version
        "MSG lobby bob hi",  # no '#'
        "MSG #lobby",  # no sender
        "MSG #lobby @bob hi",  # not a user name
        "JOINED #lobby",  # nobody
        "JOINED #lobby bob ",  # an empty name
        "MEMBERS-END #lobby two on",
        "MEMBERS-END #lobby 2 maybe",
        "MEMBERS-END #lobby 2",
        "HISTORY #lobby yesterday bob hi",
        "HISTORY #lobby 2026-02-30T08:00:00Z bob hi",  # no such day
        "HISTORY-END #lobby",
        "TOPIC lobby hi",
        "PRIVATE @bob hi",
        "msg #lobby bob hi",  # verbs are case-sensitive
        "@bob hi",
        "@bob (#no room): hi",
        "",
        "42 short code",
    ],
)
def test_anything_else_is_unrecognised_and_shown_as_it_is(line: str) -> None:
    assert parse_event(line) == Unrecognised(line)


def test_a_chat_1_0_client_reads_no_event_verbs() -> None:
    assert parse_event("MSG #dev bob hi", VERSION) == Unrecognised("MSG #dev bob hi")
    assert parse_event("@bob (private): hi", VERSION) == PrivateLine("bob", "hi")
    assert parse_event("403 Not your username", VERSION) == Reply(403, "Not your username")


def test_bytes_that_are_not_utf8_are_replaced_not_fatal() -> None:
    assert parse_event(b"MSG #dev bob \xff") == RoomLine("#dev", "bob", "\ufffd")


def test_names_with_colons_and_rooms_with_parentheses_stay_whole() -> None:
    assert parse_relayed("@a:: hi") == RoomLine(None, "a:", "hi")
    assert parse_relayed("@bob (#a):): hi") == FollowedLine("#a):", "bob", "hi")
    assert parse_relayed("@bob (private): (private): x") == PrivateLine("bob", "(private): x")


def test_times_are_utc_and_written_back_the_same() -> None:
    assert parse_time("2026-11-30T08:01:10Z") == MORNING
    assert format_time(MORNING) == "2026-11-30T08:01:10Z"
    for wrong in (
        "2026-11-30 08:01:10Z",
        "2026-11-30T08:01:10",
        "2026-13-01T00:00:00Z",
        "\uff12026-11-30T08:01:10Z",
    ):
        assert parse_time(wrong) is None


# Properties --------------------------------------------------------------------------------------

NAME_CHARS = st.sampled_from(list("abcXYZ019_-.:()é日😀ß"))
names = st.text(NAME_CHARS, min_size=1, max_size=32).filter(is_valid_username)
rooms = st.text(NAME_CHARS, min_size=1, max_size=32).map(lambda rest: "#" + rest).filter(is_valid_room_name)
texts = st.text(st.characters(blacklist_characters="\n", blacklist_categories=["Cs"]), max_size=80)
counts = st.integers(0, 999_999_999)
times = st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(timezone.utc)
).map(lambda when: when.replace(microsecond=0))
name_lists = st.lists(names, min_size=1, max_size=20).map(tuple)

events = st.one_of(
    st.builds(RoomLine, rooms | st.none(), names, texts),
    st.builds(FollowedLine, rooms, names, texts),
    st.builds(PrivateLine, names, texts),
    st.builds(Joined, rooms, name_lists),
    st.builds(Left, rooms, name_lists),
    st.builds(Members, rooms, name_lists),
    st.builds(MembersEnd, rooms, counts, st.booleans()),
    st.builds(Topic, rooms, texts),
    st.builds(HistoryLine, rooms, times, names, texts),
    st.builds(HistoryEnd, rooms, counts),
    st.builds(Reply, st.integers(100, 999), texts, st.booleans()),
)


@settings(max_examples=500)
@given(events)
def test_every_event_survives_the_trip_to_its_line_and_back(event: Event) -> None:
    line = event_line(event)
    assert "\n" not in line
    assert parse_event(line) == event
    assert parse_event(line.encode()) == event


@settings(max_examples=500)
@given(
    st.one_of(
        texts,
        st.binary(max_size=80),
        st.tuples(
            st.sampled_from(
                [
                    "MSG",
                    "FOLLOWED",
                    "PRIVATE",
                    "JOINED",
                    "LEFT",
                    "MEMBERS",
                    "MEMBERS-END",
                    "TOPIC",
                    "HISTORY",
                    "HISTORY-END",
                    "@bob",
                    "200",
                    "211-",
                ]
            ),
            texts,
        ).map(" ".join),
    )
)
def test_no_line_makes_the_parser_fail(line: str | bytes) -> None:
    event = parse_event(line)
    text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    if isinstance(event, Unrecognised):
        assert event.line == text
    else:
        assert parse_event(event_line(event)) == event
    assert parse_event(line, VERSION_1_1) == event
