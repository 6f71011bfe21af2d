"""Section 9 of docs/PROTOCOL.md against the real server: protected names, passwords, operators, bans.

The server runs as a child process and raw peers (support.peer.Peer) speak
CHAT/1.1 registrations to it over loopback (which is a safe channel for
passwords: the bytes never leave the machine).
"""

from __future__ import annotations

import base64
import re
import threading
from pathlib import Path

import pytest
from support.peer import DEADLINE_S, Peer, non_loopback_address
from support.processes import ServerFactory, ServerProcess
from support.tls import make_certs, tls_port

OK = b"200 Registration successful"


def b64(password: str) -> str:
    return base64.b64encode(password.encode()).decode()


def register11(server: ServerProcess, name: str, options: str = "") -> tuple[Peer, bytes]:
    """A CHAT/1.1 registration with `options`; the peer and its reply line."""
    peer = server.connect()
    peer.send_line(f"REGISTER {name} CHAT/1.1 replay=0 {options}".rstrip())
    return peer, peer.recv_line()


def claim(server: ServerProcess, name: str, password: str) -> Peer:
    peer, reply = register11(server, name, f"password={b64(password)} claim=yes")
    assert reply == OK, reply
    return peer


def login(server: ServerProcess, name: str, password: str) -> Peer:
    peer, reply = register11(server, name, f"password={b64(password)}")
    assert reply == OK, reply
    return peer


def until_reply(peer: Peer) -> bytes:
    """The next reply line (NNN text), skipping CHAT/1.1 events."""
    while True:
        line = peer.recv_line()
        if re.match(rb"\d{3}[ -]", line):
            return line


def leave(peer: Peer, name: str) -> None:
    peer.send_line(f"DISCONNECT {name} CHAT/1.1")
    peer.recv_until_closed()  # the events of entering #lobby, then the close


# -- passwords ------------------------------------------------------------------------------------


def test_a_claimed_name_is_refused_without_its_password_and_with_a_wrong_one(server: ServerProcess) -> None:
    leave(claim(server, "alice", "hunter 2"), "alice")
    peer, reply = register11(server, "alice")
    assert reply.startswith(b"401 The name alice is protected by a password")
    peer.expect_closed()
    mark = server.log_mark()
    peer, reply = register11(server, "ALICE", f"password={b64('hunter 3')}")
    assert reply == b"403 Wrong password for ALICE."
    peer.expect_closed()
    server.wait_for_log("Wrong password for ALICE from 127.0.0.1", after=mark)


def test_the_right_password_is_accepted_and_the_name_is_then_in_use(server: ServerProcess) -> None:
    leave(claim(server, "alice", "pässword"), "alice")
    alice = login(server, "alice", "pässword")
    _other, reply = register11(server, "alice", f"password={b64('pässword')}")
    assert reply == b"401 Client already registered"  # one connection per name, proven or not
    alice.send_line("@alice: !list")
    assert until_reply(alice).startswith(b"213")


def test_a_chat_1_0_client_asking_for_a_protected_name_gets_the_name_taken_reply(
    server: ServerProcess,
) -> None:
    leave(claim(server, "alice", "secret"), "alice")
    peer = server.connect()
    peer.send_line("REGISTER alice CHAT/1.0")
    assert peer.recv_until_closed() == b"401 Client already registered\n"


def test_a_password_for_a_name_nobody_claimed_is_refused_with_a_hint(server: ServerProcess) -> None:
    peer, reply = register11(server, "bob", f"password={b64('x')}")
    assert reply.startswith(b"404 The name bob is not protected")
    peer.expect_closed()
    server.register("bob")  # and an ordinary registration of it works


def test_of_two_connections_claiming_one_name_at_once_exactly_one_wins(server: ServerProcess) -> None:
    peers = [server.connect() for _ in range(2)]
    replies: list[bytes] = [b"", b""]
    ready = threading.Barrier(2)

    def race(index: int) -> None:
        ready.wait()
        peers[index].send_line(f"REGISTER carol CHAT/1.1 password={b64(f'pw{index}')} claim=yes")
        replies[index] = peers[index].recv_line()

    threads = [threading.Thread(target=race, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(reply == OK for reply in replies) == [False, True], replies
    loser = replies.index(OK) ^ 1
    assert replies[loser] in (b"403 Wrong password for carol.", b"401 Client already registered")
    winner = replies.index(OK)
    leave(peers[winner], "carol")
    login(server, "carol", f"pw{winner}")


def test_a_password_can_be_changed_at_login_and_the_claim_given_up(server: ServerProcess) -> None:
    leave(claim(server, "dave", "old"), "dave")
    peer, reply = register11(server, "dave", f"password={b64('old')} new-password={b64('new')}")
    assert reply == OK
    leave(peer, "dave")
    peer, reply = register11(server, "dave", f"password={b64('old')}")
    assert reply == b"403 Wrong password for dave."
    dave = login(server, "dave", "new")
    dave.send_line("@dave: !unclaim")
    assert until_reply(dave) == b"219 The name dave is no longer protected."
    leave(dave, "dave")
    server.register("dave")


def test_unclaim_from_a_connection_that_gave_no_password_is_refused(server: ServerProcess) -> None:
    erin = server.register("erin")
    erin.send_line("@erin: !unclaim")
    assert erin.recv_line().startswith(b"403 ")


def test_a_malformed_password_option_is_an_invalid_registration(server: ServerProcess) -> None:
    for options in ("password=not*base64", "claim=yes", "claim=no password=eA==", "new-password=eA=="):
        peer, reply = register11(server, "frank", options)
        assert reply == b"400 Invalid registration", options
        peer.expect_closed()


def test_passwords_from_another_host_are_refused_unless_the_operator_allows_them(
    start_server: ServerFactory,
) -> None:
    """Connecting to this machine's own non-loopback address makes the peer 'another host'."""
    host = non_loopback_address()
    if host is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    strict = start_server("--host", "0.0.0.0")
    peer = Peer.connect(strict.port, host)
    peer.send_line(f"REGISTER gina CHAT/1.1 password={b64('pw')} claim=yes")
    assert peer.recv_line() == (
        b"403 The server refuses passwords over an unencrypted connection from another host; "
        b"use TLS, or ask its operator."
    )
    peer.expect_closed()
    claim(strict, "gina", "pw")  # the same from loopback is fine
    relaxed = start_server("--host", "0.0.0.0", "--allow-plain-passwords", "--operator", "root")
    peer = Peer.connect(relaxed.port, host)
    peer.send_line(f"REGISTER gina CHAT/1.1 password={b64('pw')} claim=yes")
    assert peer.recv_line() == OK
    peer.close()
    peer = Peer.connect(relaxed.port, host)  # but an operator name is claimed only from this machine
    peer.send_line(f"REGISTER root CHAT/1.1 password={b64('pw')} claim=yes")
    assert peer.recv_line() == b"403 Operator names are claimed only from the server's own machine."
    peer.close()


def test_wrong_passwords_past_the_limit_are_refused_without_being_checked(server: ServerProcess) -> None:
    leave(claim(server, "hank", "right"), "hank")
    for _ in range(5):
        _, reply = register11(server, "hank", f"password={b64('wrong')}")
        assert reply == b"403 Wrong password for hank."
    _peer, reply = register11(server, "hank", f"password={b64('right')}")
    assert reply.startswith(b"429 Too many wrong passwords; try again in ")


def test_a_wrong_password_with_pipelined_lines_and_a_quick_close_relays_nothing(
    server: ServerProcess,
) -> None:
    leave(claim(server, "ivy", "right"), "ivy")
    watcher = server.register("watcher")
    mark = server.log_mark()
    peer = server.connect()
    peer.send_line(f"REGISTER ivy CHAT/1.1 password={b64('wrong')}\n@ivy: sneaky")
    peer.close()  # gone before the answer, which comes a second late
    server.wait_for_log("Wrong password for ivy", after=mark)
    ivy = login(server, "ivy", "right")
    ivy.send_line("@ivy: hello")
    assert watcher.recv_line() == b"@ivy: hello"  # the first line from any ivy: 'sneaky' was never relayed


# -- operators ------------------------------------------------------------------------------------


def operator_server(start_server: ServerFactory, *args: str) -> tuple[ServerProcess, Peer]:
    server = start_server("--operator", "root", *args)
    return server, claim(server, "root", "toor")


def test_an_operator_kicks_a_user_who_gets_one_last_line_saying_who_and_why(
    start_server: ServerFactory,
) -> None:
    server, root = operator_server(start_server)
    root.send_line("@root: !help")
    help_lines = [until_reply(root)]  # after the events of entering #lobby
    while not help_lines[-1].startswith(b"218 "):
        help_lines.append(root.recv_line())
    assert any(b"!kick NAME [REASON]" in line for line in help_lines)  # shown to operators
    bob = server.register("bob")
    mark = server.log_mark()
    root.send_line("@root: !kick bob spamming the lobby")
    assert until_reply(root) == b"220 Kicked bob."
    assert bob.recv_until_closed().endswith(b"403 You were kicked by root: spamming the lobby\n")
    server.wait_for_log("Operator root kicked bob: spamming the lobby", after=mark)


def test_operator_commands_are_refused_to_others_and_to_an_unproven_operator_name(
    start_server: ServerFactory,
) -> None:
    server = start_server("--operator", "root")
    bob = server.register("bob")
    root = server.register("root")  # not claimed yet: the name, but not the power
    for peer, name in ((bob, "bob"), (root, "root")):
        peer.send_line(f"@{name}: !kick bob")
        assert peer.recv_line() == b"403 Only operators may use !kick."
    bob.send_line("@bob: !help")
    lines = [bob.recv_line()]
    while lines[-1].startswith(b"218-"):
        lines.append(bob.recv_line())
    assert not any(b"!kick" in line for line in lines)


def test_a_ban_survives_a_restart_with_the_same_database_and_unban_ends_it(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    db = str(tmp_path / "chat.sqlite3")
    server, root = operator_server(start_server, "--db", db)
    bob = server.register("bob")
    root.send_line("@root: !ban bob 2h")
    reply = until_reply(root)
    assert re.fullmatch(rb"220 bob is banned until \d{4}-\d\d-\d\d \d\d:\d\dZ\.", reply), reply
    assert re.search(rb"403 You were banned by root until .*Z\.\n$", bob.recv_until_closed())
    root.send_line("@root: !ban mallory")
    assert until_reply(root) == b"220 mallory is banned."
    leave(root, "root")
    assert server.stop() == 0

    again = start_server("--operator", "root", "--db", db)
    for name in ("bob", "Mallory"):
        peer = again.connect()
        peer.send_line(f"REGISTER {name} CHAT/1.0")
        assert peer.recv_until_closed().startswith(f"403 The name {name} is banned".encode())
    root = login(again, "root", "toor")  # the account survived too
    root.send_line("@root: !unban bob")
    assert until_reply(root) == b"220 bob is no longer banned."
    again.register("bob")
    root.send_line("@root: !unban bob")
    assert until_reply(root) == b"404 bob is not banned."


def test_closing_a_room_sends_its_members_back_to_the_lobby(start_server: ServerFactory) -> None:
    server, root = operator_server(start_server)
    bob = server.register("bob")  # CHAT/1.0
    carol, reply = register11(server, "carol")
    assert reply == OK
    for peer, name in ((bob, "bob"), (carol, "carol")):
        peer.send_line(f"@{name}: !join #dev")
        assert until_reply(peer).startswith(b"210 You are now in #dev")
    bob.send_line("@bob: !topic release friday")
    assert bob.recv_line() == b"212 The topic of #dev is now: release friday"
    root.send_line("@root: !close #dev")
    assert until_reply(root) == b"220 Closed #dev (2 members sent to #lobby)."
    assert bob.recv_line() == b"210 #dev was closed; you are now in #lobby."
    while carol.recv_line() != b"LEFT #dev carol":
        pass
    bob.send_line("@bob: !rooms")
    assert bob.recv_line() == b"211-#lobby 3 members"  # #dev is gone
    assert bob.recv_line() == b"211 1 room."
    bob.send_line("@bob: !join #dev")
    assert bob.recv_line() == b"210 You are now in #dev (1 member)."
    bob.send_line("@bob: !topic")
    assert bob.recv_line() == b"212 #dev has no topic; !topic TEXT sets one."  # forgotten with the room
    root.send_line("@root: !close #lobby")
    assert until_reply(root) == b"400 #lobby cannot be closed."


def test_a_password_over_tls_from_another_host_is_accepted(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """TLS makes the channel safe for a password whatever the peer's address (no --allow-plain-passwords)."""
    host = non_loopback_address()
    if host is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    certs = make_certs(tmp_path / "certs")
    server = start_server("--host", "0.0.0.0", *certs.server_args())
    claim(server, "ivy", "pw").close()  # claimed from loopback, over plain TCP
    plain = Peer.connect(tls_port(server), host)
    sock = certs.client_context().wrap_socket(plain.sock, server_hostname="localhost")
    sock.settimeout(DEADLINE_S)
    peer = Peer(sock)
    peer.send_line(f"REGISTER ivy CHAT/1.1 replay=0 password={b64('pw')}")
    assert peer.recv_line() == OK
    peer.close()
