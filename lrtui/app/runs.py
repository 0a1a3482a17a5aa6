"""The runs table: this session's and stored runs, sortable, one row per run; a group of seeds is
one line (mean ± std of its runs' numbers) that expands into a row per seed under it."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import JustifyMethod
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

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
    members: tuple[int, ...] = ()  # a group's line: its runs' ids, by seed (empty: one run)
    group: str | None = None  # a group's line: the group's id
    parent: str | None = None  # a seed's row under its expanded group: the group's id
    seed: int | None = None  # the seed the run trained from
    partly_shown: bool = False  # a group's line: some of its runs are on the charts
    epochs_low: int | None = None  # a group's line: the fewest epochs any of its runs did
    acc_std: float | None = None  # a group's line: std of its runs' best accuracies
    loss_std: float | None = None  # ... and of their best losses
    expanded: bool = False  # a group's line whose seeds are listed under it
    setup: str = ""  # what it trains with where the listed runs differ ("lr=0.021 adam")

    @property
    def row_key(self) -> str:
        """The table's key of the row: the run's id, or `g:<group id>` for a group's line."""
        return f"g:{self.group}" if self.group is not None else str(self.key)


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
LABEL_WIDTH = 17


def _fit(text: str, width: int = LABEL_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _label(r: RunRow) -> str:
    """The run column: a run's label, or a group's with its number of seeds ("StepLR 10/0.1
    ×3"), the label shortened first so the count always shows; then what sets it apart from the
    other runs listed besides its schedule ("StepLR 10/0.1 lr=0.021")."""
    setup = f" {r.setup}" if r.setup else ""
    if not r.members:
        return _fit(r.label) + setup
    suffix = f" ×{len(r.members)}"
    return _fit(r.label, LABEL_WIDTH - len(suffix)) + suffix + setup


def _setup(r: RunRow) -> str:
    return f" · {r.setup}" if r.setup else ""


def _spread(value: float | None, std: float | None, spec: str, group_spec: str,
            scale: float = 1.0) -> str:
    """A run's number ('97.12'), or a group's mean ± std with one digit less ('97.1±0.1'): a
    group's line fits beside the log at 120 columns, and the spread over seeds is not known to
    more digits than that anyway."""
    if value is None or not math.isfinite(value):
        return "-"
    if std is None:
        return format(value * scale, spec)
    return f"{format(value * scale, group_spec)}±{format(std * scale, group_spec)}"


def _dot(r: RunRow) -> Text:
    mark = "◐" if r.partly_shown else ("●" if r.shown else "○")
    return Text(mark, style=rich_color(r.color))


def _epochs(r: RunRow) -> str:
    low = r.epochs_low if r.epochs_low is not None and r.epochs_low != r.epochs_done else None
    return f"{low}-{r.epochs_done}/{r.epochs}" if low is not None else f"{r.epochs_done}/{r.epochs}"


def _ids(r: RunRow) -> str:
    """A run's id; a group's first and last ids ('1-3'), or its first with a '…' when its ids
    are not contiguous."""
    if not r.members:
        return str(r.key)
    first, last = min(r.members), max(r.members)
    return f"{first}-{last}" if last - first + 1 == len(r.members) else f"{first}…"


COLUMNS: tuple[Column, ...] = (
    # What tells runs apart comes first: colour (the charts' key), then the label or the
    # scheduler in short form (the full spec is under the table for the cursor row). Headers
    # and numbers are short so status, epochs, best acc and best loss fit beside the log at
    # 120 columns with the form shown.
    Column("shown", " ", _dot, lambda r: (not r.shown, r.key), name="shown", gap=""),
    Column("label", "run", lambda r: _label(r), lambda r: r.label.lower()),
    Column("status", "status", lambda r: r.status, lambda r: r.status),
    Column("epochs", "ep", _epochs, lambda r: r.epochs_done, reverse=True, justify="right"),
    Column("acc", "acc%", lambda r: _spread(r.best_acc, r.acc_std, ".2f", ".1f", 100.0),
           lambda r: _num(r.best_acc), reverse=True, name="best acc", justify="right"),
    Column("loss", "loss", lambda r: _spread(r.best_loss, r.loss_std, ".4f", ".3f"),
           lambda r: -_num(r.best_loss) if r.best_loss is not None else -math.inf,
           reverse=True, name="best loss", justify="right"),
    Column("dataset", "data", lambda r: r.dataset, lambda r: r.dataset),
    Column("id", "id", _ids, lambda r: r.key, justify="right"),  # oldest first, as `runs list`
)


def _shown(col: Column, value: str | Text) -> Text:
    """A cell or header as drawn: its column's gap before it (the table has no cell padding, so
    columns are one space apart, not two), never read as markup."""
    text = value if isinstance(value, Text) else Text(value)
    return Text.assemble(col.gap, text, justify=col.justify)
SORTABLE: tuple[str, ...] = ("id", "acc", "loss", "label", "status", "shown")


class RunsTable(DataTable[str | Text]):
    """Rows rebuilt from `RunRow`s; the cursor stays on the same row across updates and sorts.
    Rows sort as lines (runs and groups); a group's seed rows stay under its line, by seed."""

    DEFAULT_CSS = """
    RunsTable { height: 1fr; border: round $panel; scrollbar-size-vertical: 1; }
    RunsTable:focus { border: round $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, cell_padding=0)
        self.by_row_key: dict[str, RunRow] = {}  # every row, by its row key
        self._order: list[str] = []  # row keys as displayed, top to bottom
        self._displayed: dict[str, RunRow] = {}  # what each displayed row shows
        self.sort_column = "id"
        self.border_title = "runs · sorted by id"

    @property
    def rows_by_key(self) -> dict[int, RunRow]:
        """The rows of runs (alone or a seed under its group's line), by store id."""
        return {r.key: r for r in self.by_row_key.values() if r.group is None}

    def on_mount(self) -> None:
        self._rebuild()

    def on_data_table_row_highlighted(self) -> None:
        self._describe_cursor_row()

    def _describe_cursor_row(self) -> None:
        """The cursor row's full scheduler spec under the table (the cell shows it short)."""
        row = self.highlighted_row
        if row is None:
            self.border_subtitle = ""
        elif row.group is not None:
            self.border_subtitle = (f"#{_ids(row)} {row.scheduler}{_setup(row)} · + lists its "
                                    "seeds")
        else:
            self.border_subtitle = f"#{row.key} {row.scheduler}{_setup(row)}"

    @property
    def highlighted_row(self) -> RunRow | None:
        """The highlighted row, if any."""
        if self.row_count == 0:
            return None
        row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return None if row_key.value is None else self.by_row_key.get(row_key.value)

    @property
    def highlighted_key(self) -> int | None:
        """The store id of the highlighted run (a group's line: its first run), if any."""
        row = self.highlighted_row
        return None if row is None else row.key

    def ordered(self) -> list[RunRow]:
        """The rows in the table's current order."""
        col = next(c for c in COLUMNS if c.key == self.sort_column)
        lines = sorted((r for r in self.by_row_key.values() if r.parent is None), key=col.sort_key,
                       reverse=col.reverse)
        seeds: dict[str, list[RunRow]] = {}
        for r in self.by_row_key.values():
            if r.parent is not None:
                seeds.setdefault(r.parent, []).append(r)
        out: list[RunRow] = []
        for line in lines:
            out.append(line)
            if line.group is not None:
                members = {key: i for i, key in enumerate(line.members)}
                out += sorted(seeds.get(line.group, []), key=lambda r: members.get(r.key, 0))
        return out

    def set_rows(self, rows: Sequence[RunRow], *, cursor_to: int | None = None) -> None:
        """Replace every row (cheap at a session's sizes), keeping the cursor on its row, or
        moving it to the run `cursor_to` (a training's first run, when it starts; the line of
        its group when the group is not expanded)."""
        before = self.highlighted_row
        self.by_row_key = {r.row_key: r for r in rows}
        self._rebuild(self._row_of(cursor_to) if cursor_to is not None else None, before)

    def _row_of(self, key: int) -> str | None:
        """The row that shows run `key`: its own, else its group's line."""
        if str(key) in self.by_row_key:
            return str(key)
        return next((k for k, r in self.by_row_key.items() if key in r.members), None)

    def sort_next(self) -> str:
        """Sort by the next sortable column; returns its name."""
        i = SORTABLE.index(self.sort_column) if self.sort_column in SORTABLE else -1
        self.sort_column = SORTABLE[(i + 1) % len(SORTABLE)]
        col = next(c for c in COLUMNS if c.key == self.sort_column)
        name = col.name or col.header
        self.border_title = f"runs · sorted by {name}"
        self._rebuild()
        return name

    def _widens(self, rows: Sequence[RunRow]) -> bool:
        """Some changed cell is wider than its column: the table is rebuilt, so its columns fit
        (a cell updated in place widens its column only at a later layout, and a frame drawn
        before shows it cut: "finishe")."""
        for row in rows:
            old = self._displayed.get(row.row_key)
            if old is None or row == old:
                continue
            for col in COLUMNS:
                column = self.columns.get(ColumnKey(col.key))
                width = column.content_width if column is not None else 0
                if _shown(col, col.cell(row)).cell_len > width:
                    return True
        return False

    def _rebuild(self, cursor_to: str | None = None, before: RunRow | None = None) -> None:
        """Redraw the rows; the cursor goes to `cursor_to`, else stays on the row it was on
        (`before`: that row as it was, when the rows have just been replaced)."""
        ordered = self.ordered()
        order = [r.row_key for r in ordered]
        if order == self._order and order and not self._widens(ordered):
            # Same runs in the same order (an epoch ended): update only the cells that changed,
            # so a training's table ticks repaint a few cells, not the whole table.
            for row in ordered:
                old = self._displayed[row.row_key]
                if row == old:
                    continue
                for col in COLUMNS:
                    value = col.cell(row)
                    if value != col.cell(old):
                        self.update_cell(row.row_key, col.key, _shown(col, value),
                                         update_width=True)
                self._displayed[row.row_key] = row
            if cursor_to in self.by_row_key:
                self.move_cursor(row=order.index(cursor_to), animate=False)
            return
        before = before or self.highlighted_row
        keep = cursor_to if cursor_to in self.by_row_key else (
            before.row_key if before is not None else None)
        if keep is not None and keep not in self.by_row_key and before is not None:
            # A seed's row went away with its group's line collapsed: the cursor goes to it.
            keep = f"g:{before.parent}" if before.parent is not None else self._row_of(before.key)
        self.clear(columns=True)  # columns too: their widths then fit the new contents
        for col in COLUMNS:
            self.add_column(_shown(col, col.header), key=col.key)
        for row in ordered:
            self.add_row(*(_shown(col, col.cell(row)) for col in COLUMNS), key=row.row_key)
        self._order = order
        self._displayed = {r.row_key: r for r in ordered}
        if keep is not None and keep in self.by_row_key:
            self.move_cursor(row=self.get_row_index(keep), animate=False)
        self._describe_cursor_row()
