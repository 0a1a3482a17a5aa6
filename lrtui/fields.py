"""The run settings as one table: what each field is called, what it holds and its bounds.

The command line (flags), config files (TOML keys) and the app's form all read and check their
numbers here, so a field has one name per front end, one rule and one upper bound everywhere:
`lrtui run --epochs 1000001`, `epochs = 1000001` in a TOML file and 1000001 typed into the form's
epochs field are refused with the same message. Text is parsed with `from_text` (flags, form),
typed TOML values are checked with `from_toml` (no coercion: `lr = "0.1"` is refused), and
`problem` checks a value already typed (`lrtui.model.validate_config`).

Every refusal is a `FieldError` whose text is `<name>: <rule> (got <value>)`, where the name is
the field as the user wrote it (`--epochs`, `run[2].lr`, the form's label).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Literal

Kind = Literal["int", "float", "bool", "choice", "text", "int_list", "float_list"]


class FieldError(ValueError):
    """A value that breaks its field's rule; `str(e)` is 'name: rule (got value)'."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}" if name else message)
        self.name = name
        self.message = message


@dataclass(frozen=True)
class Field:
    """One setting: its names in each front end, its kind and its bounds (inclusive unless
    `low_open` / `high_open`)."""

    key: str  # the form's key and RunConfig's dotted path: "epochs", "optimizer.momentum"
    label: str  # as the form shows it: "base LR"
    flag: str  # as the command line writes it: "--lr" ("" where there is no flag)
    toml: str  # the key in a config file ("" where a file cannot set it)
    kind: Kind
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    allow_inf: bool = False  # float fields: +inf is a meaningful value ("never")
    choices: tuple[str, ...] = ()
    max_items: int | None = None  # lists: most items
    items: int | None = None  # lists: exactly this many items
    example: str = ""  # lists: how one is written, for messages
    empty_ok: bool = False  # text: may be empty

    def rule(self) -> str:
        """The whole rule in words: 'an integer from 1 to 100000', 'a number in [0, 1)'."""
        if self.kind in ("int", "int_list"):
            if self.low is not None and self.high is not None:
                return f"an integer from {_num(self.low)} to {_num(self.high)}"
            return "an integer" + _bound_text(self)
        if self.kind in ("float", "float_list"):
            return "a number" + _bound_text(self)
        if self.kind == "choice":
            *most, last = self.choices
            return f"{', '.join(most)} or {last}" if most else last
        if self.kind == "bool":
            return "true or false"
        return "text"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _bound_text(f: Field) -> str:
    """' > 0', ' in [0, 1)', ' >= 1', '' — the range part of a rule."""
    lo, hi = f.low, f.high
    if lo is not None and hi is not None and f.kind.startswith("float"):
        left = "(" if f.low_open else "["
        right = ")" if f.high_open else "]"
        return f" in {left}{_num(lo)}, {_num(hi)}{right}"
    if lo is not None:
        return f" {'>' if f.low_open else '>='} {_num(lo)}"
    if hi is not None:
        return f" {'<' if f.high_open else '<='} {_num(hi)}"
    return ""


def shown(value: object) -> str:
    """A value as messages echo it: long numbers and texts shortened ('999999999999…999999 (400
    digits)'), so one line stays one readable line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        try:
            text = str(value)
        except ValueError:  # more digits than Python turns into text
            return f"an integer of about {int(value.bit_length() * math.log10(2))} digits"
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return "nothing"
        # One line stays one line: control characters are shown escaped ('0\\n0').
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    else:
        text = repr(value)
    if len(text) <= 40:
        return text
    digits = re.fullmatch(r"[+-]?\d+", text)
    what = "digits" if digits else "characters"
    return f"{text[:12]}…{text[-6:]} ({len(text.lstrip('+-') if digits else text)} {what})"


# --------------------------------------------------------------------------------- bounds

#: Most epochs of a run (and a warm-up): far beyond any MNIST schedule, small enough that a run's
#: per-epoch rows and a preview stay bounded.
MAX_EPOCHS = 1_000_000
#: Largest batch: above every dataset's training split (60,000), so "all of it" can be asked for.
MAX_BATCH_SIZE = 100_000
#: Seeds are 32-bit, like numpy's; `independent_seeds` adds the run's index.
MAX_SEED = 2**32 - 1
#: Most seeds per spec (`--seeds N`); every run still counts against lrtui.sweeps.MAX_RUNS.
MAX_SEEDS = 256
#: Widest hidden layer, and most hidden layers.
MAX_WIDTH = 16_384
MAX_LAYERS = 16
#: Most optimizer steps per epoch a preview accepts (MNIST with batch 1 has 60,000).
MAX_STEPS_PER_EPOCH = 1_000_000
#: Longest run a preview steps through (each step is a real torch scheduler step), in the CLI
#: and in the app.
MAX_PREVIEW_STEPS = 2_000_000
#: Fewest and most steps of an LR range test.
MIN_FIND_LR_STEPS = 10
MAX_FIND_LR_STEPS = 100_000
#: Run ids are SQLite integers.
MAX_RUN_ID = 2**63 - 1

OPTIMIZER_NAMES = ("sgd", "adam", "adamw")  # lrtui.optimizers.OPTIMIZER_KINDS (a test checks)
MODEL_NAMES = ("mlp", "cnn")  # lrtui.engine.models.MODELS (a test checks)
#: Most loss checks in a row of the divergence rule (4 checks per epoch).
MAX_DIVERGE_CHECKS = 1_000

# --------------------------------------------------------------------------------- the table

DATASET = Field(
    "dataset", "dataset", "--dataset", "dataset", "text",
    "training data (mnist-sample works offline: 4,000 train / 1,000 valid digits)",
)  # fmt: skip
HIDDEN = Field(
    "hidden", "hidden", "--hidden", "hidden", "int_list",
    "hidden layer widths of the MLP, e.g. 64,32 (the tutorial's 784-64-32-10)",
    low=1, high=MAX_WIDTH, max_items=MAX_LAYERS, example="64,32",
)  # fmt: skip
MODEL = Field(
    "model", "model", "--model", "model", "choice",
    "mlp (the tutorial's MLP, shaped by hidden) or cnn (LeNet-5)", choices=MODEL_NAMES,
)  # fmt: skip
DIVERGE_LOSS = Field(
    "diverge_loss", "diverge loss", "--diverge-loss", "diverge_loss", "float",
    "a run whose mean training loss stays above this is diverged (inf: only NaN/inf)",
    low=0, low_open=True, allow_inf=True,
)  # fmt: skip
DIVERGE_CHECKS = Field(
    "diverge_checks", "diverge checks", "--diverge-checks", "diverge_checks", "int",
    "loss checks in a row (4 per epoch) above --diverge-loss before a run is diverged",
    low=1, high=MAX_DIVERGE_CHECKS,
)  # fmt: skip
OPTIMIZER = Field(
    "optimizer.name", "optimizer", "--optimizer", "optimizer", "choice",
    "sgd, adam or adamw (torch.optim)", choices=OPTIMIZER_NAMES,
)  # fmt: skip
MOMENTUM = Field(
    "optimizer.momentum", "momentum", "--momentum", "momentum", "float",
    "SGD momentum in [0, 1); 0 is the tutorial's plain SGD", low=0, high=1, high_open=True,
)  # fmt: skip
DAMPENING = Field(
    "optimizer.dampening", "dampening", "", "dampening", "float", "SGD dampening", low=0, high=1
)
NESTEROV = Field(
    "optimizer.nesterov", "nesterov", "", "nesterov", "bool",
    "Nesterov momentum (needs momentum > 0)",
)  # fmt: skip
WEIGHT_DECAY = Field(
    "optimizer.weight_decay", "weight decay", "--weight-decay", "weight_decay", "float",
    "weight decay >= 0 (AdamW: decoupled)", low=0,
)  # fmt: skip
BETAS = Field(
    "optimizer.betas", "betas", "", "betas", "float_list", "Adam/AdamW betas, e.g. [0.9, 0.999]",
    low=0, high=1, high_open=True, items=2,
)  # fmt: skip
BETA1 = Field(
    "optimizer.beta1", "beta1", "", "", "float",
    "Adam beta1 in [0, 1) (OneCycleLR/CyclicLR may cycle it)", low=0, high=1, high_open=True,
)  # fmt: skip
BETA2 = Field(
    "optimizer.beta2", "beta2", "", "", "float", "Adam beta2 in [0, 1)",
    low=0, high=1, high_open=True,
)  # fmt: skip
EPS = Field(
    "optimizer.eps", "eps", "", "eps", "float", "Adam eps (> 0), added to the denominator",
    low=0, low_open=True,
)  # fmt: skip
LR = Field(
    "lr", "base LR", "--lr", "lr", "float",
    "base LR: the optimizer's LR before the scheduler changes it", low=0, low_open=True,
)  # fmt: skip
EPOCHS = Field(
    "epochs", "epochs", "--epochs", "epochs", "int", "passes over the training data",
    low=1, high=MAX_EPOCHS,
)  # fmt: skip
BATCH_SIZE = Field(
    "batch_size", "batch size", "--batch-size", "batch_size", "int",
    "examples per optimizer step; steps per epoch = ceil(n_train / batch)",
    low=1, high=MAX_BATCH_SIZE,
)  # fmt: skip
SEED = Field(
    "seed", "seed", "--seed", "seed", "int",
    "initial weights and data order (runs trained together share it)", low=0, high=MAX_SEED,
)  # fmt: skip
SEEDS = Field(
    "seeds", "seeds", "--seeds", "seeds", "int",
    "train every spec with seeds SEED..SEED+N-1 (seed i shares initial weights and data order "
    "across specs)", low=1, high=MAX_SEEDS,
)  # fmt: skip
DATA_DIR = Field(
    "data_dir", "data dir", "--data-dir", "data_dir", "text", "folder with the dataset files"
)
INDEPENDENT_SEEDS = Field(
    "independent_seeds", "independent seeds", "--independent-seeds", "independent_seeds", "bool",
    "give run i the seed SEED+i instead of sharing one",
)  # fmt: skip
DEVICE = Field(
    "device", "device", "--device", "device", "text", "auto picks CUDA, then MPS, then the CPU"
)
LABEL = Field(
    "label", "label", "", "label", "text", "optional name for the run in tables and legends",
    empty_ok=True,
)  # fmt: skip
WARMUP = Field(
    "warmup", "warm-up ep", "", "", "int",
    "epochs of linear warm-up before the scheduler (0: none): LinearLR -> scheduler, stepped at"
    " the scheduler's interval",
    low=0, high=MAX_EPOCHS,
)  # fmt: skip
WARMUP_START = Field(
    "warmup_start", "warm-up from", "", "", "float", "warm-up starts at base LR x this factor"
)
STEPS_PER_EPOCH = Field(
    "steps_per_epoch", "steps per epoch", "--steps-per-epoch", "", "int",
    "optimizer steps (batches) per epoch", low=1, high=MAX_STEPS_PER_EPOCH,
)  # fmt: skip
METRICS = Field(
    "metrics", "metrics", "--metrics", "", "float_list",
    "ReduceLROnPlateau: validation loss per epoch", max_items=MAX_EPOCHS,
)  # fmt: skip
FIND_LR_START = Field(
    "start", "start", "--start", "", "float", "LR of the first step", low=0, low_open=True
)
FIND_LR_END = Field("end", "end", "--end", "", "float", "LR of the last step", low=0, low_open=True)
FIND_LR_STEPS = Field(
    "steps", "steps", "--steps", "", "int", "steps, one batch each",
    low=MIN_FIND_LR_STEPS, high=MAX_FIND_LR_STEPS,
)  # fmt: skip
DIVERGE_FACTOR = Field(
    "diverge_factor", "diverge factor", "--diverge-factor", "", "float",
    "stop a curve once its smoothed loss exceeds this times its best (inf: never)",
    low=1, low_open=True, allow_inf=True,
)  # fmt: skip
SCHEDULER = Field(
    "scheduler", "scheduler", "-s", "scheduler", "text",
    "a torch.optim.lr_scheduler class; enter opens the list, type to search",
)  # fmt: skip
SPEC = Field(
    "spec", "members", "", "", "text",
    "members written as 'A -> B' (SequentialLR) or 'A + B' (ChainedScheduler)",
)  # fmt: skip
RUN_ID = Field("id", "run id", "ID", "", "int", "a stored run's id", low=1, high=MAX_RUN_ID)

#: Every field, by key: the form, the flags and config files find theirs here.
FIELDS: dict[str, Field] = {
    f.key: f
    for f in (
        DATASET, MODEL, DIVERGE_LOSS, DIVERGE_CHECKS, HIDDEN, OPTIMIZER, MOMENTUM, DAMPENING,
        NESTEROV, WEIGHT_DECAY, BETAS, BETA1, BETA2, EPS, LR, EPOCHS, BATCH_SIZE, SEED, SEEDS,
        DATA_DIR, INDEPENDENT_SEEDS, DEVICE, LABEL,
        SCHEDULER, SPEC, WARMUP, WARMUP_START, STEPS_PER_EPOCH, METRICS, FIND_LR_START, FIND_LR_END,
        FIND_LR_STEPS, DIVERGE_FACTOR, RUN_ID,
    )
}  # fmt: skip
#: Fields with an upper bound, for the README and --help.
BOUNDED: tuple[Field, ...] = tuple(
    f for f in FIELDS.values() if f.high is not None and f.kind in ("int", "int_list")
)


#: The fields a config file may set, by their TOML key.
BY_TOML: dict[str, Field] = {f.toml: f for f in FIELDS.values() if f.toml}


def label_of(key: str) -> str:
    """The form's label of a field key ('optimizer.weight_decay' -> 'weight decay'); the key
    itself when the table does not know it."""
    f = FIELDS.get(key)
    return f.label if f is not None else key


# --------------------------------------------------------------------------------- checking


def problem(f: Field, value: Any, echo: str | None = None) -> str | None:
    """Why an already typed value breaks the field's range (None when it is fine); `echo` is
    how the user wrote it (default: the value)."""
    got = shown(value) if echo is None else shown(echo)
    if f.kind in ("int", "int_list") and isinstance(value, int) and not isinstance(value, bool):
        if f.low is not None and value < f.low:
            return f"must be an integer >= {_num(f.low)} (got {got})"
        if f.high is not None and value > f.high:
            return f"must be an integer <= {_num(f.high)} (got {got})"
        return None
    if f.kind in ("float", "float_list") and isinstance(value, int | float):
        x = float(value)
        if math.isnan(x) or (math.isinf(x) and not (f.allow_inf and x > 0)):
            return f"must be{_bound_text(f) or ' a finite number'} (got {got})"
        too_low = f.low is not None and (x <= f.low if f.low_open else x < f.low)
        too_high = f.high is not None and (x >= f.high if f.high_open else x > f.high)
        if too_low or too_high:
            return f"must be{_bound_text(f)} (got {got if echo is not None else f'{x:g}'})"
        return None
    return None


def check(f: Field, value: Any, name: str, echo: str | None = None) -> Any:
    """`value` if it keeps the field's range, else FieldError naming `name`."""
    message = problem(f, value, echo)
    if message:
        raise FieldError(name, message)
    return value


_INT_RE = re.compile(r"[+-]?\d+(_\d+)*")
#: How infinity is written on purpose (a finite-looking number that overflows is refused).
_INF_RE = re.compile(r"[+-]?(inf|infinity)", re.IGNORECASE)


def parse_int(text: str) -> int | None:
    """An integer written as text ('25', '+3', '1_000'); None when it is not one, or has more
    digits than Python turns into an int (`is_long_int` tells those apart)."""
    t = text.strip()
    if not _INT_RE.fullmatch(t):
        return None
    try:
        return int(t)
    except ValueError:  # beyond sys.get_int_max_str_digits()
        return None


def is_long_int(text: str) -> bool:
    """Whether `text` is an integer too long for Python to convert (thousands of digits)."""
    t = text.strip()
    return bool(_INT_RE.fullmatch(t)) and parse_int(t) is None


def parse_float(text: str) -> float | None:
    """A number written as text ('0.1', '1e-3', '5'); None when it is not one. Non-finite values
    ('inf', 400 digits) come back as they are: the field's rule decides."""
    try:
        return float(text.strip())
    except ValueError:
        return None


def from_text(f: Field, text: str, name: str | None = None) -> Any:
    """A field's value from text (a flag, a form field), parsed and range-checked."""
    name = f.flag or f.label if name is None else name
    if f.kind == "int":
        value = parse_int(text)
        if value is None and is_long_int(text):  # past every bound, on its side
            value = -(10**5000) if text.strip().startswith("-") else 10**5000
        if value is None:
            raise FieldError(name, f"must be {_int_rule(f)} (got {shown(text)})")
        return check(f, value, name, text)
    if f.kind == "float":
        x = parse_float(text)
        overflow = x is not None and math.isinf(x) and not _INF_RE.fullmatch(text.strip())
        bad = x is None or math.isnan(x) or (math.isinf(x) and not (f.allow_inf and x > 0))
        if bad or overflow:
            raise FieldError(name, f"must be {f.rule()} (got {shown(text)})")
        return check(f, x, name, text)
    if f.kind in ("int_list", "float_list"):
        inner = text.strip()
        if inner.startswith("[") and inner.endswith("]"):
            inner = inner[1:-1].strip()
        parts = _LIST_SPLIT.split(inner) if inner else []
        if not parts or any(not p for p in parts):
            raise FieldError(name, f"must be {_list_rule(f)} (got {shown(text)})")
        _check_count(f, len(parts), name)
        try:
            return [from_text(_item_field(f), p, name) for p in parts]
        except FieldError as exc:
            if len(parts) == 1 or not exc.message.endswith(")"):
                raise
            # Say which list it was: "must be an integer >= 1 (got a in 64,a)".
            raise FieldError(name, f"{exc.message[:-1]} in {shown(text)})") from None
    if f.kind == "choice":
        choice = text.strip().lower()
        if choice not in f.choices:
            raise FieldError(name, f"must be {f.rule()} (got {shown(text)})")
        return choice
    if f.kind == "bool":
        word = text.strip().lower()
        if word not in ("true", "false"):
            raise FieldError(name, f"must be true or false (got {shown(text)})")
        return word == "true"
    if not text and not f.empty_ok:
        raise FieldError(name, "must not be empty")
    return text


def _typed(value: object) -> str:
    """A TOML value as messages echo it: text is quoted, so `lr = "0.1"` reads as text."""
    if isinstance(value, str):
        return "text " + shown(repr(value))
    return shown(value)


def from_toml(f: Field, value: object, name: str) -> Any:
    """A field's value from a TOML file: the TOML type must be the field's (an integer for an
    integer field; an integer or a float for a number; no text for numbers), then its range."""
    if f.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError(name, f"must be {_int_rule(f)} (got {_typed(value)})")
        return check(f, value, name)
    if f.kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldError(name, f"must be {f.rule()} (got {_typed(value)})")
        try:
            x = float(value)
        except OverflowError:  # an integer beyond the float range
            raise FieldError(name, f"must be {f.rule()} (got {_typed(value)})") from None
        if math.isnan(x) or (math.isinf(x) and not (f.allow_inf and x > 0)):
            raise FieldError(name, f"must be {f.rule()} (got {_typed(value)})")
        return check(f, x, name)
    if f.kind in ("int_list", "float_list"):
        if not isinstance(value, list) or not value:
            raise FieldError(name, f"must be {_list_rule(f)} (got {_typed(value)})")
        _check_count(f, len(value), name)
        return [from_toml(_item_field(f), v, name) for v in value]
    if f.kind == "bool":
        if not isinstance(value, bool):
            raise FieldError(name, f"must be true or false (got {_typed(value)})")
        return value
    if f.kind == "choice":
        if not isinstance(value, str) or value.lower() not in f.choices:
            raise FieldError(name, f"must be {f.rule()} (got {_typed(value)})")
        return value.lower()
    if not isinstance(value, str) or (not value and not f.empty_ok):
        raise FieldError(name, f"must be a non-empty string (got {_typed(value)})")
    return value


_LIST_SPLIT = re.compile(r"\s*,\s*|\s+")


def _item_field(f: Field) -> Field:
    """The field of one item of a list field (same bounds)."""
    return replace(f, kind="int" if f.kind == "int_list" else "float", items=None, max_items=None)


def _int_rule(f: Field) -> str:
    """The rule an unreadable integer is told: its lower bound, as the range message says it."""
    return "an integer" + (f" >= {_num(f.low)}" if f.low is not None else "")


def _list_rule(f: Field) -> str:
    what = "integers" if f.kind == "int_list" else "numbers"
    if f.items is not None:
        return f"{f.items} {what}"
    return f"a list of {what}" + (f" like {f.example}" if f.example else "")


def _check_count(f: Field, n: int, name: str) -> None:
    if f.items is not None and n != f.items:
        raise FieldError(name, f"must be {_list_rule(f)} (got {n})")
    if f.max_items is not None and n > f.max_items:
        raise FieldError(name, f"must have at most {f.max_items} values (got {n})")


def preview_steps_problem(epochs: int, steps_per_epoch: int) -> str | None:
    """Why a run is too long to preview (None when it is not): the CLI and the app say the same."""
    total = epochs * steps_per_epoch
    if total > MAX_PREVIEW_STEPS:
        return f"at most {MAX_PREVIEW_STEPS} steps in a preview (got {shown(total)})"
    return None


def last_seed_problem(seed: int, seeds: int) -> str | None:
    """Why SEED..SEED+N-1 leaves the seed range (None when it does not): the CLI and the app say
    the same."""
    last = seed + seeds - 1
    if last > MAX_SEED:
        return f"the last seed SEED+{seeds - 1} must be at most {MAX_SEED} (got {last})"
    return None
