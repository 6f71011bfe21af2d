#!/usr/bin/env python3
"""Take docs/images/web.png: the web page in headless chromium, with a short conversation.

Starts the real server (`--web-port 0`, history in a temporary file), a
terminal user on a raw CHAT/1.0 socket and two browser users, has them talk,
and saves what alice's tab shows. Needs chromium, chromium-driver, selenium
and wsproto (scripts/test installs them). Usage: scripts/web_screenshot.py [OUT.png]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.browser import Page, chromium, missing  # noqa: E402
from support.peer import Peer  # noqa: E402
from support.processes import OutputLines, child_env  # noqa: E402

PLAIN_BANNER = "Will wait for client connections at port "
WEB_BANNER = "Will wait for web browsers at port "


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images" / "web.png"
    if reason := missing():
        print(f"web_screenshot: {reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="chatroom-shot-") as tmp:
        db = os.path.join(tmp, "history.db")
        args = [sys.executable, "server.py", "--port", "0", "--web-port", "0", "--db", db]
        server = subprocess.Popen(
            args,
            cwd=ROOT,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert server.stdout is not None
        log = OutputLines(server.stdout, "server")
        try:
            port = int(log.wait_for(PLAIN_BANNER).removeprefix(PLAIN_BANNER))
            url = f"http://127.0.0.1:{int(log.wait_for(WEB_BANNER).removeprefix(WEB_BANNER))}/"
            carol = Peer.connect(port)
            carol.register("carol")
            carol.send_line("@carol: morning all: the release notes are in the wiki")  # alice's history
            with chromium(window_size="1000,640") as driver:
                alice = Page.open(driver, url, new_tab=False)
                alice.login("alice")
                alice.wait_line("release notes", ".history")
                bob = Page.open(driver, url)
                bob.login("bob")
                bob.say("hi alice! coffee at 11?")
                alice.wait_line("coffee", ".msg")
                alice.say("sure, see you there")
                bob.wait_line("see you there", ".msg")
                bob.say("!join #dev")
                alice.say("!join #dev")
                alice.wait(lambda _: alice.current_room() == "#dev", "alice in #dev")
                alice.find('#rooms li[data-room="#lobby"]').click()
                bob.say("the build is green again")
                carol.send_line("@carol: !msg alice can you review #42 today?")
                alice.wait_line("review #42", ".private")
                alice.wait(
                    lambda _: alice.text_of('#rooms li[data-room="#dev"] .unread') == "1", "unread #dev"
                )
                alice.say("!msg carol yes, after lunch")
                alice.wait(lambda _: alice.find("#status").text.startswith("215"), "215 on the status line")
                out.parent.mkdir(parents=True, exist_ok=True)
                alice.focus().save_screenshot(str(out))
            carol.close()
        finally:
            server.terminate()
            server.wait()
    print(f"web_screenshot: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
