"""IRC logins (issue #12): SASL PLAIN against the accounts, PASS, and IRC over TLS.

The exchange itself is checked without I/O (chatroom.irc.sasl); the rest
against the real server over sockets: names are claimed with CHAT/1.1
(docs/PROTOCOL.md section 9) and IRC clients log in to them.
"""

from __future__ import annotations

import base64
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from support.irc import IRC_BANNER, irc_connect, irc_port, recv_until
from support.peer import DEADLINE_S, Peer, non_loopback_address
from support.processes import REPO_ROOT, STARTUP_DEADLINE_S, ServerFactory, ServerProcess, child_env
from support.tls import CertFiles, make_certs, raw_connect, tls_peer

from chatroom.codecs.requests import Authenticate, Register, Reply, Request
from chatroom.irc.codec import IrcCodec, IrcSettings
from chatroom.irc.sasl import Challenge, Failed, Login, PlainExchange
from chatroom.limits import IRC_SASL_CHUNK_BYTES

IRC_TLS_BANNER = "Will wait for IRC clients over TLS at port "


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def plain(authcid: str, password: str, authzid: str = "") -> str:
    """A SASL PLAIN response, base64."""
    return b64(f"{authzid}\0{authcid}\0{password}".encode())


# -- the exchange, without I/O -----------------------------------------------------------------


def test_plain_is_challenged_with_a_plus_and_the_response_names_the_login() -> None:
    sasl = PlainExchange()
    assert sasl.step("plain") == Challenge()
    assert sasl.step(plain("jilles", "sesame")) == Login("jilles", "sesame")
    assert not sasl.under_way


def test_a_response_of_whole_chunks_ends_with_a_plus() -> None:
    name, password = "f" * 32, "x" * 234  # 300 bytes in all: 400 characters of base64, one whole chunk
    response = plain(name, password, name)
    assert len(response) == IRC_SASL_CHUNK_BYTES
    sasl = PlainExchange()
    sasl.step("PLAIN")
    assert sasl.step(response) is None
    assert sasl.step("+") == Login(name, password)


def test_a_response_split_in_chunks_is_joined() -> None:
    password = "é" * 200  # 400 bytes of password
    response = plain("foo", password)
    sasl = PlainExchange()
    sasl.step("PLAIN")
    assert sasl.step(response[:IRC_SASL_CHUNK_BYTES]) is None
    assert sasl.step(response[IRC_SASL_CHUNK_BYTES:]) == Failed(
        "904", "SASL authentication failed: a name and a password are needed"
    )  # over MAX_PASSWORD_BYTES: refused before any check


@pytest.mark.parametrize(
    ("response", "code"),
    [
        ("!!!", "904"),  # not base64
        (b64(b"\0\0sesame"), "904"),  # no authcid
        (b64(b"\0jilles\0"), "904"),  # no password
        (b64(b"jilles\0sesame"), "904"),  # one NUL
        (b64(b"\0jilles\0ses\0ame"), "904"),  # three
        (plain("jilles", "sesame", authzid="other"), "904"),  # acting as another account
        ("A" * (IRC_SASL_CHUNK_BYTES + 1), "905"),
        ("*", "906"),
    ],
)
def test_a_bad_response_ends_the_exchange_and_a_new_one_may_start(response: str, code: str) -> None:
    sasl = PlainExchange()
    sasl.step("PLAIN")
    step = sasl.step(response)
    assert isinstance(step, Failed) and step.code == code
    assert sasl.step("PLAIN") == Challenge()


def test_an_unknown_mechanism_fails_and_lists_ours() -> None:
    step = PlainExchange().step("SCRAM-SHA-256")
    assert step == Failed("904", "SASL authentication failed: unknown mechanism", mechanisms=True)


def test_endless_chunks_fail_once_past_the_bound() -> None:
    sasl = PlainExchange()
    sasl.step("PLAIN")
    steps = [sasl.step("A" * IRC_SASL_CHUNK_BYTES) for _ in range(10)]
    failed = [step for step in steps if step is not None]
    assert isinstance(failed[0], Failed) and failed[0].code == "904"
    assert "too long" in failed[0].sentence


def replies(requests: list[Request]) -> bytes:
    return b"".join(request.data for request in requests if isinstance(request, Reply))


def test_without_accounts_sasl_is_neither_offered_nor_granted() -> None:
    codec = IrcCodec(IrcSettings(server_name="srv"))
    assert replies(list(codec.requests(b"CAP LS 302\r\n"))) == b":srv CAP * LS :server-time message-tags\r\n"
    assert replies(list(codec.requests(b"CAP REQ :sasl\r\n"))) == b":srv CAP * NAK sasl\r\n"


def test_the_codec_waits_for_the_check_then_registers_the_account_with_its_proof() -> None:
    codec = IrcCodec(IrcSettings(server_name="srv", sasl=True))
    list(codec.requests(b"CAP LS 302\r\nNICK foo\r\nUSER foo 0 * :foo\r\nCAP REQ :sasl\r\n"))
    assert replies(list(codec.requests(b"AUTHENTICATE PLAIN\r\n"))) == b"AUTHENTICATE +\r\n"
    out = list(codec.requests(f"AUTHENTICATE {plain('Jilles', 'sesame')}\r\nCAP END\r\n".encode()))
    (login,) = out
    assert isinstance(login, Authenticate) and login.name == "Jilles"
    assert login.credentials.password == "sesame"
    assert codec.paused  # CAP END waits for the answer
    assert login.answered(None) == (
        b":srv 900 * Jilles!foo@srv Jilles :You are now logged in as Jilles\r\n"
        b":srv 903 * :SASL authentication successful\r\n"
    )
    (register,) = list(codec.waiting_requests())
    assert isinstance(register, Register) and register.name == "Jilles"
    assert register.credentials is not None and register.credentials.password == "sesame"


def test_a_refused_check_is_904_with_the_reason_and_registration_goes_on_without_login() -> None:
    codec = IrcCodec(IrcSettings(server_name="srv", sasl=True))
    list(codec.requests(b"CAP REQ :sasl\r\nNICK foo\r\nUSER foo 0 * :foo\r\nAUTHENTICATE PLAIN\r\n"))
    (login,) = list(codec.requests(f"AUTHENTICATE {plain('jilles', 'x')}\r\nCAP END\r\n".encode()))
    assert isinstance(login, Authenticate)
    assert login.answered("Wrong password for jilles.") == (
        b":srv 904 * :SASL authentication failed: Wrong password for jilles.\r\n"
    )
    (register,) = list(codec.waiting_requests())
    assert register == Register("foo", 0, None)


# -- against the server ------------------------------------------------------------------------


def claim(server: ServerProcess, name: str, password: str) -> None:
    """Protect `name` with `password` over CHAT/1.1 (from loopback: a safe channel), then leave."""
    peer = server.connect()
    peer.send_line(f"REGISTER {name} CHAT/1.1 replay=0 password={b64(password.encode())} claim=yes")
    assert peer.recv_line() == b"200 Registration successful"
    peer.send_line(f"DISCONNECT {name} CHAT/1.1")
    peer.recv_until_closed()


def sasl_start(peer: Peer, nick: str = "foo") -> None:
    """CAP LS 302, NICK, USER, CAP REQ :sasl, AUTHENTICATE PLAIN, up to the server's `AUTHENTICATE +`."""
    peer.send(f"CAP LS 302\r\nNICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nCAP REQ :sasl\r\n".encode())
    assert recv_until(peer, b" ACK ")[-1].endswith(b"ACK sasl")
    peer.send(b"AUTHENTICATE PLAIN\r\n")
    assert peer.recv_line() == b"AUTHENTICATE +\r"


@pytest.fixture
def server(start_server: ServerFactory) -> ServerProcess:
    server = start_server("--irc-port", "0", "--server-name", "srv")
    claim(server, "jilles", "sesame")
    return server


def test_cap_ls_302_offers_sasl_plain_and_older_cap_ls_offers_sasl(server: ServerProcess) -> None:
    new, old = irc_connect(server), irc_connect(server)
    new.send(b"CAP LS 302\r\n")
    assert new.recv_line() == b":srv CAP * LS :server-time message-tags sasl=PLAIN\r"
    old.send(b"CAP LS\r\n")
    assert old.recv_line() == b":srv CAP * LS :server-time message-tags sasl\r"


def test_a_sasl_login_registers_the_client_as_its_account_and_it_chats(server: ServerProcess) -> None:
    """The login names the account: NICK foo, logged in as jilles, is welcomed as jilles."""
    chat = server.register("reader")
    irc = irc_connect(server)
    sasl_start(irc, "foo")
    irc.send(f"AUTHENTICATE {plain('jilles', 'sesame')}\r\n".encode())
    assert irc.recv_line() == b":srv 900 * jilles!foo@srv jilles :You are now logged in as jilles\r"
    assert irc.recv_line() == b":srv 903 * :SASL authentication successful\r"
    irc.send(b"CAP END\r\nJOIN #lobby\r\nPRIVMSG #lobby :hello from irc\r\n")
    assert recv_until(irc, b" 001 ")[-1].startswith(b":srv 001 jilles ")
    assert chat.recv_line() == b"@jilles: hello from irc"


def test_a_login_to_an_account_in_use_ends_with_433_for_the_account(server: ServerProcess) -> None:
    chat = server.connect()
    chat.send_line(f"REGISTER jilles CHAT/1.1 replay=0 password={b64(b'sesame')}")
    assert chat.recv_line() == b"200 Registration successful"
    irc = irc_connect(server)
    sasl_start(irc, "foo")
    irc.send(f"AUTHENTICATE {plain('jilles', 'sesame')}\r\nCAP END\r\n".encode())
    assert recv_until(irc, b" 433 ")[-1] == b":srv 433 * jilles :Nickname is already in use"
    assert irc.recv_line().startswith(b"ERROR ")


def test_a_wrong_password_is_904_and_the_client_may_try_again(server: ServerProcess) -> None:
    irc = irc_connect(server)
    sasl_start(irc, "jilles")
    irc.send(f"AUTHENTICATE {plain('jilles', 'millet')}\r\n".encode())
    assert irc.recv_line() == b":srv 904 * :SASL authentication failed: Wrong password for jilles.\r"
    server.wait_for_log("Wrong password for jilles from 127.0.0.1")
    irc.send(f"AUTHENTICATE PLAIN\r\nAUTHENTICATE {plain('jilles', 'sesame')}\r\n".encode())
    assert irc.recv_line() == b"AUTHENTICATE +\r"
    assert irc.recv_line().startswith(b":srv 900 ")
    assert irc.recv_line().startswith(b":srv 903 ")
    irc.send(b"CAP END\r\n")
    assert recv_until(irc, b" 001 ")[-1].startswith(b":srv 001 jilles ")


def test_after_a_failed_login_the_client_may_register_under_another_nick(server: ServerProcess) -> None:
    irc = irc_connect(server)
    sasl_start(irc, "guest")
    irc.send(f"AUTHENTICATE {plain('jilles', 'millet')}\r\n".encode())
    assert recv_until(irc, b" 904 ")
    irc.send(b"CAP END\r\n")
    assert recv_until(irc, b" 001 ")[-1].startswith(b":srv 001 guest ")


def test_abort_is_906_and_an_unknown_mechanism_908_then_904(server: ServerProcess) -> None:
    irc = irc_connect(server)
    sasl_start(irc)
    irc.send(b"AUTHENTICATE *\r\nAUTHENTICATE SCRAM-SHA-256\r\n")
    assert irc.recv_line() == b":srv 906 * :SASL authentication aborted\r"
    assert irc.recv_line() == b":srv 908 * PLAIN :are available SASL mechanisms\r"
    assert irc.recv_line() == b":srv 904 * :SASL authentication failed: unknown mechanism\r"


def test_registering_during_an_exchange_aborts_it_and_registers_without_login(server: ServerProcess) -> None:
    irc = irc_connect(server)
    sasl_start(irc, "guest")
    irc.send(b"CAP END\r\n")
    assert irc.recv_line() == b":srv 906 * :SASL authentication aborted\r"
    assert irc.recv_line().startswith(b":srv 001 guest ")


def test_logging_in_as_another_account_than_the_authcid_is_refused(server: ServerProcess) -> None:
    claim(server, "other", "password")
    irc = irc_connect(server)
    sasl_start(irc)
    irc.send(f"AUTHENTICATE {plain('jilles', 'sesame', authzid='other')}\r\n".encode())
    assert irc.recv_line() == b":srv 904 * :SASL authentication failed: you may log in only as yourself\r"


def test_a_login_to_a_name_nobody_claimed_is_904(server: ServerProcess) -> None:
    irc = irc_connect(server)
    sasl_start(irc)
    irc.send(f"AUTHENTICATE {plain('nobody', 'x')}\r\n".encode())
    assert irc.recv_line().startswith(
        b":srv 904 * :SASL authentication failed: The name nobody is not protected"
    )


def test_a_protected_nick_is_refused_to_a_client_that_did_not_log_in(server: ServerProcess) -> None:
    irc = irc_connect(server)
    irc.send(b"NICK Jilles\r\nUSER j 0 * :j\r\n")
    why = b"The nick Jilles is protected by a password: log in with SASL, or choose another"
    assert irc.recv_line() == b":srv 433 * Jilles :" + why + b"\r"
    assert irc.recv_line() == b"ERROR :Closing link: " + why + b"\r"
    irc.expect_closed()


def test_authenticate_after_registration_is_462_or_907_when_logged_in(server: ServerProcess) -> None:
    guest = irc_connect(server)
    guest.send(b"NICK guest\r\nUSER g 0 * :g\r\n")
    recv_until(guest, b" 422 ")
    guest.send(b"AUTHENTICATE PLAIN\r\n")
    assert guest.recv_line().startswith(b":srv 462 guest ")
    member = irc_connect(server)
    sasl_start(member, "jilles")
    member.send(f"AUTHENTICATE {plain('jilles', 'sesame')}\r\nCAP END\r\n".encode())
    recv_until(member, b" 422 ")
    member.send(b"AUTHENTICATE PLAIN\r\n")
    assert member.recv_line() == b":srv 907 jilles :You have already authenticated using SASL\r"


def test_authenticate_without_the_sasl_capability_is_904(server: ServerProcess) -> None:
    irc = irc_connect(server)
    irc.send(b"AUTHENTICATE PLAIN\r\n")
    assert irc.recv_line() == b":srv 904 * :SASL authentication failed: request the sasl capability first\r"


# -- PASS --------------------------------------------------------------------------------------


@pytest.fixture
def guarded(start_server: ServerFactory, tmp_path: Path) -> ServerProcess:
    secret = tmp_path / "irc-password"
    secret.write_text("open sesame\n")
    return start_server("--irc-port", "0", "--server-name", "srv", "--irc-password-file", str(secret))


def test_pass_with_the_connection_password_registers(guarded: ServerProcess) -> None:
    irc = irc_connect(guarded)
    irc.send(b"PASS :open sesame\r\nNICK foo\r\nUSER foo 0 * :foo\r\n")
    assert irc.recv_line().startswith(b":srv 001 foo ")


@pytest.mark.parametrize("pass_line", [b"", b"PASS open\r\n", b"PASS :open sesame!\r\n"])
def test_a_missing_or_wrong_pass_is_464_and_error_and_the_connection_ends(
    guarded: ServerProcess, pass_line: bytes
) -> None:
    irc = irc_connect(guarded)
    irc.send(pass_line + b"NICK foo\r\nUSER foo 0 * :foo\r\n")
    assert irc.recv_line() == b":srv 464 * :Password incorrect\r"
    assert irc.recv_line() == b"ERROR :Closing link: Bad password\r"
    irc.expect_closed()


def test_the_password_flag_works_like_the_file(start_server: ServerFactory) -> None:
    server = start_server("--irc-port", "0", "--server-name", "srv", "--irc-password", "pw")
    right, wrong = irc_connect(server), irc_connect(server)
    right.send(b"PASS pw\r\nNICK foo\r\nUSER foo 0 * :foo\r\n")
    assert right.recv_line().startswith(b":srv 001 foo ")
    wrong.send(b"PASS pW\r\nNICK bar\r\nUSER bar 0 * :bar\r\n")
    assert wrong.recv_line() == b":srv 464 * :Password incorrect\r"


# -- IRC over TLS ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("certs"))


def test_irc_over_tls_chats_with_a_chat_user_and_logs_in_with_sasl(
    start_server: ServerFactory, certs: CertFiles
) -> None:
    server = start_server(
        "--irc-port", "0", "--irc-tls-port", "0", "--server-name", "srv", *certs.server_args()
    )
    port = int(server.wait_for_log(IRC_TLS_BANNER).removeprefix(IRC_TLS_BANNER))
    lines = server.stdout.lines
    assert lines.index(f"{IRC_TLS_BANNER}{port}") == lines.index(f"{IRC_BANNER}{irc_port(server)}") + 1
    claim(server, "jilles", "sesame")
    chat = server.register("reader")
    irc = tls_peer(port, certs.client_context())
    server.peers.append(irc)
    sasl_start(irc, "jilles")
    irc.send(f"AUTHENTICATE {plain('jilles', 'sesame')}\r\nCAP END\r\n".encode())
    assert recv_until(irc, b" 001 ")[-2].startswith(b":srv 903 ")
    recv_until(irc, b" 422 ")
    irc.send(b"JOIN #lobby\r\n")
    recv_until(irc, b" 366 ")
    irc.send(b"PRIVMSG #lobby :over tls \xe2\x98\x83\r\n")
    assert chat.recv_line() == "@jilles: over tls \u2603".encode()
    chat.send_line("@reader: back")
    assert irc.recv_line() == b":reader!reader@srv PRIVMSG #lobby :back\r"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["--irc-port", "0", "--irc-tls-port", "0"],
            "--irc-tls-port needs --tls-cert FILE and --tls-key FILE",
        ),
        (["--irc-password", "pw"], "--irc-password needs --irc-port PORT"),
        (["--irc-port", "0", "--irc-password", ""], "--irc-password: the connection password is empty"),
        (
            ["--irc-port", "0", "--irc-password-file", "/nonexistent/pw"],
            "--irc-password-file: cannot read /nonexistent/pw: "
            "[Errno 2] No such file or directory: '/nonexistent/pw'",
        ),
    ],
)
def test_a_wrong_irc_login_flag_is_one_error_sentence(args: list[str], error: str) -> None:
    done = subprocess.run(
        [sys.executable, "server.py", "--db", ":memory:", *args],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=STARTUP_DEADLINE_S,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"chatroom-server: error: {error}"
    assert "Traceback" not in done.stderr


def test_a_sasl_password_over_plain_tcp_from_another_host_is_refused_and_over_tls_accepted(
    start_server: ServerFactory, certs: CertFiles
) -> None:
    host = non_loopback_address()
    if host is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    server = start_server(
        "--host",
        "0.0.0.0",
        "--irc-port",
        "0",
        "--irc-tls-port",
        "0",
        "--server-name",
        "srv",
        *certs.server_args(),
    )
    claim(server, "jilles", "sesame")
    plain_peer = Peer.connect(irc_port(server), host)
    server.peers.append(plain_peer)
    sasl_start(plain_peer)
    plain_peer.send(f"AUTHENTICATE {plain('jilles', 'sesame')}\r\n".encode())
    assert plain_peer.recv_line() == (
        b":srv 904 * :SASL authentication failed: The server refuses passwords over an unencrypted "
        b"connection from another host; use TLS, or ask its operator.\r"
    )
    port = int(server.wait_for_log(IRC_TLS_BANNER).removeprefix(IRC_TLS_BANNER))
    raw = Peer.connect(port, host)
    sock = certs.client_context().wrap_socket(raw.sock, server_hostname="localhost")
    sock.settimeout(DEADLINE_S)
    secure = Peer(sock)
    server.peers.append(secure)
    sasl_start(secure)
    secure.send(f"AUTHENTICATE {plain('jilles', 'sesame')}\r\n".encode())
    assert secure.recv_line().startswith(b":srv 900 ")


def irc_tls_server(start_server: ServerFactory, certs: CertFiles, *args: str) -> tuple[ServerProcess, int]:
    server = start_server(
        "--irc-port", "0", "--irc-tls-port", "0", "--server-name", "srv", *certs.server_args(), *args
    )
    return server, int(server.wait_for_log(IRC_TLS_BANNER).removeprefix(IRC_TLS_BANNER))


def test_sighup_reloads_the_certificate_of_the_irc_tls_port_too(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    first, second = make_certs(tmp_path / "first"), make_certs(tmp_path / "second")
    server, port = irc_tls_server(start_server, first)
    before = tls_peer(port, first.client_context())
    server.peers.append(before)
    second_pair = second.cert_file.read_bytes(), second.key_file.read_bytes()
    first.cert_file.write_bytes(second_pair[0])
    first.key_file.write_bytes(second_pair[1])
    mark = server.log_mark()
    server.proc.send_signal(signal.SIGHUP)
    server.wait_for_log("TLS certificate and key reloaded", after=mark)
    after = tls_peer(port, second.client_context())
    server.peers.append(after)
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_peer(port, first.client_context())
    before.send(b"NICK early\r\nUSER e 0 * :e\r\n")  # connected before: still served
    assert before.recv_line().startswith(b":srv 001 early ")


def test_the_irc_tls_handshake_timeout_closes_a_staller(
    start_server: ServerFactory, certs: CertFiles
) -> None:
    server, port = irc_tls_server(start_server, certs, "--tls-handshake-timeout", "0.3")
    mark = server.log_mark()
    staller = Peer(raw_connect(port))
    staller.expect_closed(timeout=DEADLINE_S)
    server.wait_for_log("TLS handshake timeout", after=mark)
