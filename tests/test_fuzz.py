"""The fuzz harnesses (fuzz/, docs/SECURITY.md "Fuzzing"): the seed corpus replayed, and a short atheris run.

Replaying the corpus needs nothing but the harnesses, so it always runs. The
short run starts each harness under atheris in a child process for a bounded
number of inputs and fails on a crash (an input that breaks an invariant),
showing libFuzzer's report. Without atheris the short run is skipped with a
reason, except under CI, where a missing fuzzer is a failure, not a skip.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.run import harness_names

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "fuzz" / "corpus"

SHORT_RUNS = 3000
# Inputs per harness in the test command: about half a second each on a laptop
# core, so all of them take a few seconds; `scripts/fuzz` is the long run.

SHORT_RUN_TIMEOUT_S = 60

HARNESSES = harness_names()

PARSERS = ("framing", "registration", "server_side", "client_side", "codecs", "commands", "events", "address")


def test_every_parser_named_in_the_brief_has_a_harness_and_a_seed_corpus() -> None:
    assert set(PARSERS) <= set(HARNESSES)
    for name in HARNESSES:
        seeds = list((CORPUS / name).glob("*"))
        assert seeds, f"fuzz/corpus/{name}/ has no seed inputs"


@pytest.mark.parametrize("name", HARNESSES)
def test_the_seed_corpus_passes_every_invariant(name: str) -> None:
    harness = importlib.import_module(f"fuzz.fuzz_{name}")
    for seed in sorted((CORPUS / name).iterdir()):
        try:
            harness.test_one_input(seed.read_bytes())
        except Exception as error:
            raise AssertionError(f"fuzz/corpus/{name}/{seed.name} breaks the harness: {error!r}") from error


def atheris_or_skip() -> None:
    if importlib.util.find_spec("atheris") is not None:
        return
    if os.environ.get("CI"):
        pytest.fail("atheris is not installed, so the fuzzer cannot run: pip install -e '.[test]'")
    pytest.skip("atheris is not installed (pip install -e '.[test]'); the seed corpus was replayed")


@pytest.mark.parametrize("name", HARNESSES)
def test_a_short_fuzzing_run_finds_no_crash(name: str, tmp_path: Path) -> None:
    atheris_or_skip()
    found = tmp_path / "found"  # new inputs land here, never in the committed corpus
    found.mkdir()
    command = [
        sys.executable,
        "-m",
        "fuzz.run",
        name,
        f"-runs={SHORT_RUNS}",
        "-seed=1",
        f"-artifact_prefix={tmp_path}/",
        str(found),
        str(CORPUS / name),
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=SHORT_RUN_TIMEOUT_S, check=False
    )
    crashes = [path.name for path in tmp_path.glob("crash-*")]
    assert done.returncode == 0 and not crashes, (
        f"fuzz harness {name} crashed (exit {done.returncode}, {crashes}):\n"
        f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )
    assert f"Done {SHORT_RUNS} runs" in done.stderr, done.stderr[-2000:]


def test_a_crash_makes_the_short_run_fail(tmp_path: Path) -> None:
    """The check above can fail: a harness that raises ends the run with an error status and a crash file."""
    atheris_or_skip()
    broken = tmp_path / "fuzz_always_fails.py"
    broken.write_text("def test_one_input(data: bytes) -> None:\n    raise ValueError('planted')\n")
    done = subprocess.run(
        [sys.executable, "-m", "fuzz.run", str(broken), "-runs=10", f"-artifact_prefix={tmp_path}/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SHORT_RUN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode != 0
    assert "planted" in done.stdout + done.stderr  # the traceback, on stdout
    assert list(tmp_path.glob("crash-*"))


def test_without_atheris_the_run_is_skipped_but_under_ci_it_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "atheris" else real_find_spec(name)
    )
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="atheris is not installed"):
        atheris_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="atheris is not installed"):
        atheris_or_skip()
