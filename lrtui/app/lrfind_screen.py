"""The range-test view: the loss against the LR (log-X) with the suggestions marked, a keyboard
cursor along the curve, and keys that put the cursor's LR into the form.

A modal screen, so the main screen's keys (r, s, t, ...) do not fire behind it. Everything it
shows comes from `lrfind_view.py`; it asks for an LR in the form with an `LrChosen` message
(the App owns the form and answers with `LrApplied`), so it never touches the sidebar's widgets.

Applying keeps the view open (CyclicLR wants two LRs: `n` then `m`); `enter` applies as the base
LR and closes. `m` on a scheduler without max_lr, and `n` on one without CyclicLR's base_lr,
ask before switching the form's scheduler to OneCycleLR (the schedule an LR range test is
usually run for) or CyclicLR.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from lrtui import schedulers as S
from lrtui.app.charts import Chart
from lrtui.app.keys import KeyAction
from lrtui.app.lrfind_view import (
    Cursor,
    RangeView,
    applied_lr,
    big_step,
    chart_data,
    cursor_lr,
    cycle,
    jump_to,
    lr_text,
    move,
    readout,
    start_cursor,
    suggestion,
    suggestion_rows,
)
from lrtui.app.messages import LrApplied, LrChosen
from lrtui.app.screens import ConfirmScreen
from lrtui.lrfind import METHODS

# Where each apply key writes: form field, the schedulers that have it, the one offered instead
# (the catalog says which entries take which LR).
TARGETS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "base": ("lr", (), ""),
    **{param: (f"param:{param}", S.taking_lr(param), S.LR_OFFERS[param])
       for param in ("max_lr", "base_lr")},
}

# Every key of the view, for its bindings, its footer and its help line alike.
VIEW_KEYS: tuple[KeyAction, ...] = (
    KeyAction("left", "move(-1)", "Move", "move the cursor one step", display_key="←/→"),
    KeyAction("right", "move(1)", "Move", "", show=False, listed=False),
    KeyAction("shift+left,pageup", "move_far(-1)", "Jump", "jump a twentieth of the sweep",
              show=False, display_key="shift+←/→ pgup/pgdn"),
    KeyAction("shift+right,pagedown", "move_far(1)", "Jump", "", show=False, listed=False),
    KeyAction("home", "move_end(0)", "First", "first / last point", show=False,
              display_key="home/end"),
    KeyAction("end", "move_end(1)", "Last", "", show=False, listed=False),
    KeyAction("1", "suggest(0)", "Suggestion", "jump to a suggestion (table order)",
              display_key="1-4"),
    KeyAction("2", "suggest(1)", "", "", show=False, listed=False),
    KeyAction("3", "suggest(2)", "", "", show=False, listed=False),
    KeyAction("4", "suggest(3)", "", "", show=False, listed=False),
    KeyAction("tab", "cycle(1)", "Next", "next / previous suggestion", show=False,
              display_key="tab/shift+tab"),
    KeyAction("shift+tab", "cycle(-1)", "Previous", "", show=False, listed=False),
    KeyAction("b", "apply('base')", "Base LR", "the cursor's LR → the form's base LR"),
    KeyAction("enter", "apply_and_close", "Use & close", "same as b, then close", show=False),
    KeyAction("m", "apply('max_lr')", "Max LR",
              f"→ max_lr of {'/'.join(S.taking_lr('max_lr'))} (other schedulers: asks to "
              f"switch to {S.LR_OFFERS['max_lr']})"),
    KeyAction("n", "apply('base_lr')", "CyclicLR base",
              "→ CyclicLR's base_lr (other schedulers: asks to switch to CyclicLR)"),
    KeyAction("escape,q", "close", "Close", "close: back to the form and its preview",
              display_key="esc"),
)


def help_line() -> str:
    """The view's keys in one paragraph, from VIEW_KEYS."""
    return " · ".join(f"{k.display_key or k.key} {k.help}" for k in VIEW_KEYS if k.listed)


class RangeTestScreen(ModalScreen[None]):
    """One finished range test: chart, cursor readout, suggestions, status, keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(k.key, k.action, k.title, show=k.show,
                key_display=k.display_key if k.show and k.display_key else None)
        for k in VIEW_KEYS
    ]
    DEFAULT_CSS = """
    RangeTestScreen { align: center middle; }
    RangeTestScreen > Vertical {
        width: 100%; height: 1fr; border: round $accent; background: $surface; padding: 0 1;
    }
    RangeTestScreen #lrfind-title { text-style: bold; }
    RangeTestScreen #lrfind-title, RangeTestScreen #lrfind-note,
    RangeTestScreen #lrfind-readout, RangeTestScreen #lrfind-table {
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    RangeTestScreen #lrfind-note, RangeTestScreen #lrfind-help { color: $text-muted; }
    RangeTestScreen #lrfind-chart { height: 1fr; min-height: 6; }
    RangeTestScreen #lrfind-readout { text-style: bold; color: $warning; }
    RangeTestScreen #lrfind-status { color: $success; }
    RangeTestScreen #lrfind-status.-warn { color: $warning; }
    RangeTestScreen.-short #lrfind-help, RangeTestScreen.-short #lrfind-note { display: none; }
    """

    def __init__(self, view: RangeView, scheduler: str) -> None:
        """`scheduler`: the form's scheduler (an apply key may offer to switch it)."""
        super().__init__()
        self.view = view
        self.scheduler = scheduler
        self.cursor: Cursor = start_cursor(view)
        self.status = ""
        self._caution = ""

    def compose(self) -> ComposeResult:
        v = self.view
        # plotext drops a title wider than about 3/4 of the plot: keep it short.
        self._w_chart = Chart("loss (line: smoothed, dots: raw)",
                              x_label="learning rate (log scale)", id="lrfind-chart")
        self._w_chart.can_focus = False  # the screen's own keys (tab) act, not focus moves
        self._w_readout = Static("", id="lrfind-readout", markup=False)
        self._w_table = Static("", id="lrfind-table", markup=False)
        self._w_status = Static("", id="lrfind-status", markup=False)
        with Vertical():
            yield Static(v.title, id="lrfind-title", markup=False)
            yield Static(v.note, id="lrfind-note", markup=False)
            yield self._w_chart
            yield self._w_readout
            yield self._w_table
            yield self._w_status
            yield Static(help_line(), id="lrfind-help", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._show(urgent=False)

    # ---------------------------------------------------------------------------- showing

    @property
    def readout_text(self) -> str:
        return readout(self.view, self.cursor)

    @property
    def chart(self) -> Chart:
        return self._w_chart

    def _show(self, *, urgent: bool = True) -> None:
        v = self.view
        self._w_readout.update(readout(v, self.cursor))
        self._w_table.update("\n".join(suggestion_rows(v, self.cursor)))
        self._w_chart.show(chart_data(v, None if v.empty else self.cursor), urgent=urgent)

    def say(self, text: str, *, warn: bool = False) -> None:
        """One line under the table: what the last key did."""
        self.status = text
        self._w_status.update(text)
        self._w_status.set_class(warn, "-warn")

    def _go(self, cursor: Cursor) -> None:
        if cursor != self.cursor:
            self.cursor = cursor
            self._show()

    # ---------------------------------------------------------------------------- moving

    def action_move(self, delta: int) -> None:
        self._go(move(self.view, self.cursor, delta))

    def action_move_far(self, sign: int) -> None:
        self._go(move(self.view, self.cursor, sign * big_step(self.view)))

    def action_move_end(self, end: int) -> None:
        n = len(self.view.points)
        self._go(move(self.view, self.cursor, n if end else -n))

    def action_suggest(self, k: int) -> None:
        methods = list(METHODS)
        if not 0 <= k < len(methods):
            return
        method = methods[k]
        cursor = jump_to(self.view, method)
        if cursor is None:
            reason = next((s.reason for s in self.view.suggestions if s.method == method), "")
            self.say(f"{method}: no suggestion ({reason})", warn=True)
            return
        self._go(cursor)

    def action_cycle(self, step: int) -> None:
        self._go(cycle(self.view, self.cursor, step))

    # ---------------------------------------------------------------------------- applying

    def action_apply(self, what: str) -> None:
        """Ask the App to put the cursor's LR into the form field of `what` (see TARGETS)."""
        if self.view.empty or what not in TARGETS:
            self.say("nothing to apply: the curve has no finite point", warn=True)
            return
        key, owners, offered = TARGETS[what]
        lr = applied_lr(cursor_lr(self.view, self.cursor))
        source = self.cursor.method or "cursor"
        chosen = suggestion(self.view, self.cursor.method) if self.cursor.method else None
        caution = ""
        if chosen is not None and not chosen.usable:
            caution = f" ({chosen.method} is too high to train with: a lower LR is safer)"
        scheduler = self.scheduler
        if not owners or scheduler in owners:
            self._caution = caution
            self.post_message(LrChosen(key, lr, None, source, self))
            return
        name = key.removeprefix("param:")

        def answer(yes: bool | None) -> None:
            if not yes:
                self.say(f"not applied: {scheduler} has no {name}", warn=True)
                return
            self._caution = caution
            self.post_message(LrChosen(key, lr, offered, source, self))

        self.app.push_screen(ConfirmScreen(
            f"The form's scheduler is {scheduler}, which has no {name}. "
            f"Switch it to {offered} with {name} = {lr_text(lr)}?"), answer)

    @on(LrApplied)
    def _applied(self, message: LrApplied) -> None:
        self.scheduler = message.scheduler
        self.say(message.line + self._caution, warn=bool(self._caution))

    def action_apply_and_close(self) -> None:
        self.action_apply("base")
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
