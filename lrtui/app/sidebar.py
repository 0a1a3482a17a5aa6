"""The sidebar form: run settings plus the chosen scheduler's parameters, generated from the
catalog.

The widget only collects and shows: `values()` gives a `FormValues`, `show_result()` puts each error
under its field, `load()` fills the form from a config (clone). Parsing and validation live in
`form.py`.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import DescendantFocus
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static

from lrtui import fields as F
from lrtui import schedulers as S
from lrtui.app.form import (
    COMPOSITE_EXAMPLES,
    DEVICES,
    MODEL_NAMES,
    OPTIMIZER_NAMES,
    FormResult,
    FormValues,
    field_label,
    format_number,
)
from lrtui.optimizers import OPTIMIZER_KINDS

FieldWidget = Input | Select[str] | Checkbox


class Tick(Checkbox):
    """A checkbox whose mark tells on from off without colour: X when on, blank when off
    (Textual's Checkbox draws the same X in both states and tells them apart by colour only,
    which a monochrome terminal, a screenshot in grey or a colour-blind eye loses)."""

    def __init__(self, value: bool = False) -> None:
        super().__init__("", value, compact=True)
        self.BUTTON_INNER = _mark(self.value)

    def watch_value(self) -> None:
        self.BUTTON_INNER = _mark(self.value)
        super().watch_value()


def _mark(on: bool) -> str:
    return "X" if on else " "
#: Every optimizer's own fields, in registry order (each optimizer shows its own).
OPTIMIZER_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(key for kind in OPTIMIZER_KINDS.values() for key in kind.form_fields)
)


def widget_id(key: str) -> str:
    """A CSS id for a field key ('param:step_size' -> 'f-param-step_size')."""
    return "f-" + key.replace(":", "-").replace(".", "-")


#: The form's fixed fields, top to bottom; labels, help and bounds come from lrtui.fields.
FORM_KEYS: tuple[str, ...] = (
    "dataset", "model", "hidden", "optimizer.name", "optimizer.momentum", "optimizer.nesterov",
    "optimizer.beta1", "optimizer.beta2", "optimizer.eps", "optimizer.weight_decay", "lr",
    "epochs", "batch_size", "seed", "seeds", "device", "label", "scheduler", "spec", "warmup",
    "warmup_start",
)  # fmt: skip


def field_help(key: str) -> str:
    """A fixed field's help line, with its bound where it has one (the CLI states the same)."""
    f = F.FIELDS[key]
    bounded = f.high is not None and f.kind in ("int", "int_list")
    return f"{f.help} ({f.rule()})" if bounded else f.help


FIXED_HELP: dict[str, str] = {key: field_help(key) for key in FORM_KEYS}


class Sidebar(VerticalScroll):
    """The form. Posts `Sidebar.Changed` whenever the user changes a field."""

    class Changed(Message):
        """Some field changed: re-evaluate the form and redraw the preview."""

    DEFAULT_CSS = """
    Sidebar { width: 40; height: 1fr; border-right: vkey $panel; padding: 0 1 0 0;
              scrollbar-size-vertical: 1; }
    Sidebar .section { text-style: bold; color: $accent; margin-top: 1; }
    Sidebar .row { height: auto; }
    Sidebar .row > Label { width: 17; padding-right: 1; text-wrap: nowrap;
                           text-overflow: ellipsis; }
    Sidebar .row > Input, Sidebar .row > Select { width: 1fr; }
    Sidebar Select SelectCurrent Static#label { text-wrap: nowrap; text-overflow: ellipsis; }
    /* The open list is as wide as its longest choice (CosineAnnealingWarmRestarts), over the
       charts if need be: in a narrow sidebar its names wrapped mid-word. */
    Sidebar Select > SelectOverlay { width: auto; min-width: 100%; }
    Sidebar .row > Checkbox { width: 1fr; }
    Sidebar .err { color: $error; display: none; padding-left: 17; }
    Sidebar .err.-warn { color: $warning; }
    Sidebar .err.-shown { display: block; }
    Sidebar .-off { display: none !important; }
    Sidebar #device-line, Sidebar #scheduler-help, Sidebar #steps-line { color: $text-muted;
                                                                        padding-left: 17; }
    Sidebar #field-help { color: $text-muted; margin-top: 1; border-top: hkey $panel; }
    Sidebar #form-status { margin-top: 1; text-style: bold; }
    Sidebar #form-status.-bad { color: $error; }
    Sidebar #form-status.-good { color: $success; }
    """

    def __init__(self, *, datasets: Iterable[str], initial: FormValues,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.datasets = list(datasets)
        self.initial = initial
        self.help_for: dict[str, str] = dict(FIXED_HELP)
        self.widgets: dict[str, FieldWidget] = {}
        self._param_cache: dict[str, dict[str, str | bool]] = {}
        self._scheduler = initial.scheduler
        self.can_focus = False

    # ---- building

    def _row(self, key: str, widget: FieldWidget, group: str = "") -> list[Widget]:
        """A field's line (its label from `field_label` + widget) and its error line, built
        without compose context so the scheduler's parameter rows can be mounted later the same
        way."""
        label = field_label(key)
        widget.id = widget_id(key)
        widget.tooltip = self.help_for.get(key, "")
        self.widgets[key] = widget
        suffix = f" g-{group}" if group else ""  # "g-opt": one optimizer's own field
        return [
            Horizontal(Label(label), widget, classes="row" + suffix, id=f"row-{widget.id}"),
            Static("", classes="err" + suffix, id=f"err-{widget.id}", markup=False),
        ]

    def _input(self, value: str, placeholder: str = "") -> Input:
        return Input(value, placeholder=placeholder, compact=True)

    def _select(self, options: Iterable[str], value: str) -> Select[str]:
        opts = [(o, o) for o in options]
        return Select(opts, value=value, allow_blank=False, compact=True)

    def compose(self) -> ComposeResult:
        v = self.initial
        yield Static("Run", classes="section")
        datasets = self.datasets if v.dataset in self.datasets else [*self.datasets, v.dataset]
        yield from self._row("dataset", self._select(datasets, v.dataset))
        yield from self._row("model", self._select(MODEL_NAMES, v.model))
        yield from self._row("hidden", self._input(v.hidden))
        yield from self._row("optimizer.name", self._select(OPTIMIZER_NAMES, v.optimizer))
        yield from self._row("optimizer.momentum", self._input(v.momentum), "opt")
        yield from self._row("optimizer.nesterov", Tick(v.nesterov), "opt")
        yield from self._row("optimizer.beta1", self._input(v.beta1), "opt")
        yield from self._row("optimizer.beta2", self._input(v.beta2), "opt")
        yield from self._row("optimizer.eps", self._input(v.eps), "opt")
        yield from self._row("optimizer.weight_decay", self._input(v.weight_decay))
        yield from self._row("lr", self._input(v.lr))
        yield from self._row("epochs", self._input(v.epochs))
        yield from self._row("batch_size", self._input(v.batch_size))
        yield Static("", id="steps-line", markup=False)
        yield from self._row("seed", self._input(v.seed))
        yield from self._row("seeds", self._input(v.seeds))
        yield from self._row("device", self._select(DEVICES, v.device))
        yield Static("", id="device-line", markup=False)
        yield from self._row("label", self._input(v.label, "optional"))
        yield Static("Schedule", classes="section", id="schedule-section")
        yield from self._row("scheduler", self._select(S.ENTRIES, v.scheduler))
        yield Static("", id="scheduler-help", markup=False)
        yield from self._row("warmup", self._input(v.warmup))
        yield from self._row("warmup_start", self._input(v.warmup_start))
        yield Vertical(id="params")
        yield Static("", id="form-status", markup=False)
        yield Static("", id="field-help", markup=False)

    async def on_mount(self) -> None:
        self._show_optimizer_group(self.initial.optimizer)
        await self._mount_params(self.initial.scheduler, _with_interval(self.initial),
                                 self.initial.spec_text)

    def _param_rows(self, name: str, given: dict[str, str | bool], spec_text: str
                    ) -> list[Widget]:
        info = S.ENTRIES[name]
        rows: list[Widget] = []
        if info.composite:
            self.help_for["spec"] = FIXED_HELP["spec"]
            rows.extend(self._row(
                "spec", self._input(spec_text or COMPOSITE_EXAMPLES.get(name, ""))))
            return rows
        for p in info.params:
            key = f"param:{p.name}"
            rng = _range_text(p)
            self.help_for[key] = f"{p.name}: {p.help}" + (f" ({rng})" if rng else "")
            raw = given.get(p.name)
            widget: FieldWidget
            if p.kind == "bool":
                widget = Tick(bool(p.default if raw is None else raw))
            elif p.kind == "choice":
                value = str(p.default if raw is None or raw == "" else raw)
                widget = self._select(p.choices, value if value in p.choices else p.choices[0])
            else:
                text = format_number(p.default) if raw is None else str(raw)
                # Emptied, the field shows what it falls back to (and the preview says so).
                empty = "auto" if p.derived else f"default {format_number(p.default)}"
                widget = self._input(text, empty if p.derived or p.default is not None else "")
            rows.extend(self._row(key, widget))
        interval = info.param("interval")
        if interval is not None:  # the interval toggle: epoch or optimizer step
            self.help_for["interval"] = f"interval: {interval.help}"
            chosen = str(given.get("interval") or interval.default)
            rows.extend(self._row("interval", self._select(
                interval.choices, chosen if chosen in interval.choices else interval.default)))
        return rows

    async def _mount_params(self, name: str, given: dict[str, str | bool], spec_text: str) -> None:
        box = self.query_one("#params", Vertical)
        for key in [k for k in self.widgets if k.startswith("param:") or k in ("spec", "interval")]:
            del self.widgets[key]
        await box.remove_children()
        self._scheduler = name
        await box.mount_all(self._param_rows(name, given, spec_text))
        self._describe_scheduler()

    def _describe_scheduler(self) -> None:
        """The scheduler's line, in the unit its interval toggle counts ('every step_size
        optimizer steps' with interval=step)."""
        info = S.ENTRIES.get(self._scheduler)
        toggle = self.widgets.get("interval")
        chosen = toggle.value if isinstance(toggle, Select) else None
        interval: S.Interval | None = (
            "step" if chosen == "step" else "epoch" if chosen == "epoch" else None)
        text = info.describe(interval) if info else ""
        self.query_one("#scheduler-help", Static).update(text)

    # ---- reading and showing

    def values(self) -> FormValues:
        """The form as the user left it."""
        def text(key: str) -> str:
            w = self.widgets.get(key)
            return w.value if isinstance(w, Input) else ""

        def choice(key: str, default: str) -> str:
            w = self.widgets.get(key)
            if isinstance(w, Select) and isinstance(w.value, str):
                return w.value
            return default

        def check(key: str) -> bool:
            w = self.widgets.get(key)
            return bool(w.value) if isinstance(w, Checkbox) else False

        params: dict[str, str | bool] = {}
        info = S.ENTRIES.get(self._scheduler)
        if info is not None and not info.composite:
            for p in info.params:
                key = f"param:{p.name}"
                w = self.widgets.get(key)
                if isinstance(w, Checkbox):
                    params[p.name] = bool(w.value)
                elif isinstance(w, Select):
                    params[p.name] = str(w.value)
                elif isinstance(w, Input):
                    params[p.name] = w.value
        return FormValues(
            dataset=choice("dataset", "mnist"), model=choice("model", "mlp"), hidden=text("hidden"),
            optimizer=choice("optimizer.name", "sgd"), momentum=text("optimizer.momentum"),
            nesterov=check("optimizer.nesterov"), weight_decay=text("optimizer.weight_decay"),
            beta1=text("optimizer.beta1"), beta2=text("optimizer.beta2"), eps=text("optimizer.eps"),
            lr=text("lr"), epochs=text("epochs"), batch_size=text("batch_size"), seed=text("seed"),
            seeds=text("seeds"), device=choice("device", "auto"), scheduler=self._scheduler,
            params=params, spec_text=text("spec"), interval=choice("interval", ""),
            warmup=text("warmup"), warmup_start=text("warmup_start"),
            label=text("label"),
        )

    def show_result(self, result: FormResult) -> None:
        """Each error (or warning) under its field; a one-line summary at the bottom."""
        shown = {**{k: (m, True) for k, m in result.warnings.items()},
                 **{k: (m, False) for k, m in result.errors.items()}}
        for key in self.widgets:
            err = self.query(f"#err-{widget_id(key)}")
            if not err:
                continue
            line = err.first(Static)
            message, warn = shown.get(key, ("", False))
            line.update(message)
            line.set_class(bool(message), "-shown")
            line.set_class(warn, "-warn")
        unplaced = [f"{field_label(k)}: {m}" for k, m in result.errors.items()
                    if k not in self.widgets]
        status = self.query_one("#form-status", Static)
        if result.ok:
            status.update("ready · r runs it · a adds it to the batch")
        else:
            n = len(result.errors)
            extra = ("\n" + "\n".join(unplaced)) if unplaced else ""
            status.update(f"{n} problem{'s' if n != 1 else ''}: fix the red fields to run{extra}")
        status.set_class(not result.ok, "-bad")
        status.set_class(result.ok, "-good")
        spe = result.steps_per_epoch
        self.query_one("#steps-line", Static).update(
            f"{spe:,} steps per epoch" if spe else "")

    def set_dataset(self, name: str) -> None:
        """Choose another dataset (as if the user had); the form is re-evaluated."""
        select = self.widgets["dataset"]
        if isinstance(select, Select):
            select.value = name

    def set_device_line(self, text: str) -> None:
        self.query_one("#device-line", Static).update(text)

    def _show_optimizer_group(self, name: str) -> None:
        """The chosen optimizer's own fields (lrtui.optimizers: SGD's momentum, Adam's betas...);
        the others' rows and error lines are hidden."""
        kind = OPTIMIZER_KINDS.get(name)
        fields = kind.form_fields if kind is not None else ()
        for key in OPTIMIZER_FIELDS:
            for node in self.query(f"#row-{widget_id(key)}, #err-{widget_id(key)}"):
                node.set_class(key not in fields, "-off")

    async def load(self, v: FormValues) -> None:
        """Fill every field (clone), without a Changed per field; posts one Changed at the end."""
        with self.prevent(Input.Changed, Select.Changed, Checkbox.Changed):
            for key, value in (
                ("dataset", v.dataset), ("model", v.model), ("hidden", v.hidden),
                ("optimizer.name", v.optimizer),
                ("optimizer.momentum", v.momentum), ("optimizer.nesterov", v.nesterov),
                ("optimizer.beta1", v.beta1), ("optimizer.beta2", v.beta2),
                ("optimizer.eps", v.eps), ("optimizer.weight_decay", v.weight_decay),
                ("lr", v.lr), ("epochs", v.epochs), ("batch_size", v.batch_size),
                ("seed", v.seed), ("seeds", v.seeds), ("device", v.device), ("label", v.label),
                ("scheduler", v.scheduler), ("warmup", v.warmup),
                ("warmup_start", v.warmup_start),
            ):
                w = self.widgets[key]
                if isinstance(w, Select):
                    if key == "dataset" and value not in [o for o in self.datasets]:
                        continue
                    w.value = str(value)
                elif isinstance(w, Checkbox):
                    w.value = bool(value)
                else:
                    w.value = str(value)
            self._show_optimizer_group(v.optimizer)
            await self._mount_params(v.scheduler, _with_interval(v), v.spec_text)
        self.post_message(self.Changed())

    # ---- events

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _field_changed(self) -> None:
        self.post_message(self.Changed())

    @on(Select.Changed)
    async def _select_changed(self, event: Select.Changed) -> None:
        key = next((k for k, w in self.widgets.items() if w is event.select), "")
        if key == "scheduler" and isinstance(event.value, str) and event.value != self._scheduler:
            await self._change_scheduler(event.value, {})
        elif key == "optimizer.name" and isinstance(event.value, str):
            self._show_optimizer_group(event.value)
        elif key == "interval":
            self._describe_scheduler()
        self.post_message(self.Changed())

    async def _change_scheduler(self, name: str, given: dict[str, str | bool]) -> None:
        """Show another scheduler's fields: what the user last typed for it this session, else
        its defaults, with `given` on top."""
        self._param_cache[self._scheduler] = _with_interval(self.values())
        # Every other field starts at the catalog's default, as on the command line: the
        # scheduler entry alone decides defaults and warnings (OneCycleLR's cycle_momentum with
        # plain SGD is torch's True, and its warning shows under the field).
        cached = {**self._param_cache.get(name, {}), **given}
        await self._mount_params(name, cached, "")

    async def switch_scheduler(self, name: str, given: dict[str, str | bool]) -> None:
        """Choose another scheduler as if the user had, with some of its fields filled (the range
        test's "max_lr of OneCycleLR"); posts one Changed."""
        select = self.widgets["scheduler"]
        if isinstance(select, Select):
            with self.prevent(Select.Changed):
                select.value = name
        await self._change_scheduler(name, given)
        self.post_message(self.Changed())

    def set_text(self, key: str, text: str) -> bool:
        """Type `text` into a text field as if the user had (the form re-evaluates); False when the
        form has no such text field."""
        widget = self.widgets.get(key)
        if not isinstance(widget, Input):
            return False
        widget.value = text
        return True

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        key = next((k for k, w in self.widgets.items() if w is event.widget), None)
        text = self.help_for.get(key, "") if key else ""
        self.query_one("#field-help", Static).update(text)
        if key == "scheduler":
            # Its parameters come right under it: on a short terminal the form scrolls so the
            # Schedule section starts at the top and they show beside the charts.
            self.call_after_refresh(self._show_schedule)

    def _show_schedule(self) -> None:
        self.scroll_to_widget(self.query_one("#schedule-section"), top=True, animate=False)


def _with_interval(v: FormValues) -> dict[str, str | bool]:
    """The scheduler's fields with the interval toggle's choice (kept per scheduler)."""
    return {**v.params, "interval": v.interval} if v.interval else dict(v.params)


def _range_text(p: S.Param) -> str:
    if p.kind == "choice":
        return "one of " + ", ".join(p.choices)
    parts: list[str] = []
    if p.min is not None:
        parts.append(f"{'>=' if p.min_inclusive else '>'} {p.min:g}")
    if p.max is not None:
        parts.append(f"{'<=' if p.max_inclusive else '<'} {p.max:g}")
    if p.derived:
        parts.append("empty: auto")
    return ", ".join(parts)
