"""chatroom.protocol.client_side for CHAT/1.1: the version decides the REGISTER, DISCONNECT and room lines.

(CHAT/1.0's side, the default, is tested with the rest of the core in test_protocol.py.)
"""

from __future__ import annotations

import pytest

from chatroom.protocol import (
    VERSION,
    VERSION_1_1,
    ClientConnection,
    ClientState,
    Incoming,
    LocalProtocolError,
    Registered,
    ServerClosing,
)


def registered(version: bytes = VERSION_1_1) -> ClientConnection:
    conn = ClientConnection("alice", version=version)
    conn.register()
    assert list(conn.receive(b"200 Registration successful\n")) == [Registered("200 Registration successful")]
    return conn


def test_a_chat_1_1_client_registers_and_leaves_with_its_version() -> None:
    conn = ClientConnection("alice", version=VERSION_1_1)
    assert conn.register() == b"REGISTER alice CHAT/1.1\n"
    conn = registered()
    assert conn.disconnect() == b"DISCONNECT alice CHAT/1.1\n"
    assert conn.state is ClientState.CLOSED


def test_a_chat_1_1_line_may_name_its_room() -> None:
    conn = registered()
    assert conn.chat("hi") == b"@alice: hi\n"
    assert conn.chat("hi", "#dev") == b"@alice #dev: hi\n"
    assert conn.chat("ünï", "#Dév") == "@alice #Dév: ünï\n".encode()


@pytest.mark.parametrize(
    ("version", "room"), [(VERSION, "#dev"), (VERSION_1_1, "dev"), (VERSION_1_1, "#a b")]
)
def test_a_room_chat_1_0_cannot_name_or_that_is_no_room_is_refused(version: bytes, room: str) -> None:
    with pytest.raises(LocalProtocolError):
        registered(version).chat("hi", room)


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(LocalProtocolError):
        ClientConnection("alice", version=b"CHAT/2.0")


@pytest.mark.parametrize("line", [b"DISCONNECT CHAT/1.1", b"DISCONNECT CHAT/1.0"])
def test_a_chat_1_1_client_understands_either_server_disconnect(line: bytes) -> None:
    conn = registered()
    assert list(conn.receive(b"MSG #lobby bob bye\n" + line + b"\n@bob: after\n")) == [
        Incoming("MSG #lobby bob bye"),
        ServerClosing(),
    ]


def test_a_chat_1_0_client_does_not_take_a_chat_1_1_disconnect_for_its_own() -> None:
    conn = registered(VERSION)
    assert list(conn.receive(b"DISCONNECT CHAT/1.1\n")) == [Incoming("DISCONNECT CHAT/1.1")]
