"""What a typed line means: chat text to send, a client command, or a local error."""

from __future__ import annotations

import pytest

from chatroom.client.commands import (
    HELP_TEXT,
    Command,
    Ignore,
    Interpretation,
    LocalError,
    RunCommand,
    SendText,
    ServerCommand,
    interpret,
)


@pytest.mark.parametrize(
    ("line", "meaning"),
    [
        ("hello", SendText("hello")),
        ("  indented  ", SendText("  indented  ")),
        ("tab\tinside", SendText("tab\tinside")),
        ("ünïcödé 🎉", SendText("ünïcödé 🎉")),
        ("@bob: looks like a chat line", SendText("@bob: looks like a chat line")),
        (" !help", SendText(" !help")),
        ("say !help", SendText("say !help")),
    ],
)
def test_ordinary_line_is_sent_as_it_is(line: str, meaning: Interpretation) -> None:
    assert interpret(line) == meaning


@pytest.mark.parametrize("line", ["", " ", "\t", "   \t  "])
def test_empty_or_blank_line_is_not_sent(line: str) -> None:
    assert interpret(line) == Ignore()


@pytest.mark.parametrize(
    ("line", "command"),
    [("!help", Command.HELP), ("!exit", Command.EXIT), ("!clear", Command.CLEAR), ("!exit ", Command.EXIT)],
)
def test_bang_word_runs_a_client_command(line: str, command: Command) -> None:
    assert interpret(line) == RunCommand(command)


@pytest.mark.parametrize(
    ("line", "text"), [("!!text", "!text"), ("!!", "!"), ("!!!x", "!!x"), ("!!help", "!help")]
)
def test_double_bang_is_sent_as_typed_and_shown_with_one_bang(line: str, text: str) -> None:
    """The server relays a '!!' line with one '!' removed (docs/PROTOCOL.md 6.1)."""
    assert interpret(line) == SendText(line, shown=text)


@pytest.mark.parametrize("line", ["!join #dev", "!msg bob hi there", "!HELP", "!foo bar baz", "!list all"])
def test_any_other_bang_word_is_a_command_for_the_server_sent_as_typed(line: str) -> None:
    assert interpret(line) == ServerCommand(line)


@pytest.mark.parametrize(
    "line", ["esc \x1b[2J", "bell \x07", "nul \x00", "del \x7f", "c1 \x85", "cr \r inside"]
)
def test_line_with_control_characters_is_a_local_error(line: str) -> None:
    assert isinstance(interpret(line), LocalError)


def test_help_text_lists_every_command_and_the_double_bang_escape() -> None:
    for command in Command:
        assert f"!{command.value}" in HELP_TEXT
    for server_command in ("!join", "!leave", "!rooms", "!topic", "!list", "!msg", "!follow", "!history"):
        assert server_command in HELP_TEXT
    assert "!!" in HELP_TEXT


def test_help_text_says_ctrl_z_suspends_and_fg_resumes() -> None:
    assert "Ctrl-Z suspends" in HELP_TEXT and "fg" in HELP_TEXT


def test_control_characters_are_refused_even_after_a_double_bang() -> None:
    assert isinstance(interpret("!!x\x1b[2J"), LocalError)


def test_a_client_command_with_words_after_it_is_not_the_clients_and_goes_to_the_server() -> None:
    assert interpret("!exit now") == ServerCommand("!exit now")
