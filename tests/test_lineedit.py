"""chatroom.lineedit: keys decoded from raw terminal bytes, and the line editor they drive."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chatroom.client.completion import candidates, common_prefix
from chatroom.client.lineedit import (
    ClearRequested,
    Completions,
    Key,
    KeyDecoder,
    KeyEvent,
    LineEditor,
    Paste,
    QuitRequested,
    Refused,
    Submitted,
    SuspendRequested,
    Text,
    display_width,
    next_boundary,
    previous_boundary,
)
from chatroom.limits import MAX_PASTE_BYTES


def merged(events: list[KeyEvent]) -> list[KeyEvent]:
    """Adjacent Text events joined: reads may split typed text anywhere."""
    out: list[KeyEvent] = []
    for event in events:
        if isinstance(event, Text) and out and isinstance(out[-1], Text):
            out[-1] = Text(out[-1].text + event.text)
        else:
            out.append(event)
    return out


def decode(data: bytes) -> list[KeyEvent]:
    return merged(KeyDecoder().feed(data))


def decode_bytewise(data: bytes) -> list[KeyEvent]:
    decoder = KeyDecoder()
    events: list[KeyEvent] = []
    for byte in data:
        events += decoder.feed(bytes((byte,)))
    return merged(events)


def type_keys(editor: LineEditor, data: bytes) -> list[object]:
    outcomes: list[object] = []
    for event in KeyDecoder().feed(data):
        outcome = editor.handle(event)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


# KeyDecoder ---------------------------------------------------------------------------


def test_printable_ascii_is_one_text_event() -> None:
    assert KeyDecoder().feed(b"hello world") == [Text("hello world")]


def test_utf8_split_across_reads_is_decoded_whole() -> None:
    decoder = KeyDecoder()
    data = "é漢😀".encode()
    events: list[KeyEvent] = []
    for index in range(len(data)):
        events += decoder.feed(data[index : index + 1])
    assert merged(events) == [Text("é漢😀")]


def test_invalid_utf8_becomes_a_replacement_character_and_input_goes_on() -> None:
    assert decode(b"a\xffb") == [Text("a\ufffdb")]
    assert decode(b"a\xe6\r") == [Text("a\ufffd"), Key.ENTER]


def test_enter_is_cr_or_lf_and_backspace_is_del_or_bs() -> None:
    assert decode(b"\r\n\x7f\x08") == [Key.ENTER, Key.ENTER, Key.BACKSPACE, Key.BACKSPACE]


def test_control_keys() -> None:
    data = b"\x01\x05\x15\x0b\x17\x0c\x03\x04"
    assert decode(data) == [
        Key.CTRL_A,
        Key.CTRL_E,
        Key.CTRL_U,
        Key.CTRL_K,
        Key.CTRL_W,
        Key.CTRL_L,
        Key.CTRL_C,
        Key.CTRL_D,
    ]


def test_cursor_keys_in_csi_and_ss3_forms() -> None:
    assert decode(b"\x1b[A\x1b[B\x1b[C\x1b[D\x1b[H\x1b[F") == [
        Key.UP,
        Key.DOWN,
        Key.RIGHT,
        Key.LEFT,
        Key.HOME,
        Key.END,
    ]
    assert decode(b"\x1bOA\x1bOB\x1bOC\x1bOD\x1bOH\x1bOF") == [
        Key.UP,
        Key.DOWN,
        Key.RIGHT,
        Key.LEFT,
        Key.HOME,
        Key.END,
    ]


def test_home_end_delete_in_tilde_forms() -> None:
    assert decode(b"\x1b[1~\x1b[7~\x1b[4~\x1b[8~\x1b[3~") == [
        Key.HOME,
        Key.HOME,
        Key.END,
        Key.END,
        Key.DELETE,
    ]


def test_ctrl_arrows_move_by_word() -> None:
    assert decode(b"\x1b[1;5D\x1b[1;5C\x1b[1;3D") == [Key.WORD_LEFT, Key.WORD_RIGHT, Key.WORD_LEFT]


def test_unknown_sequences_are_dropped_and_typing_goes_on() -> None:
    assert decode(b"a\x1b[15~b\x1b[?1;2cc\x1b[200;5Xd\x1bOzE") == [Text("abcdE")]


def test_lone_escape_is_resolved_by_the_next_byte() -> None:
    decoder = KeyDecoder()
    assert decoder.feed(b"\x1b") == []
    assert decoder.feed(b"x") == [Key.ESCAPE, Text("x")]
    assert decode(b"\x1b\rhi") == [Key.ESCAPE, Key.ENTER, Text("hi")]


def test_a_broken_sequence_does_not_swallow_the_byte_that_broke_it() -> None:
    assert decode(b"\x1b[1;\rok") == [Key.ENTER, Text("ok")]
    assert decode(b"\x1b[\x1b[Dz") == [Key.LEFT, Text("z")]


def test_an_endless_parameter_run_stays_bounded_and_ends_at_its_final_byte() -> None:
    decoder = KeyDecoder()
    assert decoder.feed(b"\x1b[" + b"1;" * 10_000) == []
    assert decoder.feed(b"~ok") == [Text("ok")]


def test_bracketed_paste_is_one_event_with_newlines_kept() -> None:
    assert decode(b"x\x1b[200~one\r\ntwo\x1b[201~y") == [Text("x"), Paste("one\r\ntwo"), Text("y")]


def test_bracketed_paste_may_contain_escape_bytes_and_split_end_markers() -> None:
    data = b"\x1b[200~a\x1b[20b\x1b\x1b[201~"
    assert decode(data) == [Paste("a\x1b[20b\x1b")]
    assert decode_bytewise(data) == [Paste("a\x1b[20b\x1b")]


def test_a_huge_paste_is_cut_at_the_limit() -> None:
    events = decode(b"\x1b[200~" + b"z" * (MAX_PASTE_BYTES * 2) + b"\x1b[201~ok")
    assert events == [Paste("z" * MAX_PASTE_BYTES), Text("ok")]


key_bytes = st.sampled_from(
    [
        b"a",
        b"Z",
        b" ",
        "é".encode(),
        "漢".encode(),
        "😀".encode(),
        b"\xff",
        b"\r",
        b"\n",
        b"\x7f",
        b"\x08",
        b"\x01",
        b"\x03",
        b"\x04",
        b"\x05",
        b"\x0b",
        b"\x15",
        b"\x17",
        b"\x1b",
        b"\x1b[",
        b"\x1bO",
        b"[",
        b"O",
        b"~",
        b"1;5",
        b"\x1b[A",
        b"\x1b[D",
        b"\x1b[3~",
        b"\x1b[200~",
        b"\x1b[201~",
    ]
)


@given(st.lists(key_bytes, max_size=40), st.data())
def test_any_chunking_of_the_input_gives_the_same_keys(parts: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(parts)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(stream)), max_size=8)))
    decoder = KeyDecoder()
    events: list[KeyEvent] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        events += decoder.feed(stream[start:cut])
        start = cut
    assert merged(events) == decode(stream) == decode_bytewise(stream)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_and_only_printable_text_reaches_the_line(data: bytes) -> None:
    editor = LineEditor()
    type_keys(editor, data)
    assert editor.text == "" or editor.text.isprintable()


# display width ------------------------------------------------------------------------


def test_display_width_counts_wide_characters_twice_and_marks_not_at_all() -> None:
    assert display_width("abc") == 3
    assert display_width("漢字") == 4
    assert display_width("😀") == 2
    assert display_width("e\u0301") == 1
    assert display_width("ｶﾀｶﾅ") == 4  # halfwidth katakana: one column each
    assert display_width("\uff21\uff22") == 4  # fullwidth Latin A and B


def test_boundaries_keep_combining_marks_with_their_base() -> None:
    text = "ae\u0301\u0302b"
    assert next_boundary(text, 1) == 4
    assert previous_boundary(text, 4) == 1
    assert previous_boundary(text, 5) == 4


# LineEditor ---------------------------------------------------------------------------


def test_typing_and_enter_submits_the_line_and_empties_the_buffer() -> None:
    editor = LineEditor()
    assert type_keys(editor, b"hello\r") == [Submitted("hello")]
    assert (editor.text, editor.cursor) == ("", 0)


def test_empty_and_blank_lines_are_not_submitted() -> None:
    editor = LineEditor()
    assert type_keys(editor, b"\r   \r") == []
    assert editor.history == []


def test_insert_anywhere_with_arrows_home_and_end() -> None:
    editor = LineEditor()
    assert type_keys(editor, b"helo\x1b[Dl\x1b[Hsay \x1b[F!\r") == [Submitted("say hello!")]
    assert type_keys(editor, b"bc\x01a\x05d\r") == [Submitted("abcd")]


def test_backspace_and_delete() -> None:
    editor = LineEditor()
    type_keys(editor, b"abcd\x1b[D\x1b[D\x7f\x1b[3~")
    assert (editor.text, editor.cursor) == ("ad", 1)


def test_ctrl_u_and_ctrl_k_kill_to_the_start_and_to_the_end() -> None:
    editor = LineEditor()
    type_keys(editor, b"one two\x1b[D\x1b[D\x1b[D\x15")
    assert (editor.text, editor.cursor) == ("two", 0)
    type_keys(editor, b"\x1b[C\x0b")
    assert (editor.text, editor.cursor) == ("t", 1)


def test_ctrl_w_kills_the_previous_word_and_ctrl_y_brings_it_back() -> None:
    editor = LineEditor()
    type_keys(editor, b"say hello   \x17")
    assert (editor.text, editor.cursor) == ("say ", 4)
    type_keys(editor, b"\x01\x19")
    assert editor.text == "hello   say "


def test_word_movement() -> None:
    editor = LineEditor()
    type_keys(editor, b"one two three\x1b[1;5D\x1b[1;5D")
    assert editor.cursor == 4
    type_keys(editor, b"\x1b[1;5C")
    assert editor.cursor == 7


def test_up_and_down_walk_this_sessions_lines_and_keep_the_line_in_progress() -> None:
    editor = LineEditor()
    type_keys(editor, b"first\rsecond\rdraft")
    type_keys(editor, b"\x1b[A")
    assert editor.text == "second"
    type_keys(editor, b"\x1b[A\x1b[A")
    assert (editor.text, editor.cursor) == ("first", 5)
    type_keys(editor, b"\x1b[B\x1b[B")
    assert (editor.text, editor.cursor) == ("draft", 5)
    type_keys(editor, b"\x1b[B")
    assert editor.text == "draft"


def test_a_recalled_line_can_be_edited_and_sent() -> None:
    editor = LineEditor()
    type_keys(editor, b"hello\r")
    assert type_keys(editor, b"\x1b[A!\r") == [Submitted("hello!")]
    assert editor.history == ["hello", "hello!"]


def test_ctrl_d_quits_on_an_empty_line_and_deletes_otherwise() -> None:
    editor = LineEditor()
    type_keys(editor, b"ab\x01")
    assert type_keys(editor, b"\x04") == []
    assert editor.text == "b"
    type_keys(editor, b"\x04")
    assert type_keys(editor, b"\x04") == [QuitRequested()]


def test_ctrl_c_quits_and_ctrl_l_clears_keeping_the_line() -> None:
    editor = LineEditor()
    assert type_keys(editor, b"half\x0c") == [ClearRequested()]
    assert editor.text == "half"
    assert type_keys(editor, b"\x03") == [QuitRequested()]


def test_ctrl_z_asks_to_suspend_and_keeps_the_line() -> None:
    editor = LineEditor()
    assert decode(b"\x1a") == [Key.CTRL_Z]
    assert type_keys(editor, b"half\x1a") == [SuspendRequested()]
    assert (editor.text, editor.cursor) == ("half", 4)


def test_wide_characters_are_edited_as_one_character() -> None:
    editor = LineEditor()
    type_keys(editor, "漢字😀".encode() + b"\x1b[D\x1b[D\x7fx")
    assert (editor.text, editor.cursor) == ("x字😀", 1)


def test_combining_marks_move_and_delete_with_their_base() -> None:
    editor = LineEditor()
    type_keys(editor, "ae\u0301b".encode() + b"\x1b[D\x1b[D")
    assert editor.cursor == 1
    type_keys(editor, b"\x1b[3~")
    assert editor.text == "ab"


def test_a_paste_with_line_breaks_and_controls_becomes_one_clean_line() -> None:
    editor = LineEditor()
    editor.handle(Paste("one\r\ntwo\tthree\x1b[2J\x07"))
    assert editor.text == "one two three[2J"


def test_the_line_cannot_grow_past_max_bytes() -> None:
    editor = LineEditor(max_bytes=5)
    assert type_keys(editor, "abcd漢".encode()) == [Refused()]
    assert editor.text == "abcd"
    assert type_keys(editor, b"e") == []
    assert editor.text == "abcde"


def test_history_is_bounded() -> None:
    editor = LineEditor(history_lines=3)
    type_keys(editor, b"1\r2\r3\r4\r")
    assert editor.history == ["2", "3", "4"]


editor_keys = st.sampled_from(
    [
        b"a",
        b"b ",
        "漢".encode(),
        "😀".encode(),
        "\u0301".encode(),
        b"\r",
        b"\x7f",
        b"\x1b[3~",
        b"\x1b[D",
        b"\x1b[C",
        b"\x1b[A",
        b"\x1b[B",
        b"\x1b[H",
        b"\x1b[F",
        b"\x01",
        b"\x05",
        b"\x0b",
        b"\x15",
        b"\x17",
        b"\x19",
        b"\x04",
        b"\x1b[1;5D",
        b"\x1b[1;5C",
        b"\x1b[200~x\ny\x1b[201~",
    ]
)


@settings(max_examples=300)
@given(st.lists(editor_keys, max_size=60), st.one_of(st.none(), st.integers(0, 20)))
def test_editor_invariants_hold_after_any_keys(keys: list[bytes], max_bytes: int | None) -> None:
    editor = LineEditor(max_bytes=max_bytes)
    for key in keys:
        for outcome in type_keys(editor, key):
            if isinstance(outcome, Submitted):
                assert outcome.text.strip()
                assert editor.text == ""
        assert 0 <= editor.cursor <= len(editor.text)
        assert editor.text == "" or editor.text.isprintable()
        # The cursor is never between a character and its combining marks.
        assert editor.cursor in (0, len(editor.text)) or display_width(editor.text[editor.cursor]) > 0
        if max_bytes is not None:
            assert len(editor.text.encode()) <= max_bytes


# Tab completion -------------------------------------------------------------------------

ROOMS = ["#lobby", "#Dev", "#design", "#ops"]
NAMES = ["bob", "Bobby", "carol", "zoë"]


def complete(before: str, word: str) -> list[str]:
    return candidates(before, word, ROOMS, NAMES)


def editor_with(text: str, cursor: int | None = None) -> LineEditor:
    editor = LineEditor(completer=complete)
    editor.insert(text)
    if cursor is not None:
        editor.cursor = cursor
    return editor


def test_the_first_word_completes_to_commands_the_server_and_the_client_know() -> None:
    assert complete("", "!jo") == ["!join"]
    assert complete("", "!F") == ["!follow", "!follow?"]
    assert (
        complete("", "!") == sorted(complete("", "!"))
        and "!exit" in complete("", "!")
        and "!history" in complete("", "!")
    )
    assert complete("hello ", "!jo") == [], "only the first word is a command"


def test_rooms_complete_after_join_and_leave_and_in_any_word_starting_with_hash() -> None:
    assert complete("!join ", "#d") == ["#design", "#Dev"]
    assert complete("!JOIN ", "d") == ["#design", "#Dev"], "the # may be left out after !join"
    assert complete("!leave ", "") == ["#design", "#Dev", "#lobby", "#ops"]
    assert complete("see ", "#op") == ["#ops"]
    assert complete("!follow ", "#lo") == ["#lobby"]


def test_names_complete_after_msg_after_an_at_and_in_a_plain_word() -> None:
    assert complete("!msg ", "b") == ["bob", "Bobby"]
    assert complete("!follow ", "@c") == ["@carol"]
    assert complete("hi ", "@Z") == ["@zoë"]
    assert complete("", "car") == ["carol"]
    assert complete("!follow ", "") == [
        "#design",
        "#Dev",
        "#lobby",
        "#ops",
        "@bob",
        "@Bobby",
        "@carol",
        "@zoë",
    ]


def test_where_there_is_nothing_to_complete_nothing_is_offered() -> None:
    assert complete("", "") == []
    assert complete("hello ", "") == []
    assert complete("!topic ", "b") == []
    assert complete("!msg bob ", "x") == [], "the text of a private line is free"


def test_the_common_prefix_ignores_case_and_is_spelled_as_the_first_option() -> None:
    assert common_prefix(["#design", "#Dev"]) == "#de"
    assert common_prefix(["bob", "Bobby"]) == "bob"
    assert common_prefix(["x"]) == "x" and common_prefix([]) == ""


def test_one_match_completes_the_word_and_adds_a_space() -> None:
    editor = editor_with("!jo")
    assert editor.handle(Key.TAB) is None
    assert (editor.text, editor.cursor) == ("!join ", 6)
    editor.insert("#o")
    editor.handle(Key.TAB)
    assert editor.text == "!join #ops "


def test_several_matches_complete_their_common_start_then_a_second_tab_lists_them() -> None:
    editor = editor_with("!join #D")
    assert editor.handle(Key.TAB) is None
    assert editor.text == "!join #de", "as the first match spells it"
    assert editor.handle(Key.TAB) == Completions(("#design", "#Dev"))
    assert editor.text == "!join #de", "listing changes nothing"
    editor.insert("v")
    editor.handle(Key.TAB)
    assert editor.text == "!join #Dev "


def test_no_match_rings_the_bell_and_changes_nothing() -> None:
    editor = editor_with("!msg x")
    assert editor.handle(Key.TAB) == Refused()
    assert editor.text == "!msg x"
    bare = LineEditor()
    bare.insert("!jo")
    assert bare.handle(Key.TAB) == Refused(), "no completer: Tab only rings"
    assert bare.text == "!jo"


def test_a_word_in_the_middle_of_the_line_is_completed_where_it_stands() -> None:
    editor = editor_with("hi @ca and more", cursor=6)
    editor.handle(Key.TAB)
    assert (editor.text, editor.cursor) == ("hi @carol and more", 10), "the space there is stepped over"
    editor = editor_with("hi @cathere", cursor=6)
    editor.handle(Key.TAB)
    assert editor.text == "hi @carol there"


def test_a_completion_that_would_make_the_line_too_long_is_refused() -> None:
    editor = LineEditor(max_bytes=5, completer=complete)
    editor.insert("!jo")
    assert editor.handle(Key.TAB) == Refused()
    assert editor.text == "!jo"


def test_the_tab_key_from_a_terminal_completes() -> None:
    editor = LineEditor(completer=complete)
    assert type_keys(editor, b"!ms\tb\t") == []
    assert editor.text == "!msg bob"
    assert type_keys(editor, b"\t") == [Completions(("bob", "Bobby"))]
