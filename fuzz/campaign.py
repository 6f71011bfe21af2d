"""The long fuzzing run: every harness in turn for a share of the time, one core, with a summary.

`scripts/fuzz [SECONDS]` (default 600 in all). Each harness runs under
atheris for SECONDS divided by the number of harnesses, one after the other
(so one core is busy, never more), starting from its seed corpus and from what
earlier long runs found (fuzz/work/NAME/, not committed). A crash is saved
under fuzz/findings/ and named in the summary; the exit status is then 1.
The summary gives, per harness, the inputs tried, the coverage libFuzzer
reports (`cov`: edges reached, `ft`: features) and the corpus size.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fuzz.run import harness_names

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TOTAL_S = 600

_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_STATS = re.compile(r"cov: (\d+) ft: (\d+) corp: (\d+)/")


@dataclass
class Outcome:
    name: str
    runs: int
    seconds: float
    cov: int
    ft: int
    corpus: int
    crash: str | None


def fuzz_one(name: str, seconds: int) -> Outcome:
    work = ROOT / "fuzz" / "work" / name
    findings = ROOT / "fuzz" / "findings"
    work.mkdir(parents=True, exist_ok=True)
    findings.mkdir(parents=True, exist_ok=True)
    before = set(findings.glob("crash-*"))
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fuzz.run",
            name,
            f"-max_total_time={seconds}",
            f"-artifact_prefix={findings}/",
            str(work),
            str(ROOT / "fuzz" / "corpus" / name),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    log = done.stdout + done.stderr
    (work.parent / f"{name}.log").write_text(log)
    runs = [int(m.group(1)) for m in _DONE.finditer(log)]
    stats = _STATS.findall(log)
    cov, ft, corpus = (int(x) for x in stats[-1]) if stats else (0, 0, 0)
    crashes = sorted(set(findings.glob("crash-*")) - before)
    if not runs:  # a crash ends the run before its "Done" line: count the inputs from the last status line
        counts = re.findall(r"^#(\d+)\s", log, re.MULTILINE)
        runs = [int(counts[-1])] if counts else [0]
    crash = str(crashes[0].relative_to(ROOT)) if crashes else None
    if crash is None and done.returncode != 0:
        crash = f"exit status {done.returncode}"
    return Outcome(name, runs[-1], elapsed, cov, ft, corpus, crash)


def main(argv: list[str]) -> int:
    total = int(argv[1]) if len(argv) > 1 else DEFAULT_TOTAL_S
    names = harness_names()
    share = max(1, total // len(names))
    print(f"Fuzzing {len(names)} harnesses for {share} s each ({share * len(names)} s in all) on one core")
    outcomes: list[Outcome] = []
    for name in names:
        outcome = fuzz_one(name, share)
        outcomes.append(outcome)
        verdict = f"CRASH {outcome.crash}" if outcome.crash else "no crash"
        print(
            f"{name:14} {outcome.runs:>10,} inputs in {outcome.seconds:5.0f} s  "
            f"cov {outcome.cov:4}  ft {outcome.ft:5}  corpus {outcome.corpus:4}  {verdict}",
            flush=True,
        )
    runs = sum(outcome.runs for outcome in outcomes)
    crashed = [outcome for outcome in outcomes if outcome.crash]
    print(f"In all: {runs:,} inputs, {len(crashed)} harness(es) crashed (logs in fuzz/work/)")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
