"""The chat://host:port address form."""

from __future__ import annotations

import pytest

from chatroom.protocol.address import EXPECTED_FORM, AddressError, ChatAddress, parse_chat_address


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("chat://localhost:54307", ChatAddress("localhost", 54307)),
        ("chat://127.0.0.1:1", ChatAddress("127.0.0.1", 1)),
        ("chat://example.org:65535", ChatAddress("example.org", 65535)),
        ("chat://[::1]:8080", ChatAddress("::1", 8080)),
        ("chat://localhost:54307/", ChatAddress("localhost", 54307)),
    ],
)
def test_valid_address_is_parsed(text: str, address: ChatAddress) -> None:
    assert parse_chat_address(text) == address


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "localhost:54307",
        "http://localhost:54307",
        "chat://localhost",
        "chat://localhost:",
        "chat://:54307",
        "chat://localhost:0",
        "chat://localhost:65536",
        "chat://localhost:99999",
        "chat://localhost:-1",
        "chat://localhost:port",
        "chat://localhost:54307/room",
        "chat://localhost:54307?x=1",
        "chat://:secret@localhost:54307",
        "chat://user@localhost:54307",
        "chat://localhost:54307#frag",
        "chat://user@localhost:54307",
        "chat://[::1:54307",
        "chat:localhost:54307",
    ],
)
def test_invalid_address_is_refused_with_a_message_showing_the_expected_form(text: str) -> None:
    with pytest.raises(AddressError) as caught:
        parse_chat_address(text)
    assert EXPECTED_FORM in str(caught.value)
    assert "chat://<host>:<port>" in str(caught.value)


@pytest.mark.parametrize("text", ["chat://localhost:54307", "chat://10.0.0.1:80", "chat://[::1]:8080"])
def test_address_prints_back_as_it_was_written(text: str) -> None:
    assert str(parse_chat_address(text)) == text
