"""Validation: every problem of a spec for one run, one message per field."""

from __future__ import annotations

from lrtui.numbering import epoch_number
from lrtui.schedulers.composite import member_spans, milestone_list
from lrtui.schedulers.entries import ENTRIES, SchedulerInfo, lookup, suggest, unknown_param
from lrtui.schedulers.errors import Problem, Severity, SpecError, errors_of
from lrtui.schedulers.params import CADENCE_WORDS, OptimizerShape, Run, check_value, is_int
from lrtui.schedulers.resolve import full_values, member_run, resolve_in, run_of, safe_cadence
from lrtui.schedulers.spec import MAX_DEPTH, SchedulerSpec, depth_of

#: The dry run warns when the schedule takes the LR above this many times the base LR: warm-ups
#: and cycles stay far below it, and an LR grown so far (ExponentialLR with gamma > 1) diverges.
LR_GROWTH_WARNING = 1_000.0

CHEAP_DRY_RUN = 1_000
"""validate() steps the real scheduler over the whole run by itself when the run has at most this
many scheduler steps (a few milliseconds); longer runs are stepped with dry_run=True (`lrtui run`
before training starts), by the preview, and by the engine, which each name a failing step."""


def validate(
    spec: SchedulerSpec,
    *,
    epochs: int,
    steps_per_epoch: int,
    optimizer: OptimizerShape = OptimizerShape(),
    dry_run: bool | None = None,
    base_lr: float = 1.0,
) -> dict[str, str]:
    """Every problem with `spec` for this run, as {field: message}; empty when valid.

    Values are `Problem` strings: `.severity` is "error" (the run cannot work: wrong types,
    out-of-range values, bad milestones, OneCycleLR shorter than the run, nothing to cycle...)
    or "warning" (it works but probably not as meant: T_max longer or shorter than the run).
    Use `errors_of()` to keep only the errors.

    When the rules find no error, the real torch scheduler is built and stepped over the whole
    run (with `base_lr`) on a throwaway optimizer, so what torch cannot run (a composite it cannot
    restart, a formula failing at epoch 100,001, an LR overflowing to inf) is an error naming the
    epoch: always with dry_run=True, never with False, and with None when the run is short
    (CHEAP_DRY_RUN scheduler steps).
    """
    problems: dict[str, str] = {}
    if depth_of(spec) > MAX_DEPTH:
        problems[spec.name or "scheduler"] = Problem(f"nested deeper than {MAX_DEPTH} levels")
        return problems
    if not is_int(epochs) or epochs < 1:
        problems["epochs"] = Problem(f"must be an integer >= 1 (got {epochs})")
    if not is_int(steps_per_epoch) or steps_per_epoch < 1:
        problems["steps_per_epoch"] = Problem(f"must be an integer >= 1 (got {steps_per_epoch})")
    if problems:
        return problems
    info = lookup(spec.name)
    if info is None:
        problems[spec.name or "scheduler"] = Problem(
            f"unknown scheduler ({suggest(spec.name, list(ENTRIES))})"
        )
        return problems
    try:
        run = run_of(spec, epochs, steps_per_epoch)
    except SpecError as exc:
        problems[exc.field] = Problem(exc.message)
        return problems
    length = run.length
    _validate_into(problems, spec, info.name, run, optimizer, nested=False)
    wanted = dry_run if dry_run is not None else length <= CHEAP_DRY_RUN
    if wanted and not errors_of(problems):
        _dry_run(problems, spec, epochs, steps_per_epoch, optimizer, base_lr)
    return problems


def _dry_run(
    problems: dict[str, str],
    spec: SchedulerSpec,
    epochs: int,
    steps_per_epoch: int,
    optimizer: OptimizerShape,
    base_lr: float,
) -> None:
    """Build the real scheduler and step it over the whole run, as training would."""
    from lrtui.schedulers.driver import ScheduleDriver, run_through  # the driver uses validate()

    try:
        driver = ScheduleDriver(
            spec,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            base_lr=base_lr,
            optimizer=optimizer,
            validated=True,
        )
        preview = run_through(driver)
    except SpecError as exc:
        if exc.field not in ("optimizer", "lr"):  # those fields have their own rules elsewhere
            problems.setdefault(exc.field, Problem(exc.message))
        return
    growth = lr_growth(preview.lr_per_step, base_lr=base_lr, epochs=epochs,
                       steps_per_epoch=steps_per_epoch)
    if growth is not None:
        problems.setdefault(driver.field, growth)


def lr_growth(lr_per_step: list[float], *, base_lr: float, epochs: int,
              steps_per_epoch: int) -> Problem | None:
    """A warning when the schedule takes the LR above LR_GROWTH_WARNING times the base LR (the
    dry run and `lrtui preview`, which steps the real scheduler itself, both ask)."""
    top = max(lr_per_step, default=0.0)
    if not base_lr > 0 or not top > LR_GROWTH_WARNING * base_lr:
        return None
    where = epoch_number(lr_per_step.index(top) // steps_per_epoch)
    return Problem(f"the LR grows to {top:.3g} at epoch {where} of {epochs}, "
                   f"{top / base_lr:.3g} times the base LR: training at such an LR diverges",
                   "warning")


def _validate_into(
    problems: dict[str, str],
    spec: SchedulerSpec,
    prefix: str,
    run: Run,
    optimizer: OptimizerShape,
    *,
    nested: bool,
) -> None:
    def add(key: str, message: str, severity: Severity = "error") -> None:
        problems.setdefault(key, Problem(message, severity))

    info = lookup(spec.name)
    if info is None:
        add(prefix, f"unknown scheduler ({suggest(spec.name, list(ENTRIES))})")
        return
    if nested and info.cadence == "metric":
        add(prefix, "cannot be part of SequentialLR/ChainedScheduler: its step() needs the metric")
        return
    names = [p.name for p in info.every_param]
    for key in spec.params:
        if key not in names:
            add(f"{prefix}.{key}", unknown_param(info, key).message)
    if info.composite:
        _validate_composite(problems, spec, info, prefix, run, optimizer)
        return
    if spec.children:
        add(prefix, "only SequentialLR and ChainedScheduler have member schedulers")
    resolved = resolve_in(spec, run)
    bad: set[str] = set()
    values = {**spec.params, **resolved.params}  # a ratio resolve() replaced is checked too
    for param in info.every_param:
        if param.name not in values:
            continue
        if param.derived and param.name not in spec.params and bad:
            continue  # derived from a value already reported (step_size_down = step_size_up)
        message = check_value(param, values[param.name], run)
        if message:
            add(f"{prefix}.{param.name}", message)
            bad.add(param.name)
    if bad or any(k not in names for k in spec.params) or info.advise is None:
        return
    values = full_values(info, resolved.params)
    for advice in info.advise(values, run, optimizer, frozenset(spec.params)):
        add(f"{prefix}.{advice.param}", advice.message, advice.severity)


def _validate_composite(
    problems: dict[str, str],
    spec: SchedulerSpec,
    info: SchedulerInfo,
    prefix: str,
    run: Run,
    optimizer: OptimizerShape,
) -> None:
    def add(key: str, message: str) -> None:
        problems.setdefault(key, Problem(message))

    length = run.length
    if len(spec.children) < 2:
        add(
            f"{prefix}.schedulers", f"needs at least 2 member schedulers (got {len(spec.children)})"
        )
        if not spec.children:
            return
    cadences = [(child.name, safe_cadence(child)) for child in spec.children]
    known = {cadence for _, cadence in cadences if cadence is not None}
    if len(known) > 1:
        listed = ", ".join(f"{name}: {CADENCE_WORDS[cadence]}" for name, cadence in cadences
                           if cadence)
        hint = ""
        if any("interval" in child.params for child in spec.children):
            hint = ": give every member the same interval (epoch or step)"
        add(f"{prefix}.schedulers", f"members must share one interval (got {listed}){hint}")
    milestones_ok = True
    if info.name == "SequentialLR":
        given = spec.params.get("milestones")
        try:
            milestones = milestone_list(spec)
        except SpecError as exc:
            add(exc.field if prefix == "SequentialLR" else f"{prefix}.milestones", exc.message)
            milestones_ok = False
            milestones = []
        if milestones_ok:
            param = info.param("milestones")
            assert param is not None
            rule = check_value(param, milestones if given is None else given, run)
            if rule:
                add(f"{prefix}.milestones", rule)
                milestones_ok = False
            elif len(milestones) != len(spec.children) - 1:
                add(
                    f"{prefix}.milestones",
                    f"needs {len(spec.children) - 1} values, one per switch "
                    f"(got {len(milestones)})",
                )
                milestones_ok = False
            elif milestones and milestones[-1] >= length:
                add(
                    f"{prefix}.milestones",
                    f"{milestones[-1]} is not inside the run ({run.length_text}): "
                    f"the last member would never run",
                )
                milestones_ok = False
    if not milestones_ok:
        return
    spans = member_spans(spec, length)
    for i, (child, span) in enumerate(zip(spec.children, spans, strict=True)):
        child_run = member_run(child, run, span) if safe_cadence(child) else run
        child_prefix = f"{prefix}[{i}].{child.name}"
        if info.name == "SequentialLR" and i > 0 and child.children:
            kind = "A -> B" if child.name == "SequentialLR" else "A + B"
            add(
                child_prefix,
                f"torch cannot run a composite ('{kind}') after a milestone of SequentialLR: "
                "it restarts the member with step(0), which composites do not support; "
                "put it first, or flatten it",
            )
            continue
        _validate_into(problems, child, child_prefix, child_run, optimizer, nested=True)
