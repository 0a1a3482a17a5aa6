"""Chart legends sit under the plot (never over the curves) and colours parse in Rich."""

from __future__ import annotations

import itertools
import math

from rich.style import Style

from lrtui.app.charts import FigureJob, build_figure, legend_lines
from lrtui.app.plotting import (
    PLOT_LIMIT,
    ChartData,
    LogRange,
    Series,
    fit_ticks,
    log_range,
    log_ticks,
    nice_ticks,
    plottable,
    rich_color,
)


def test_rich_color_parses() -> None:
    assert rich_color((200, 100, 40)) == "rgb(200,100,40)"
    assert Style.parse(rich_color((200, 100, 40))).color is not None


def test_legend_wraps_to_the_width_and_counts_what_does_not_fit() -> None:
    entries = [(f"#{i} run", (10 * i, 0, 0)) for i in range(6)]
    lines = legend_lines(entries, width=24, max_lines=2)
    assert [line.plain for line in lines] == ["▬ #0 run  ▬ #1 run", "▬ #2 run  +3 more"]
    assert all(line.cell_len <= 24 for line in lines)
    assert [line.plain for line in legend_lines(entries[:2], 40, 1)] == ["▬ #0 run  ▬ #1 run"]


def test_figure_keeps_its_height_with_the_legend_under_the_plot() -> None:
    data = ChartData(series=tuple(
        Series(f"#{i} StepLR", [0, 1, 2], [1.0, 2.0, 3.0], (200, 100, 40 * i)) for i in range(5)
    ))  # fmt: skip
    text = build_figure(FigureJob(1, data, "lr", "epoch", False, 40, 14, "dark"))
    rows = text.plain.split("\n")
    assert len(rows) == 14
    assert rows[-2:] == ["▬ #0 StepLR  ▬ #1 StepLR  ▬ #2 StepLR", "▬ #3 StepLR  ▬ #4 StepLR"]
    assert "#" not in "".join(rows[:-2])  # nothing drawn over the curves


def _label_rows(plain: str) -> dict[str, int]:
    """Y label -> row index, from the labels left of the axis ("1e-03┤...")."""
    rows: dict[str, int] = {}
    for i, row in enumerate(plain.split("\n")):
        label, sep, _ = row.partition("┤")
        if sep and label.strip():
            rows[label.strip()] = i
    return rows


def test_log_y_labels_are_decades_on_their_own_rows_and_the_range_is_clipped() -> None:
    epochs = list(range(25))
    exponential = Series("exp", epochs, [0.1 * 0.1**e for e in epochs], (200, 0, 0))
    step = Series("step", epochs, [0.1 * 0.1 ** (e // 10) for e in epochs], (0, 200, 0))
    text = build_figure(FigureJob(1, ChartData((exponential, step)), "LR", "epoch", True, 80, 20,
                                  "dark")).plain  # fmt: skip
    labels = _label_rows(text)
    # the top decade (the schedules' 0.1) is labelled, counted down two decades at a time,
    # and at most MAX_LOG_DECADES (6) below it: ExponentialLR's 1e-25 does not squash StepLR
    assert list(labels) == ["1e-01", "1e-03", "1e-05", "1e-07"]
    rows = sorted(labels.values())
    assert rows[0] == 2  # right under the title and the frame: where the curves start
    gaps = {b - a for a, b in itertools.pairwise(rows)}
    assert max(gaps) - min(gaps) <= 1  # evenly spaced decades
    assert text.split("\n")[-1] == "values below 1e-07 not shown"
    first_plot_row = text.split("\n")[2]
    assert "⠉" in first_plot_row  # the 0.1 segment is drawn on the 1e-01 row


def test_log_ticks_count_down_from_the_top_decade() -> None:
    assert log_ticks(-25.0, -1.0, 4) == (
        [-22.0, -15.0, -8.0, -1.0], ["1e-22", "1e-15", "1e-08", "1e-01"]
    )
    assert log_range(-25.0, -1.0) == LogRange(bottom=-7, top=-1, clipped=True)
    assert log_range(-3.2, -1.0) == LogRange(bottom=-4, top=-1, clipped=False)
    assert log_range(-1.0, -1.0) == LogRange(bottom=-2, top=-1, clipped=False)


def test_linear_ticks_are_round_values() -> None:
    assert nice_ticks(0.001, 0.1, 6) == (
        [0.0, 0.02, 0.04, 0.06, 0.08, 0.1], ["0.00", "0.02", "0.04", "0.06", "0.08", "0.10"]
    )
    assert nice_ticks(0.05, 2.35, 6) == (
        [0.0, 0.5, 1.0, 1.5, 2.0, 2.5], ["0.0", "0.5", "1.0", "1.5", "2.0", "2.5"]
    )
    assert nice_ticks(0.9, 0.97, 6)[1] == ["0.90", "0.92", "0.94", "0.96", "0.98"]
    ticks, labels = nice_ticks(0.1, 0.1, 6)  # a constant LR gets a band around it
    assert ticks[0] < 0.1 < ticks[-1] and "0.100" in labels


def test_linear_y_labels_sit_on_round_values() -> None:
    step = Series("step", [0, 1, 2, 3], [0.1, 0.1, 0.01, 0.001], (0, 200, 0))
    text = build_figure(FigureJob(1, ChartData((step,)), "LR", "epoch", False, 60, 16,
                                  "dark")).plain  # fmt: skip
    labels = _label_rows(text)
    assert list(labels) == ["0.10", "0.08", "0.06", "0.04", "0.02", "0.00"]
    assert labels["0.10"] == 2


def test_a_short_chart_gets_no_more_y_ticks_than_rows() -> None:
    # 4 plot rows (10 - title, frame, x ticks, x label, legend); nice_ticks(0.11, 2.06, 5) would
    # give 0.0 ... 2.5 (six ticks), two of them sharing a row and one label in the wrong place.
    loss = Series("loss", [1, 2, 3, 4], [2.06, 1.2, 0.39, 0.11], (0, 200, 0), legend="loss")
    text = build_figure(FigureJob(1, ChartData((loss,)), "loss", "epoch", False, 60, 10,
                                  "dark")).plain  # fmt: skip
    labels = _label_rows(text)
    assert list(labels) == ["3", "2", "1", "0"]
    assert list(labels.values()) == [2, 3, 4, 5]  # one per row, each on the row of its value
    assert fit_ticks(lambda count: nice_ticks(0.11, 2.06, count), 6, 1) == ([], [])


def test_values_past_plotexts_range_are_drawn_at_the_limit() -> None:
    """An LR of 1e307 (ExponentialLR gamma=1e308, still finite) made plotext's linear axis raise
    OverflowError; it is drawn at PLOT_LIMIT, and the legend says so."""
    lr = Series("exp", [0, 1, 2], [0.1, 1e307, -1e308], (200, 0, 0))
    text = build_figure(FigureJob(1, ChartData((lr,)), "LR", "epoch", False, 60, 16,
                                  "dark")).plain  # fmt: skip
    assert text.split("\n")[-1] == "values beyond 1e+300 drawn at 1e+300"
    assert plottable([0.1, 1e307, -1e308, math.inf, 1e300]) == (
        [0.1, PLOT_LIMIT, -PLOT_LIMIT, math.inf, 1e300], True)
    assert plottable([0.1, -2.0]) == ([0.1, -2.0], False)
    small = build_figure(FigureJob(1, ChartData((Series("c", [0, 1], [0.1, 0.2], (0, 0, 0)),)),
                                   "LR", "epoch", False, 60, 16, "dark")).plain  # fmt: skip
    assert "drawn at" not in small


def test_linear_ticks_hold_at_any_magnitude() -> None:
    """Ticks are the floats nearest their decimal values, labels unique: a flat 1e300 gave
    "1.1e+300" twice, a flat 1e-321 ticks of 0 only (plotext then divided by zero)."""
    assert nice_ticks(1e300, 1e300, 6) == (
        [9e299, 9.5e299, 1e300, 1.05e300, 1.1e300],
        ["9.00e+299", "9.50e+299", "1.00e+300", "1.05e+300", "1.10e+300"],
    )
    assert nice_ticks(1e-300, 2e-300, 6) == (
        [1e-300, 1.2e-300, 1.4e-300, 1.6e-300, 1.8e-300, 2e-300],
        ["1.0e-300", "1.2e-300", "1.4e-300", "1.6e-300", "1.8e-300", "2.0e-300"],
    )
    # below what floats resolve (subnormal): 0 to 1, the line on the 0 row
    assert nice_ticks(1e-321, 1e-321, 6) == nice_ticks(0.0, 0.0, 6) == (
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    assert nice_ticks(-3e-5, 2e-5, 6)[1] == ["-3e-05", "-2e-05", "-1e-05", "0", "1e-05", "2e-05"]
    for ys in ([1e-321] * 3, [1e-300, 2e-300, 1e-300], [1e300] * 3, [0.0] * 3):
        plain = build_figure(FigureJob(1, ChartData((Series("c", [0, 1, 2], ys, (0, 0, 0)),)),
                                       "LR", "epoch", False, 60, 16, "dark")).plain
        labels = list(_label_rows(plain))
        assert len(labels) >= 2, (ys, plain)
