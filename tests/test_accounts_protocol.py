"""Section 9 of docs/PROTOCOL.md as pure code: the REGISTER options, the commands, the channel policy."""

from __future__ import annotations

import pytest

from chatroom.hub import commands
from chatroom.limits import MAX_BAN_S, MAX_PASSWORD_BYTES
from chatroom.protocol import Credentials, Registration, parse_registration, password_option, register_line
from chatroom.protocol.lines import VERSION_1_1, credentials_options
from chatroom.server.accounts import is_loopback, password_channel_is_safe


def parsed(options: str) -> Registration | None:
    return parse_registration(f"REGISTER alice CHAT/1.1 {options}".encode())


def test_a_password_travels_as_base64_of_its_utf8_so_spaces_and_any_character_survive() -> None:
    for password in ("hunter 2", "pässwörd", "🔑 key", "=+/"):
        registration = parsed(f"password={password_option(password)}")
        assert registration is not None and registration.credentials == Credentials(password)


def test_claim_and_new_password_options() -> None:
    claim = parsed(f"password={password_option('a b')} claim=yes replay=0")
    assert claim == Registration("alice", VERSION_1_1, 0, Credentials("a b", claim=True))
    change = parsed(f"new-password={password_option('new')} password={password_option('old')}")
    assert change is not None and change.credentials == Credentials("old", new_password="new")


@pytest.mark.parametrize(
    "options",
    [
        "password=",
        "password=***",
        "password=YQ",  # unpadded
        "password=/w==",  # not UTF-8
        f"password={password_option('x' * (MAX_PASSWORD_BYTES + 1))}",
        "claim=yes",  # nothing to claim with
        "claim=no password=YQ==",
        "new-password=YQ==",
        "password=YQ== claim=yes new-password=Yg==",
    ],
)
def test_malformed_password_options_are_an_invalid_registration(options: str) -> None:
    assert parsed(options) is None


def test_a_password_is_never_in_a_repr() -> None:
    registration = parsed(f"password={password_option('hunter2')} new-password={password_option('sesame')}")
    assert "hunter2" not in repr(registration) and "sesame" not in repr(registration)


def test_chat_1_0_registrations_carry_no_options() -> None:
    assert parse_registration(b"REGISTER alice CHAT/1.0 password=YQ==") is None


def test_the_client_builds_the_options_the_server_parses() -> None:
    credentials = Credentials("pw 1", claim=True)
    line = register_line("alice", VERSION_1_1, credentials_options(credentials))
    registration = parse_registration(line[:-1])
    assert registration is not None and registration.credentials == credentials


# -- commands -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!unclaim", commands.Unclaim()),
        ("!kick bob", commands.Kick("bob", "")),
        ("!kick bob  spamming  the lobby ", commands.Kick("bob", "spamming  the lobby")),
        ("!ban bob", commands.Ban("bob", None)),
        ("!ban bob 10m", commands.Ban("bob", 600.0)),
        ("!ban bob 2h", commands.Ban("bob", 7200.0)),
        ("!BAN bob 7d", commands.Ban("bob", 7 * 86400.0)),
        ("!unban bob", commands.Unban("bob")),
        ("!close #dev", commands.Close("#dev")),
    ],
)
def test_account_and_operator_commands_parse(text: str, expected: commands.Command) -> None:
    assert commands.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    ["!unclaim now", "!kick", "!kick #dev", "!ban bob 10", "!ban bob 0m", "!ban bob -1h", "!ban bob 2w",
     f"!ban bob {MAX_BAN_S // 86400 + 1}d", "!ban bob 1h extra", "!unban", "!unban a b", "!close",
     "!close dev"],
)  # fmt: skip
def test_malformed_account_commands_are_400_with_usage(text: str) -> None:
    result = commands.parse(text)
    assert isinstance(result, commands.Mistake) and result.code == 400


# -- the channel policy ---------------------------------------------------------------------------


class FakeTransport:
    def __init__(self, address: tuple[str, int] | str) -> None:
        self._address = address

    def address(self) -> tuple[str, int] | str:
        return self._address


@pytest.mark.parametrize(
    ("address", "safe"),
    [
        (("127.0.0.1", 5000), True),
        (("127.0.0.2", 5000), True),
        (("::1", 5000), True),
        (("::ffff:127.0.0.1", 5000), True),
        (("192.168.1.20", 5000), False),
        (("10.0.0.1", 5000), False),
        (("2001:db8::1", 5000), False),
        (("::ffff:192.168.1.20", 5000), False),
        (("localhost", 5000), False),  # names are never looked up
        ("unix socket", False),
    ],
)
def test_passwords_are_safe_today_only_from_loopback_peers(
    address: tuple[str, int] | str, safe: bool
) -> None:
    assert password_channel_is_safe(FakeTransport(address)) is safe  # type: ignore[arg-type]
    if isinstance(address, tuple):
        assert is_loopback(address[0]) is safe
