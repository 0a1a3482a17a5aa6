"""How epochs and optimizer steps are numbered wherever a person reads one.

The engine and the store count from 0 (an epoch is an index into the run); people count from 1.
Every output (log lines, the progress line, the runs table, run details, `lrtui run`, `runs show`,
CSV/JSON exports, error messages) numbers epochs through `epoch_number`: epoch 1 is the first epoch
trained. Optimizer steps likewise (`step_number`: step 1 is the run's first optimizer step).

Charts (the app's and `lrtui preview`'s) share one x axis in epochs trained: epoch N runs from N-1
to N, its optimizer step s (0-based, of `steps_per_epoch`) at N-1 + s/steps_per_epoch, and what is
measured when it ends (losses, accuracy, ReduceLROnPlateau's count) at N. So the tick labelled N is
where epoch N ends, on every chart.
"""

from __future__ import annotations

from collections.abc import Iterable


def counted(n: int, noun: str) -> str:
    """'1 epoch', '3 epochs': a count as a person writes it (nouns here take a plain 's')."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def epoch_number(index: int) -> int:
    """The number people read for the engine's 0-based epoch `index`."""
    return index + 1


def step_number(index: int) -> int:
    """The number people read for a 0-based optimizer step `index` (of the run, or of an epoch)."""
    return index + 1


def step_x(step_index: int, steps_per_epoch: int) -> float:
    """Where the run's optimizer step `step_index` (0-based) sits on a chart's x axis."""
    return step_index / max(1, steps_per_epoch)


def steps_x(step_indices: Iterable[int], steps_per_epoch: int) -> list[float]:
    """`step_x` of many steps at once (a run's whole curve: one list comprehension, no calls)."""
    spe = max(1, steps_per_epoch)
    return [i / spe for i in step_indices]


def epoch_start_x(index: int) -> float:
    """Where the epoch of 0-based `index` starts: its first step's LR is drawn here."""
    return float(index)


def epoch_end_x(index: int) -> float:
    """Where the epoch of 0-based `index` ends: its losses and accuracy are drawn here."""
    return float(index + 1)


def epoch_ticks(epochs: int, width: int) -> tuple[list[float], list[str]]:
    """Whole-epoch ticks from 0 to `epochs` (steps of 1, 2 or 5 times a power of ten) for an axis
    `width` cells wide: each label gets its digits and three spaces, so labels never touch."""
    if epochs < 1:
        return [], []
    room = max(2, width // (len(str(epochs)) + 3))
    step = 1
    while epochs / step > room - 1:
        step = _next_step(step)
    ticks = [float(t) for t in range(0, epochs + 1, step)]
    return ticks, [str(int(t)) for t in ticks]


def _next_step(step: int) -> int:
    """The next round step after `step` in 1, 2, 5, 10, 20, 50, ..."""
    magnitude = 1
    while magnitude * 10 <= step:
        magnitude *= 10
    return {1: 2, 2: 5}.get(step // magnitude, 10) * magnitude


def x_label(per_step: Iterable[bool] = (), steps_per_epoch: int = 1) -> str:
    """An epoch axis's label, saying how often the LR drawn on it changes: `per_step` holds, for
    each schedule on the chart, whether it steps after every optimizer step (interval=step) or
    once per epoch (nothing drawn: plain 'epoch'); `steps_per_epoch` > 1 is said too."""
    axis = f"epoch ({steps_per_epoch} steps each)" if steps_per_epoch > 1 else "epoch"
    kinds = set(per_step)
    if not kinds:
        return axis
    if kinds == {True}:
        return f"{axis} · LR set every step"
    if kinds == {False}:
        return f"{axis} · LR set once per epoch"
    return f"{axis} · LR set per step or per epoch"
