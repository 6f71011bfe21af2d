"""Weighted latency percentiles.

A receiver does not parse every line's timestamp: it samples a few lines of
some chunks, and each sample carries the number of deliveries it stands for.
Quantiles are taken over that weight, so a chunk of 500 lines counts 500
times as much as a chunk of one line, as it should.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence


class WeightedSamples:
    """Values (ns) with weights; quantiles in milliseconds."""

    __slots__ = ("_pairs", "_sorted", "_values", "_cumulative")

    def __init__(self) -> None:
        self._pairs: list[tuple[int, float]] = []
        self._sorted = True
        self._values: list[int] = []
        self._cumulative: list[float] = []

    def __len__(self) -> int:
        return len(self._pairs)

    def add(self, value: int, weight: float = 1.0) -> None:
        if weight > 0:
            self._pairs.append((value, weight))
            self._sorted = False

    def extend(self, values: Sequence[int], weights: Sequence[float], total: float | None = None) -> None:
        """Add one source's samples; with `total`, scale its weights to sum to it.

        Each load-generator worker samples at its own pace; scaling every
        worker's weights to the deliveries it counted mixes them fairly.
        """
        weight_sum = sum(weights)
        scale = total / weight_sum if total is not None and weight_sum > 0 else 1.0
        for value, weight in zip(values, weights, strict=True):
            self.add(value, weight * scale)

    def quantile(self, fraction: float) -> float | None:
        """The smallest sampled value (ms) with at least `fraction` of the weight at or below it."""
        if not self._pairs:
            return None
        if not self._sorted:
            self._pairs.sort()
            self._values = [value for value, _ in self._pairs]
            self._cumulative = list(_running_sum(weight for _, weight in self._pairs))
            self._sorted = True
        target = fraction * self._cumulative[-1]
        index = bisect.bisect_left(self._cumulative, target - 1e-9 * self._cumulative[-1])
        return self._values[min(index, len(self._values) - 1)] / 1e6


def _running_sum(weights: Iterable[float]) -> Iterable[float]:
    total = 0.0
    for weight in weights:
        total += weight
        yield total


def percent(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole else None
