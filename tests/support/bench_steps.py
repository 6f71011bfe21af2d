"""What the tests may demand of a benchmark step: exact delivery, not a latency a busy machine can miss."""

from __future__ import annotations

from typing import Any


def delivered_exactly(step: dict[str, Any]) -> bool:
    """Every line delivered once, nothing lost or malformed; a step may still fail its p99 limit.

    A step "passes" only when its p99 is under 100 ms and the machine had CPU
    to spare too, and on a loaded machine (CI running two test workers beside
    the benchmark's server and load generator) a tiny run can miss those
    without anything being wrong: the tests check what the server did.
    """
    about_the_machine = ("p99 ", "every CPU of the machine busy", "load-generator bound")
    problems = [problem for problem in step["problems"] if not problem.startswith(about_the_machine)]
    return step["delivered"] == step["expected"] and step["lost"] == 0 and not problems
