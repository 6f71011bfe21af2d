"""The real client on chats:// against the real server: success, and each failure as one sentence, fast."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import pytest
from support.processes import ClientFactory, ClientProcess, ServerFactory, ServerProcess
from support.tls import CertFiles, make_certs, tls_port

FAST_S = 5.0
# Every failure below must end the client well within this (no handshake or registration timeout).


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def tls_server(start_server: ServerFactory, certs: CertFiles) -> tuple[ServerProcess, int]:
    server = start_server(*certs.server_args())
    return server, tls_port(server)


def ends_with_one_sentence(client: ClientProcess, *words: str) -> str:
    """The client exits 1 within FAST_S, its last line says `words`, and no traceback was shown."""
    started = time.monotonic()
    status = client.wait(FAST_S)
    assert time.monotonic() - started < FAST_S
    assert status == 1, (client.stdout.text, client.stderr.text)
    shown = (client.stdout.text + client.stderr.text).strip().splitlines()
    last = shown[-1]
    for word in words:
        assert word in last, shown
    assert "Traceback" not in "\n".join(shown)
    return last


def test_the_client_chats_over_tls_both_ways(
    start_client: ClientFactory, tls_server: tuple[ServerProcess, int], certs: CertFiles
) -> None:
    server, port = tls_server
    bob = server.register("bob")
    alice = start_client(
        "--plain", "--chat-1.0", "alice", f"chats://localhost:{port}", "--cafile", str(certs.ca_file)
    )
    alice.wait_ready()
    alice.type_line("hello over TLS")
    assert bob.recv_line() == b"@alice: hello over TLS"
    bob.send_line("@bob: hello back")
    alice.stdout.wait_for("@bob: hello back")
    alice.close_input()
    assert alice.wait() == 0


def test_the_default_chat_1_1_session_works_over_tls_too(
    start_client: ClientFactory, tls_server: tuple[ServerProcess, int], certs: CertFiles
) -> None:
    server, port = tls_server
    bob = server.register("bob")
    alice = start_client("--plain", "alice", f"chats://127.0.0.1:{port}", "--cafile", str(certs.ca_file))
    alice.wait_ready()
    alice.type_line("hi")
    assert bob.recv_line() == b"@alice: hi"


def test_a_certificate_from_an_untrusted_ca_is_one_sentence_suggesting_cafile(
    start_client: ClientFactory, tls_server: tuple[ServerProcess, int]
) -> None:
    _, port = tls_server
    client = start_client("--plain", "alice", f"chats://localhost:{port}")
    ends_with_one_sentence(client, "not signed by an authority this computer trusts", "--cafile")


def test_a_wrong_host_name_is_one_sentence_naming_it(
    start_client: ClientFactory, start_server: ServerFactory, tmp_path: Path
) -> None:
    other = make_certs(tmp_path / "other", "chat.example.org")
    server = start_server(*other.server_args())
    client = start_client(
        "--plain", "alice", f"chats://localhost:{tls_port(server)}", "--cafile", str(other.ca_file)
    )
    ends_with_one_sentence(client, "not valid for the host name 'localhost'")


def test_an_expired_certificate_is_one_sentence(
    start_client: ClientFactory, start_server: ServerFactory, tmp_path: Path
) -> None:
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2)
    expired = make_certs(tmp_path / "expired", "localhost", not_after=past)
    server = start_server(*expired.server_args())
    client = start_client(
        "--plain", "alice", f"chats://localhost:{tls_port(server)}", "--cafile", str(expired.ca_file)
    )
    ends_with_one_sentence(client, "certificate has expired")


def test_a_tls_client_on_a_plain_port_is_told_so_at_once(
    start_client: ClientFactory, start_server: ServerFactory, certs: CertFiles
) -> None:
    server = start_server("--registration-timeout", "30")
    client = start_client(
        "--plain", "alice", f"chats://localhost:{server.port}", "--cafile", str(certs.ca_file)
    )
    ends_with_one_sentence(client, "did not answer in TLS", "chat://")


def test_a_plain_client_on_a_tls_port_is_told_so_at_once(
    start_client: ClientFactory, tls_server: tuple[ServerProcess, int]
) -> None:
    _, port = tls_server
    client = start_client("--plain", "alice", f"chat://localhost:{port}")
    ends_with_one_sentence(client, "chats://")


def test_insecure_no_verify_connects_and_warns_every_time(
    start_client: ClientFactory, tls_server: tuple[ServerProcess, int]
) -> None:
    _, port = tls_server
    for _ in range(2):
        client = start_client("--plain", "alice", f"chats://localhost:{port}", "--insecure-no-verify")
        client.wait_ready()
        assert "WARNING: --insecure-no-verify" in client.stderr.text
        client.close_input()
        assert client.wait() == 0


@pytest.mark.parametrize("flag", [["--cafile", "ca.pem"], ["--insecure-no-verify"]])
def test_tls_flags_on_a_plain_address_are_a_usage_error(start_client: ClientFactory, flag: list[str]) -> None:
    client = start_client("alice", "chat://localhost:5000", *flag)
    assert client.wait() == 2
    assert client.stderr.text.strip() == f"chatroom-client: {flag[0]} applies only to chats:// addresses"


def test_an_unreadable_cafile_is_a_usage_error(start_client: ClientFactory, tmp_path: Path) -> None:
    client = start_client("alice", "chats://localhost:5000", "--cafile", str(tmp_path / "none.pem"))
    assert client.wait() == 2
    assert client.stderr.text.startswith(f"chatroom-client: cannot use --cafile {tmp_path / 'none.pem'}: ")


def test_the_full_screen_client_opens_chats_streams_with_the_same_verification(
    tls_server: tuple[ServerProcess, int], certs: CertFiles
) -> None:
    """chatroom.client.tui_app's opener (asyncio) speaks TLS for chats://, and fails in one sentence."""
    pytest.importorskip("textual")
    import asyncio
    import ssl

    from chatroom.client.tui_app import connect_error, open_streams
    from chatroom.protocol.address import ChatAddress

    _, port = tls_server
    address = ChatAddress("localhost", port, tls=True)

    async def register() -> bytes:
        reader, writer = await open_streams(address, certs.client_context())
        writer.write(b"REGISTER alice CHAT/1.0\n")
        line = await asyncio.wait_for(reader.readline(), FAST_S)
        writer.close()
        return line

    assert asyncio.run(register()) == b"200 Registration successful\n"

    async def untrusted() -> BaseException:
        try:
            await open_streams(address, ssl.create_default_context())
        except Exception as error:
            return error
        raise AssertionError("an untrusted certificate was accepted")

    sentence = connect_error(address, asyncio.run(untrusted()))
    assert "not signed by an authority this computer trusts" in sentence


@pytest.mark.parametrize(
    ("text", "host", "port", "tls"),
    [
        ("chats://localhost:6697", "localhost", 6697, True),
        ("chats://[::1]:6697", "::1", 6697, True),
        ("chat://localhost:54307", "localhost", 54307, False),
    ],
)
def test_chats_urls_are_chat_urls_with_tls(text: str, host: str, port: int, tls: bool) -> None:
    from chatroom.protocol.address import parse_chat_address

    address = parse_chat_address(text)
    assert (address.host, address.port, address.tls) == (host, port, tls)
    assert str(address) == text
