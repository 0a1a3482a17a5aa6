"""The bottom of the screen: the log pane (one line per epoch per run, every notice) and the
progress line.
"""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, RichLog, Static

from lrtui.app.plotting import fmt_duration
from lrtui.numbering import epoch_number

Level = Literal["info", "notice", "warning", "error"]
_STYLES: dict[Level, str] = {
    "info": "",
    "notice": "cyan",
    "warning": "yellow",
    "error": "bold red",
}


class LogPane(RichLog):
    """A RichLog that also keeps its lines as plain text (tests read them)."""

    DEFAULT_CSS = """
    LogPane { height: 1fr; border: round $panel; padding: 0 1; }
    LogPane:focus { border: round $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(max_lines=2000, wrap=True, markup=False, highlight=False, id=id,
                         min_width=20)
        self.entries: list[str] = []
        self.border_title = "log"

    def add(self, message: str, level: Level = "info") -> None:
        """Append one line; notices and errors stand out."""
        self.entries.append(message)
        prefix = {"info": "", "notice": "» ", "warning": "! ", "error": "✗ "}[level]
        self.write(Text(prefix + message, style=_STYLES[level]))


class ProgressLine(Horizontal):
    """Progress of the training: a bar, epoch, step, speed and ETA (all from engine events)."""

    DEFAULT_CSS = """
    ProgressLine { height: 1; width: 1fr; }
    ProgressLine > ProgressBar { width: auto; }
    ProgressLine > #progress-text { width: 1fr; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=1, show_eta=False, show_percentage=True, id="progress-bar")
        yield Static("idle", id="progress-text")

    def idle(self, text: str = "idle", *, fraction: float = 0.0) -> None:
        """Nothing trains: the bar at how far the last training got, and a short state line."""
        bar = self.query_one(ProgressBar)
        bar.update(total=1000, progress=round(1000 * min(max(fraction, 0.0), 1.0)))
        self.query_one("#progress-text", Static).update(text, layout=False)

    def say(self, text: str) -> None:
        """Change the state line only: the bar stays where the training got (pause)."""
        self.query_one("#progress-text", Static).update(text, layout=False)

    def show_epoch(self, *, label: str, epochs_done: int, epochs: int, epoch_seconds: float,
                   paused: bool = False) -> None:
        """Update at an epoch end (short epochs end before any Progress event is due); ETA =
        the last epoch's time for each epoch left."""
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, epochs), progress=min(epochs_done, epochs))
        eta = epoch_seconds * (epochs - epochs_done)
        state = "paused · " if paused else ""
        self.query_one("#progress-text", Static).update(
            f"{state}{label} · epoch {epochs_done}/{epochs} done · ETA {fmt_duration(eta)}",
            layout=False)  # one line of fixed size: no layout pass of the whole screen

    def show(self, *, label: str, epoch: int, epochs: int, step: int, steps_per_epoch: int,
             global_step: int, total_steps: int, samples_per_s: float, elapsed_s: float,
             paused: bool = False) -> None:
        """Update from one Progress event; ETA = elapsed time scaled to the remaining steps."""
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, total_steps), progress=min(global_step, total_steps))
        eta = (elapsed_s * (total_steps - global_step) / global_step) if global_step > 0 else -1.0
        state = "paused · " if paused else ""
        text = (f"{state}{label} · epoch {epoch_number(epoch)}/{epochs} · step {step}/"
                f"{steps_per_epoch} · {samples_per_s:,.0f} samples/s · ETA {fmt_duration(eta)}")
        self.query_one("#progress-text", Static).update(text, layout=False)

    def show_sweep(self, *, step: int, steps: int, lr: float, loss: float | None,
                   elapsed_s: float) -> None:
        """Update from a range test's progress: steps done of the sweep, its LR and loss now (the
        ETA is at most: the sweep ends early once the loss blows up)."""
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, steps), progress=min(step, steps))
        eta = elapsed_s * (steps - step) / step if step > 0 else -1.0
        loss_text = f" · smoothed loss {loss:.4f}" if loss is not None else ""
        self.query_one("#progress-text", Static).update(
            f"range test · step {step}/{steps} · LR {lr:.3g}{loss_text} · ETA "
            f"{fmt_duration(eta)} · s stops it",
            layout=False)

    @property
    def text(self) -> str:
        """The state line as plain text."""
        return str(self.query_one("#progress-text", Static).render())
