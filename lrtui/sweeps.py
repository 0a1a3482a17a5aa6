"""Value sets in braces: the sweep syntax of specs, flags and TOML.

`StepLR:gamma={0.1,0.3,0.5}` is three specs, `--lr {1e-3..1:log:7}` seven learning rates. A set is
expanded as *text*: each value is put back where the braces were, so the spec parser (or the field's
own parser) still types and checks every value; a swept spec reads like one written by hand.

Forms inside `{...}`:
- a list of values: `{0.1,0.3,0.5}`, `{[10,20],[30]}` (brackets and quotes nest), `{sgd,adam}`;
- a linear range of N points, both ends included: `{0.1..0.9:5}`; whole ends with whole steps
  give whole numbers (`{2..10:5}` is 2, 4, 6, 8, 10);
- a log range of N points, both ends included: `{1e-3..1:log:7}` (both ends > 0).
Numbers of a range are rounded to 12 significant digits (0.3, not 0.30000000000000004), and the ends
are exactly what was written.

Seeds cross every point (`plan_seeds`): one group per point, run i of a group trained from seed
SEED+i, so runs with the same seed index pair across groups. `lrtui run` and the app plan their runs
with it.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from lrtui.store import RunGroup

if TYPE_CHECKING:
    from lrtui.model import RunConfig  # torch: not loaded to plan

#: Most points one range may ask for (a listed set is bounded by its own text).
MAX_RANGE_POINTS = 1000
#: Most runs one command may expand to (specs x settings x seeds); keeps a typo such as
#: `{1e-5..1:log:1000}` x `--seeds 100` from planning 100,000 runs.
MAX_RUNS = 1024


class SweepError(ValueError):
    """A value set that cannot be expanded; `str(e)` is "field: message", like SpecError."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Swept:
    """One value set found in a text: where it was, which key it gives, and its values as text."""

    key: str  # the name before "=" ("gamma"), or the field's own name for a whole value
    start: int  # index of "{" in the text
    end: int  # index after "}"
    values: tuple[str, ...]


@dataclass(frozen=True)
class Expansion:
    """One text with every value set replaced by one of its values."""

    text: str
    choices: tuple[tuple[str, str], ...]  # (key, value text) per value set, in text order


def has_sweep(text: str) -> bool:
    """Whether `text` holds a value set outside quotes."""
    return bool(_find_sets(text, field=""))


def expand(text: str, *, field: str) -> list[Expansion]:
    """Every combination of the value sets in `text` (the first set varies slowest).

    A text without braces is one expansion of itself. `field` names the text in errors
    ("-s", "--lr", "run[2].scheduler").
    """
    sets = _find_sets(text, field=field)
    if not sets:
        return [Expansion(text, ())]
    combos = math.prod(len(s.values) for s in sets)
    if combos > MAX_RUNS:
        raise SweepError(field, f"expands to {combos} values; at most {MAX_RUNS} runs per command")
    out: list[Expansion] = []
    for picked in itertools.product(*(s.values for s in sets)):
        parts: list[str] = []
        at = 0
        for swept, value in zip(sets, picked, strict=True):
            parts.append(text[at : swept.start])
            parts.append(value)
            at = swept.end
        parts.append(text[at:])
        out.append(
            Expansion("".join(parts), tuple((s.key, v) for s, v in zip(sets, picked, strict=True)))
        )
    return out


def values_of(text: str, *, field: str) -> list[str]:
    """A whole value that may be a set (`--lr {0.01,0.1}` or `--lr 0.1`): its values as text."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return [text]
    sets = _find_sets(stripped, field=field)
    if len(sets) != 1 or sets[0].start != 0 or sets[0].end != len(stripped):
        raise SweepError(
            field, f"write one value or one set in braces, e.g. {{0.01,0.1}} (got {text!r})"
        )
    return list(sets[0].values)


def check_run_count(n_runs: int) -> None:
    """The one limit on how many runs a command may plan."""
    if n_runs > MAX_RUNS:
        raise SweepError("runs", f"{n_runs} runs planned; at most {MAX_RUNS} per command")


def _find_sets(text: str, *, field: str) -> list[Swept]:
    sets: list[Swept] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "}":
            raise SweepError(field, f"'}}' at character {i + 1} closes no '{{'")
        elif char == "{":
            close = _closing_brace(text, i, field)
            body = text[i + 1 : close]
            key = _key_before(text, i) or field
            sets.append(
                Swept(key, i, close + 1, tuple(_set_values(body, field=_named(field, key))))
            )
            i = close
        i += 1
    return sets


def _named(field: str, key: str) -> str:
    """How errors name a set: "-s gamma" for a parameter, "--lr" for a whole value."""
    return field if key == field else f"{field} {key}".strip()


def _closing_brace(text: str, open_at: int, field: str) -> int:
    quote: str | None = None
    for j in range(open_at + 1, len(text)):
        char = text[j]
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "{":
            raise SweepError(field, "value sets cannot nest ('{' inside '{...}')")
        elif char == "}":
            return j
    raise SweepError(field, f"'{{' at character {open_at + 1} is never closed")


def _key_before(text: str, at: int) -> str:
    """`gamma` for `StepLR:gamma={...}`: the identifier right before `=`."""
    j = at - 1
    while j >= 0 and text[j] == " ":
        j -= 1
    if j < 0 or text[j] != "=":
        return ""
    end = j
    j -= 1
    while j >= 0 and text[j] == " ":
        j -= 1
    stop = j + 1
    while j >= 0 and (text[j].isalnum() or text[j] == "_"):
        j -= 1
    name = text[j + 1 : stop]
    return name if name and end > j else ""


def _set_values(body: str, *, field: str) -> list[str]:
    if not body.strip():
        raise SweepError(field, "empty value set {}: list values, e.g. {0.1,0.3}")
    if ".." in body and not any(c in body for c in "\"'[,"):
        return _range_values(body.strip(), field=field)
    values = [v.strip() for v in _split_top_level(body)]
    if any(not v for v in values):
        raise SweepError(field, f"empty value in {{{body}}}")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise SweepError(field, f"{{{body}}} lists {repeated[0]} more than once")
    return values


def _split_top_level(body: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    current: list[str] = []
    for char in body:
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _range_values(body: str, *, field: str) -> list[str]:
    usage = "a range is {START..END:N} or {START..END:log:N} with N >= 2"
    ends, _, tail = body.partition(":")
    low_text, _, high_text = ends.partition("..")
    options = tail.split(":") if tail else []
    if len(options) == 2 and options[0].strip() == "log":
        log, count_text = True, options[1]
    elif len(options) == 1:
        log, count_text = False, options[0]
    else:
        raise SweepError(field, f"{usage} (got {{{body}}})")
    low = _number(low_text, field=field, usage=usage)
    high = _number(high_text, field=field, usage=usage)
    try:
        count = int(count_text.strip())
    except ValueError:
        raise SweepError(field, f"{usage} (got {{{body}}})") from None
    if not 2 <= count <= MAX_RANGE_POINTS:
        raise SweepError(field, f"a range has 2 to {MAX_RANGE_POINTS} points (got {count})")
    if low == high:
        raise SweepError(field, f"a range needs two different ends (got {{{body}}})")
    if log and (low <= 0 or high <= 0):
        raise SweepError(field, f"a log range needs ends > 0 (got {{{body}}})")
    points = log_points(low, high, count) if log else linear_points(low, high, count)
    whole = (
        not log
        and _is_whole(low_text)
        and _is_whole(high_text)
        and all(p == int(p) for p in points)
    )
    texts = [str(int(p)) if whole else repr(p) for p in points]
    texts[0], texts[-1] = low_text.strip(), high_text.strip()
    if len(set(points)) != len(points):
        raise SweepError(field, f"{{{body}}} gives repeated values at 12 significant digits")
    return texts


def linear_points(low: float, high: float, count: int) -> list[float]:
    """`count` evenly spaced values from `low` to `high`, both exact, rounded to 12 digits."""
    return [
        low,
        *(_round12(low + (high - low) * i / (count - 1)) for i in range(1, count - 1)),
        high,
    ]


def log_points(low: float, high: float, count: int) -> list[float]:
    """`count` values evenly spaced in log scale from `low` to `high`, both exact."""
    ratio = math.log(high / low)
    return [
        low,
        *(_round12(low * math.exp(ratio * i / (count - 1))) for i in range(1, count - 1)),
        high,
    ]


def _round12(value: float) -> float:
    return float(f"{value:.12g}")


def _is_whole(text: str) -> bool:
    return text.strip().lstrip("+-").isdigit()


def _number(text: str, *, field: str, usage: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise SweepError(field, f"{usage} (got {text.strip()!r} as an end)") from None
    if not math.isfinite(value):
        raise SweepError(field, f"range ends must be finite (got {text.strip()})")
    return value


def label_of(choices: Sequence[tuple[str, str]]) -> str:
    """`gamma=0.3 lr=0.1`: what tells one point of a sweep from the others."""
    return " ".join(f"{key}={value}" for key, value in choices)


# ------------------------------------------------------------------------------- seeds and groups


@dataclass(frozen=True)
class GroupPoint:
    """One group before its seeds: its run at the first seed (`config.seed`), the label that
    tells it from the other groups, and its swept (key, value text)."""

    config: RunConfig
    label: str
    sweep: tuple[tuple[str, str], ...] = ()


def plan_seeds(
    points: Sequence[GroupPoint], n_seeds: int, *, command_id: str | None = None
) -> tuple[list[RunConfig], list[RunGroup]]:
    """Every point x seeds SEED..SEED+N-1, in group order, each run with its group
    (`<command id>.<number>`, seed index i): the one planner of `lrtui run` and of the app, so
    their runs pair and compare alike. With one seed a run keeps its config's label; with
    several, run i is named `<group label> seed=<SEED+i>`."""
    command_id = command_id or uuid.uuid4().hex[:12]
    configs: list[RunConfig] = []
    groups: list[RunGroup] = []
    for number, point in enumerate(points, start=1):
        for index in range(n_seeds):
            seed = point.config.seed + index
            label = point.config.label if n_seeds == 1 else f"{point.label} seed={seed}".strip()
            configs.append(replace(point.config, seed=seed, label=label))
            groups.append(RunGroup(f"{command_id}.{number}", point.label, index, point.sweep))
    return configs, groups


def plan_note(n_runs: int, groups: Sequence[RunGroup | None], n_passes: int) -> str:
    """"8 runs (2 groups x 4 seeds) in 1 pass": said when seeds, sweeps or passes are many
    ("" otherwise)."""
    ids = [g.id for g in groups if g is not None]
    n_groups = len(set(ids))
    swept = any(g is not None and g.sweep for g in groups)
    if n_passes == 1 and n_groups == len(ids) and not swept:
        return ""
    seeds = max((g.seed_index + 1 for g in groups if g is not None), default=1)
    passes = f"{n_passes} pass" + ("" if n_passes == 1 else "es")
    why = " (split by batch size, model or memory)" if n_passes > 1 else ""
    groups_text = f"{n_groups} group" + ("" if n_groups == 1 else "s")
    seeds_text = f"{seeds} seed" + ("" if seeds == 1 else "s")
    return f"{n_runs} runs ({groups_text} x {seeds_text}) in {passes}{why}"
