"""chat://host:port addresses (chatroom/protocol/address.py), from any command-line text.

Invariants: `parse_chat_address` raises nothing but AddressError (a
ValueError whose message the client prints as its one sentence), and an
address it accepts prints as a chat:// URL that parses back to itself, with
a port in 1..65535.
"""

from __future__ import annotations

from chatroom.protocol.address import AddressError, ChatAddress, parse_chat_address


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", errors="surrogateescape")  # as sys.argv decodes a command line
    try:
        address = parse_chat_address(text)
    except AddressError as error:
        assert str(error)
        return
    assert isinstance(address, ChatAddress)
    assert 1 <= address.port <= 65535 and address.host
    assert parse_chat_address(str(address)) == address, (text, str(address))
