"""The IRC message parser and builder (chatroom.irc.message): round trips and UTF-8-safe splitting."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatroom.irc.message import IrcMessage, build, build_text, irc_text, parse, plain_text, split_text
from chatroom.limits import IRC_MAX_LINE_BYTES
from chatroom.protocol.lines import is_clean_text


def test_parse_tags_prefix_command_params_trailing() -> None:
    message = parse(r"@time=2020;+x=a\sb\:c :nick!u@h privmsg #room :hello there")
    assert message == IrcMessage(
        "PRIVMSG", ["#room", "hello there"], "nick!u@h", {"time": "2020", "+x": "a b;c"}
    )


def test_parse_without_trailing_and_empty_lines() -> None:
    assert parse("NICK foo") == IrcMessage("NICK", ["foo"])
    assert parse("USER u 0 *  :") == IrcMessage("USER", ["u", "0", "*", ""])
    assert parse("") is None
    assert parse(":prefix-only") is None
    assert parse("@a=b") is None


def test_more_than_fifteen_params_fold_into_the_last() -> None:
    message = parse("CMD " + " ".join(str(n) for n in range(20)))
    assert message is not None
    assert len(message.params) == 15
    assert message.params[-1] == " ".join(str(n) for n in range(14, 20))


def test_build_adds_a_colon_only_when_needed() -> None:
    assert build("PRIVMSG", "#a", "hi") == "PRIVMSG #a hi\r\n"
    assert build("PRIVMSG", "#a", "hi there", prefix="s") == ":s PRIVMSG #a :hi there\r\n"
    assert build("TOPIC", "#a", "") == "TOPIC #a :\r\n"
    assert build("PRIVMSG", "#a", ":)") == "PRIVMSG #a ::)\r\n"


words = st.text(st.characters(codec="utf-8", blacklist_characters="\r\n\0 :"), min_size=1, max_size=20)


@given(
    command=st.sampled_from(["PRIVMSG", "NOTICE", "JOIN", "001"]),
    middle=st.lists(words, max_size=5),
    last=st.text(st.characters(codec="utf-8", blacklist_characters="\r\n\0"), max_size=60),
)
def test_build_then_parse_is_the_identity(command: str, middle: list[str], last: str) -> None:
    line = build(command, *middle, last, prefix="me!u@h")
    assert parse(line.removesuffix("\r\n")) == IrcMessage(command, [*middle, last], "me!u@h")


@given(st.text(st.characters(codec="utf-8"), max_size=400), st.integers(4, 600))
def test_split_text_cuts_only_between_characters(text: str, budget: int) -> None:
    pieces = split_text(text, budget)
    assert "".join(pieces) == text
    assert all(len(piece.encode()) <= budget for piece in pieces)


@given(st.text(st.characters(codec="utf-8", blacklist_characters="\r\n\0"), min_size=1, max_size=3000))
def test_a_long_text_becomes_lines_within_512_bytes_that_carry_it_exactly(text: str) -> None:
    lines = build_text("PRIVMSG", "#lobby", text, "alice!alice@server").split("\r\n")[:-1]
    if len(text.encode()) > IRC_MAX_LINE_BYTES - 2 - len("PRIVMSG #lobby "):
        assert all(len(line.encode()) + 2 <= IRC_MAX_LINE_BYTES for line in lines)
    else:
        assert len(lines) == 1  # what an IRC client could send in one line is relayed in one
    texts = []
    for line in lines:
        message = parse(line)
        assert message is not None
        assert message.command == "PRIVMSG"
        texts.append(message.params[1])
    assert "".join(texts) == text


@given(st.text(max_size=300))
def test_plain_text_is_always_clean_chat_text(text: str) -> None:
    assert is_clean_text(plain_text(text).encode())


def test_plain_text_drops_formatting_and_ctcp_and_keeps_actions_as_slash_me() -> None:
    assert plain_text("\x02bold\x02 \x0304,12red\x03 \x1ditalic\x1d\x0f") == "bold red italic"
    assert plain_text("\x04ff00ffhex\x04 tab\there") == "hex tab\there"
    assert plain_text("\x01ACTION waves\x01") == "/me waves"
    assert plain_text("\x01VERSION\x01") == "/ctcp VERSION"
    assert plain_text("\x01PING 123\x01") == "/ctcp PING 123"
    assert irc_text("/ctcp PING 123") == "\x01PING 123\x01" and irc_text("/ctcp ") == "/ctcp "
    assert plain_text("\x02\x03") == ""
    assert plain_text("h\u00e9llo \u2603") == "h\u00e9llo \u2603"
    assert irc_text("/me waves") == "\x01ACTION waves\x01"
    assert irc_text("/me") == "/me" and irc_text("plain") == "plain"


def test_build_never_makes_two_lines_of_one() -> None:
    assert build("432", "*", "a\rb\nc\0d", prefix="srv") == ":srv 432 * :a b c d\r\n"
