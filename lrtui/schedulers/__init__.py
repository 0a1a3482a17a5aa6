"""The scheduler catalog: every torch LR scheduler described as data, and the real torch objects.

A `SchedulerSpec` is what a user chose (a name, the parameters they typed, members of a composite).
This package parses and formats specs (`syntax`), validates them with one message per field
(`validate`), fills the values that derive from the run's length (`resolve`), and builds the *real*
torch scheduler (`build`). LR values always come from stepping torch's own classes (`driver`:
`ScheduleDriver`, `preview`): no schedule formula is re-implemented here.

Modules: `errors` (SpecError, Problem), `params` (Param: types, reading, checks), `entries` (the
catalog), `spec` (SchedulerSpec, OptimizerShape), `composite` (members' milestones and spans),
`syntax` (spec strings and TOML), `resolve`, `validate`, `build`, `driver`, `code` (to_code),
`warmup` (the form's warm-up ramp).
"""

from typing import TYPE_CHECKING

from lrtui.schedulers.build import build
from lrtui.schedulers.code import to_code
from lrtui.schedulers.driver import PlateauState, Preview, ScheduleDriver, preview
from lrtui.schedulers.entries import (
    CATALOG,
    ENTRIES,
    LR_OFFERS,
    RECIPES,
    Advice,
    SchedulerInfo,
    TorchCall,
    taking_lr,
)
from lrtui.schedulers.errors import Problem, SpecError, errors_of, warnings_of
from lrtui.schedulers.params import Cadence, Interval, OptimizerShape, Param, ParamKind, Run
from lrtui.schedulers.resolve import cadence_of, interval_of, resolve
from lrtui.schedulers.spec import SchedulerSpec
from lrtui.schedulers.syntax import format_spec, parse_spec, short_spec, spec_from_toml
from lrtui.schedulers.validate import lr_growth, validate
from lrtui.schedulers.warmup import add_warmup, split_warmup, warmup_part

if TYPE_CHECKING:  # a typing name: its value is torch's classes
    from lrtui.schedulers.build import AnyScheduler

__all__ = [
    "CATALOG",
    "ENTRIES",
    "LR_OFFERS",
    "RECIPES",
    "Advice",
    "AnyScheduler",
    "Cadence",
    "Interval",
    "OptimizerShape",
    "Param",
    "ParamKind",
    "PlateauState",
    "Preview",
    "Problem",
    "Run",
    "ScheduleDriver",
    "SchedulerInfo",
    "SchedulerSpec",
    "SpecError",
    "TorchCall",
    "add_warmup",
    "build",
    "cadence_of",
    "errors_of",
    "format_spec",
    "interval_of",
    "lr_growth",
    "parse_spec",
    "preview",
    "resolve",
    "short_spec",
    "spec_from_toml",
    "split_warmup",
    "taking_lr",
    "to_code",
    "validate",
    "warmup_part",
    "warnings_of",
]
