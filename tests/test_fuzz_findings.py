"""What the fuzzing campaign found (docs/SECURITY.md, "Fuzzing"), each pinned by the input that showed it.

Each input is also in fuzz/corpus/, so the harness replays it on every run.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chatroom.client.cli import main as client_main
from chatroom.client.exitcodes import EXIT_USAGE
from chatroom.codecs.chat import CHAT_WIRE, ChatCodec
from chatroom.codecs.requests import Refuse, Register
from chatroom.hub.message import PrivateLine
from chatroom.protocol import events
from chatroom.protocol.lines import VERSION
from chatroom.protocol.server_side import ServerState


def test_a_history_time_before_the_year_1000_is_written_with_four_digits_and_reads_back() -> None:
    """strftime('%Y') writes the year 955 as '955'; parse_time takes exactly four digits."""
    when = datetime(955, 11, 30, 8, 1, 10, tzinfo=timezone.utc)
    assert events.format_time(when) == "0955-11-30T08:01:10Z"
    line = events.event_line(events.HistoryLine("#dev", when, "bob", "text"))
    assert events.parse_event(line) == events.HistoryLine("#dev", when, "bob", "text")


def test_a_bad_registration_is_not_blamed_on_the_line_limit_when_a_long_line_follows_it() -> None:
    """The refusal is for the bad REGISTER; a later line over the limit in the same read names no limit."""
    codec = ChatCodec(max_line=20)
    requests = list(codec.requests(b"HELLO\n" + b"x" * 40 + b"\n"))
    assert requests == [Refuse(b"400 Invalid registration\n", True, "invalid registration", None)]


def test_a_line_over_the_limit_still_names_the_limit() -> None:
    codec = ChatCodec(max_line=20)
    (refusal,) = codec.requests(b"REGISTER " + b"x" * 40 + b"\n")
    assert isinstance(refusal, Refuse) and refusal.fatal and refusal.limit == "--max-line"


@pytest.mark.parametrize("name", ["bob:", "a:", "T,CHAT/al:"])
def test_a_name_ending_in_a_colon_is_refused_with_400_and_the_connection_closed(name: str) -> None:
    """A user 'bob:' would send '@bob: (private): hi', the bytes of bob's room line '(private): hi'."""
    codec = ChatCodec()
    requests = list(codec.requests(f"REGISTER {name} CHAT/1.0\n@{name}: hi\n".encode()))
    assert requests == [Refuse(b"400 Invalid registration\n", True, "name ends with ':'")]
    assert codec.state is ServerState.CLOSED


def test_names_with_a_colon_elsewhere_still_register() -> None:
    for name in ("b:ob", ":bob", "bob:x"):
        (register,) = ChatCodec().requests(f"REGISTER {name} CHAT/1.1\n".encode())
        assert register == Register(name)


def test_a_private_line_from_a_name_the_server_registers_never_reads_as_a_room_line() -> None:
    for name in ("bob", "b:ob", "bob:x", ":bob"):
        line = CHAT_WIRE.encode(PrivateLine(name, "carol", "hi"))[:-1]
        assert events.parse_event(line, VERSION) == events.PrivateLine(name, "hi"), line


def test_our_client_refuses_a_name_ending_in_a_colon_before_connecting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without this it would be refused by the server, and would first blame the server's version."""
    assert client_main(["bob:", "chat://localhost:1"]) == EXIT_USAGE
    assert "invalid username 'bob:'" in capsys.readouterr().err
