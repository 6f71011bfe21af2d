"""Run one harness under atheris: `python -m fuzz.run NAME [libFuzzer options] [corpus dirs]`.

NAME is a `fuzz/fuzz_NAME.py` file. The chatroom package and the harness are
imported under atheris's instrumentation (so coverage guides the search), and
the rest of the command line goes to libFuzzer as it is: `-runs=N`,
`-max_total_time=S`, `-artifact_prefix=DIR/`, corpus directories (the first
one receives the new inputs found). An input that raises is a crash: libFuzzer
prints it with its traceback, saves it, and exits with a non-zero status.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def harness_names() -> list[str]:
    """Every harness: fuzz/fuzz_NAME.py gives NAME (adding a parser's harness is adding one file)."""
    return sorted(path.stem.removeprefix("fuzz_") for path in HERE.glob("fuzz_*.py"))


def load(target: str) -> ModuleType:
    """The harness NAME, or the harness file at a path ending in .py (the tests plant a broken one)."""
    if not target.endswith(".py"):
        return importlib.import_module(f"fuzz.fuzz_{target}")
    spec = importlib.util.spec_from_file_location(Path(target).stem, target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not (argv[1] in harness_names() or argv[1].endswith(".py")):
        print(f"usage: python -m fuzz.run NAME [libFuzzer options]; NAME is one of {harness_names()}")
        return 2
    import atheris  # only here: the harnesses themselves run without it

    with atheris.instrument_imports(include=["chatroom", "fuzz"]):
        harness = load(argv[1])
    atheris.Setup([f"fuzz-{Path(argv[1]).stem}", *argv[2:]], harness.test_one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
