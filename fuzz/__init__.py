"""Coverage-guided fuzz harnesses for every parser the server has (docs/SECURITY.md, "Fuzzing").

Each `fuzz_<name>.py` holds one harness: a `test_one_input(data: bytes)` that
feeds the bytes to one parser and checks its invariants with plain `assert`s,
and a docstring. `fuzz/corpus/<name>/` holds its seed inputs. The harnesses
import nothing from atheris, so the tests replay the corpus without it;
`python -m fuzz.run NAME` runs one under atheris, `scripts/fuzz` runs them all.
"""
