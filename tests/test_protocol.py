"""The pure CHAT/1.0 core: framing, REGISTER parsing, usernames, and both connection state machines.

No sockets here: bytes go in, events and bytes come out. The property tests
feed the same stream whole, per byte and in random pieces, and fuzz the server
side with arbitrary bytes, where the only allowed failure is a Refusal event.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatroom.limits import CLIENT_MAX_LINE_BYTES, MAX_LINE_BYTES
from chatroom.protocol import (
    ALREADY_REGISTERED,
    INVALID_MESSAGE,
    INVALID_REGISTRATION,
    LINE_TOO_LONG,
    NOT_YOUR_NAME,
    REGISTERED,
    ChatMessage,
    ClientConnection,
    ClientEvent,
    ClientState,
    ConnectionLost,
    Incoming,
    LeaveRequest,
    LineFramer,
    LocalProtocolError,
    Refusal,
    Registered,
    RegisterRequest,
    RegistrationRefused,
    ServerClosing,
    ServerConnection,
    ServerEvent,
    ServerState,
    disconnect_line,
    is_clean_text,
    is_valid_username,
    parse_register,
    register_line,
    split_chat_line,
    username_key,
)


def feed_all(framer: LineFramer, chunks: Iterable[bytes]) -> list[bytes]:
    lines: list[bytes] = []
    for chunk in chunks:
        lines.extend(framer.feed(chunk))
    return lines


def per_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def registered_server(name: str = "alice", max_line: int = MAX_LINE_BYTES) -> ServerConnection:
    conn = ServerConnection(max_line)
    assert list(conn.receive(register_line(name))) == [RegisterRequest(name)]
    conn.accept(name)
    return conn


def registered_client(name: str = "alice") -> ClientConnection:
    conn = ClientConnection(name)
    conn.register()
    assert list(conn.receive(REGISTERED)) == [Registered("200 Registration successful")]
    return conn


# -- framing ------------------------------------------------------------------------------


def test_framer_splits_lf_terminated_lines_and_keeps_the_unfinished_tail() -> None:
    framer = LineFramer()
    assert framer.feed(b"one\ntwo\nthr") == [b"one", b"two"]
    assert framer.pending == 3
    assert framer.feed(b"ee\n") == [b"three"]
    assert framer.pending == 0


def test_framer_drops_a_cr_right_before_the_lf_and_keeps_any_other_cr() -> None:
    framer = LineFramer()
    assert framer.feed(b"crlf\r\na\rb\n\r\r\nend\r") == [b"crlf", b"a\rb", b"\r"]
    assert framer.feed(b"\n") == [b"end"]


def test_framer_yields_empty_lines() -> None:
    assert LineFramer().feed(b"\n\r\n\n") == [b"", b"", b""]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_framer_accepts_a_line_of_exactly_the_limit(ending: bytes) -> None:
    line = b"x" * MAX_LINE_BYTES
    for chunks in ([line + ending], per_byte(line + ending)):
        framer = LineFramer()
        assert feed_all(framer, chunks) == [line]
        assert not framer.overflowed


@pytest.mark.parametrize("feeding", ["whole", "per byte"])
def test_framer_overflows_on_a_line_one_byte_over_the_limit(feeding: str) -> None:
    data = b"before\n" + b"x" * (MAX_LINE_BYTES + 1) + b"\nafter\n"
    framer = LineFramer()
    lines = feed_all(framer, [data] if feeding == "whole" else per_byte(data))
    assert lines == [b"before"]
    assert framer.overflowed


def test_framer_overflows_on_an_unfinished_line_past_the_limit_and_then_takes_no_input() -> None:
    framer = LineFramer(max_line=8)
    assert framer.feed(b"123456789") == []  # 9 bytes: may still be 8 and a CR
    assert not framer.overflowed
    assert framer.feed(b"0") == []
    assert framer.overflowed
    assert framer.pending == 0
    assert framer.feed(b"\nfine\n") == []


line_without_lf = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b""))


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.tuples(line_without_lf, st.booleans()), max_size=20),
    tail=st.binary(max_size=10).map(lambda b: b.replace(b"\n", b"")),
    data=st.data(),
)
def test_framer_yields_the_same_lines_fed_whole_per_byte_or_in_random_pieces(
    lines: list[tuple[bytes, bool]], tail: bytes, data: st.DataObject
) -> None:
    stream = b"".join(line + (b"\r\n" if crlf else b"\n") for line, crlf in lines) + tail
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10), label="cuts"))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    # The framer strips one CR before the LF: "x" + CRLF and "x\r" + LF both frame as "x".
    expected = [line if crlf else line.removesuffix(b"\r") for line, crlf in lines]
    for chunks in ([stream], per_byte(stream), pieces):
        framer = LineFramer()
        assert feed_all(framer, chunks) == expected
        assert framer.pending == len(tail)


@settings(max_examples=300, deadline=None)
@given(stream=st.binary(max_size=120).map(lambda b: b.replace(b"a", b"\n")), data=st.data())
def test_framer_overflows_at_the_same_line_however_the_stream_is_split(
    stream: bytes, data: st.DataObject
) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10), label="cuts"))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    outcomes = set()
    for chunks in ([stream], per_byte(stream), pieces):
        framer = LineFramer(max_line=8)
        lines = feed_all(framer, chunks)
        assert all(len(line) <= 8 for line in lines)
        outcomes.add((tuple(lines), framer.overflowed))
    assert len(outcomes) == 1, outcomes


# -- REGISTER and usernames ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["alice", "x", "a" * 32, "Zoë", "日本語", "🎉" * 32, "al@ice", "bob_42", "o'neil", "a#b!c"],
)
def test_register_line_with_a_valid_username_is_parsed(name: str) -> None:
    assert parse_register(b"REGISTER " + name.encode() + b" CHAT/1.0") == name


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"REGISTER",
        b"REGISTER alice",
        b"REGISTER alice CHAT/1.1",
        b"REGISTER alice chat/1.0",
        b"register alice CHAT/1.0",
        b"CONNECT alice CHAT/1.0",
        b"DISCONNECT alice CHAT/1.0",
        b"REGISTER  alice CHAT/1.0",
        b" REGISTER alice CHAT/1.0",
        b"REGISTER alice CHAT/1.0 ",
        b"REGISTER alice CHAT/1.0 extra",
        b"REGISTER al ice CHAT/1.0",
        b"REGISTER alice\tCHAT/1.0",
        b"REGISTER \xff\xfe CHAT/1.0",
        b"REGISTER al\x00ice CHAT/1.0",
        b"REGISTER @alice CHAT/1.0",
        b"REGISTER #alice CHAT/1.0",
        b"REGISTER !alice CHAT/1.0",
        b"REGISTER " + b"a" * 33 + b" CHAT/1.0",
        b"REGISTER al\tice CHAT/1.0",
        "REGISTER al\u00a0ice CHAT/1.0".encode(),  # no-break space
        "REGISTER al\u200bice CHAT/1.0".encode(),  # zero-width space (format character)
        "REGISTER al\u0085ice CHAT/1.0".encode(),  # C1 control
    ],
)
def test_malformed_register_line_is_rejected(line: bytes) -> None:
    assert parse_register(line) is None


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("a", True),
        ("a" * 32, True),
        ("a" * 33, False),
        ("é" * 32, True),  # 32 characters even though 64 bytes
        ("", False),
        ("@bob", False),
        ("#room", False),
        ("!cmd", False),
        ("b@b", True),
        ("tab\t", False),
        ("new\nline", False),
        ("esc\x1b", False),
        ("del\x7f", False),
        ("\u2028", False),  # line separator
        ("\u3000wide", False),  # ideographic space
        ("\ue000", False),  # private use
    ],
)
def test_username_rules(name: str, valid: bool) -> None:
    assert is_valid_username(name) is valid


@settings(max_examples=300, deadline=None)
@given(name=st.text(min_size=1, max_size=32))
def test_register_parses_back_any_name_exactly_when_the_name_is_valid(name: str) -> None:
    parsed = parse_register(register_line(name).removesuffix(b"\n"))
    assert parsed == (name if is_valid_username(name) else None)


@settings(max_examples=200, deadline=None)
@given(name=st.text(min_size=1, max_size=32).filter(is_valid_username))
def test_register_line_round_trips_every_valid_name(name: str) -> None:
    conn = ServerConnection()
    assert list(conn.receive(register_line(name))) == [RegisterRequest(name)]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Alice", "alice"),
        ("alice", "ALICE"),
        ("\uff21\uff2c\uff29\uff23\uff25", "alice"),  # fullwidth ALICE
        ("Straße", "STRASSE"),
        ("\ufb01sh", "fish"),  # the fi ligature
    ],
)
def test_names_that_fold_to_the_same_key_are_one_user(one: str, other: str) -> None:
    assert username_key(one) == username_key(other)


@pytest.mark.parametrize(("one", "other"), [("alice", "alicia"), ("bob", "bob2"), ("zoe", "zoë")])
def test_different_names_have_different_keys(one: str, other: str) -> None:
    assert username_key(one) != username_key(other)


# -- chat lines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "parts"),
    [
        ("@alice: hi", ("alice", "hi")),
        ("@alice: ", ("alice", "")),
        ("@alice: a: b", ("alice", "a: b")),
        ("@alice:  two spaces", ("alice", " two spaces")),
        ("@alice:hi", None),
        ("alice: hi", None),
        ("@: hi", None),
        ("@al ice: hi", None),
        ("", None),
    ],
)
def test_split_chat_line(line: str, parts: tuple[str, str] | None) -> None:
    assert split_chat_line(line) == parts


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        (b"plain", True),
        (b"tab\there", True),
        ("ünïcödé 🎉".encode(), True),
        ("no-break\u00a0space".encode(), True),
        (b"nul\x00", False),
        (b"bell\x07", False),
        (b"esc\x1b[2J", False),
        (b"cr\rinside", False),
        (b"del\x7f", False),
        ("c1\u0085".encode(), False),
        ("c1\u009b".encode(), False),
        (b"bad \xff utf8", False),
        (b"truncated \xc3", False),
        (b"overlong \xc0\xaf", False),
    ],
)
def test_chat_text_is_clean_only_when_utf8_without_control_characters(text: bytes, clean: bool) -> None:
    assert is_clean_text(text) is clean


# -- the server side of a connection ---------------------------------------------------------


def state_of(conn: ServerConnection) -> ServerState:
    return conn.state


def test_register_asks_the_server_to_decide_and_accept_returns_200() -> None:
    conn = ServerConnection()
    assert state_of(conn) is ServerState.AWAITING_REGISTER
    assert list(conn.receive(b"REGISTER alice CHAT/1.0\r\n")) == [RegisterRequest("alice")]
    assert state_of(conn) is ServerState.DECIDING
    assert conn.accept("alice") == b"200 Registration successful\n"
    assert state_of(conn) is ServerState.REGISTERED
    assert conn.name == "alice"


def test_taken_name_is_refused_with_401_and_the_connection_is_over() -> None:
    conn = ServerConnection()
    list(conn.receive(b"REGISTER alice CHAT/1.0\n"))
    assert conn.refuse_taken() == b"401 Client already registered\n"
    assert conn.state is ServerState.CLOSED


@pytest.mark.parametrize("line", [b"", b"hello", b"REGISTER alice CHAT/2.0", b"REGISTER \xff CHAT/1.0"])
def test_malformed_first_line_is_a_fatal_400_invalid_registration(line: bytes) -> None:
    conn = ServerConnection()
    assert list(conn.receive(line + b"\nREGISTER alice CHAT/1.0\n")) == [
        Refusal(INVALID_REGISTRATION, True, "invalid registration")
    ]
    assert conn.state is ServerState.CLOSED


def test_lines_pipelined_after_register_are_judged_after_the_decision_to_accept() -> None:
    conn = ServerConnection()
    events = conn.receive(b"REGISTER alice CHAT/1.0\n@alice: one\n@alice: two\n")
    assert next(events) == RegisterRequest("alice")
    conn.accept("alice")
    assert list(events) == [ChatMessage(b"@alice: one"), ChatMessage(b"@alice: two")]


def test_lines_pipelined_after_a_refused_register_are_never_judged() -> None:
    conn = ServerConnection()
    events = conn.receive(b"REGISTER alice CHAT/1.0\n@alice: one\n")
    assert next(events) == RegisterRequest("alice")
    conn.refuse_taken()
    assert list(events) == []
    assert conn.state is ServerState.CLOSED


def test_own_chat_line_is_a_chat_message_with_its_exact_bytes() -> None:
    conn = registered_server()
    text = "@alice: hi\tthere  ünï 🎉 ".encode()
    assert list(conn.receive(text + b"\r\n@alice: \n")) == [ChatMessage(text), ChatMessage(b"@alice: ")]


@pytest.mark.parametrize("feeding", ["whole", "per character", "per byte"])
def test_a_chat_line_gives_the_same_event_fed_whole_per_character_or_per_byte(feeding: str) -> None:
    text = "@alice: ünïcödé, 日本語 and 🎉\r\n"
    if feeding == "whole":
        chunks = [text.encode()]
    elif feeding == "per character":
        chunks = [ch.encode() for ch in text]
    else:
        chunks = per_byte(text.encode())
    conn = registered_server()
    events = [event for chunk in chunks for event in conn.receive(chunk)]
    assert events == [ChatMessage("@alice: ünïcödé, 日本語 and 🎉".encode())]


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"@bob: I am bob now", NOT_YOUR_NAME),
        (b"@Alice: same name, other spelling", NOT_YOUR_NAME),
        (b"DISCONNECT bob CHAT/1.0", NOT_YOUR_NAME),
        (b"hello", INVALID_MESSAGE),
        (b"", INVALID_MESSAGE),
        (b"REGISTER alice CHAT/1.0", INVALID_MESSAGE),
        (b"@alice: esc \x1b[2J", INVALID_MESSAGE),
        (b"@alice: nul \x00", INVALID_MESSAGE),
        (b"@alice: del \x7f", INVALID_MESSAGE),
        ("@alice: c1 \u0085".encode(), INVALID_MESSAGE),
        (b"@alice: bad \xff\xfe", INVALID_MESSAGE),
    ],
)
def test_a_line_that_is_not_an_own_clean_chat_line_is_refused_and_the_connection_stays_open(
    line: bytes, reply: bytes
) -> None:
    conn = registered_server()
    [refusal] = conn.receive(line + b"\n")
    assert isinstance(refusal, Refusal)
    assert (refusal.reply, refusal.fatal) == (reply, False)
    assert conn.state is ServerState.REGISTERED
    assert list(conn.receive(b"@alice: still here\n")) == [ChatMessage(b"@alice: still here")]


def test_own_disconnect_is_a_leave_request_and_nothing_after_it_is_read() -> None:
    conn = registered_server()
    assert list(conn.receive(b"@alice: bye\nDISCONNECT alice CHAT/1.0\r\n@alice: ghost\n")) == [
        ChatMessage(b"@alice: bye"),
        LeaveRequest(),
    ]
    assert conn.state is ServerState.CLOSED


def test_input_after_the_connection_closed_is_a_local_error() -> None:
    conn = registered_server()
    list(conn.receive(b"DISCONNECT alice CHAT/1.0\n"))
    with pytest.raises(LocalProtocolError):
        list(conn.receive(b"@alice: too late\n"))


def test_deciding_twice_is_a_local_error() -> None:
    conn = registered_server()
    with pytest.raises(LocalProtocolError):
        conn.accept("alice")
    with pytest.raises(LocalProtocolError):
        conn.refuse_taken()


def test_a_line_over_the_limit_before_registration_is_a_fatal_400() -> None:
    conn = ServerConnection(max_line=16)
    assert list(conn.receive(b"REGISTER " + b"a" * 20 + b"\n")) == [
        Refusal(INVALID_REGISTRATION, True, "line longer than 16 bytes")
    ]
    assert conn.state is ServerState.CLOSED


def test_a_line_over_the_limit_after_registration_is_a_fatal_413_after_the_lines_before_it() -> None:
    conn = registered_server(max_line=32)
    events = list(conn.receive(b"@alice: ok\n@alice: " + b"x" * 25 + b"\n@alice: lost\n"))
    assert events == [ChatMessage(b"@alice: ok"), Refusal(LINE_TOO_LONG, True, "line longer than 32 bytes")]
    assert conn.state is ServerState.CLOSED


def test_an_unfinished_line_over_the_limit_is_refused_before_its_lf_arrives() -> None:
    conn = registered_server(max_line=32)
    assert list(conn.receive(b"@alice: " + b"x" * 25)) == []  # 33 bytes: may still be 32 and a CR
    [refusal] = conn.receive(b"x")
    assert refusal == Refusal(LINE_TOO_LONG, True, "line longer than 32 bytes")


chunk_strategy = st.one_of(
    st.binary(max_size=30),
    st.sampled_from(
        [
            b"REGISTER alice CHAT/1.0\n",
            b"REGISTER alice CHAT/1.0\r\n",
            b"@alice: hi\n",
            b"@alice: ",
            b"@bob: hi\n",
            b"DISCONNECT alice CHAT/1.0\n",
            b"DISCONNECT bob CHAT/1.0\n",
            b"\n",
            b"\r\n",
            b"\xff\xfe",
            b"\x00\x1b\x7f\xc2\x85",
            b"x" * 40,
        ]
    ),
)


@settings(max_examples=500, deadline=None)
@given(chunks=st.lists(chunk_strategy, max_size=12), name_taken=st.booleans())
def test_any_bytes_from_a_peer_yield_only_protocol_events_never_an_exception(
    chunks: list[bytes], name_taken: bool
) -> None:
    max_line = 32
    conn = ServerConnection(max_line)
    replies = {INVALID_REGISTRATION, INVALID_MESSAGE, NOT_YOUR_NAME, LINE_TOO_LONG}
    for chunk in chunks:
        if conn.state is ServerState.CLOSED:
            break  # the server stops reading a connection once it is over
        for event in conn.receive(chunk):
            assert isinstance(event, (RegisterRequest, ChatMessage, LeaveRequest, Refusal))
            check_server_event(conn, event, replies, max_line)
            if isinstance(event, RegisterRequest):
                assert is_valid_username(event.name)
                if name_taken:
                    assert conn.refuse_taken() == ALREADY_REGISTERED
                else:
                    assert conn.accept(event.name) == REGISTERED


def check_server_event(
    conn: ServerConnection, event: ServerEvent, replies: set[bytes], max_line: int
) -> None:
    if isinstance(event, ChatMessage):
        assert conn.state is ServerState.REGISTERED
        assert event.line.startswith(b"@alice: ")
        assert is_clean_text(event.line)
        assert len(event.line) <= max_line
    elif isinstance(event, Refusal):
        assert event.reply in replies
        assert event.fatal is (conn.state is ServerState.CLOSED)
    elif isinstance(event, LeaveRequest):
        assert conn.state is ServerState.CLOSED


# -- the client side ----------------------------------------------------------------------


def test_client_registers_with_the_exact_register_line() -> None:
    conn = ClientConnection("alice")
    assert conn.register() == b"REGISTER alice CHAT/1.0\n"
    assert conn.state is ClientState.AWAITING_REPLY
    with pytest.raises(LocalProtocolError):
        conn.register()


def test_client_refuses_an_invalid_own_username() -> None:
    with pytest.raises(LocalProtocolError):
        ClientConnection("@alice")


def test_client_cannot_chat_before_registration_succeeded() -> None:
    conn = ClientConnection("alice")
    conn.register()
    with pytest.raises(LocalProtocolError):
        conn.chat("too early")


def test_registered_client_chats_with_its_own_prefix_and_a_single_line() -> None:
    conn = registered_client()
    assert conn.state is ClientState.REGISTERED
    assert conn.chat("hello ünï") == "@alice: hello ünï\n".encode()
    for text in ("two\nlines", "carriage\rreturn"):
        with pytest.raises(LocalProtocolError):
            conn.chat(text)


def test_client_disconnect_line_names_the_user() -> None:
    conn = registered_client()
    assert conn.disconnect() == b"DISCONNECT alice CHAT/1.0\n" == disconnect_line("alice")
    assert conn.state is ClientState.CLOSED


@pytest.mark.parametrize(
    "reply",
    [
        "400 Invalid registration",
        "401 Client already registered",
        "408 Registration timeout",
        "2000 lookalike",
        "hi",
        "",
    ],
)
def test_client_treats_any_reply_but_200_as_a_refusal(reply: str) -> None:
    conn = ClientConnection("alice")
    conn.register()
    assert list(conn.receive(reply.encode() + b"\n@bob: not for you\n")) == [RegistrationRefused(reply)]
    assert conn.state is ClientState.CLOSED
    assert list(conn.receive(b"more\n")) == []


def test_client_reads_lines_pipelined_after_the_200() -> None:
    conn = ClientConnection("alice")
    conn.register()
    assert list(conn.receive(b"200 Registration successful\r\n@bob: hi\n403 Not your username\n")) == [
        Registered("200 Registration successful"),
        Incoming("@bob: hi"),
        Incoming("403 Not your username"),
    ]


def test_server_disconnect_ends_the_session_and_later_lines_are_ignored() -> None:
    conn = registered_client()
    assert list(conn.receive(b"@bob: last\nDISCONNECT CHAT/1.0\n@bob: after\n")) == [
        Incoming("@bob: last"),
        ServerClosing(),
    ]
    assert conn.state is ClientState.CLOSED


def test_end_of_stream_is_a_lost_connection() -> None:
    conn = registered_client()
    [event] = conn.receive(b"")
    assert isinstance(event, ConnectionLost)
    assert conn.state is ClientState.CLOSED


def test_a_line_from_the_server_over_the_client_limit_is_a_lost_connection() -> None:
    conn = registered_client()
    events = list(conn.receive(b"@bob: ok\n" + b"x" * (CLIENT_MAX_LINE_BYTES + 2)))
    assert events[0] == Incoming("@bob: ok")
    assert isinstance(events[1], ConnectionLost)


def test_invalid_utf8_from_the_server_is_shown_with_replacement_characters() -> None:
    conn = registered_client()
    assert list(conn.receive(b"@bob: \xff\xfe\n")) == [Incoming("@bob: \ufffd\ufffd")]


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=40), max_size=10))
def test_any_bytes_from_a_server_yield_only_client_events(chunks: list[bytes]) -> None:
    conn = ClientConnection("alice")
    conn.register()
    events: list[ClientEvent] = []
    for chunk in [*chunks, b""]:
        events.extend(conn.receive(chunk))
    allowed = (Registered, RegistrationRefused, Incoming, ServerClosing, ConnectionLost)
    assert all(isinstance(event, allowed) for event in events)
    assert conn.state is ClientState.CLOSED  # every stream ends, one way or another


# -- a registration decided later -----------------------------------------------------------------


def test_lines_after_register_wait_while_the_decision_is_pending_and_nothing_raises() -> None:
    conn = ServerConnection()
    assert list(conn.receive(b"REGISTER alice CHAT/1.0\n@alice: one\n")) == [RegisterRequest("alice")]
    assert conn.paused
    assert list(conn.receive(b"@alice: two\nDISCONNECT alice CHAT/1.0\n")) == []  # held, not judged
    conn.accept("alice")
    assert not conn.paused
    assert list(conn.resume()) == [ChatMessage(b"@alice: one"), ChatMessage(b"@alice: two"), LeaveRequest()]


def test_lines_held_for_a_registration_refused_later_are_never_judged() -> None:
    conn = ServerConnection()
    list(conn.receive(b"REGISTER alice CHAT/1.0\n@alice: one\n"))
    list(conn.receive(b"@alice: two\n"))
    conn.refuse_taken()
    assert list(conn.resume()) == []


def test_a_line_over_the_limit_while_deciding_is_a_fatal_413_once_registered() -> None:
    conn = ServerConnection(max_line=32)
    list(conn.receive(b"REGISTER alice CHAT/1.0\n@alice: ok\n"))
    list(conn.receive(b"x" * 40))
    conn.accept("alice")
    assert list(conn.resume()) == [
        ChatMessage(b"@alice: ok"),
        Refusal(LINE_TOO_LONG, True, "line longer than 32 bytes"),
    ]


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(chunk_strategy, max_size=12), name_taken=st.booleans())
def test_any_bytes_with_a_decision_that_comes_later_yield_only_protocol_events(
    chunks: list[bytes], name_taken: bool
) -> None:
    max_line = 32
    conn = ServerConnection(max_line)
    replies = {INVALID_REGISTRATION, INVALID_MESSAGE, NOT_YOUR_NAME, LINE_TOO_LONG}
    undecided: str | None = None
    for chunk in chunks:
        if conn.state is ServerState.CLOSED:
            break
        events = list(conn.receive(chunk))
        if undecided is not None:  # the answer arrives after the next read
            assert events == []
            if name_taken:
                conn.refuse_taken()
            else:
                conn.accept(undecided)
            undecided = None
            events = list(conn.resume())
        for event in events:
            check_server_event(conn, event, replies, max_line)
            if isinstance(event, RegisterRequest):
                assert conn.paused
                undecided = event.name


@settings(max_examples=2000, deadline=None)
@given(line=st.one_of(st.binary(max_size=64), st.text(max_size=32).map(str.encode)))
def test_clean_text_means_utf8_without_control_characters_but_tab_for_any_bytes(line: bytes) -> None:
    """The ASCII fast path and the general path agree with the definition."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        expected = False
    else:
        expected = not any((ch < " " and ch != "\t") or "\x7f" <= ch <= "\x9f" for ch in text)
    assert is_clean_text(line) is expected


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"@alice: hi\n", b"@alice: hi"),
        (b"@alice: hi\r\n", b"@alice: hi"),
        (b"\n", b""),
        (b"a\rb\n", b"a\rb"),
    ],
)
def test_whole_line_is_the_line_of_a_read_that_is_exactly_one(data: bytes, line: bytes) -> None:
    framer = LineFramer()
    assert framer.whole_line(data) == line
    assert framer.feed(data) == [line], "whole_line takes nothing: feed still sees the read"


@pytest.mark.parametrize("data", [b"", b"hi", b"a\nb\n", b"a\nb", b"x" * MAX_LINE_BYTES + b"\n"])
def test_whole_line_is_none_unless_the_read_is_exactly_one_line_within_the_limit(data: bytes) -> None:
    assert LineFramer().whole_line(data) is None


def test_whole_line_is_none_while_part_of_a_line_is_held_or_after_an_overflow() -> None:
    framer = LineFramer(max_line=16)
    framer.feed(b"@ali")
    assert framer.whole_line(b"ce: hi\n") is None
    assert framer.feed(b"ce: hi\n") == [b"@alice: hi"]
    framer.feed(b"x" * 20)
    assert framer.overflowed and framer.whole_line(b"ok\n") is None


@given(held=st.binary(max_size=12), data=st.binary(max_size=24))
@settings(max_examples=300)
def test_whole_line_agrees_with_feed_whenever_it_answers(held: bytes, data: bytes) -> None:
    framer = LineFramer(max_line=16)
    framer.feed(held)
    line = framer.whole_line(data)
    if line is not None:
        assert framer.feed(data) == [line] and framer.pending == 0
