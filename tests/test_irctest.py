"""irctest (the IRC servers' conformance suite) against our IRC listener: its `basic` selection.

It runs when ../shared/irctest is there (pinned, with its generic controller)
and skips, saying so, when it is not. The acceptance bar (issue #12): no
failure and at least 73 passes (we pass 78; docs/IRC.md lists the skips).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IRCTEST = ROOT.parent / "shared" / "irctest"
COMMAND = (
    "python3 server.py --db :memory: --irc-port {port} --server-name {server_name} "
    "--irc-oper operuser:operpassword"
)
SCORE = re.compile(r"^irctest: (\d+) passed, (\d+) failed, (\d+) skipped$", re.MULTILINE)
MIN_PASSED = 73
RUN_TIMEOUT_S = 900


@pytest.mark.skipif(not (IRCTEST / "run.sh").exists(), reason=f"irctest skipped: {IRCTEST} is not there")
def test_irctest_basic_selection() -> None:
    env = {**os.environ, "IRCTEST_JOBS": os.environ.get("IRCTEST_JOBS", "2")}
    done = subprocess.run(
        [str(IRCTEST / "run.sh"), COMMAND, "basic"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    score = SCORE.search(done.stdout)
    assert score is not None, f"no score line from irctest:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    passed, failed, _ = map(int, score.groups())
    failures = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert passed >= MIN_PASSED and failed == 0, f"irctest basic: {score.group(0)}\n" + "\n".join(failures)
