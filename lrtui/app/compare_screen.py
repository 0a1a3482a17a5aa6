"""The compare screen: the groups of one `lrtui run` (seeds, sweeps) summed up as `lrtui runs
compare` prints them, and for a sweep the metric against the swept value.

Every number comes from `lrtui.compare` (the same summaries the command line prints); this module
only lays them out: one table row per group, a table of the paired differences against group 1
under it, and a chart.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from lrtui.compare import (
    MAIN_METRIC,
    CompareError,
    Comparison,
    best_group,
    difference_text,
    log_x,
    select_runs,
    summarize,
    summary_cells,
    sweep_series,
)
from lrtui.store import Store

#: The summary table: the final numbers first, so they stay in view on a 120-column terminal
#: (each cell is mean ± std [min, max], about 30 columns).
COLUMNS = ("#", "group", "n", "final vacc", "final vloss", "best vacc", "best vloss")
#: The paired differences against group 1, in a table of their own under the summary.
VS_COLUMNS = ("#", "group", "n", "final vacc", "final vloss")


def comparison_for(store: Store, run_id: int) -> Comparison:
    """The groups of the command that made run `run_id` (its group's command), against group 1;
    a run without a group: every run of the last command that made groups."""
    run = store.get_run(run_id)
    if run.group_id is None:
        runs = select_runs(store, last=True)
    else:
        command = run.group_id.rpartition(".")[0]
        runs = [r for r in store.list_runs() if (r.group_id or "").rpartition(".")[0] == command]
    if not runs:
        raise CompareError("compare: no runs made with groups yet")
    return summarize(store, runs, baseline="1" if len({r.group_id for r in runs}) > 1 else None)


def rows_of(comparison: Comparison) -> list[tuple[str, ...]]:
    """The summary table's rows, one per group: `runs compare`'s cells, finals first."""
    rows: list[tuple[str, ...]] = []
    for g in comparison.groups:
        number, label, n, final_acc, best_acc, final_loss, best_loss = summary_cells(g)
        rows.append((number, label, n, final_acc, final_loss, best_acc, best_loss))
    return rows


def vs_rows_of(comparison: Comparison) -> list[tuple[str, ...]]:
    """The paired differences' rows, one per group, as `runs compare` prints them (the baseline
    says so)."""
    rows: list[tuple[str, ...]] = []
    for g in comparison.groups:
        if not g.vs_baseline:
            rows.append((str(g.number), g.label, "-", "baseline", "baseline"))
            continue
        rows.append((str(g.number), g.label, str(g.vs_baseline[MAIN_METRIC].n),
                     difference_text(g.vs_baseline["final_valid_acc"], True),
                     difference_text(g.vs_baseline["final_valid_loss"], False)))
    return rows


class CompareScreen(ModalScreen[None]):
    """Groups of seeds and sweep points: mean ± std [min, max], paired differences, a chart."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    CompareScreen { align: center middle; }
    CompareScreen > VerticalScroll {
        width: 100%; height: 100%; border: round $accent; background: $surface; padding: 0 1;
    }
    CompareScreen DataTable { height: auto; max-height: 14; }
    CompareScreen #compare-chart { height: 16; }
    """

    def __init__(self, comparison: Comparison) -> None:
        super().__init__()
        self.comparison = comparison

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("compare: mean ± std [min, max] over each group's seeds   (esc closes)",
                         markup=False)
            yield DataTable(id="compare-table", zebra_stripes=True, cursor_type="row")
            if self.comparison.baseline is not None:
                yield Static(
                    f"\nagainst group {self.comparison.baseline}, paired by seed: mean difference "
                    "[bootstrap 95 % interval] verdict", markup=False)
                yield DataTable(id="compare-vs", zebra_stripes=True, cursor_type="row")
            if self.comparison.sweep_key is not None:
                yield PlotextPlot(id="compare-chart")
                yield Static("", id="compare-best", markup=False)

    def on_mount(self) -> None:
        table: DataTable[str] = self.query_one("#compare-table", DataTable)
        table.add_columns(*COLUMNS)
        table.add_rows(rows_of(self.comparison))
        if self.comparison.baseline is not None:
            vs: DataTable[str] = self.query_one("#compare-vs", DataTable)
            vs.add_columns(*VS_COLUMNS)
            vs.add_rows(vs_rows_of(self.comparison))
        if self.comparison.sweep_key is not None:
            self._plot()

    def _plot(self) -> None:
        key = self.comparison.sweep_key or ""
        series = sweep_series(self.comparison)
        plot = self.query_one("#compare-chart", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        xs = [x for _, line_xs, _ in series for x in line_xs]
        if log_x(xs):
            plt.xscale("log")
        for rest, line_xs, line_ys in series:
            plt.plot(line_xs, [y * 100 for y in line_ys], marker="braille", label=rest or key)
        best = best_group(self.comparison)
        if best is not None:
            bx = float(dict(best.sweep)[key])
            by = (best.metrics[MAIN_METRIC].mean or 0.0) * 100
            plt.scatter([bx], [by], marker="x", color="red")
            self.query_one("#compare-best", Static).update(
                f"best: {best.label} ({by:.2f}% mean final valid accuracy), marked x"
            )
        plt.title(f"mean final valid accuracy against {key}")
        plot.refresh()
