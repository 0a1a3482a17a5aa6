"""Safe formulas of `step` (or `epoch`) for LambdaLR / MultiplicativeLR and the recipes.

A user types `0.95 ** epoch` or `min(1, (epoch + 1) / 5)`; we parse it with `ast`, accept only a
small whitelist of node types, names and `math` functions, and evaluate the tree ourselves. User
text never reaches `eval`/`exec`/`compile`, so a formula cannot import, read attributes, or call
anything outside the whitelist. Numbers follow Python's own rules, so a formula gives exactly what
the generated `lambda epoch: ...` gives; integer powers are capped (`MAX_INT_BITS`), and overflow,
domain errors, complex and non-finite results become `FormulaError` at evaluation.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONSTANTS", "FUNCTIONS", "Formula", "FormulaError", "compile_formula"]

MAX_LENGTH = 200
"""Longest formula text accepted (characters)."""
MAX_NODES = 100
"""Largest syntax tree accepted (ast nodes), so evaluation stays cheap and bounded."""
MAX_CONST_EXPONENT = 100.0
"""Largest |exponent| accepted when the exponent is a constant (`x ** 1000` is refused)."""

# name -> (function, min args, max args). Called bare, e.g. `exp(-epoch)`; `to_python` adds `math.`.
FUNCTIONS: dict[str, tuple[Callable[..., float], int, int]] = {
    "exp": (math.exp, 1, 1),
    "log": (math.log, 1, 2),
    "log2": (math.log2, 1, 1),
    "log10": (math.log10, 1, 1),
    "sqrt": (math.sqrt, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "asin": (math.asin, 1, 1),
    "acos": (math.acos, 1, 1),
    "atan": (math.atan, 1, 1),
    "sinh": (math.sinh, 1, 1),
    "cosh": (math.cosh, 1, 1),
    "tanh": (math.tanh, 1, 1),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "fabs": (math.fabs, 1, 1),
    "abs": (abs, 1, 1),
    "min": (min, 2, 8),
    "max": (max, 2, 8),
}
BUILTINS = frozenset({"abs", "min", "max"})
"""Whitelisted functions that are Python builtins (no `math.` prefix in generated code)."""
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
    ast.Not: operator.not_,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_BINOP_SYMBOLS = {
    "Add": "+",
    "Sub": "-",
    "Mult": "*",
    "Div": "/",
    "FloorDiv": "//",
    "Mod": "%",
    "Pow": "**",
}


class FormulaError(ValueError):
    """A formula that is not allowed, or that cannot be evaluated at some epoch."""


def _describe(node: ast.AST) -> str:
    """A short human name for a refused syntax node."""
    names = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscripts",
        ast.Lambda: "lambdas",
        ast.Call: "calls",
        ast.Import: "imports",
        ast.ImportFrom: "imports",
        ast.Constant: "this constant",
        ast.List: "lists",
        ast.Tuple: "tuples",
        ast.Dict: "dicts",
        ast.Set: "sets",
        ast.ListComp: "comprehensions",
        ast.GeneratorExp: "comprehensions",
        ast.NamedExpr: "assignments",
        ast.JoinedStr: "strings",
        ast.Starred: "starred arguments",
    }
    if isinstance(node, ast.BinOp):
        return f"the operator {_BINOP_SYMBOLS.get(type(node.op).__name__, type(node.op).__name__)}"
    if isinstance(node, ast.Compare):
        return "this comparison"
    return names.get(type(node), type(node).__name__)


class _Checker:
    """Walks a parsed tree once and refuses anything outside the whitelist."""

    def __init__(self, variables: tuple[str, ...]) -> None:
        self.variables = variables

    def check(self, node: ast.AST) -> None:
        if isinstance(node, ast.Expression):
            self.check(node.body)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise FormulaError(f"only numbers are allowed as constants (got {node.value!r})")
        elif isinstance(node, ast.Name):
            if node.id not in self.variables and node.id not in CONSTANTS:
                allowed = ", ".join([*self.variables, *CONSTANTS])
                raise FormulaError(f"unknown name {node.id!r} (allowed: {allowed})")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise FormulaError(f"not allowed in a formula: {_describe(node)}")
            if isinstance(node.op, ast.Pow):
                exponent = _constant_value(node.right)
                if exponent is not None and abs(exponent) > MAX_CONST_EXPONENT:
                    raise FormulaError(
                        f"exponent too large: |{exponent:g}| > {MAX_CONST_EXPONENT:g}"
                    )
            self.check(node.left)
            self.check(node.right)
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise FormulaError(f"the unary operator {type(node.op).__name__} is not allowed")
            self.check(node.operand)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self.check(value)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _COMPARE:
                    raise FormulaError(f"the comparison {type(op).__name__} is not allowed")
            self.check(node.left)
            for comparator in node.comparators:
                self.check(comparator)
        elif isinstance(node, ast.IfExp):
            self.check(node.test)
            self.check(node.body)
            self.check(node.orelse)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                what = node.func.id if isinstance(node.func, ast.Name) else _describe(node.func)
                raise FormulaError(
                    f"calling {what!s} is not allowed (allowed: {', '.join(FUNCTIONS)})"
                )
            if node.keywords:
                raise FormulaError(f"{node.func.id}() takes no keyword arguments")
            _, low, high = FUNCTIONS[node.func.id]
            if not low <= len(node.args) <= high:
                count = str(low) if low == high else f"{low} to {high}"
                raise FormulaError(
                    f"{node.func.id}() takes {count} arguments (got {len(node.args)})"
                )
            for arg in node.args:
                self.check(arg)
        else:
            raise FormulaError(f"not allowed in a formula: {_describe(node)}")


def _constant_value(node: ast.AST) -> float | None:
    """The value of a constant exponent such as `1000` or `-(5)`, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _constant_value(node.operand)
        return None if inner is None else -inner if isinstance(node.op, ast.USub) else inner
    return None


def _parse(text: str, variables: tuple[str, ...], *, limits: bool = True) -> ast.Expression:
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text (got {type(text).__name__})")
    if limits and len(text) > MAX_LENGTH:
        raise FormulaError(f"formula too long: {len(text)} characters > {MAX_LENGTH}")
    if not text.strip():
        raise FormulaError("formula is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"not a valid formula: {exc.msg}") from None
    count = sum(1 for _ in ast.walk(tree))
    if limits and count > MAX_NODES:
        raise FormulaError(f"formula too complex: {count} syntax nodes > {MAX_NODES}")
    _Checker(variables).check(tree)
    return tree


MAX_INT_BITS = 4096
"""Largest integer power computed exactly (bits); beyond it `a ** b` is an overflow."""


def _power(base: Any, exponent: Any) -> Any:
    """`base ** exponent` with Python's own semantics, refusing integer powers too large to hold."""
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and abs(base) > 1
        and exponent * abs(base).bit_length() > MAX_INT_BITS
    ):
        raise OverflowError("integer power too large")
    return base**exponent


Compiled = Callable[[dict[str, int | float]], Any]


def _compile(node: ast.AST) -> Compiled:
    """The checked tree as nested Python closures (no eval/compile of text), each node walked once
    here rather than at every step. Python's own number semantics (ints stay ints), so the result
    is exactly what the generated `lambda epoch: ...` of `to_python()` computes."""
    if isinstance(node, ast.Constant):
        value = node.value
        return lambda env: value
    if isinstance(node, ast.Name):
        name = node.id
        if name in CONSTANTS:
            constant = CONSTANTS[name]
            return lambda env: env.get(name, constant)
        return lambda env: env[name]
    if isinstance(node, ast.BinOp):
        left, right = _compile(node.left), _compile(node.right)
        op = _power if isinstance(node.op, ast.Pow) else _BINOPS[type(node.op)]
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.UnaryOp):
        operand, unary = _compile(node.operand), _UNARY[type(node.op)]
        return lambda env: unary(operand(env))
    if isinstance(node, ast.BoolOp):
        parts = [_compile(sub) for sub in node.values]
        if isinstance(node.op, ast.And):

            def all_of(env: dict[str, int | float]) -> Any:
                value: Any = None
                for part in parts:
                    value = part(env)
                    if not value:
                        return value
                return value

            return all_of

        def any_of(env: dict[str, int | float]) -> Any:
            value: Any = None
            for part in parts:
                value = part(env)
                if value:
                    return value
            return value

        return any_of
    if isinstance(node, ast.Compare):
        first = _compile(node.left)
        chain = [
            (_COMPARE[type(op)], _compile(c))
            for op, c in zip(node.ops, node.comparators, strict=True)
        ]

        def compare(env: dict[str, int | float]) -> bool:
            left = first(env)
            for test, comparator in chain:
                right = comparator(env)
                if not test(left, right):
                    return False
                left = right
            return True

        return compare
    if isinstance(node, ast.IfExp):
        test, body, orelse = _compile(node.test), _compile(node.body), _compile(node.orelse)
        return lambda env: body(env) if test(env) else orelse(env)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        function = FUNCTIONS[node.func.id][0]
        args = [_compile(arg) for arg in node.args]
        return lambda env: function(*(arg(env) for arg in args))
    raise FormulaError(f"{_describe(node)} are not allowed in a formula")  # pragma: no cover


@dataclass(frozen=True)
class Formula:
    """A checked formula; calling it evaluates the tree for one value of each variable.

    `aliases` are other names for the first variable (`epoch` for `step`); `constants` are names
    with values fixed when the formula is built (a run's `total_steps`, a recipe's `warmup_steps`).
    `limits=False` lifts the length and size limits for formulas the catalog itself writes (the
    whitelist still applies). Picklable and deep-copyable (only the text, the names and the checked
    tree are stored), so torch schedulers holding it as `lr_lambda` can be copied and saved.
    """

    text: str
    variables: tuple[str, ...] = ("epoch",)
    aliases: tuple[str, ...] = ()
    constants: tuple[tuple[str, int | float], ...] = ()
    limits: bool = True
    _tree: ast.Expression = field(init=False, repr=False, compare=False)
    _run: Compiled = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = (*self.variables, *self.aliases, *(name for name, _ in self.constants))
        object.__setattr__(self, "_tree", _parse(self.text, names, limits=self.limits))
        object.__setattr__(self, "_run", _compile(self._tree.body))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled and copied as its fields: the tree and closures are rebuilt from the text."""
        return (Formula, (self.text, self.variables, self.aliases, self.constants, self.limits))

    @property
    def names(self) -> frozenset[str]:
        """The variable, alias and constant names the formula actually uses."""
        return frozenset(
            node.id for node in ast.walk(self._tree) if isinstance(node, ast.Name)
        ) - frozenset(FUNCTIONS) - frozenset(CONSTANTS)

    def __call__(self, *values: float) -> float:
        if len(values) != len(self.variables):
            raise TypeError(f"formula takes {len(self.variables)} value(s), got {len(values)}")
        given: dict[str, int | float] = {
            name: v if isinstance(v, int) and not isinstance(v, bool) else float(v)
            for name, v in zip(self.variables, values, strict=True)
        }
        env = dict(self.constants)
        env.update(given)
        if self.aliases:
            env.update((alias, given[self.variables[0]]) for alias in self.aliases)
        try:
            result = self._run(env)
            number = math.nan if isinstance(result, complex) else float(result)
        except ZeroDivisionError:
            raise FormulaError(f"{self.text}: division by zero at {self._where(given)}") from None
        except OverflowError:
            raise FormulaError(f"{self.text}: overflow at {self._where(given)}") from None
        except (ValueError, TypeError) as exc:
            raise FormulaError(f"{self.text}: {exc} at {self._where(given)}") from None
        if isinstance(result, complex):
            raise FormulaError(f"{self.text}: complex result at {self._where(given)}")
        if not math.isfinite(number):
            raise FormulaError(f"{self.text}: result is {number} at {self._where(given)}")
        return number

    def _where(self, given: Mapping[str, int | float]) -> str:
        """'epoch=3' for an error: the values, each under the name the formula uses for it."""
        used = self.names
        parts = []
        for name, value in given.items():
            if name == self.variables[0] and name not in used:
                name = next((a for a in self.aliases if a in used), name)
            parts.append(f"{name}={value:g}")
        return ", ".join(parts)

    def to_python(self, variable: str | None = None) -> str:
        """Plain Python for the same formula, with `math.` before math functions and constants;
        `variable`: the name the first variable and its aliases take (the lambda's argument)."""
        names = (*self.variables, *self.aliases, *(name for name, _ in self.constants))
        tree = _parse(self.text, names, limits=self.limits)
        renamed = {self.variables[0], *self.aliases} if variable else set()
        changed = False

        class _Prefix(ast.NodeTransformer):
            def visit_Name(self, node: ast.Name) -> ast.AST:
                nonlocal changed
                if node.id in CONSTANTS or (node.id in FUNCTIONS and node.id not in BUILTINS):
                    changed = True
                    return ast.copy_location(
                        ast.Attribute(ast.Name("math", ast.Load()), node.id, ast.Load()), node
                    )
                if node.id in renamed and node.id != variable:
                    changed = True
                    return ast.copy_location(ast.Name(str(variable), ast.Load()), node)
                return node

        new = _Prefix().visit(tree)
        return ast.unparse(new) if changed else self.text.strip()

    @property
    def uses_math(self) -> bool:
        """Whether `to_python()` needs `import math`."""
        return "math." in self.to_python()


def compile_formula(
    text: str,
    variables: tuple[str, ...] = ("epoch",),
    *,
    aliases: tuple[str, ...] = (),
    constants: Mapping[str, int | float] | None = None,
    limits: bool = True,
) -> Formula:
    """Check `text` and return a callable `Formula`; raises `FormulaError` naming the problem."""
    return Formula(
        text, tuple(variables), tuple(aliases), tuple((constants or {}).items()), limits
    )
