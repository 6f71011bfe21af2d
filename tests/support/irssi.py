"""Debian's irssi in a private tmux server: keys typed in, the screen read back.

tmux gives irssi a real terminal without one on the test machine, and
`capture-pane -p` turns the screen into text a test can wait on. Each Irssi
has its own tmux socket and its own irssi home (an empty config: no servers,
no networks, nothing to autoconnect to), so a test only ever talks to the
server it started, over loopback. Without irssi or tmux the tests skip with
the reason, except under CI, where that is a failure (scripts/test installs both).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

IRSSI_DEADLINE_S = 15.0
# A condition the screen should show within this long; irssi starts in well under a
# second, but a loaded CI machine shares its two cores with the server and pytest.

POLL_S = 0.05
# How often the screen is read while waiting: capture-pane is cheap (one fork).

COLUMNS, ROWS = 200, 50
# Wide enough that no line a test waits for is wrapped.

CONFIG = """\
servers = ( );
chatnets = { };
channels = ( );
settings = {
  core = {
    real_name = "irssi end to end"; user_name = "%(nick)s"; nick = "%(nick)s"; settings_autosave = "no";
  };
  "fe-common/core" = { autolog = "no"; beep_msg_level = ""; };
  "irc/core" = { cmd_queue_speed = "0msec"; cmds_max_at_once = "1000"; };
};
"""


def missing() -> str | None:
    """Why irssi cannot run here, or None when it can."""
    absent = [name for name in ("irssi", "tmux") if shutil.which(name) is None]
    if absent:
        return f"{' and '.join(absent)} not installed (apt-get install -y irssi tmux; scripts/test does it)"
    return None


class Irssi:
    """One irssi, started with `nick`, in a detached tmux session of its own tmux server."""

    def __init__(self, home: Path, nick: str) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "config").write_text(CONFIG % {"nick": nick}, encoding="utf-8")
        # tmux's socket path must fit in sun_path (108 bytes): pytest's tmp_path may not.
        self._socket_dir = tempfile.mkdtemp(prefix="irssi-tmux-")
        self.socket = os.path.join(self._socket_dir, "s")
        self.env = {
            **os.environ,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TERM": "xterm-256color",
            "HOME": str(home),
        }
        command = f"irssi --home={home} --config={home / 'config'} --noconnect -n {nick}"
        self._tmux("new-session", "-d", "-s", "irssi", "-x", str(COLUMNS), "-y", str(ROWS), command)

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-u", "-f", "/dev/null", "-S", self.socket, *args],
            env=self.env,
            check=check,
            capture_output=True,
            text=True,
            timeout=IRSSI_DEADLINE_S,
        )

    def type(self, text: str) -> None:
        """Type `text` literally, then Enter."""
        self._tmux("send-keys", "-t", "irssi", "-l", text)
        self._tmux("send-keys", "-t", "irssi", "Enter")

    def screen(self) -> str:
        """The visible screen, wrapped lines joined."""
        return self._tmux("capture-pane", "-p", "-J", "-t", "irssi").stdout

    def running(self) -> bool:
        return self._tmux("has-session", "-t", "irssi", check=False).returncode == 0

    def wait_for(self, pattern: str, timeout: float = IRSSI_DEADLINE_S) -> re.Match[str]:
        """The first match of the regular expression `pattern` on the screen, polled until `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen() if self.running() else ""
            found = re.search(pattern, screen, re.MULTILINE)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"irssi: no {pattern!r} on the screen after {timeout:g} s:\n{screen}")
            time.sleep(POLL_S)

    def wait_exited(self, timeout: float = IRSSI_DEADLINE_S) -> None:
        """Wait until irssi exited (its tmux session ends with it)."""
        deadline = time.monotonic() + timeout
        while self.running():
            if time.monotonic() > deadline:
                raise AssertionError(f"irssi still running {timeout:g} s later:\n{self.screen()}")
            time.sleep(POLL_S)

    def close(self) -> None:
        """Stop this tmux server (and irssi in it) if still running; only ours, by its socket."""
        self._tmux("kill-server", check=False)
        shutil.rmtree(self._socket_dir, ignore_errors=True)
