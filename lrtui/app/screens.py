"""Modal screens: help, confirm, export path, run details. Each takes plain data and returns a plain
result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.syntax import Syntax
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Static

from lrtui.app.keys import ACTIONS, OTHER_KEYS


class HelpScreen(ModalScreen[None]):
    """Every key the app answers to, generated from the same table as the bindings."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", show=True),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 82; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    HelpScreen #help-title { text-style: bold; padding-bottom: 1; }
    """

    def compose(self) -> ComposeResult:
        lines: list[str] = []
        for a in ACTIONS:
            if a.listed:
                lines.append(f"{a.display_key or a.key:>15}  {a.help}")
        for key, text in OTHER_KEYS:
            lines.append(f"{key:>15}  {text}")
        with VerticalScroll():
            yield Static("lrtui keys  (esc closes)", id="help-title")
            yield Static("\n".join(lines), id="help-keys", markup=False)
            yield Static(
                "\nIn a text field letters type; press esc to leave it, then keys act."
                "\nThe run actions (space, enter, c, e, d) work on the highlighted row of the"
                " runs table.",
                id="help-notes", markup=False)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; `y`/enter confirms, `n`/escape declines."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 60; max-width: 100%; height: auto; border: round $warning; background: $surface;
        padding: 1 2;
    }
    ConfirmScreen #question { width: 100%; }
    ConfirmScreen Horizontal { height: auto; align: center middle; padding-top: 1; }
    ConfirmScreen Button { margin: 0 2; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="question")
            with Horizontal():
                yield Button("Yes (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(False)


class ExportScreen(ModalScreen[None]):
    """Ask where to write a run's CSV before anything is written: the proposed path is absolute
    (the documents folder, else the current one) and editable. Enter posts `Chosen` (the app
    writes the file and, when it cannot, says why here, the screen staying open); escape cancels.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > Vertical {
        width: 90; max-width: 100%; height: auto; border: round $accent; background: $surface;
        padding: 1 2;
    }
    ExportScreen #export-error { color: $error; display: none; }
    ExportScreen #export-error.-shown { display: block; }
    ExportScreen #export-keys { color: $text-muted; }
    """

    @dataclass
    class Chosen(Message):
        """The person confirmed where to write run `run_id`'s CSV."""

        screen: ExportScreen
        run_id: int
        path: str

    def __init__(self, run_id: int, default_path: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.default_path = default_path
        self.error = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Export run #{self.run_id}'s epochs to this CSV file:")
            yield Input(self.default_path, id="export-path")
            yield Static("", id="export-error", markup=False)
            yield Label("enter writes the file · esc cancels", id="export-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if not path:
            self.show_error("give a file name")
            return
        self.show_error("")
        self.post_message(self.Chosen(self, self.run_id, path))

    def show_error(self, text: str) -> None:
        """Say under the path why it was not written ("" hides the line)."""
        self.error = text
        line = self.query_one("#export-error", Static)
        line.update(text)
        line.set_class(bool(text), "-shown")

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class RunDetails:
    """Everything the details screen shows, prepared outside the widget."""

    title: str
    config_lines: tuple[str, ...]
    epoch_columns: tuple[str, ...]
    epoch_rows: tuple[tuple[str, ...], ...]
    code: str


class DetailsScreen(ModalScreen[None]):
    """One run: its configuration, its per-epoch table and the PyTorch code of its schedule."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "dismiss", "Close")]
    DEFAULT_CSS = """
    DetailsScreen { align: center middle; }
    DetailsScreen > VerticalScroll {
        width: 100; max-width: 100%; height: 100%; border: round $accent; background: $surface;
        padding: 0 1;
    }
    DetailsScreen .section { text-style: bold; padding-top: 1; }
    DetailsScreen DataTable { height: auto; max-height: 16; }
    """

    def __init__(self, details: RunDetails) -> None:
        super().__init__()
        self.details = details

    def compose(self) -> ComposeResult:
        d = self.details
        with VerticalScroll():
            yield Static(f"{d.title}   (esc closes)", classes="section", markup=False)
            yield Static("\n".join(d.config_lines), id="details-config", markup=False)
            yield Static("epochs", classes="section")
            table: DataTable[str] = DataTable(id="details-epochs", cursor_type="row",
                                              zebra_stripes=True)
            yield table
            yield Static("code", classes="section")
            yield Static(Syntax(d.code, "python", theme="ansi_dark", word_wrap=True),
                         id="details-code")

    def on_mount(self) -> None:
        table: DataTable[str] = self.query_one("#details-epochs", DataTable)
        table.add_columns(*self.details.epoch_columns)
        table.add_rows(self.details.epoch_rows)
        if not self.details.epoch_rows:
            table.display = False

