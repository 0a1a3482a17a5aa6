"""Value-set expansion (lrtui.sweeps) and seed statistics (lrtui.stats), checked against values
written out or computed independently here."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrtui.stats import bootstrap_interval, paired_difference, spread
from lrtui.sweeps import (
    MAX_RUNS,
    SweepError,
    check_run_count,
    expand,
    has_sweep,
    label_of,
    values_of,
)


def texts(text: str) -> list[str]:
    return [e.text for e in expand(text, field="-s")]


def test_a_listed_set_expands_in_place() -> None:
    assert texts("StepLR:step_size=1,gamma={0.3,0.5,0.9}") == [
        "StepLR:step_size=1,gamma=0.3",
        "StepLR:step_size=1,gamma=0.5",
        "StepLR:step_size=1,gamma=0.9",
    ]
    first = expand("StepLR:step_size=1,gamma={0.3,0.5,0.9}", field="-s")[0]
    assert first.choices == (("gamma", "0.3"),)
    assert label_of(first.choices) == "gamma=0.3"


def test_two_sets_cross_with_the_first_slowest() -> None:
    assert texts("StepLR:step_size={1,2},gamma={0.1,0.5}") == [
        "StepLR:step_size=1,gamma=0.1",
        "StepLR:step_size=1,gamma=0.5",
        "StepLR:step_size=2,gamma=0.1",
        "StepLR:step_size=2,gamma=0.5",
    ]


def test_lists_and_quoted_formulas_are_values_not_separators() -> None:
    assert texts("MultiStepLR:milestones={[10,30],[5]}") == [
        "MultiStepLR:milestones=[10,30]",
        "MultiStepLR:milestones=[5]",
    ]
    # braces inside a quoted formula are not a sweep
    assert not has_sweep('LambdaLR:lr_lambda="0.95**step"')
    assert texts('LambdaLR:lr_lambda="{1,2}"') == ['LambdaLR:lr_lambda="{1,2}"']
    assert texts("StepLR") == ["StepLR"]


def test_linear_range_includes_both_ends_rounded() -> None:
    assert values_of("{0.1..0.9:5}", field="--lr") == ["0.1", "0.3", "0.5", "0.7", "0.9"]
    assert values_of("{2..10:5}", field="--batch-size") == ["2", "4", "6", "8", "10"]
    assert values_of("{1..10:3}", field="x") == ["1", "5.5", "10"]
    assert values_of("0.1", field="--lr") == ["0.1"]


def test_log_range_matches_its_definition() -> None:
    got = values_of("{1e-3..1:log:7}", field="--lr")
    assert got[0] == "1e-3" and got[-1] == "1"
    expected = [1e-3 * (1 / 1e-3) ** (i / 6) for i in range(7)]
    for text, value in zip(got, expected, strict=True):
        assert float(text) == pytest.approx(value, rel=1e-11)
    assert float(got[3]) == pytest.approx(10**-1.5, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("StepLR:gamma={}", "-s gamma: empty value set {}: list values, e.g. {0.1,0.3}"),
        ("StepLR:gamma={0.1,,0.3}", "-s gamma: empty value in {0.1,,0.3}"),
        ("StepLR:gamma={0.1,0.1}", "-s gamma: {0.1,0.1} lists 0.1 more than once"),
        ("StepLR:gamma={0.1..0.9}", "a range is {START..END:N} or {START..END:log:N} with N >= 2"),
        ("StepLR:gamma={0.1..0.9:1}", "a range has 2 to 1000 points (got 1)"),
        ("StepLR:gamma={0.1..0.9:x}", "a range is {START..END:N}"),
        ("StepLR:gamma={0..1:log:3}", "a log range needs ends > 0 (got {0..1:log:3})"),
        ("StepLR:gamma={0.5..0.5:3}", "a range needs two different ends"),
        ("StepLR:gamma={0.1..inf:3}", "range ends must be finite (got inf)"),
        ("StepLR:gamma={0.1,0.3", "'{' at character 14 is never closed"),
        ("StepLR:gamma=0.1}", "'}' at character 17 closes no '{'"),
        ("StepLR:gamma={0.1,{0.3}}", "value sets cannot nest"),
    ],
)
def test_bad_sets_name_the_field_and_rule(text: str, message: str) -> None:
    with pytest.raises(SweepError) as caught:
        expand(text, field="-s")
    assert message in str(caught.value)
    assert str(caught.value).startswith("-s")


def test_too_many_runs_is_refused_before_expanding() -> None:
    with pytest.raises(SweepError, match=r"expands to 1000000 values; at most 1024 runs"):
        expand("StepLR:step_size={1..1000:1000},gamma={0.001..0.999:1000}", field="-s")
    check_run_count(MAX_RUNS)
    with pytest.raises(SweepError, match="1025 runs planned"):
        check_run_count(MAX_RUNS + 1)


def test_a_whole_value_must_be_one_set() -> None:
    with pytest.raises(SweepError, match="--lr: write one value or one set in braces"):
        values_of("{0.1,0.2}x", field="--lr")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="{}[],.:=\"'abc01 -", max_size=30))
def test_only_sweep_errors_escape(text: str) -> None:
    try:
        expanded = expand(text, field="-s")
    except SweepError:
        return
    assert all("{" not in e.text or '"' in text or "'" in text for e in expanded)


def test_spread_against_hand_computed_values() -> None:
    result = spread([0.9, 0.8, 1.0, None, math.nan])
    assert result.n == 3 and result.missing == 2
    assert result.mean == pytest.approx(0.9, abs=1e-15)
    # sample std of 0.9, 0.8, 1.0: sqrt(((0)^2 + 0.1^2 + 0.1^2) / 2) = 0.1
    assert result.std == pytest.approx(0.1, abs=1e-15)
    assert (result.min, result.max) == (0.8, 1.0)
    assert spread([0.5]).std == 0.0
    assert spread([None]).mean is None


def test_paired_difference_verdicts() -> None:
    baseline = [0.90, 0.91, 0.89, 0.92]
    better = [b + 0.05 + d for b, d in zip(baseline, [0.001, -0.002, 0.002, 0.0], strict=True)]
    result = paired_difference(better, baseline, higher_is_better=True, resamples=2000)
    assert result.n == 4 and result.verdict == "better"
    assert result.mean == pytest.approx(0.05025, abs=1e-12)
    assert result.low is not None and result.high is not None
    assert 0.048 <= result.low <= result.mean <= result.high <= 0.0521
    # the same numbers as a loss (lower is better) are worse
    assert paired_difference(better, baseline, higher_is_better=False).verdict == "worse"
    noisy = [b + d for b, d in zip(baseline, [0.02, -0.02, 0.01, -0.01], strict=True)]
    assert paired_difference(noisy, baseline, higher_is_better=True).verdict == "within seed noise"
    assert paired_difference([0.5], [0.4], higher_is_better=True).verdict == "too few seeds"
    assert paired_difference([None, 0.5], [0.4, 0.4], higher_is_better=True).n == 1


def test_bootstrap_is_reproducible_and_ordered() -> None:
    diffs = [0.1, -0.05, 0.2, 0.0, 0.15]
    first = bootstrap_interval(diffs, resamples=3000, seed=7)
    assert first == bootstrap_interval(diffs, resamples=3000, seed=7)
    assert min(diffs) <= first[0] < sum(diffs) / len(diffs) < first[1] <= max(diffs)
    with pytest.raises(ValueError, match="at least 2 values"):
        bootstrap_interval([0.1])


def test_bootstrap_interval_covers_a_known_mean() -> None:
    """Percentile bootstrap on n=20 normal differences: the 95 % interval holds the true mean in
    about 93 % of samples (it is a little short at small n); 300 samples pin that within a few %."""
    rng = random.Random(1234)
    true_mean = 0.5
    covered = 0
    trials = 300
    for trial in range(trials):
        sample = [rng.gauss(true_mean, 1.0) for _ in range(20)]
        low, high = bootstrap_interval(sample, resamples=600, seed=trial)
        covered += low <= true_mean <= high
    assert 0.88 <= covered / trials <= 0.98
