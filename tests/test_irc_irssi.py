"""A real IRC client end to end: Debian's irssi, in tmux, against `server.py --irc-port 0`.

irssi connects to the IRC listener over loopback, joins #lobby, and chats both
ways with a CHAT/1.0 user (a raw socket), the text exact on both sides: the
CHAT/1.0 user reads bytes, irssi's side is read off its screen. A CHAT/1.1
user watches the room and sees irssi enter and, after /quit, leave. Every wait
is on a condition (the screen polled with a deadline, or a line awaited),
never a fixed sleep. Without irssi or tmux the test skips with the reason;
under CI (the CI variable set) it fails instead, since scripts/test installs both.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.irssi import Irssi, missing
from support.peer import Peer
from support.processes import REPO_ROOT, ServerFactory, ServerProcess, child_env

IRC_BANNER = "Will wait for IRC clients at port "

pytestmark = pytest.mark.timeout(90)


def listener_missing() -> str | None:
    """Why this checkout has no IRC listener to test, or None."""
    usage = subprocess.run(
        [sys.executable, "server.py", "--help"],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return None if "--irc-port" in usage else "server.py has no --irc-port (the IRC listener is not merged)"


@pytest.fixture
def irssi(tmp_path: Path) -> Iterator[Irssi]:
    reason = missing() or listener_missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the irssi test cannot run under CI: {reason}", pytrace=False)
        pytest.skip(reason)
    client = Irssi(tmp_path / "irssi", "ann")
    try:
        yield client
    finally:
        client.close()


def next_line_with(peer: Peer, prefix: bytes) -> bytes:
    """The next line from `peer` that starts with `prefix` (events before it are passed over)."""
    while not (line := peer.recv_line()).startswith(prefix):
        pass
    return line


def irc_port(server: ServerProcess) -> int:
    return int(server.wait_for_log(IRC_BANNER).removeprefix(IRC_BANNER))


def test_irssi_joins_lobby_chats_both_ways_and_quits(start_server: ServerFactory, irssi: Irssi) -> None:
    server = start_server("--irc-port", "0", "--server-name", "e2e.local")
    port = irc_port(server)
    bob = server.register("bob")  # CHAT/1.0: chat lines only
    carol = server.connect()  # CHAT/1.1: also the room's comings and goings
    carol.send_line("REGISTER carol CHAT/1.1")
    assert carol.recv_line() == b"200 Registration successful"
    next_line_with(carol, b"MEMBERS-END #lobby ")

    irssi.type(f"/connect 127.0.0.1 {port}")
    # The end of registration: the MOTD, or 422 when there is none (irssi shows either).
    irssi.wait_for(r"(?i)motd")
    irssi.type("/join #lobby")
    assert next_line_with(carol, b"JOINED #lobby ") == b"JOINED #lobby ann"
    irssi.wait_for(r"ann .*has joined #lobby")

    # CHAT/1.0 -> irssi: the text after bob's prefix, exactly, from the nick bob.
    to_irc = "héllo from CHAT/1.0 — ünïcode, <tags> & 100% 'quotes'"
    bob.send_line(f"@bob: {to_irc}")
    irssi.wait_for(r"<[ @+%]?bob> " + re.escape(to_irc) + "$")
    assert next_line_with(carol, b"MSG ") == f"MSG #lobby bob {to_irc}".encode()

    # irssi -> CHAT/1.0: the same bytes as a chat line from ann.
    to_chat = "hi bob, from irssi: ÅØ — ñ"
    irssi.type(to_chat)
    assert bob.recv_line() == f"@ann: {to_chat}".encode()
    assert next_line_with(carol, b"MSG ") == f"MSG #lobby ann {to_chat}".encode()
    irssi.wait_for(r"<[ @+%]?ann> " + re.escape(to_chat) + "$")

    irssi.type("/quit see you")
    irssi.wait_exited()
    assert next_line_with(carol, b"LEFT ") == b"LEFT #lobby ann"
    bob.send_line("@bob: still here")
    assert next_line_with(carol, b"MSG ") == b"MSG #lobby bob still here"
    assert bob.has_nothing_to_read(), "a CHAT/1.0 user sees nothing of an IRC user's coming and going"
