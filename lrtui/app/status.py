"""The bottom of the screen: the log pane (one line per epoch per run, every notice) and the
progress line.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import Resize
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
    """A RichLog whose lines wrap to its width, also kept as plain text (tests read them).

    RichLog wraps a line once, at the width the pane has when it is written; the pane's width
    changes after (the first layout, a terminal resize, the form shown or hidden), so the pane
    keeps its lines and wraps them again whenever its width changes: a long line is always
    readable whole, never cut at the pane's edge. The scrollbar's gutter is always reserved, so
    its appearing never narrows lines already wrapped."""

    DEFAULT_CSS = """
    LogPane { height: 1fr; border: round $panel; padding: 0 1; overflow-x: hidden;
              scrollbar-gutter: stable; scrollbar-size-vertical: 1; }
    LogPane:focus { border: round $accent; }
    """
    MAX_LINES = 2000

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(max_lines=self.MAX_LINES, wrap=True, markup=False, highlight=False,
                         id=id, min_width=1)
        self.entries: list[str] = []
        self._texts: deque[Text] = deque(maxlen=self.MAX_LINES)
        self._wrapped_at = 0  # the content width the lines were last wrapped to
        self.border_title = "log"

    def add(self, message: str, level: Level = "info") -> None:
        """Append one line; notices and errors stand out."""
        self.entries.append(message)
        prefix = {"info": "", "notice": "» ", "warning": "! ", "error": "✗ "}[level]
        text = Text(prefix + message, style=_STYLES[level])
        self._texts.append(text)
        self.write(text)

    def on_resize(self, event: Resize) -> None:
        """Wrap every kept line again at the new width (RichLog's own handler, which runs after
        this one, writes the lines that waited for the first size)."""
        width = self.scrollable_content_region.width
        if not self._size_known or width == self._wrapped_at:
            self._wrapped_at = width
            return
        self._wrapped_at = width
        self.clear()
        for text in self._texts:
            self.write(text, scroll_end=False)
        self.scroll_end(animate=False, immediate=False, x_axis=False)


class ProgressLine(Horizontal):
    """Progress of the training: a bar, ETA, epoch, step and speed (all from engine events).

    The ETA comes right after the job's short title ("4 runs"): at 80 columns the end of the line
    is cut (with an ellipsis), never the ETA."""

    DEFAULT_CSS = """
    ProgressLine { height: 1; width: 1fr; }
    ProgressLine > ProgressBar { width: auto; }
    ProgressLine > #progress-text { width: 1fr; padding: 0 1; text-wrap: nowrap;
                                    text-overflow: ellipsis; }
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
            f"{state}{label} · ETA {fmt_duration(eta)} · epoch {epochs_done}/{epochs} done",
            layout=False)  # one line of fixed size: no layout pass of the whole screen

    def show(self, *, label: str, epoch: int, epochs: int, step: int, steps_per_epoch: int,
             global_step: int, total_steps: int, samples_per_s: float, elapsed_s: float,
             paused: bool = False) -> None:
        """Update from one Progress event; ETA = elapsed time scaled to the remaining steps."""
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, total_steps), progress=min(global_step, total_steps))
        eta = (elapsed_s * (total_steps - global_step) / global_step) if global_step > 0 else -1.0
        state = "paused · " if paused else ""
        text = (f"{state}{label} · ETA {fmt_duration(eta)} · epoch {epoch_number(epoch)}/{epochs}"
                f" · step {step}/{steps_per_epoch} · {samples_per_s:,.0f} samples/s")
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
            f"range test · step {step}/{steps} · ETA {fmt_duration(eta)} · LR {lr:.3g}"
            f"{loss_text} · s stops it",
            layout=False)

    @property
    def text(self) -> str:
        """The state line as plain text."""
        return str(self.query_one("#progress-text", Static).render())
