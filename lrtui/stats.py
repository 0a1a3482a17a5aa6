"""Seed statistics: the spread of a group, and paired differences with a bootstrap interval.

Runs with the same seed index share initial weights and data order across schedules, so the honest
comparison of schedule A with baseline B is the mean of the per-seed differences A_i - B_i, with an
interval that says how much of it seed noise alone could make. The interval is the percentile
bootstrap over seeds (Efron & Tibshirani, ch. 13): resample the n paired differences with
replacement, take the mean, repeat, read the 2.5th and 97.5th percentiles. It is seeded, so the same
runs always print the same interval.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

Verdict = Literal["better", "worse", "within seed noise", "too few seeds"]

#: Bootstrap resamples: at 10k the interval's ends move well under 1 % of its width between seeds.
DEFAULT_RESAMPLES = 10_000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Spread:
    """A metric over a group's seeds; non-finite values (diverged runs) are counted apart."""

    n: int  # finite values
    mean: float | None
    std: float | None  # sample standard deviation (n - 1); 0.0 for one value
    min: float | None
    max: float | None
    missing: int = 0  # runs without a finite value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PairedDifference:
    """mean(A_i - B_i) over the seeds both groups have, with its bootstrap interval and verdict."""

    n: int  # pairs
    mean: float | None
    low: float | None
    high: float | None
    confidence: float
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def spread(values: Sequence[float | None]) -> Spread:
    """Mean ± sample std and range of the finite values."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    missing = len(values) - len(finite)
    if not finite:
        return Spread(0, None, None, None, None, missing)
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return Spread(len(finite), statistics.fmean(finite), std, min(finite), max(finite), missing)


def bootstrap_interval(
    differences: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `differences` (at least two values)."""
    if len(differences) < 2:
        raise ValueError("differences: the bootstrap needs at least 2 values")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: must be in (0, 1) (got {confidence})")
    rng = random.Random(seed)
    n = len(differences)
    means = sorted(sum(rng.choices(differences, k=n)) / n for _ in range(resamples))
    tail = (1 - confidence) / 2
    return _quantile(means, tail), _quantile(means, 1 - tail)


def paired_difference(
    values: Sequence[float | None],
    baseline: Sequence[float | None],
    *,
    higher_is_better: bool,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> PairedDifference:
    """Compare a group with its baseline seed by seed (`values[i]` pairs with `baseline[i]`).

    Pairs where either side is missing or not finite are left out. The verdict is "better" or
    "worse" only when the whole interval lies on one side of zero.
    """
    if len(values) != len(baseline):
        raise ValueError(f"values: {len(values)} seeds against {len(baseline)} in the baseline")
    differences = [
        float(a) - float(b)
        for a, b in zip(values, baseline, strict=True)
        if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)
    ]
    if not differences:
        return PairedDifference(0, None, None, None, confidence, "too few seeds")
    mean = statistics.fmean(differences)
    if len(differences) < 2:
        return PairedDifference(1, mean, None, None, confidence, "too few seeds")
    low, high = bootstrap_interval(
        differences, confidence=confidence, resamples=resamples, seed=seed
    )
    verdict: Verdict = "within seed noise"
    if low > 0 or high < 0:
        verdict = "better" if (low > 0) == higher_is_better else "worse"
    return PairedDifference(len(differences), mean, low, high, confidence, verdict)


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default, "linear")."""
    position = q * (len(sorted_values) - 1)
    below = math.floor(position)
    above = min(below + 1, len(sorted_values) - 1)
    weight = position - below
    return sorted_values[below] * (1 - weight) + sorted_values[above] * weight
