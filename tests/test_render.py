"""chatroom.render: styled message lines and the input line that never wraps."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from hypothesis import example, given, settings
from hypothesis import strategies as st

from chatroom.client.lineedit import display_width, next_boundary
from chatroom.client.render import (
    EMPTY_VIEW,
    PALETTE_16,
    PALETTE_256,
    InputView,
    Style,
    draw_input,
    format_completions,
    format_incoming,
    format_notice,
    format_sent,
    format_shown,
    layout_input,
    mentions,
    name_color,
    print_above,
)
from chatroom.client.session import NoticeKind
from chatroom.client.shown import Shown, ShownKind, as_is, chat

ESC = "\x1b"
SGR = re.compile(r"\x1b\[[0-9;]*m")
COLOR = Style(color=True, colors256=True, username="alice")
PLAIN = Style(color=False, username="alice")


def visible(text: str) -> str:
    """`text` without its colour codes."""
    return SGR.sub("", text)


# Message lines ------------------------------------------------------------------------


def test_a_chat_line_shows_the_sender_in_its_colour() -> None:
    line = format_incoming("@bob: hi there", COLOR)
    assert visible(line.text) == "@bob: hi there"
    assert f"\x1b[{name_color('bob')}m@bob" in line.text
    assert not line.mention


def test_a_sender_has_the_same_colour_in_every_process_whatever_the_hash_seed() -> None:
    code = "from chatroom.client.render import name_color; print(name_color('bob'), name_color('Zoë', False))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": ":".join(sys.path)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert outputs == {f"{name_color('bob')} {name_color('Zoë', False)}\n"}


def test_colours_come_from_the_palettes_and_ignore_case() -> None:
    names = [f"user{i}" for i in range(200)]
    assert {name_color(n) for n in names} <= {f"38;5;{c}" for c in PALETTE_256}
    assert {name_color(n, colors256=False) for n in names} <= {str(c) for c in PALETTE_16}
    assert len({name_color(n) for n in names}) > len(PALETTE_256) // 2  # spread, not one colour
    assert name_color("Bob") == name_color("bob")


def test_a_line_mentioning_you_is_highlighted() -> None:
    plain = format_incoming("@bob: hello carol", COLOR)
    mention = format_incoming("@bob: hello @Alice!", COLOR)
    assert mention.mention
    assert visible(mention.text) == "@bob: hello @Alice!"
    assert mention.text != plain.text.replace("carol", "@Alice!")


def test_mentions_match_whole_names_only() -> None:
    assert mentions("hi @alice", "alice")
    assert mentions("@ALICE: look", "alice")
    assert mentions("(@alice)", "alice")
    assert not mentions("hi @alicia", "alice")
    assert not mentions("hi alice", "alice")
    assert not mentions("mail bob@alice.org", "alice")
    assert not mentions("hi @alice", "")


def test_your_own_lines_look_different_from_the_same_line_from_someone_else() -> None:
    own = format_sent("hi", COLOR)
    assert visible(own) == "@alice: hi"
    assert own != format_incoming("@alice: hi", COLOR).text


def test_server_notices_and_errors_have_their_own_styles() -> None:
    error = format_incoming("403 Not your username", COLOR)
    notice = format_incoming("Welcome to the room", COLOR)
    assert visible(error.text) == "403 Not your username"
    assert visible(notice.text) == "Welcome to the room"
    assert error.text.startswith("\x1b[") and notice.text.startswith("\x1b[")
    assert error.text.split("m")[0] != notice.text.split("m")[0]


def test_timestamps_come_first() -> None:
    assert format_incoming("@bob: hi", PLAIN, "09:05").text == "[09:05] @bob: hi"
    assert visible(format_incoming("@bob: hi", COLOR, "09:05").text) == "[09:05] @bob: hi"


def test_with_colour_off_message_lines_carry_no_escape_codes() -> None:
    lines = [
        format_incoming("@bob: hi @alice", PLAIN, "10:00").text,
        format_incoming("413 Line too long", PLAIN).text,
        format_sent("mine", PLAIN),
        *format_notice("Connecting\nto server", NoticeKind.INFO, PLAIN),
        *format_notice("It broke", NoticeKind.ERROR, PLAIN),
        *format_notice("400 Invalid message", NoticeKind.SERVER, PLAIN),
    ]
    assert lines == [
        "[10:00] @bob: hi @alice",
        "413 Line too long",
        "@alice: mine",
        "Connecting",
        "to server",
        "It broke",
        "400 Invalid message",
    ]


hostile = st.text(alphabet=st.sampled_from(["a", "@", ":", " ", "\x1b", "\x07", "\r", "[", "2", "J", "\x9b"]))


@given(hostile, st.booleans())
def test_text_from_the_network_cannot_send_escape_sequences(text: str, color: bool) -> None:
    style = COLOR if color else PLAIN
    for line in (
        format_incoming(text, style).text,
        format_incoming("@bob: " + text, style).text,
        format_sent(text, style),
        *format_notice(text, NoticeKind.SERVER, style),
        *format_notice(text, NoticeKind.ERROR, style),
    ):
        stripped = visible(line) if color else line
        assert ESC not in stripped and "\x07" not in stripped and "\r" not in stripped
        assert "\x9b" not in stripped  # the one-byte CSI


def test_a_multi_line_notice_becomes_separate_lines() -> None:
    assert format_notice("one\ntwo", NoticeKind.INFO, PLAIN) == ["one", "two"]


# Lines of every kind (CHAT/1.1 events and CHAT/1.0's forms) ------------------------------------

PARIS = timezone(timedelta(hours=1))
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=PARIS)  # "now", an hour east of UTC
SAID = datetime(2026, 11, 30, 8, 1, 10, tzinfo=timezone.utc)
PRIVATE = Shown(ShownKind.PRIVATE, "psst", "bob")
HISTORY = Shown(ShownKind.HISTORY, "good morning", "bob", "#dev", SAID)
JOINED = Shown(ShownKind.PRESENCE, "bob joined #dev", room="#dev")


def plain(item: Shown, viewed: str | None = "#dev") -> str:
    return format_shown(item, PLAIN, viewed=viewed, now=NOW).text


def coloured(item: Shown, viewed: str | None = "#dev") -> str:
    return format_shown(item, COLOR, viewed=viewed, now=NOW).text


def test_a_private_line_is_marked_private_and_is_unmistakable() -> None:
    assert plain(PRIVATE) == "[private] @bob: psst"
    line = coloured(PRIVATE)
    assert visible(line) == "[private] @bob: psst"
    assert line.startswith("\x1b[1;35m[private]")  # bold magenta
    assert f"\x1b[{name_color('bob')}m@bob" in line, "the sender keeps their colour"
    assert line != format_incoming("@bob: psst", COLOR).text.replace("@bob", "[private] @bob")
    assert format_shown(PRIVATE, COLOR, now=NOW).mention, "a line to you alone rings the bell like a mention"


def test_a_history_line_is_dimmed_with_the_local_time_it_was_said() -> None:
    assert plain(HISTORY) == "[09:01] @bob: good morning"  # 08:01 UTC is 09:01 an hour east
    line = coloured(HISTORY)
    assert visible(line) == "[09:01] @bob: good morning"
    assert all(code.startswith("\x1b[2") for code in SGR.findall(line) if code != "\x1b[0m"), "dim throughout"
    assert name_color("bob") in line


def test_a_history_line_from_another_day_shows_the_date() -> None:
    assert plain(HISTORY, "#dev").startswith("[09:01]")
    tomorrow = NOW + timedelta(days=1)
    assert (
        format_shown(HISTORY, PLAIN, viewed="#dev", now=tomorrow).text
        == "[2026-11-30 09:01] @bob: good morning"
    )


def test_history_carries_its_own_time_instead_of_the_arrival_stamp() -> None:
    assert format_shown(HISTORY, PLAIN, viewed="#dev", stamp="12:00", now=NOW).text.startswith("[09:01] @bob")


def test_presence_is_a_dim_star_line() -> None:
    assert plain(JOINED) == "* bob joined #dev"
    assert coloured(JOINED) == "\x1b[2m* bob joined #dev\x1b[0m"
    assert plain(JOINED, viewed="#lobby") == "* bob joined #dev", "it names its room already"


def test_a_room_line_from_a_room_not_shown_starts_with_its_room() -> None:
    line = chat("bob", "hi", "#lobby")
    assert plain(line, viewed="#dev") == "[#lobby] @bob: hi"
    assert plain(line, viewed="#LOBBY") == "@bob: hi", "rooms fold as names do"
    assert plain(chat("bob", "hi"), viewed="#dev") == "@bob: hi", "CHAT/1.0's lines are from your room"
    assert visible(coloured(line)) == "[#lobby] @bob: hi"
    assert plain(Shown(ShownKind.FOLLOWED, "deploy", "dave", "#ops"), viewed=None) == "[#ops] @dave: deploy"
    assert (
        plain(Shown(ShownKind.HISTORY, "old", "bob", "#lobby", SAID), viewed="#dev")
        == "[09:01] [#lobby] @bob: old"
    )


def test_replies_and_unknown_lines_look_as_before() -> None:
    assert coloured(as_is("403 Not your username")) == format_incoming("403 Not your username", COLOR).text
    assert plain(as_is("WAVE #lobby bob")) == "WAVE #lobby bob"
    assert plain(chat("bob", "hi @alice")) == "@bob: hi @alice"
    assert format_shown(chat("bob", "hi @alice"), COLOR, now=NOW).mention


kinds = st.sampled_from(list(ShownKind))


@given(kinds, hostile, hostile, hostile, st.booleans())
def test_no_kind_of_line_lets_the_network_send_escape_sequences(
    kind: ShownKind, text: str, sender: str, room: str, color: bool
) -> None:
    item = Shown(kind, text, sender or None, "#" + room, SAID if kind is ShownKind.HISTORY else None)
    line = format_shown(item, COLOR if color else PLAIN, viewed="#x", stamp="10:00", now=NOW).text
    stripped = visible(line) if color else line
    assert ESC not in stripped and "\x07" not in stripped and "\r" not in stripped and "\x9b" not in stripped


def test_completions_are_listed_on_one_line_and_the_rest_counted() -> None:
    assert format_completions(["#dev", "#design"], 80, PLAIN) == "#dev  #design"
    names = [f"user{i:02}" for i in range(40)]
    line = format_completions(names, 40, PLAIN)
    assert len(line) < 40 and line.startswith("user00  user01") and line.endswith(" more)")
    kept = line.split("  (+")[0].split("  ")
    assert line.endswith(f"(+{40 - len(kept)} more)")
    assert visible(format_completions(["#dev"], 80, COLOR)) == "#dev"
    assert format_completions(["\x1b[2J"], 80, PLAIN) == "\\x1b[2J"


# The input line -----------------------------------------------------------------------


def test_a_short_line_is_shown_whole_with_the_cursor_after_the_prompt() -> None:
    assert layout_input("> ", "hello", 2, 80) == InputView("> hello", 4, 0)


def test_a_long_line_scrolls_so_the_cursor_is_visible_and_nothing_wraps() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(100))
    view = layout_input("> ", text, 100, 20)
    assert view.line == "> " + text[-17:]
    assert view.cursor_col == 19
    home = layout_input("> ", text, 0, 20, view.scroll)
    assert home == InputView("> " + text[:17], 2, 0)


def test_a_wide_character_at_the_edge_is_left_out_not_split() -> None:
    view = layout_input("> ", "abcdefgh漢", 0, 12)
    assert view.line == "> abcdefgh"  # 漢 needs columns 10 and 11, but 11 stays empty
    view = layout_input("> ", "abcdefgh漢", 8, 12)
    assert view.line.endswith("漢") and display_width(view.line) <= 11


def test_the_view_does_not_jump_while_moving_inside_it() -> None:
    text = "x" * 50
    view = layout_input("> ", text, 50, 20)
    moved = layout_input("> ", text, 45, 20, view.scroll)
    assert moved.scroll == view.scroll
    assert moved.cursor_col == view.cursor_col - 5


def test_after_deleting_the_view_fills_back_from_the_left() -> None:
    view = layout_input("> ", "x" * 50, 50, 20)
    assert layout_input("> ", "x" * 10, 10, 20, view.scroll) == InputView("> " + "x" * 10, 12, 0)


def test_a_terminal_too_narrow_for_the_prompt_shows_just_the_text() -> None:
    assert layout_input("> ", "abc", 3, 3) == InputView("bc", 2, 1)


@settings(max_examples=300)
@example(chars=["a", "a", "a", "a", "漢"], width=4, cursor=4, scroll=0)  # once kept the prompt, hid 漢
@given(
    st.lists(st.sampled_from(["a", "b", " ", "漢", "😀", "e\u0301", "ｶ"]), max_size=60),
    st.integers(1, 40),
    st.integers(0, 80),
    st.integers(0, 80),
)
def test_any_line_fits_and_shows_its_cursor(chars: list[str], width: int, cursor: int, scroll: int) -> None:
    text = "".join(chars)
    cursor = len("".join(chars[:cursor]))  # on a character boundary, as the editor keeps it
    view = layout_input("> ", text, cursor, width, scroll)
    assert display_width(view.line) <= max(width - 1, 0)
    assert 0 <= view.cursor_col <= width - 1
    shown = view.line.removeprefix("> ") if view.line.startswith("> ") else view.line
    assert text[view.scroll :].startswith(shown)
    assert view.scroll <= cursor
    if width >= 4 and cursor < len(text):  # the character under the cursor is on screen
        assert view.scroll + len(shown) >= next_boundary(text, cursor)


def test_drawing_the_input_line_clears_it_and_puts_the_cursor_back() -> None:
    assert draw_input(InputView("> hi", 4, 0)) == "\r\x1b[K> hi\r\x1b[4C"
    assert draw_input(EMPTY_VIEW) == "\r\x1b[K\r"


def test_print_above_writes_the_lines_then_redraws_the_input_line() -> None:
    view = InputView("> par", 5, 0)
    assert print_above(["@bob: a", "@bob: b"], view) == (
        "\r\x1b[K@bob: a\r\n@bob: b\r\n\r\x1b[K> par\r\x1b[5C"
    )
