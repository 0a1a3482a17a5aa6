"""One epoch numbering (lrtui.numbering): epoch 1 is the first epoch trained, and every chart's x
axis is in epochs trained (epoch N from N-1 to N, its metrics at N), labelled per step or epoch."""

from __future__ import annotations

from typing import Any

import pytest

from lrtui.app.chartdata import build_charts
from lrtui.app.charts import FigureJob, build_figure
from lrtui.app.status import ProgressLine
from lrtui.cli import main
from lrtui.numbering import (
    epoch_end_x,
    epoch_number,
    epoch_start_x,
    epoch_ticks,
    step_number,
    step_x,
    steps_x,
    x_label,
)
from lrtui.session import PreviewCurve, RunTrace
from lrtui.store import EpochRecord


def test_people_count_epochs_and_steps_from_one() -> None:
    assert [epoch_number(i) for i in range(3)] == [1, 2, 3]
    assert [step_number(i) for i in range(3)] == [1, 2, 3]


def test_epoch_n_spans_n_minus_one_to_n_on_the_x_axis() -> None:
    # 4 steps per epoch: epoch 2 (index 1) has its steps at 1.0, 1.25, 1.5, 1.75 and ends at 2
    assert [step_x(i, 4) for i in range(4, 8)] == [1.0, 1.25, 1.5, 1.75]
    assert steps_x(range(4, 8), 4) == [1.0, 1.25, 1.5, 1.75]
    assert (epoch_start_x(1), epoch_end_x(1)) == (1.0, 2.0)


def test_epoch_ticks_are_whole_epochs_that_fit_the_width() -> None:
    assert epoch_ticks(6, 50) == ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                                  ["0", "1", "2", "3", "4", "5", "6"])
    assert epoch_ticks(25, 40)[1] == ["0", "5", "10", "15", "20", "25"]
    assert epoch_ticks(1000, 40)[1] == ["0", "500", "1000"]
    assert epoch_ticks(0, 40) == ([], [])


def test_x_label_says_how_often_the_lr_changes() -> None:
    assert x_label() == "epoch"
    assert x_label([True]) == "epoch · LR set every step"
    assert x_label([False, False]) == "epoch · LR set once per epoch"
    assert x_label([True, False]) == "epoch · LR set per step or per epoch"
    assert x_label([True], 20) == "epoch (20 steps each) · LR set every step"


def _trace(key: int, scheduler: str, epochs: int = 3) -> RunTrace:
    trace = RunTrace(key=key, label="", scheduler=scheduler, dataset="d", epochs_planned=epochs,
                     steps_per_epoch=2)
    trace.add_steps(0, [0.1, 0.1, 0.05, 0.05], None)
    trace.epochs = [EpochRecord(0, 1.0, 0.9, 0.5, 0.1, None, 1.0),
                    EpochRecord(1, 0.8, 0.7, 0.6, 0.05, None, 1.0)]
    return trace


def test_all_four_charts_share_the_epoch_axis_and_label_the_lr_cadence() -> None:
    per_epoch = _trace(1, "StepLR:step_size=1,gamma=0.5", epochs=3)
    charts = build_charts([per_epoch], None)
    assert {c.epoch_axis for c in (charts.lr, charts.loss, charts.acc, charts.aux)} == {3}
    assert charts.lr.x_label == "epoch · LR set once per epoch"
    assert (charts.loss.x_label, charts.acc.x_label) == ("epoch", "epoch")
    # epoch 1's steps at 0 and 0.5, epoch 2's at 1 and 1.5; epoch 1's loss at 1, epoch 2's at 2
    assert list(charts.lr.series[0].xs) == [0.0, 0.5, 1.0, 1.5]
    assert [list(s.xs) for s in charts.loss.series] == [[1.0, 2.0], [1.0, 2.0]]

    per_step = _trace(2, "CosineAnnealingLR:interval=step")
    preview = PreviewCurve("OneCycleLR", 2, [0.1] * 10, None, per_step=True)  # 5 epochs
    charts = build_charts([per_step], preview)
    assert charts.lr.x_label == "epoch · LR set every step"
    assert charts.loss.epoch_axis == 5  # the longest of the preview and the runs
    assert build_charts([per_epoch, per_step], None).lr.x_label == (
        "epoch · LR set per step or per epoch")


def _x_axis(plain: str) -> tuple[str, str]:
    """The tick-label row and the x label row of a figure (the rows under the frame)."""
    rows = plain.split("\n")
    bottom = next(i for i, row in enumerate(rows) if "└" in row)
    return rows[bottom + 1].strip(), rows[bottom + 2].strip()


def test_a_figure_draws_whole_epoch_ticks_from_zero_and_its_label() -> None:
    trace = _trace(1, "StepLR:step_size=1,gamma=0.5", epochs=4)
    charts = build_charts([trace], None)
    for data in (charts.lr, charts.loss):
        text = build_figure(FigureJob(1, data, "t", "unused", False, 50, 16, "dark")).plain
        ticks, label = _x_axis(text)
        assert ticks.split() == ["0", "1", "2", "3", "4"]
        assert label == data.x_label


def test_cli_preview_axis_and_staircase(capsys: pytest.CaptureFixture[str],
                                        monkeypatch: Any) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    assert main(["preview", "-s", "StepLR:step_size=10,gamma=0.1", "--epochs", "30"]) == 0
    out = capsys.readouterr().out
    ticks, label = _x_axis(out)
    assert ticks.split() == ["0", "5", "10", "15", "20", "25", "30"]
    assert label == "epoch · LR set once per epoch"
    # 0.1 is held through epoch 10 (x 9 to 10) and drops at x = 10: the drop's column is the
    # column of the tick labelled 10 (the tick row's "10" ends there)
    rows = out.split("\n")
    bottom = next(i for i, row in enumerate(rows) if "└" in row)
    tick_col = rows[bottom].index("┬", rows[bottom + 1].index(" 10 ") + 1)
    top = rows[2].rstrip("│ ")  # the 0.10 row, up to its last dot
    assert top.startswith("0.10┤") and len(top) - 1 == tick_col
    assert main(["preview", "-s", "OneCycleLR", "--epochs", "6", "--steps-per-epoch", "20"]) == 0
    out = capsys.readouterr().out
    assert _x_axis(out)[1] == "epoch (20 steps each) · LR set every step"


async def test_the_progress_line_numbers_the_epoch_in_progress_from_one() -> None:
    from textual.app import App, ComposeResult

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield ProgressLine()

    app = Host()
    async with app.run_test(size=(120, 3)):
        line = app.query_one(ProgressLine)
        line.show(label="#1 StepLR", epoch=0, epochs=3, step=4, steps_per_epoch=8,
                  global_step=4, total_steps=24, samples_per_s=100.0, elapsed_s=2.0)
        assert "epoch 1/3 · step 4/8" in line.text


def test_counts_read_as_written() -> None:
    """'1 epoch', never '1 epochs': in the engine's end reason and the catalog's messages."""
    from lrtui import schedulers as S
    from lrtui.numbering import counted

    assert [counted(n, "epoch") for n in (0, 1, 2)] == ["0 epochs", "1 epoch", "2 epochs"]
    checked = S.validate(S.parse_spec("CosineAnnealingLR:T_max=100"), epochs=1, steps_per_epoch=1)
    assert S.warnings_of(checked) == {
        "CosineAnnealingLR.T_max": "100 is longer than the run (1 epoch): the LR never reaches"
                                   " eta_min"}
    checked = S.validate(S.parse_spec("WarmupCosine:warmup_steps=5"), epochs=1, steps_per_epoch=1)
    assert S.errors_of(checked) == {
        "WarmupCosine.warmup_steps": "must fit in the run's 1 step (got 5)"}
