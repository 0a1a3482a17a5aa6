"""The runs table: this session's and stored runs, sortable, one row per run."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import JustifyMethod
from rich.text import Text
from textual.widgets import DataTable

from lrtui.app.plotting import RGB, rich_color


@dataclass(frozen=True)
class RunRow:
    """What the table shows of one run (values straight from the store or engine events)."""

    key: int  # store id
    label: str
    scheduler: str
    status: str
    epochs_done: int
    epochs: int
    best_acc: float | None
    best_loss: float | None
    dataset: str
    shown: bool
    color: RGB
    session: bool  # trained in this session


def _num(value: float | None) -> float:
    return -math.inf if value is None or not math.isfinite(value) else value


@dataclass(frozen=True)
class Column:
    """A table column: its header, how its cell is drawn and how it sorts."""

    key: str
    header: str
    cell: Callable[[RunRow], str | Text]
    sort_key: Callable[[RunRow], Any]
    reverse: bool = False  # best first for metrics
    name: str = ""  # what "sorted by ..." calls it ("": the header)
    justify: JustifyMethod = "left"
    gap: str = " "  # drawn before every cell (the table has no cell padding)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


#: The run column's most characters: a longer label ends in "…" (the cursor row's whole spec is
#: under the table, and every chart's legend names the run).
LABEL_WIDTH = 19


def _fit(text: str, width: int = LABEL_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


COLUMNS: tuple[Column, ...] = (
    # What tells runs apart comes first: colour (the charts' key), then the label or the
    # scheduler in short form (the full spec is under the table for the cursor row). Headers
    # and numbers are short so status, epochs, best acc and best loss fit beside the log at
    # 120 columns with the form shown.
    Column("shown", " ", lambda r: Text("●" if r.shown else "○", style=rich_color(r.color)),
           lambda r: (not r.shown, r.key), name="shown", gap=""),
    Column("label", "run", lambda r: _fit(r.label), lambda r: r.label.lower()),
    Column("status", "status", lambda r: r.status, lambda r: r.status),
    Column("epochs", "ep", lambda r: f"{r.epochs_done}/{r.epochs}", lambda r: r.epochs_done,
           reverse=True, justify="right"),
    Column("acc", "acc%",
           lambda r: _fmt(None if r.best_acc is None else 100 * r.best_acc, ".2f"),
           lambda r: _num(r.best_acc), reverse=True, name="best acc", justify="right"),
    Column("loss", "loss", lambda r: _fmt(r.best_loss, ".4f"),
           lambda r: -_num(r.best_loss) if r.best_loss is not None else -math.inf,
           reverse=True, name="best loss", justify="right"),
    Column("dataset", "data", lambda r: r.dataset, lambda r: r.dataset),
    Column("id", "id", lambda r: str(r.key), lambda r: r.key,  # oldest first, as `runs list`
           justify="right"),
)


def _shown(col: Column, value: str | Text) -> Text:
    """A cell or header as drawn: its column's gap before it (the table has no cell padding, so
    columns are one space apart, not two), never read as markup."""
    text = value if isinstance(value, Text) else Text(value)
    return Text.assemble(col.gap, text, justify=col.justify)
SORTABLE: tuple[str, ...] = ("id", "acc", "loss", "label", "status", "shown")


class RunsTable(DataTable[str | Text]):
    """Rows rebuilt from `RunRow`s; the cursor stays on the same run across updates and sorts."""

    DEFAULT_CSS = """
    RunsTable { height: 1fr; border: round $panel; scrollbar-size-vertical: 1; }
    RunsTable:focus { border: round $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, cell_padding=0)
        self.rows_by_key: dict[int, RunRow] = {}
        self._order: list[int] = []  # keys as displayed, top to bottom
        self._displayed: dict[int, RunRow] = {}  # what each displayed row shows
        self.sort_column = "id"
        self.border_title = "runs · sorted by id"

    def on_mount(self) -> None:
        self._rebuild()

    def on_data_table_row_highlighted(self) -> None:
        self._describe_cursor_row()

    def _describe_cursor_row(self) -> None:
        """The cursor row's full scheduler spec under the table (the cell shows it short)."""
        key = self.highlighted_key
        row = self.rows_by_key.get(key) if key is not None else None
        self.border_subtitle = f"#{row.key} {row.scheduler}" if row is not None else ""

    @property
    def highlighted_key(self) -> int | None:
        """The store id of the highlighted row, if any."""
        if self.row_count == 0:
            return None
        row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return None if row_key.value is None else int(row_key.value)

    def ordered(self) -> list[RunRow]:
        """The rows in the table's current order."""
        col = next(c for c in COLUMNS if c.key == self.sort_column)
        return sorted(self.rows_by_key.values(), key=col.sort_key, reverse=col.reverse)

    def set_rows(self, rows: Sequence[RunRow], *, cursor_to: int | None = None) -> None:
        """Replace every row (cheap at a session's sizes), keeping the cursor on its run, or
        moving it to the run `cursor_to` (a training's first run, when it starts)."""
        self.rows_by_key = {r.key: r for r in rows}
        self._rebuild(cursor_to)

    def sort_next(self) -> str:
        """Sort by the next sortable column; returns its name."""
        i = SORTABLE.index(self.sort_column) if self.sort_column in SORTABLE else -1
        self.sort_column = SORTABLE[(i + 1) % len(SORTABLE)]
        col = next(c for c in COLUMNS if c.key == self.sort_column)
        name = col.name or col.header
        self.border_title = f"runs · sorted by {name}"
        self._rebuild()
        return name

    def _rebuild(self, cursor_to: int | None = None) -> None:
        ordered = self.ordered()
        order = [r.key for r in ordered]
        if order == self._order and order:
            # Same runs in the same order (an epoch ended): update only the cells that changed,
            # so a training's table ticks repaint a few cells, not the whole table.
            for row in ordered:
                old = self._displayed[row.key]
                if row == old:
                    continue
                for col in COLUMNS:
                    value = col.cell(row)
                    if value != col.cell(old):
                        self.update_cell(str(row.key), col.key, _shown(col, value),
                                         update_width=True)
                self._displayed[row.key] = row
            if cursor_to in self.rows_by_key:
                self.move_cursor(row=order.index(cursor_to), animate=False)
            return
        keep = cursor_to if cursor_to in self.rows_by_key else self.highlighted_key
        self.clear(columns=True)  # columns too: their widths then fit the new contents
        for col in COLUMNS:
            self.add_column(_shown(col, col.header), key=col.key)
        for row in ordered:
            self.add_row(*(_shown(col, col.cell(row)) for col in COLUMNS), key=str(row.key))
        self._order = order
        self._displayed = {r.key: r for r in ordered}
        if keep is not None and keep in self.rows_by_key:
            self.move_cursor(row=self.get_row_index(str(keep)), animate=False)
        self._describe_cursor_row()
