"""irctest (the IRC servers' conformance suite) against our IRC listener: `basic` and `extra`.

It runs when ../shared/irctest is there (pinned, with its generic controller)
and skips, saying so, when it is not. The acceptance bar (issue #12) on
`basic`: no failure and at least 73 passes (we pass 78; docs/IRC.md lists the
skips). On `extra` the aim is ngIRCd's 76 passes; we pass 98 and fail one
test for a reason docs/IRC.md gives, and this test keeps it so.

irctest's tests wait for replies with timeouts of a second or two; on a
machine busy with the rest of this suite one can time out. A test that fails
is run once more, alone: it counts as passed only when it passes then (and
the assertion message names it either way).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IRCTEST = ROOT.parent / "shared" / "irctest"
COMMAND = (
    "python3 server.py --db :memory: --irc-port {port} --server-name {server_name} "
    "--irc-oper operuser:operpassword"
)
SCORE = re.compile(r"^irctest: (\d+) passed, (\d+) failed, (\d+) skipped$", re.MULTILINE)
MIN_BASIC_PASSED = 73
MIN_EXTRA_PASSED = 96
EXTRA_KNOWN_FAILURES = frozenset({"irctest/server_tests/links.py::LinksTestCase::testLinksSingleServer"})
# It wants the server description irctest's own controllers configure (docs/IRC.md).
RUN_TIMEOUT_S = 900


@dataclass
class Score:
    passed: int
    failed: list[str]  # node ids
    skipped: int
    summary: str
    passed_on_rerun: list[str]


def run_irctest(selection: str, *node_ids: str, jobs: str = "2") -> Score:
    env = {**os.environ, "IRCTEST_JOBS": os.environ.get("IRCTEST_JOBS", jobs)}
    done = subprocess.run(
        [str(IRCTEST / "run.sh"), COMMAND, selection, *node_ids],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    score = SCORE.search(done.stdout)
    assert score is not None, f"no score line from irctest:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    passed, _, skipped = map(int, score.groups())
    failed = [line.split()[1] for line in done.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    return Score(passed, failed, skipped, score.group(0), [])


def run_with_one_rerun(selection: str) -> Score:
    score = run_irctest(selection)
    if score.failed:
        again = run_irctest(score.failed[0], *score.failed[1:], jobs="1")
        score.passed_on_rerun = [test for test in score.failed if test not in again.failed]
        score.passed += len(score.passed_on_rerun)
        score.failed = again.failed
    return score


def described(selection: str, score: Score) -> str:
    return (
        f"irctest {selection}: {score.summary}; failed: {score.failed}; "
        f"failed once, then passed alone: {score.passed_on_rerun}"
    )


needs_irctest = pytest.mark.skipif(
    not (IRCTEST / "run.sh").exists(), reason=f"irctest skipped: {IRCTEST} is not there"
)


@needs_irctest
def test_irctest_basic_selection_passes_with_no_failure() -> None:
    score = run_with_one_rerun("basic")
    assert score.passed >= MIN_BASIC_PASSED and not score.failed, described("basic", score)


@needs_irctest
def test_irctest_extra_selection_passes_all_but_its_known_failure() -> None:
    score = run_with_one_rerun("extra")
    assert score.passed >= MIN_EXTRA_PASSED, described("extra", score)
    assert set(score.failed) <= EXTRA_KNOWN_FAILURES, described("extra", score)
