"""The client's session without any I/O: protocol bytes and typed lines in, effects out.

Every user interface (the line client, the line editor, the full screen) shows
what these effects say, so the wording, the commands and the exit statuses
are pinned here once; no sockets, no terminal, no event loop. The first part
holds for both protocol versions; the second is CHAT/1.1 (docs/PROTOCOL.md
section 7): events, several rooms, the fallback to CHAT/1.0, Tab's words.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatroom.client.commands import HELP_TEXT
from chatroom.client.exitcodes import EXIT_FAILURE, EXIT_OK
from chatroom.client.roster import RoomInfo
from chatroom.client.session import (
    FALLBACK,
    GREETING,
    SERVER_CLOSING,
    ClearScreen,
    Effect,
    Ended,
    InRoom,
    LeaveRequested,
    NoticeKind,
    Ready,
    Reconnect,
    RoomsChanged,
    Send,
    Session,
    SessionState,
    ShowIncoming,
    ShowNotice,
    ShowSent,
)
from chatroom.client.shown import Shown, ShownKind, as_is, chat
from chatroom.limits import (
    CLIENT_MAX_LINE_BYTES,
    CLIENT_SENDQ_MAX_BYTES,
    MAX_LINE_BYTES,
    PRESENCE_MAX_MEMBERS,
)
from chatroom.protocol import VERSION, VERSION_1_1

PREFIX = b"@alice: "


def registered(name: str = "alice", version: bytes = VERSION_1_1) -> Session:
    session = Session(name, version=version)
    session.start()
    assert session.receive(b"200 Registration successful\n") == [Ready(GREETING)]
    return session


def shown(effects: list[Effect]) -> list[Shown]:
    return [line for effect in effects if isinstance(effect, ShowIncoming) for line in effect.lines]


def room(session: Session, name: str) -> RoomInfo:
    """The room `name` as the session's roster has it (it must have it)."""
    info = session.roster.room(name)
    assert info is not None, f"{name} is not in {session.roster.room_names()}"
    return info


def shown_lines(effects: list[Effect]) -> list[str]:
    return [line.text for line in shown(effects)]


# Registering ---------------------------------------------------------------------------------


def test_starting_sends_register_once_asking_for_chat_1_1() -> None:
    session = Session("alice")
    states = [session.state]
    assert session.start() == [Send(b"REGISTER alice CHAT/1.1\n")]
    states.append(session.state)
    assert states == [SessionState.STARTING, SessionState.REGISTERING]
    assert session.start() == []


def test_a_session_told_to_speak_chat_1_0_registers_with_it() -> None:
    assert Session("alice", version=VERSION).start() == [Send(b"REGISTER alice CHAT/1.0\n")]


def test_a_200_reply_makes_the_session_ready_with_the_greeting() -> None:
    session = Session("alice")
    session.start()
    assert session.receive(b"200 Registration ") == []
    assert session.receive(b"successful\r\n") == [Ready("Registration successful.  Ready for messaging!")]
    assert session.state is SessionState.CHATTING
    assert session.outcome is None


def test_lines_arriving_with_the_reply_are_shown_after_the_greeting() -> None:
    session = Session("alice")
    session.start()
    assert session.receive(b"200 ok\n@bob: early\n@carol: bird\n") == [
        Ready(GREETING),
        ShowIncoming((chat("bob", "early"), chat("carol", "bird"))),
    ]


@pytest.mark.parametrize(
    "reply", [b"400 Invalid registration", b"401 Client already registered", b"500 Something else"]
)
def test_any_other_reply_refuses_registration_and_ends_with_failure(reply: bytes) -> None:
    session = Session("alice", version=VERSION)
    session.start()
    refused = Ended(EXIT_FAILURE, f"Registration refused: {reply.decode()}")
    assert session.receive(reply + b"\n@bob: not for you\n") == [refused]
    assert session.state is SessionState.ENDED
    assert session.outcome == refused
    assert refused.failed


def test_a_refusal_cannot_drive_the_terminal() -> None:
    session = Session("alice")
    session.start()
    assert session.receive(b"401 \x1b[2J gone\n") == [
        Ended(EXIT_FAILURE, "Registration refused: 401 \\x1b[2J gone")
    ]


def test_no_answer_to_the_registration_ends_with_failure_only_while_waiting_for_it() -> None:
    session = Session("alice")
    assert session.registration_timed_out(10.0) == []
    session.start()
    assert session.registration_timed_out(2.5) == [
        Ended(EXIT_FAILURE, "The server did not answer the registration within 2.5 s.")
    ]
    assert registered().registration_timed_out(10.0) == []


# Lines from the server ---------------------------------------------------------------------------


def test_the_lines_of_one_read_are_shown_as_one_batch_in_order() -> None:
    session = registered()
    assert session.receive(b"@bob: one\n403 Not your username\n@bob: two") == [
        ShowIncoming((chat("bob", "one"), as_is("403 Not your username")))
    ]
    assert session.receive(b"\n") == [ShowIncoming((chat("bob", "two"),))]


def test_the_lines_shown_do_not_depend_on_how_the_bytes_were_split() -> None:
    data = "@bob: héllo\r\n@carol: 日本\n404 nope\n".encode()
    whole = shown(registered().receive(data))
    session = registered()
    by_byte = [effect for i in range(len(data)) for effect in session.receive(data[i : i + 1])]
    assert whole == shown(by_byte) == [chat("bob", "héllo"), chat("carol", "日本"), as_is("404 nope")]


def test_server_disconnect_shows_the_lines_before_it_and_ends_with_status_0() -> None:
    session = registered()
    assert session.receive(b"@bob: bye\nDISCONNECT CHAT/1.1\n@bob: never shown\n") == [
        ShowIncoming((chat("bob", "bye"),)),
        Ended(EXIT_OK, "Disconnected from server ... exiting!"),
    ]
    assert SERVER_CLOSING == "Disconnected from server ... exiting!"
    assert session.receive(b"@bob: later\n") == []


def test_a_server_that_closes_without_a_word_is_a_lost_connection() -> None:
    session = registered()
    assert session.receive(b"@bob: last\n") == [ShowIncoming((chat("bob", "last"),))]
    assert session.receive(b"") == [
        Ended(EXIT_FAILURE, "Lost the connection: the server closed the connection.")
    ]


def test_a_line_longer_than_the_client_accepts_is_a_lost_connection() -> None:
    session = registered()
    (ended,) = session.receive(b"x" * (CLIENT_MAX_LINE_BYTES + 2))
    assert isinstance(ended, Ended) and ended.failed
    assert (
        ended.message
        == f"Lost the connection: the server sent a line longer than {CLIENT_MAX_LINE_BYTES} bytes."
    )


def test_a_read_or_write_error_is_a_lost_connection_in_the_oss_words() -> None:
    session = registered()
    assert session.connection_error("connection reset by peer") == [
        Ended(EXIT_FAILURE, "Lost the connection to the server: connection reset by peer.")
    ]
    assert session.connection_error("broken pipe") == [], "a session ends once"


def test_a_failure_only_the_io_layer_knows_ends_the_session_in_its_words() -> None:
    session = Session("alice")
    assert session.fail("Cannot connect to localhost:1: connection refused.") == [
        Ended(EXIT_FAILURE, "Cannot connect to localhost:1: connection refused.")
    ]
    assert session.start() == []


# Typed lines -------------------------------------------------------------------------------------


def test_a_typed_line_is_sent_as_a_chat_line_and_shown_as_ones_own() -> None:
    assert registered(version=VERSION).type_line("hello ünïcödé") == [
        Send("@alice: hello ünïcödé\n".encode()),
        ShowSent("hello ünïcödé"),
    ]


def test_double_bang_is_sent_as_typed_and_shown_with_one_bang() -> None:
    assert registered().type_line("!!help") == [Send(b"@alice: !!help\n"), ShowSent("!help")]


def test_a_server_command_is_sent_and_not_shown_as_ones_own_line() -> None:
    assert registered().type_line("!join #dev") == [Send(b"@alice: !join #dev\n")]


@pytest.mark.parametrize("line", ["", "   ", "\t"])
def test_a_blank_line_does_nothing(line: str) -> None:
    assert registered().type_line(line) == []


def test_commands_are_never_sent() -> None:
    session = registered()
    assert session.type_line("!help") == [ShowNotice(HELP_TEXT)]
    assert session.type_line("!clear") == [ClearScreen()]
    assert session.type_line("!exit") == [LeaveRequested()]
    assert session.state is SessionState.CHATTING, "!exit asks the interface to leave; it has not left yet"


def test_an_interface_can_add_its_own_keys_to_the_help() -> None:
    session = Session("alice", help_text=HELP_TEXT + "\nF1 does nothing")
    assert session.type_line("!help") == [ShowNotice(HELP_TEXT + "\nF1 does nothing")]


@pytest.mark.parametrize(
    ("line", "words"),
    [("esc \x1b[31m red", "control characters")],
)
def test_control_characters_are_local_errors(line: str, words: str) -> None:
    (effect,) = registered().type_line(line)
    assert isinstance(effect, ShowNotice) and effect.kind is NoticeKind.ERROR
    assert words in effect.text


def test_a_line_typed_before_registration_is_not_sent() -> None:
    session = Session("alice")
    session.start()
    assert session.type_line("too early") == [
        ShowNotice("Not sent: not registered with the server yet.", NoticeKind.ERROR)
    ]
    assert session.type_line("!help") == [ShowNotice(HELP_TEXT)], "commands work at any time"


def test_the_longest_line_the_protocol_allows_is_sent_and_one_byte_more_is_not() -> None:
    session = registered()
    longest = "x" * (MAX_LINE_BYTES - len(PREFIX))
    assert session.type_line(longest) == [Send(PREFIX + longest.encode() + b"\n"), ShowSent(longest)]
    assert session.type_line(longest + "é") == [
        ShowNotice(
            f"Not sent: the line is longer than the protocol's {MAX_LINE_BYTES} bytes.", NoticeKind.ERROR
        )
    ]


def test_a_line_that_would_overfill_the_send_queue_is_not_sent() -> None:
    session = registered()
    data = b"@alice: hi\n"
    assert session.type_line("hi", queued=CLIENT_SENDQ_MAX_BYTES - len(data)) == [Send(data), ShowSent("hi")]
    assert session.type_line("hi", queued=CLIENT_SENDQ_MAX_BYTES - len(data) + 1) == [
        ShowNotice("Not sent: the server is not reading what we send.", NoticeKind.ERROR)
    ]


def test_there_is_room_while_a_line_of_any_allowed_length_still_fits() -> None:
    session = registered()
    last = CLIENT_SENDQ_MAX_BYTES - MAX_LINE_BYTES - 1
    assert session.has_room(0) and session.has_room(last)
    assert not session.has_room(last + 1)
    longest = "x" * (MAX_LINE_BYTES - len(PREFIX))
    assert isinstance(session.type_line(longest, queued=last)[0], Send), "room means the line is sent"


# Leaving -------------------------------------------------------------------------------------------


def test_leaving_when_registered_says_disconnect_and_ends_with_status_0() -> None:
    session = registered()
    assert session.leave() == [Send(b"DISCONNECT alice CHAT/1.1\n"), Ended(EXIT_OK)]
    assert registered(version=VERSION).leave()[0] == Send(b"DISCONNECT alice CHAT/1.0\n")
    assert session.leave() == [Ended(EXIT_OK)], "DISCONNECT is said once"
    assert session.receive(b"@bob: too late\n") == []


def test_leaving_before_registration_sends_nothing() -> None:
    assert Session("alice").leave() == [Ended(EXIT_OK)]
    session = Session("alice")
    session.start()
    assert session.leave() == [Ended(EXIT_OK)]


def test_leaving_after_the_connection_failed_keeps_the_failure() -> None:
    session = registered()
    lost = session.receive(b"")
    assert session.leave() == lost
    assert lost[0] == Ended(EXIT_FAILURE, "Lost the connection: the server closed the connection.")


# Whatever the server sends ------------------------------------------------------------------------


EVENTISH = st.lists(
    st.sampled_from(
        [
            b"200 ok\n",
            b"400 Invalid registration\n",
            b"MSG #dev bob hi\n",
            b"JOINED #dev alice\n",
            b"LEFT #dev alice\n",
            b"MEMBERS #dev bob\n",
            b"MEMBERS-END #dev 1 on\n",
            b"210 You are now in #dev (1 member).\n",
            b"DISCONNECT CHAT/1.1\n",
            b"\xff\n",
            b"@bob: x\n",
        ]
    )
    | st.binary(max_size=64),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(EVENTISH, st.sampled_from([VERSION, VERSION_1_1]))
def test_any_bytes_from_the_server_give_effects_and_exactly_one_end(
    chunks: list[bytes], version: bytes
) -> None:
    session = Session("alice", version=version)
    effects: list[Effect] = []
    sent = session.start()
    for chunk in chunks:
        effects += session.receive(chunk)
        if Reconnect() in effects[-2:]:  # a new connection: the rest of the bytes come on it
            sent += session.start()
    effects += session.receive(b"")
    ends = [effect for effect in effects if isinstance(effect, Ended)]
    assert len(ends) == 1 and effects[-1] == ends[0] == session.outcome
    assert session.state is SessionState.ENDED
    assert all(not isinstance(effect, Send) for effect in effects), "the server never makes us send"
    assert effects.count(Reconnect()) <= (version == VERSION_1_1), "one fallback at most, and only from 1.1"
    assert sent[-1:] == [Send(f"REGISTER alice {session.version.decode()}\n".encode())]


@pytest.mark.parametrize("version", [VERSION, VERSION_1_1], ids=["CHAT/1.0", "CHAT/1.1"])
def test_the_servers_word_that_we_are_in_a_room_changes_the_room_after_the_reply_is_shown(
    version: bytes,
) -> None:
    session = registered(version=version)
    effects = session.receive(b"@bob: before\n210 You are now in #Dev (2 members).\n@bob: after\n")
    assert effects == [
        ShowIncoming((chat("bob", "before"), as_is("210 You are now in #Dev (2 members)."))),
        InRoom("#Dev"),
        ShowIncoming((chat("bob", "after"),)),
        RoomsChanged(),
    ]
    assert session.roster.room_names() == ["#Dev"]
    assert room(session, "#dev").size == 2


@pytest.mark.parametrize(
    "line",
    [
        "210 You are now in dev (1 member).",
        "@bob: 210 You are now in #x",
        "210 in #x",
        "211 You are now in #x",
    ],
)
def test_lines_that_only_look_like_a_room_change_change_nothing(line: str) -> None:
    effects = registered(version=VERSION).receive(line.encode() + b"\n")
    assert shown_lines(effects) == [line.removeprefix("@bob: ")]
    assert not [effect for effect in effects if isinstance(effect, InRoom | RoomsChanged)]


# CHAT/1.1 ------------------------------------------------------------------------------------------

ENTERED_LOBBY = (
    b"200 Registration successful\n"
    b"JOINED #lobby alice\n"
    b"MEMBERS #lobby alice bob\n"
    b"MEMBERS-END #lobby 2 on\n"
    b"HISTORY #lobby 2026-11-30T08:01:10Z bob good morning\n"
    b"HISTORY-END #lobby 1\n"
)
ENTERED_DEV = (
    b"210 You are now in #dev (2 members).\n"
    b"JOINED #dev alice\n"
    b"MEMBERS #dev alice carol\n"
    b"MEMBERS-END #dev 2 on\n"
    b"TOPIC #dev release on Friday\n"
    b"HISTORY-END #dev 0\n"
)


def in_lobby() -> Session:
    session = Session("alice")
    session.start()
    session.receive(ENTERED_LOBBY)
    return session


def in_lobby_and_dev() -> Session:
    session = in_lobby()
    session.receive(ENTERED_DEV)
    return session


def test_entering_the_lobby_makes_it_the_room_with_its_members_and_replays_its_history() -> None:
    session = Session("alice")
    session.start()
    effects = session.receive(ENTERED_LOBBY)
    assert effects[:2] == [Ready(GREETING), InRoom("#lobby")]
    (history,) = shown(effects)
    assert (history.kind, history.sender, history.text, history.room) == (
        ShownKind.HISTORY,
        "bob",
        "good morning",
        "#lobby",
    )
    assert history.time is not None and history.time.isoformat() == "2026-11-30T08:01:10+00:00"
    assert effects[-1] == RoomsChanged()
    roster = session.roster
    assert roster.room_names() == ["#lobby"] and roster.current == "#lobby"
    assert room(session, "#LOBBY").member_names() == ["alice", "bob"]


def test_joining_a_second_room_keeps_the_first_and_makes_the_second_current() -> None:
    session = in_lobby()
    effects = session.receive(ENTERED_DEV)
    assert effects == [
        ShowIncoming((as_is("210 You are now in #dev (2 members)."),)),
        InRoom("#dev"),
        ShowIncoming((Shown(ShownKind.PRESENCE, "Topic of #dev: release on Friday", room="#dev"),)),
        RoomsChanged(),
    ], "one's own JOINED and the member list show nothing: the 210 said it"
    assert session.roster.room_names() == ["#lobby", "#dev"]
    assert room(session, "#dev").topic == "release on Friday"


def test_a_typed_line_names_the_room_it_is_for() -> None:
    session = in_lobby_and_dev()
    assert session.type_line("ship it") == [Send(b"@alice #dev: ship it\n"), ShowSent("ship it")]
    assert session.type_line("!!wow") == [Send(b"@alice #dev: !!wow\n"), ShowSent("!wow")]


def test_lines_typed_before_a_join_is_answered_go_where_the_server_will_have_moved_them() -> None:
    """`!join #dev` then `hello`, piped at once: hello is for #dev, which the prompt does not show yet."""
    session = in_lobby()
    assert session.type_line("!join #dev") == [Send(b"@alice: !join #dev\n")]
    assert session.type_line("hello") == [Send(b"@alice: hello\n"), ShowSent("hello")]  # the server's current
    session.receive(ENTERED_DEV)
    assert session.type_line("named again") == [Send(b"@alice #dev: named again\n"), ShowSent("named again")]


def test_a_refused_join_also_ends_the_wait() -> None:
    session = in_lobby()
    session.type_line("!join #dev")
    session.receive(b"429 There are 10000 rooms, the most this server allows; join one of them (!rooms).\n")
    assert session.type_line("still here") == [Send(b"@alice #lobby: still here\n"), ShowSent("still here")]


def test_commands_go_in_the_plain_form_about_the_current_room() -> None:
    assert in_lobby_and_dev().type_line("!topic soon") == [Send(b"@alice: !topic soon\n")]


def test_before_the_server_names_a_room_lines_go_in_the_plain_form() -> None:
    assert registered().type_line("hi") == [Send(b"@alice: hi\n"), ShowSent("hi")]


def test_a_line_too_long_with_its_room_goes_in_the_plain_form() -> None:
    session = in_lobby_and_dev()
    longest = "x" * (MAX_LINE_BYTES - len(PREFIX))
    assert session.type_line(longest) == [Send(PREFIX + longest.encode() + b"\n"), ShowSent(longest)]


def test_room_lines_private_lines_and_followed_lines_are_told_apart() -> None:
    session = in_lobby_and_dev()
    effects = session.receive(
        b"MSG #lobby bob hi all\nMSG #dev carol ship it\n"
        b"PRIVATE bob psst\nFOLLOWED #ops dave deploy #release\n"
    )
    assert shown(effects) == [
        chat("bob", "hi all", "#lobby"),
        chat("carol", "ship it", "#dev"),
        Shown(ShownKind.PRIVATE, "psst", "bob"),
        Shown(ShownKind.FOLLOWED, "deploy #release", "dave", "#ops"),
    ]


def test_chat_1_0s_private_and_followed_forms_are_told_apart_too() -> None:
    effects = registered(version=VERSION).receive(b"@bob (private): psst\n@dave (#ops): deploy\n")
    assert shown(effects) == [
        Shown(ShownKind.PRIVATE, "psst", "bob"),
        Shown(ShownKind.FOLLOWED, "deploy", "dave", "#ops"),
    ]


def test_joins_and_leaves_of_others_are_shown_and_kept_in_the_member_list() -> None:
    session = in_lobby_and_dev()
    effects = session.receive(b"JOINED #dev bob dave\nLEFT #dev carol\n")
    assert shown(effects) == [
        Shown(ShownKind.PRESENCE, "bob, dave joined #dev", room="#dev"),
        Shown(ShownKind.PRESENCE, "carol left #dev", room="#dev"),
    ]
    assert effects[-1] == RoomsChanged()
    assert room(session, "#dev").member_names() == ["alice", "bob", "dave"]


def test_in_a_room_too_big_for_presence_only_the_count_is_kept() -> None:
    session = in_lobby()
    session.receive(b"210 You are now in #big (500 members).\nJOINED #big alice\nMEMBERS-END #big 500 off\n")
    big = session.roster.room("#big")
    assert big is not None and not big.presence and big.members == {} and big.size == 500


def test_leaving_a_room_drops_it_and_the_server_names_the_current_one() -> None:
    session = in_lobby_and_dev()
    effects = session.receive(b"210 You are now in #lobby (2 members).\nLEFT #dev alice\n")
    assert effects == [
        ShowIncoming((as_is("210 You are now in #lobby (2 members)."),)),
        InRoom("#lobby"),
        RoomsChanged(),
    ]
    assert session.roster.room_names() == ["#lobby"]


def test_an_event_verb_the_client_does_not_know_is_shown_as_it_is() -> None:
    effects = in_lobby().receive(b"WAVE #lobby bob\nMSG broken\n")
    assert shown(effects) == [as_is("WAVE #lobby bob"), as_is("MSG broken")]
    assert [line.kind for line in shown(effects)] == [ShownKind.OTHER, ShownKind.OTHER]


def test_a_chat_1_0_session_reads_no_events() -> None:
    effects = registered(version=VERSION).receive(b"MSG #dev bob hi\nJOINED #dev bob\n")
    assert shown_lines(effects) == ["MSG #dev bob hi", "JOINED #dev bob"]
    assert not [effect for effect in effects if isinstance(effect, RoomsChanged)]


# Falling back to CHAT/1.0 ---------------------------------------------------------------------------


def test_a_server_that_refuses_chat_1_1_gets_a_new_connection_with_chat_1_0() -> None:
    session = Session("alice")
    session.start()
    assert session.receive(b"400 Invalid registration\n") == [ShowNotice(FALLBACK), Reconnect()]
    assert session.state is SessionState.STARTING and session.outcome is None
    assert session.start() == [Send(b"REGISTER alice CHAT/1.0\n")]
    assert session.receive(b"200 Registration successful\n") == [Ready(GREETING)]
    assert session.version == VERSION
    assert session.type_line("hi") == [Send(b"@alice: hi\n"), ShowSent("hi")]
    assert session.leave()[0] == Send(b"DISCONNECT alice CHAT/1.0\n")


@pytest.mark.parametrize(
    ("version", "first", "reply"),
    [
        (VERSION_1_1, b"400 Invalid registration\n", b"400 Invalid registration"),
        (VERSION, b"", b"400 Invalid registration"),
        (VERSION_1_1, b"", b"401 Client already registered"),
    ],
    ids=["a-second-400", "chat-1.0-never-falls-back", "other-refusals-of-chat-1.1"],
)
def test_refusals_that_are_not_a_chat_1_0_server_end_the_session(
    version: bytes, first: bytes, reply: bytes
) -> None:
    session = Session("alice", version=version)
    session.start()
    if first:  # the fallback happened: this is the new connection's answer
        session.receive(first)
        session.start()
    assert session.receive(reply + b"\n") == [Ended(EXIT_FAILURE, f"Registration refused: {reply.decode()}")]


# Switching the room shown ------------------------------------------------------------------------


def test_switching_rooms_sends_join_and_its_reply_is_not_shown() -> None:
    session = in_lobby_and_dev()
    assert session.switch_to("#LOBBY") == [Send(b"@alice: !join #lobby\n"), InRoom("#lobby"), RoomsChanged()]
    assert session.type_line("back here") == [Send(b"@alice #lobby: back here\n"), ShowSent("back here")]
    assert session.receive(b"210 You are now in #lobby (2 members).\n") == []
    typed = session.type_line("!join #lobby")  # typed, it is answered on screen as usual
    assert typed == [Send(b"@alice: !join #lobby\n")]
    assert shown_lines(session.receive(b"409 You are in #lobby already.\n")) == [
        "409 You are in #lobby already."
    ]


def test_quick_switches_there_and_back_end_in_the_last_room() -> None:
    session = in_lobby_and_dev()
    session.switch_to("#lobby")
    session.switch_to("#dev")
    assert (
        session.receive(b"210 You are now in #lobby (2 members).\n210 You are now in #dev (2 members).\n")
        == []
    )
    assert session.roster.current == "#dev"


def test_switching_to_the_current_room_or_one_not_joined_does_nothing() -> None:
    session = in_lobby_and_dev()
    assert session.switch_to("#dev") == []
    assert session.switch_to("#ops") == []
    assert registered(version=VERSION).switch_to("#lobby") == []


# Words for Tab -------------------------------------------------------------------------------------


def test_tab_completes_rooms_and_names_the_session_has_seen() -> None:
    session = in_lobby_and_dev()
    session.receive(
        b"211-#design 3 members: mockups\n211 3 rooms.\n213-#lobby: alice bob zed\n213 3 users.\n"
    )
    session.receive(b"MSG #lobby dora hello\n")
    assert session.complete("!join ", "#d") == ["#design", "#dev"]
    assert session.complete("!msg ", "") == ["bob", "carol", "dora", "zed"], "not alice herself"
    assert session.complete("", "!fo") == ["!follow", "!follow?"]


def test_in_chat_1_0_the_answer_to_list_is_the_member_list_of_the_one_room() -> None:
    session = registered(version=VERSION)
    session.receive(b"210 You are now in #dev (3 members).\n")
    effects = session.receive(b"213-alice bob carol\n213 3 members in #dev.\n")
    assert effects[-1] == RoomsChanged()
    assert room(session, "#dev").member_names() == ["alice", "bob", "carol"]
    session.receive(b"213-#dev: alice bob\n213-#lobby: zed\n213 3 users in 2 rooms.\n")
    assert room(session, "#dev").member_names() == ["alice", "bob", "carol"], "!list all changes no list"
    assert session.complete("!msg ", "z") == ["zed"]


def test_a_server_cannot_grow_a_member_list_past_the_presence_limit() -> None:
    session = in_lobby()
    lines = [" ".join(f"user{line}x{i}" for i in range(20)) for line in range(50)]  # 1,000 names
    session.receive(b"".join(f"MEMBERS #lobby {names}\n".encode() for names in lines))
    session.receive(b"MEMBERS-END #lobby 1000 on\n")
    assert len(room(session, "#lobby").members) == PRESENCE_MAX_MEMBERS
