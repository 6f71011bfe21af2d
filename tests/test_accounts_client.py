"""The client's side of protected names: the password from the environment or a prompt, never argv."""

from __future__ import annotations

import base64

import pytest
from support.processes import ClientFactory, ServerProcess
from test_terminal_pty import address, client_in_pty

from chatroom.client.session import NO_PASSWORDS, PROTECTED, Ended, Send, Session
from chatroom.protocol import VERSION_1_1, Credentials


def claim_with_a_raw_peer(server: ServerProcess, name: str, password: str) -> None:
    peer = server.connect()
    encoded = base64.b64encode(password.encode()).decode()
    peer.send_line(f"REGISTER {name} CHAT/1.1 password={encoded} claim=yes")
    assert peer.recv_line() == b"200 Registration successful"
    peer.send_line(f"DISCONNECT {name} CHAT/1.1")
    peer.recv_until_closed()


def test_the_password_comes_from_chatroom_password_and_logs_in(
    server: ServerProcess, start_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    claim_with_a_raw_peer(server, "alice", "correct horse")
    monkeypatch.setenv("CHATROOM_PASSWORD", "correct horse")
    client = start_client("--login", "alice", address(server))
    client.wait_ready()
    client.close_input()
    assert client.wait() == 0
    assert "correct horse" not in client.stdout.text + client.stderr.text


def test_a_wrong_password_is_one_sentence_and_exit_status_1(
    server: ServerProcess, start_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    claim_with_a_raw_peer(server, "alice", "right")
    monkeypatch.setenv("CHATROOM_PASSWORD", "wrong")
    client = start_client("--login", "alice", address(server))
    assert client.wait() == 1
    assert "Registration refused: 403 Wrong password for alice." in client.stdout.text + client.stderr.text
    assert "Traceback" not in client.stderr.text


def test_claim_protects_the_name_from_the_next_comer(
    server: ServerProcess, start_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATROOM_PASSWORD", "mine")
    client = start_client("--claim", "bob", address(server))
    client.wait_ready()
    client.close_input()
    assert client.wait() == 0
    peer = server.connect()
    peer.send_line("REGISTER bob CHAT/1.0")
    assert peer.recv_until_closed() == b"401 Client already registered\n"


def test_the_password_is_asked_for_at_a_prompt_that_does_not_echo(server: ServerProcess) -> None:
    claim_with_a_raw_peer(server, "alice", "s3cret")
    with client_in_pty("--login", "alice", address(server)) as alice:
        alice.wait_for(lambda: "Password for alice:" in alice.row(), "the password prompt")
        alice.type("s3cret\r")
        alice.wait_for(lambda: "Ready for messaging" in "\n".join(alice.screen.display), "registration")
        assert b"s3cret" not in alice.raw  # never echoed
        alice.type(b"\x04")
        assert alice.wait_exit() == 0


def test_passwords_and_chat_1_0_do_not_mix(start_client: ClientFactory) -> None:
    client = start_client("--login", "--chat-1.0", "alice", "chat://127.0.0.1:9")
    assert client.wait() == 2
    assert "Passwords need CHAT/1.1" in client.stderr.text


def test_a_protected_name_without_a_password_says_to_use_login() -> None:
    session = Session("alice")
    session.start()
    [ended] = session.receive(
        b"401 The name alice is protected by a password; register with it (password=...), or x.\n"
    )
    assert isinstance(ended, Ended) and ended.message == PROTECTED.format(name="alice")


def test_a_session_with_a_password_does_not_fall_back_to_chat_1_0() -> None:
    """A CHAT/1.0 server cannot check a password: connecting again without it would hide that."""
    session = Session("alice", version=VERSION_1_1, credentials=Credentials("pw", claim=True))
    [register] = session.start()
    assert isinstance(register, Send)
    assert register.data == b"REGISTER alice CHAT/1.1 password=cHc= claim=yes\n"
    [ended] = session.receive(b"400 Invalid registration\n")
    assert isinstance(ended, Ended) and ended.message == NO_PASSWORDS


def test_the_full_screen_client_registers_with_the_password_it_was_given() -> None:
    pytest.importorskip("textual")
    from test_tui import WIDE, FakeServer, async_test, registered

    from chatroom.client.tui_app import ChatApp

    @async_test
    async def run() -> None:
        fake = FakeServer()
        try:
            app = ChatApp("alice", fake.address, credentials=Credentials("pw", claim=True))
            async with app.run_test(size=WIDE) as pilot:
                await registered(pilot, app)
                assert fake.lines == ["REGISTER alice CHAT/1.1 password=cHc= claim=yes"]
        finally:
            fake.close()

    run()
