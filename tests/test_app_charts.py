"""Chart legends sit under the plot (never over the curves) and colours parse in Rich."""

from __future__ import annotations

from rich.style import Style

from lrtui.app.charts import FigureJob, build_figure, legend_lines
from lrtui.app.plotting import ChartData, Series, rich_color


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
