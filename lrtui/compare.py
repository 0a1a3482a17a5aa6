"""Comparisons of stored runs by group: the spread over seeds and paired differences.

A group is the runs of one spec and settings over seeds (`lrtui run --seeds N`, a sweep's
point); a run stored without a group is a group of its own. Each group's final and best validation
accuracy and loss are summed up as mean ± std and min-max (`lrtui.stats.spread`); against a
baseline group, runs pair by seed index (same initial weights and data order) and the mean
difference gets its bootstrap interval and verdict (`lrtui.stats.paired_difference`). Shared by
`lrtui runs compare` and the app's compare screen; no torch, no textual.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lrtui.stats import PairedDifference, Spread, paired_difference, spread
from lrtui.store import EpochRecord, RunRecord, Store

#: The metrics a comparison reports: name -> (higher is better, what it reads from the epochs).
METRICS: dict[str, tuple[bool, str]] = {
    "final_valid_acc": (True, "valid accuracy after the last epoch"),
    "best_valid_acc": (True, "best valid accuracy of any epoch"),
    "final_valid_loss": (False, "valid loss after the last epoch"),
    "best_valid_loss": (False, "lowest valid loss of any epoch"),
}
#: The metric the text table's differences and the sweep chart use.
MAIN_METRIC = "final_valid_acc"


class CompareError(ValueError):
    """Runs or groups a comparison cannot be made of; str() is "field: message"."""


@dataclass(frozen=True)
class GroupSummary:
    """One group's runs and the spread of each metric over its seeds."""

    number: int  # 1-based position in the comparison (what --baseline 1 names)
    id: str  # stored group id, or "run N" for a run without a group
    label: str
    sweep: tuple[tuple[str, str], ...]
    run_ids: tuple[int, ...]
    seed_indexes: tuple[int, ...]
    metrics: dict[str, Spread]
    values: dict[str, tuple[float | None, ...]]  # per run, in run_ids order
    vs_baseline: dict[str, PairedDifference] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.run_ids)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "group": self.id,
            "label": self.label,
            "sweep": {k: v for k, v in self.sweep},
            "n": self.n,
            "run_ids": list(self.run_ids),
            "seed_indexes": list(self.seed_indexes),
            **{name: s.to_dict() for name, s in self.metrics.items()},
            "vs_baseline": {name: d.to_dict() for name, d in self.vs_baseline.items()} or None,
        }


@dataclass(frozen=True)
class Comparison:
    groups: list[GroupSummary]
    baseline: int | None  # the baseline group's number
    sweep_key: str | None  # the swept value the chart puts on X (None: no sweep)

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "sweep_key": self.sweep_key,
            "groups": [g.to_dict() for g in self.groups],
        }


def run_metrics(epochs: Sequence[EpochRecord]) -> dict[str, float | None]:
    """A run's METRICS values from its epochs (None where no epoch has a number)."""

    def finite(values: list[float | None]) -> list[float]:
        return [v for v in values if v is not None and math.isfinite(v)]

    accs = finite([e.valid_acc for e in epochs])
    losses = finite([e.valid_loss for e in epochs])
    last = epochs[-1] if epochs else None
    return {
        "final_valid_acc": last.valid_acc if last else None,
        "best_valid_acc": max(accs) if accs else None,
        "final_valid_loss": last.valid_loss if last else None,
        "best_valid_loss": min(losses) if losses else None,
    }


def select_runs(
    store: Store, *, ids: Sequence[int] = (), group: str | None = None, last: bool = False
) -> list[RunRecord]:
    """The runs to compare: these ids, the runs of a group (its id or label), or the runs of the
    last command that made groups (--last; also the default). CompareError when none match."""
    runs = store.list_runs()
    if ids:
        return store.get_runs(list(dict.fromkeys(ids)))  # an id given twice is one run
    if group is not None:
        chosen = [r for r in runs if group in (r.group_id, r.group_label)]
        if not chosen:
            raise CompareError(f"--group: no stored group {group!r} (see `lrtui runs list`)")
        return chosen
    grouped = [r for r in runs if r.group_id is not None]
    if not grouped:
        raise CompareError("--last: no stored runs were made with groups yet (lrtui run ...)")
    newest = max(grouped, key=lambda r: r.id)
    command = _command_of(newest.group_id)
    return [r for r in grouped if _command_of(r.group_id) == command]


def _command_of(group_id: str | None) -> str:
    return (group_id or "").rpartition(".")[0]


def summarize(
    store: Store, runs: Sequence[RunRecord], *, baseline: str | None = None
) -> Comparison:
    """Group the runs, sum up each group and, with a baseline (a group's number, id or label),
    pair every other group with it by seed index."""
    grouped: dict[str, list[RunRecord]] = {}
    for run in sorted(runs, key=lambda r: r.id):
        key = run.group_id if run.group_id is not None else f"run {run.id}"
        grouped.setdefault(key, []).append(run)
    groups: list[GroupSummary] = []
    for number, (key, members) in enumerate(grouped.items(), start=1):
        members.sort(key=lambda r: (r.seed_index or 0, r.id))
        per_run = [run_metrics(store.epochs(r.id)) for r in members]
        values = {m: tuple(p[m] for p in per_run) for m in METRICS}
        first = members[0]
        groups.append(
            GroupSummary(
                number=number,
                id=key,
                label=first.group_label or first.label or first.scheduler,
                sweep=first.sweep,
                run_ids=tuple(r.id for r in members),
                seed_indexes=tuple(r.seed_index or 0 for r in members),
                metrics={m: spread(v) for m, v in values.items()},
                values=values,
            )
        )
    base = _find_group(groups, baseline) if baseline is not None else None
    if base is not None:
        groups = [g if g is base else _paired(g, base) for g in groups]
    return Comparison(groups, base.number if base else None, sweep_key(groups))


def _find_group(groups: Sequence[GroupSummary], name: str) -> GroupSummary:
    for g in groups:
        if name in (str(g.number), g.id, g.label):
            return g
    known = ", ".join(str(g.number) for g in groups)
    raise CompareError(f"--baseline: no group {name!r} among those compared (numbers: {known})")


def _paired(group: GroupSummary, base: GroupSummary) -> GroupSummary:
    """The group with its paired differences against base, over the seed indexes both have."""
    common = sorted(set(group.seed_indexes) & set(base.seed_indexes))
    diffs: dict[str, PairedDifference] = {}
    for metric, (higher, _) in METRICS.items():
        mine = dict(zip(group.seed_indexes, group.values[metric], strict=True))
        theirs = dict(zip(base.seed_indexes, base.values[metric], strict=True))
        diffs[metric] = paired_difference(
            [mine[i] for i in common], [theirs[i] for i in common], higher_is_better=higher
        )
    return GroupSummary(
        group.number, group.id, group.label, group.sweep, group.run_ids, group.seed_indexes,
        group.metrics, group.values, diffs,
    )  # fmt: skip


def sweep_key(groups: Sequence[GroupSummary]) -> str | None:
    """The swept value to chart on X: the last swept key whose values differ between groups and
    are all numbers (settings come after the spec's keys, so `--lr {...}` wins)."""
    keys = list(dict.fromkeys(k for g in groups for k, _ in g.sweep))
    for key in reversed(keys):
        values = {dict(g.sweep).get(key) for g in groups}
        if len(values) > 1 and all(v is not None and _number(v) is not None for v in values):
            return key
    return None


def sweep_series(
    comparison: Comparison, metric: str = MAIN_METRIC
) -> list[tuple[str, list[float], list[float]]]:
    """(label of the other swept values, X values, mean metric) per line of the sweep chart."""
    key = comparison.sweep_key
    if key is None:
        return []
    lines: dict[str, list[tuple[float, float]]] = {}
    for g in comparison.groups:
        sweep = dict(g.sweep)
        x = _number(sweep.get(key, ""))
        mean = g.metrics[metric].mean
        if x is None or mean is None:
            continue
        rest = " ".join(f"{k}={v}" for k, v in g.sweep if k != key)
        lines.setdefault(rest, []).append((x, mean))
    return [
        (rest, [x for x, _ in sorted(points)], [y for _, y in sorted(points)])
        for rest, points in lines.items()
    ]


def best_group(comparison: Comparison, metric: str = MAIN_METRIC) -> GroupSummary | None:
    """The group with the best mean of the metric."""
    higher = METRICS[metric][0]
    scored = [g for g in comparison.groups if g.metrics[metric].mean is not None]
    if not scored:
        return None
    return max(scored, key=lambda g: (g.metrics[metric].mean or 0.0) * (1 if higher else -1))


def log_x(xs: Sequence[float]) -> bool:
    """Whether the sweep chart's X is better read in log scale: every value > 0 and a range of
    more than a factor 3 (LR sets are; a gamma from 0.3 to 0.9 is not)."""
    return bool(xs) and min(xs) > 0 and max(xs) / min(xs) > 3


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def spread_text(s: Spread, percent: bool) -> str:
    """"92.58% ± 0.30 [92.20, 92.90]": mean ± std [min, max] (the mean alone for one seed)."""
    if s.mean is None:
        return "-"
    scale, unit, digits = (100.0, "%", 2) if percent else (1.0, "", 4)
    if s.n == 1 and not s.missing:  # one seed: no spread to show
        return f"{s.mean * scale:.{digits}f}{unit}"
    text = f"{s.mean * scale:.{digits}f}{unit} ± {(s.std or 0.0) * scale:.{digits}f}"
    if s.n > 1 and s.min is not None and s.max is not None:
        text += f" [{s.min * scale:.{digits}f}, {s.max * scale:.{digits}f}]"
    if s.missing:
        text += f" ({s.missing} missing)"
    return text


def difference_text(d: PairedDifference, percent: bool) -> str:
    """"+0.45 pp [+0.10, +0.80] better": mean difference [interval] verdict."""
    if d.mean is None:
        return "-"
    scale, unit, digits = (100.0, " pp", 2) if percent else (1.0, "", 4)
    if d.low is None or d.high is None:
        return f"{d.mean * scale:+.{digits}f}{unit} ({d.verdict})"
    return (
        f"{d.mean * scale:+.{digits}f}{unit} [{d.low * scale:+.{digits}f}, "
        f"{d.high * scale:+.{digits}f}] {d.verdict}"
    )


def summary_cells(g: GroupSummary) -> list[str]:
    """A group's line of the summary table, as `runs compare` and the app's compare screen show
    it: number, label, n, final and best valid accuracy, final and best valid loss."""
    return [
        str(g.number),
        g.label,
        str(g.n),
        spread_text(g.metrics["final_valid_acc"], True),
        spread_text(g.metrics["best_valid_acc"], True),
        spread_text(g.metrics["final_valid_loss"], False),
        spread_text(g.metrics["best_valid_loss"], False),
    ]
