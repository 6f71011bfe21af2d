"""The client's session without any I/O: protocol bytes and typed lines in, effects out.

Every user interface (the line client, the line editor, the full screen) shows
what these effects say, so the wording, the commands and the exit statuses
are pinned here once; no sockets, no terminal, no event loop.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatroom.client.commands import HELP_TEXT
from chatroom.client.exitcodes import EXIT_FAILURE, EXIT_OK
from chatroom.client.session import (
    GREETING,
    SERVER_CLOSING,
    ClearScreen,
    Effect,
    Ended,
    InRoom,
    LeaveRequested,
    NoticeKind,
    Ready,
    Send,
    Session,
    SessionState,
    ShowIncoming,
    ShowNotice,
    ShowSent,
)
from chatroom.limits import CLIENT_MAX_LINE_BYTES, CLIENT_SENDQ_MAX_BYTES, MAX_LINE_BYTES

PREFIX = b"@alice: "


def registered(name: str = "alice") -> Session:
    session = Session(name)
    session.start()
    assert session.receive(b"200 Registration successful\n") == [Ready(GREETING)]
    return session


def shown_lines(effects: list[Effect]) -> list[str]:
    return [line for effect in effects if isinstance(effect, ShowIncoming) for line in effect.lines]


# Registering ---------------------------------------------------------------------------------


def test_starting_sends_register_once() -> None:
    session = Session("alice")
    states = [session.state]
    assert session.start() == [Send(b"REGISTER alice CHAT/1.0\n")]
    states.append(session.state)
    assert states == [SessionState.STARTING, SessionState.REGISTERING]
    assert session.start() == []


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
        ShowIncoming(("@bob: early", "@carol: bird")),
    ]


@pytest.mark.parametrize(
    "reply", [b"400 Invalid registration", b"401 Client already registered", b"500 Something else"]
)
def test_any_other_reply_refuses_registration_and_ends_with_failure(reply: bytes) -> None:
    session = Session("alice")
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
        ShowIncoming(("@bob: one", "403 Not your username"))
    ]
    assert session.receive(b"\n") == [ShowIncoming(("@bob: two",))]


def test_the_lines_shown_do_not_depend_on_how_the_bytes_were_split() -> None:
    data = "@bob: héllo\r\n@carol: 日本\n404 nope\n".encode()
    whole = shown_lines(registered().receive(data))
    session = registered()
    by_byte = [effect for i in range(len(data)) for effect in session.receive(data[i : i + 1])]
    assert whole == shown_lines(by_byte) == ["@bob: héllo", "@carol: 日本", "404 nope"]


def test_server_disconnect_shows_the_lines_before_it_and_ends_with_status_0() -> None:
    session = registered()
    assert session.receive(b"@bob: bye\nDISCONNECT CHAT/1.0\n@bob: never shown\n") == [
        ShowIncoming(("@bob: bye",)),
        Ended(EXIT_OK, "Disconnected from server ... exiting!"),
    ]
    assert SERVER_CLOSING == "Disconnected from server ... exiting!"
    assert session.receive(b"@bob: later\n") == []


def test_a_server_that_closes_without_a_word_is_a_lost_connection() -> None:
    session = registered()
    assert session.receive(b"@bob: last\n") == [ShowIncoming(("@bob: last",))]
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
    assert registered().type_line("hello ünïcödé") == [
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
    assert session.leave() == [Send(b"DISCONNECT alice CHAT/1.0\n"), Ended(EXIT_OK)]
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


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=12))
def test_any_bytes_from_the_server_give_effects_and_at_most_one_end(chunks: list[bytes]) -> None:
    session = Session("alice")
    session.start()
    effects = [effect for chunk in chunks for effect in session.receive(chunk)]
    effects += session.receive(b"")
    ends = [effect for effect in effects if isinstance(effect, Ended)]
    assert len(ends) == 1 and effects[-1] == ends[0] == session.outcome
    assert session.state is SessionState.ENDED
    assert all(not isinstance(effect, Send) for effect in effects), "the server never makes us send"


def test_the_servers_word_that_we_are_in_a_room_changes_the_room_after_the_reply_is_shown() -> None:
    session = registered()
    effects = session.receive(b"@bob: before\n210 You are now in #Dev (2 members).\n@bob: after\n")
    assert effects == [
        ShowIncoming(("@bob: before", "210 You are now in #Dev (2 members).")),
        InRoom("#Dev"),
        ShowIncoming(("@bob: after",)),
    ]


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
    effects = registered().receive(line.encode() + b"\n")
    assert effects == [ShowIncoming((line,))]
