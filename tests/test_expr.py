"""The formula evaluator: what it computes, what it refuses, and that it never uses eval."""

from __future__ import annotations

import ast
import copy
import math
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrtui.expr
from lrtui.expr import MAX_LENGTH, MAX_NODES, Formula, FormulaError, compile_formula


@pytest.mark.parametrize(
    ("text", "epoch", "expected"),
    [
        ("0.95 ** epoch", 3, 0.95**3),
        ("1 if epoch < 5 else 0.1", 4, 1.0),
        ("1 if epoch < 5 else 0.1", 5, 0.1),
        ("min(1, (epoch + 1) / 5)", 1, 0.4),
        ("max(0.1, cos(pi * epoch / 10))", 2, max(0.1, math.cos(math.pi * 2 / 10))),
        ("0.5 ** (epoch // 10)", 25, 0.25),
        ("epoch % 3", 7, 1.0),
        ("exp(-epoch / 10)", 10, math.exp(-1.0)),
        ("sqrt(epoch) + log(e) + log(8, 2) + log10(100) + log2(4)", 4, 2.0 + 1.0 + 3.0 + 2.0 + 2.0),
        ("abs(-epoch) + fabs(-1) + floor(2.7) + ceil(2.1)", 2, 2.0 + 1.0 + 2.0 + 3.0),
        ("tanh(0) + sinh(0) + cosh(0) + sin(0) + tan(0) + atan(0) + asin(0) + acos(1)", 0, 1.0),
        ("epoch < 5 and 0.1 or 1", 2, 0.1),
        ("not epoch", 0, 1.0),
        ("1 < epoch <= 3", 3, 1.0),
        ("1 < epoch <= 3", 4, 0.0),
        ("-epoch + +2 + tau / 2 - pi", 1, 1.0),
        ("(epoch != 2) * 0.5 + (epoch == 2)", 2, 1.0),
    ],
)
def test_formula_values(text: str, epoch: int, expected: float) -> None:
    f = compile_formula(text)
    assert f(epoch) == expected
    assert isinstance(f(epoch), float)
    assert f.text == text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("x", "unknown name 'x'"),
        ("epochs", "unknown name 'epochs'"),
        ("__import__('os')", "calling __import__ is not allowed"),
        ("import os", "not a valid formula"),
        ("epoch.real", "attribute access"),
        ("().__class__", "attribute access"),
        ("math.cos(epoch)", "attribute access"),
        ("lambda: 1", "lambdas"),
        ("[1, 2][0]", "subscripts"),
        ("open('f')", "calling open is not allowed"),
        ("eval('1')", "calling eval is not allowed"),
        ("exp(x=1)", "takes no keyword arguments"),
        ("exp(1, 2)", "exp() takes 1 arguments (got 2)"),
        ("min(1)", "min() takes 2 to 8 arguments (got 1)"),
        ("(lambda: 1)()", "calling lambdas is not allowed"),
        ("2 ** 1000", "exponent too large"),
        ("epoch ** -101", "exponent too large"),
        ("'text'", "only numbers are allowed"),
        ("True", "only numbers are allowed"),
        ("1j", "only numbers are allowed"),
        ("[epoch for epoch in (1,)]", "comprehensions"),
        ("(y := 2)", "assignments"),
        ("f'{epoch}'", "strings"),
        ("epoch @ epoch", "the operator"),
        ("epoch << 2", "the operator"),
        ("~epoch", "unary operator"),
        ("epoch is 1", "comparison"),
        ("epoch in (1, 2)", "comparison"),
        ("", "formula is empty"),
        ("1 +", "not a valid formula"),
        ("1" * (MAX_LENGTH + 1), "formula too long"),
        ("+".join(["1"] * 60), "formula too complex"),
    ],
)
def test_formula_refused(text: str, fragment: str) -> None:
    with pytest.raises(FormulaError) as info:
        compile_formula(text)
    assert fragment in str(info.value)


def test_node_limit_is_the_documented_one() -> None:
    ok = "+".join(["1"] * 30)  # 30 constants + 29 x (BinOp, Add) + Expression = 89 nodes
    assert compile_formula(ok)(0) == 30.0
    assert sum(1 for _ in ast.walk(ast.parse(ok, mode="eval"))) <= MAX_NODES


def test_non_text_is_refused() -> None:
    with pytest.raises(FormulaError, match="must be text"):
        compile_formula(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "epoch", "fragment"),
    [
        ("10 ** epoch", 400, "overflow at epoch=400"),
        ("exp(epoch)", 1000, "overflow"),
        ("1 / (epoch - 3)", 3, "division by zero at epoch=3"),
        ("epoch % (epoch - 1)", 1, "division by zero"),
        ("log(epoch)", 0, "math domain error"),
        ("(-8) ** (1 / 3)", 0, "complex result"),
        ("(epoch - 2) ** 0.5", 0, "complex result"),
    ],
)
def test_evaluation_errors(text: str, epoch: int, fragment: str) -> None:
    f = compile_formula(text)
    with pytest.raises(FormulaError) as info:
        f(epoch)
    assert fragment in str(info.value)


def test_variables_and_arity() -> None:
    f = compile_formula("a * b", variables=("a", "b"))
    assert f(2, 3) == 6.0
    with pytest.raises(TypeError):
        f(2)
    with pytest.raises(FormulaError, match="unknown name 'epoch'"):
        compile_formula("epoch", variables=("a",))


def test_pickle_and_deepcopy_keep_behaviour() -> None:
    f = compile_formula("max(0.1, cos(pi * epoch / 10))")
    for clone in (pickle.loads(pickle.dumps(f)), copy.deepcopy(f)):
        assert isinstance(clone, Formula)
        assert clone == f
        assert [clone(e) for e in range(12)] == [f(e) for e in range(12)]


def test_to_python_prefixes_math_only_where_needed() -> None:
    assert compile_formula("0.95 ** epoch").to_python() == "0.95 ** epoch"
    assert not compile_formula("min(1, epoch)").uses_math
    code = compile_formula("max(0.1, cos(pi * epoch / 10))").to_python()
    assert code == "max(0.1, math.cos(math.pi * epoch / 10))"
    assert compile_formula("exp(-epoch)").uses_math


_ATOMS = st.sampled_from(["epoch", "1", "2", "0.5", "3.25", "pi"])


def _expressions() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(
            inner, st.sampled_from(["+", "-", "*", "/", "//", "%", "<", ">="]), inner
        ).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        calls = st.tuples(st.sampled_from(["cos", "tanh", "exp", "fabs"]), inner).map(
            lambda t: f"{t[0]}({t[1]})"
        )
        pairs = st.tuples(st.sampled_from(["min", "max"]), inner, inner).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        )
        cond = st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})")
        return binary | calls | pairs | cond

    return st.recursive(_ATOMS, extend, max_leaves=6)


@settings(max_examples=150, deadline=None)
@given(text=_expressions(), epoch=st.integers(min_value=0, max_value=50))
def test_formula_matches_python_of_to_python(text: str, epoch: int) -> None:
    """Our evaluator agrees with Python itself on the generated code (eval only here, in a test)."""
    f = compile_formula(text)
    try:
        ours: float | None = f(epoch)
    except FormulaError:
        ours = None
    try:
        theirs = float(eval(f.to_python(), {"math": math}, {"epoch": epoch}))
        if not math.isfinite(theirs):
            theirs_opt: float | None = None
        else:
            theirs_opt = theirs
    except (ZeroDivisionError, OverflowError, ValueError):
        theirs_opt = None
    assert ours == theirs_opt


@pytest.mark.parametrize(
    "text", ["epoch ** 6 / 3", "(epoch * 7 + 1) // 3 / 11", "2 ** epoch / 3 ** 40", "epoch ** -1"]
)
def test_integer_arithmetic_is_exactly_pythons(text: str) -> None:
    """Ints stay ints (as in the lambda to_code writes), so big intermediate values agree."""
    f = compile_formula(text)
    for epoch in (1, 7, 999, 1000):
        assert f(epoch) == float(eval(f.to_python(), {}, {"epoch": epoch}))  # test only


def test_integer_powers_are_capped() -> None:
    assert compile_formula("2 ** epoch")(1000) == 2.0**1000
    with pytest.raises(FormulaError, match="overflow at epoch=5000"):
        compile_formula("3 ** epoch")(5000)  # ~7900 bits > MAX_INT_BITS
    with pytest.raises(FormulaError, match="overflow"):
        compile_formula("(epoch ** 90) ** 90")(10)


def test_module_never_calls_eval_exec_or_compile() -> None:
    tree = ast.parse(Path(lrtui.expr.__file__).read_text())
    called = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not called & {"eval", "exec", "compile", "__import__"}
