"""The LR range test: suggestions on curves with known answers, the sweep against plain PyTorch,
early stopping, several curves in one pass, control, and the stored result."""

from __future__ import annotations

import itertools
import math
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from lrtui.data import DeviceDataset, synthetic, to_device
from lrtui.engine import Control, steps_per_epoch
from lrtui.engine.models.mlp import MLP
from lrtui.lrfind import (
    METHODS,
    Curve,
    RangeTestProgress,
    Suggestion,
    SweepSettings,
    describe_optimizer,
    range_test,
    recommended,
    save,
    smooth,
    stop_index,
    suggest,
    sweep_lrs,
    validate_settings,
)
from lrtui.model import OptimizerConfig, RunConfig
from lrtui.store import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    NewRangeTest,
    Store,
    StoreError,
    UnknownRangeTestError,
)

N_TRAIN, BATCH, HIDDEN, SEED = 250, 32, (16,), 4  # 8 batches a pass, the last one of 26 rows

SGD = OptimizerConfig("sgd")
SGD_MOMENTUM = OptimizerConfig("sgd", momentum=0.9, weight_decay=1e-3)
ADAM = OptimizerConfig("adam")
ADAMW = OptimizerConfig("adamw", betas=(0.85, 0.99), weight_decay=0.1)


@pytest.fixture(scope="module")
def data64() -> DeviceDataset:
    return to_device(synthetic(N_TRAIN, 16, seed=7), "cpu", torch.float64)


@pytest.fixture(scope="module")
def noise() -> DeviceDataset:
    """Random labels: nothing to learn, so a large LR blows the loss up (the synthetic classes
    are so easy that a huge LR only drives their loss to 0)."""
    data = to_device(synthetic(N_TRAIN, 16, seed=7), "cpu", torch.float32)
    labels = torch.randint(0, 10, (N_TRAIN,), generator=torch.Generator().manual_seed(0))
    return replace(data, train_y=labels)


def cfg(opt: OptimizerConfig = SGD, **kw: object) -> RunConfig:
    base: dict[str, object] = {
        "dataset": "synthetic",
        "hidden": HIDDEN,
        "batch_size": BATCH,
        "seed": SEED,
        "device": "cpu",
    }
    base.update(kw)
    return RunConfig(optimizer=opt, **base)  # type: ignore[arg-type]


# -- the sweep's LRs and the smoothing -----------------------------------------------------------


def test_sweep_lrs_are_exponential_from_start_to_end_exactly() -> None:
    lrs = sweep_lrs(1e-7, 10.0, 100)
    assert len(lrs) == 100 and lrs[0] == 1e-7 and lrs[-1] == 10.0
    for i in (1, 37, 98):
        assert lrs[i] == 1e-7 * (10.0 / 1e-7) ** (i / 99)
    ratios = [b / a for a, b in itertools.pairwise(lrs)]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-12)
    assert SweepSettings(start=0.5, end=8.0, steps=5).lrs() == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_smooth_is_the_bias_corrected_moving_average() -> None:
    # beta 0.5: avg 0.5, 1.25, 2.125 over corrections 0.5, 0.75, 0.875
    assert smooth([1.0, 2.0, 3.0], beta=0.5) == pytest.approx([1.0, 5 / 3, 17 / 7], rel=1e-15)
    assert smooth([2.5] * 50) == pytest.approx([2.5] * 50, rel=1e-12)  # no start-up bias
    out = smooth([1.0, math.nan, 1.0, 1.0])
    assert out[0] == pytest.approx(1.0) and all(math.isnan(x) for x in out[1:])


def test_stop_index_is_the_first_point_past_factor_times_best_or_not_finite() -> None:
    assert stop_index([3.0, 2.0, 1.0, 3.9, 4.0], 4.0) is None  # 4.0 is not > 4 x 1.0
    assert stop_index([3.0, 2.0, 1.0, 3.9, 4.5, 9.0], 4.0) == 4
    assert stop_index([3.0, 2.0, math.nan, 1.0], 4.0) == 2
    assert stop_index([3.0, math.inf], math.inf) == 1
    assert stop_index([3.0, 1e300], math.inf) is None


def test_settings_validation_names_each_field() -> None:
    assert validate_settings(SweepSettings()) == {}
    bad = SweepSettings(start=0.0, end=-1.0, steps=9, diverge_factor=1.0, beta=1.0, check_every=0)
    assert validate_settings(bad) == {
        "start": "must be > 0 (got 0)",
        "end": "must be > start (0) (got -1)",
        "steps": "must be an integer >= 10 (got 9)",
        "diverge_factor": "must be > 1 (got 1)",
        "beta": "must be in [0, 1) (got 1)",
        "check_every": "must be an integer >= 1 (got 0)",
    }
    assert validate_settings(SweepSettings(start=1.0, end=1.0))["end"].startswith("must be >")
    assert validate_settings(SweepSettings(diverge_factor=math.inf)) == {}
    s = SweepSettings(start=1e-5, end=1.0, steps=40, diverge_factor=math.inf)
    assert SweepSettings.from_dict(s.to_dict()) == s and s.to_dict()["diverge_factor"] is None


# -- suggestions on curves with known answers ----------------------------------------------------

LRS = sweep_lrs(1e-6, 1.0, 61)  # ten points per decade


def sigmoid_drop(n: int = 31, center: int = 15) -> list[float]:
    """Falls from ~4 to ~2 around `center`, symmetric: the steepest point is exactly there."""
    return [3.0 - math.tanh((i - center) / 3) for i in range(n)]


def test_steepest_is_the_centre_of_a_symmetric_drop() -> None:
    curve = sigmoid_drop() + [2.0 + 0.5 * i for i in range(1, 31)]  # then up, steeply
    found = suggest(LRS, curve, skip_start=0, skip_end=0)["steepest"]
    assert (found.index, found.lr, found.loss) == (15, LRS[15], curve[15])
    assert found.reason == "" and found.ok and found.usable and found.doc == METHODS["steepest"]


def test_steepest_ignores_a_fall_after_a_spike_past_the_lowest_point() -> None:
    curve = sigmoid_drop()  # lowest ~2.0001 at 30
    curve += [3.0, 4.0, 5.0, 5.0, 2.5, 3.0, 6.0, 8.0, 10.0, 12.0]  # spike, a steeper fall to 2.5
    assert min(range(len(curve)), key=curve.__getitem__) == 30
    found = suggest(LRS[: len(curve)], curve, skip_start=0, skip_end=0)
    assert found["steepest"].index == 15
    assert found["min"].index == 30 and not found["min"].usable


def test_min_div_10_is_a_tenth_of_the_lowest_points_lr() -> None:
    curve = [3.0 - 0.02 * i for i in range(41)] + [2.2 + 0.1 * i for i in range(1, 20)]
    found = suggest(LRS[: len(curve)], curve, skip_start=0, skip_end=0)
    assert found["min"].index == 40 and found["min"].lr == LRS[40]
    low = found["min_div_10"]
    assert low.lr == LRS[40] / 10
    assert low.index == 30 and low.loss == curve[30]  # one decade back: the nearest point


def test_valley_sits_part_way_down_the_longest_descent() -> None:
    # 20 points rising slowly at ~2, a strict descent from 3 to ~1 on 20..49, then a rise.
    flat = [2.0 + 0.001 * i for i in range(20)]
    down = [3.0 - 2.0 * j / 29 for j in range(30)]
    up = [1.2 + 0.1 * j for j in range(10)]
    curve = flat + down + up
    # Longest strictly decreasing run ends at 49 with 30 points; fastai counts the valley from
    # 49 - 30 = 19 and picks 19 + int(30 / 3) + int(30 / 3 / 2) = 34.
    found = suggest(LRS[: len(curve)], curve, skip_start=0, skip_end=0)["valley"]
    assert (found.index, found.lr, found.loss) == (34, LRS[34], curve[34])
    # A bump in the descent does not end it: the run skips the bumped point (29 points left),
    # so the valley spans from 20 and the pick is 20 + int(29/3) + int(29/3/2) = 33.
    bumped = list(curve)
    bumped[30] = bumped[29] + 0.01
    assert suggest(LRS[: len(curve)], bumped, skip_start=0, skip_end=0)["valley"].index == 33


def brute_force_valley(values: list[float]) -> int | None:
    """The valley by its definition: O(n^2) longest strictly decreasing subsequence."""
    lds = [1] * len(values)
    for i in range(len(values)):
        for j in range(i):
            if values[i] < values[j]:
                lds[i] = max(lds[i], lds[j] + 1)
    length = max(lds)
    if length < 3:
        return None
    start = lds.index(length) - length
    return start + int(length / 3) + int(length / 3 / 2)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=3, max_size=60))
def test_valley_matches_the_quadratic_definition(values: list[int]) -> None:
    curve = [float(v) for v in values]
    lrs = sweep_lrs(1e-5, 1.0, len(curve))
    assert suggest(lrs, curve, skip_start=0, skip_end=0)["valley"].index == brute_force_valley(
        curve
    )


def test_non_finite_points_are_dropped_not_fatal() -> None:
    base = sigmoid_drop() + [2.0 + 0.5 * i for i in range(1, 12)]
    n = len(base)
    clean = suggest(LRS[:n], base)
    tail = base + [math.nan] * 8 + [math.inf]
    assert suggest(LRS[: len(tail)], tail) == clean  # a NaN tail reads like the curve before it
    holed = list(base)
    holed[20] = math.inf
    found = suggest(LRS[:n], holed, skip_start=0, skip_end=0)
    assert all(s.ok and s.index != 20 for s in found.values())
    assert found["steepest"].index == 15
    lrs_bad = list(LRS[:n])
    lrs_bad[3] = math.nan
    assert suggest(lrs_bad, base, skip_start=0, skip_end=0)["steepest"].index == 15


def test_all_nan_and_too_short_curves_give_reasons() -> None:
    for method, s in suggest(LRS[:30], [math.nan] * 30).items():
        assert (s.method, s.lr, s.loss, s.index) == (method, None, None, None)
        assert s.reason == "no finite loss to read: every point is NaN or infinite"
        assert not s.ok
    short = suggest(LRS[:8], [3.0, 2.9, 2.7, 2.4, 2.0, 1.8, 1.7, 1.9])
    assert all(not s.ok for s in short.values())
    assert short["valley"].reason == (
        "too short: 8 finite points, 0 left after skipping the first 10 and last 5 (needs 3)"
    )
    two = suggest(LRS[:2], [3.0, 2.0], skip_start=0, skip_end=0)
    assert two["min"].index == 1 and two["min_div_10"].ok
    assert not two["steepest"].ok and "(needs 3)" in two["steepest"].reason
    empty = "no finite loss to read: every point is NaN or infinite"
    assert suggest([], []) == {m: Suggestion(m, None, None, None, empty) for m in METHODS}


def test_a_loss_that_never_falls_has_no_descent_to_suggest() -> None:
    rising = [2.0 + 0.01 * i for i in range(40)]
    found = suggest(LRS[:40], rising, skip_start=0, skip_end=0)
    assert found["steepest"].reason == "the smoothed loss never falls"
    assert found["valley"].reason == "the smoothed loss never falls for long"
    assert found["min"].index == 0 and found["min_div_10"].lr == LRS[0] / 10
    assert recommended(found) == found["min_div_10"]


def test_recommended_prefers_valley_then_steepest() -> None:
    curve = sigmoid_drop() + [2.0 + 0.5 * i for i in range(1, 31)]
    found = suggest(LRS, curve)
    assert recommended(found) == found["valley"]
    assert recommended({"steepest": found["steepest"], "min": found["min"]}) == found["steepest"]
    assert recommended({}) is None
    assert list(found) == list(METHODS)
    assert Suggestion.from_dict(found["valley"].to_dict()) == found["valley"]


def test_describe_optimizer_names_what_differs_from_torch_defaults() -> None:
    assert describe_optimizer(SGD) == "sgd"
    assert describe_optimizer(SGD_MOMENTUM) == "sgd momentum=0.9 wd=0.001"
    assert describe_optimizer(ADAMW) == "adamw betas=(0.85,0.99) wd=0.1"


# -- the sweep -----------------------------------------------------------------------------------


def plain_pytorch_losses(config: RunConfig, lrs: list[float], data: DeviceDataset) -> list[float]:
    """Each step's batch loss in the plain PyTorch loop, LR set on the param group per step."""
    torch.manual_seed(config.seed)
    model = MLP(config.hidden).to(torch.float64)
    o = config.optimizer
    optimizer: torch.optim.Optimizer
    if o.name == "sgd":
        optimizer = torch.optim.SGD(
            model.parameters(), lr=lrs[0], momentum=o.momentum, weight_decay=o.weight_decay
        )
    else:
        cls = torch.optim.Adam if o.name == "adam" else torch.optim.AdamW
        optimizer = cls(model.parameters(), lr=lrs[0], betas=o.betas, weight_decay=o.weight_decay)
    spe = steps_per_epoch(data.n_train, config.batch_size)
    generator = torch.Generator().manual_seed(config.seed)
    losses = []
    for s, lr in enumerate(lrs):
        if s % spe == 0:
            perm = torch.randperm(data.n_train, generator=generator)
        idx = perm[(s % spe) * config.batch_size : (s % spe + 1) * config.batch_size]
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data.train_x[idx]), data.train_y[idx])
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_raw_losses_equal_plain_pytorch_and_smoothed_is_their_ema(data64: DeviceDataset) -> None:
    sweep = SweepSettings(start=1e-4, end=0.5, steps=30, check_every=7)
    result = range_test(
        [cfg(SGD), cfg(SGD_MOMENTUM), cfg(ADAMW)], sweep, data=data64, dtype=torch.float64
    )
    assert result.steps_done == 30 and not result.stopped and result.dataset == "synthetic"
    assert result.device == "cpu" and result.notice is None
    for curve in result.curves:
        assert not curve.stopped_early and curve.stop_reason == ""
        assert list(curve.lrs) == sweep_lrs(1e-4, 0.5, 30)
        reference = plain_pytorch_losses(curve.config, list(curve.lrs), data64)
        assert list(curve.losses) == pytest.approx(reference, rel=1e-10, abs=1e-12)
        # The smoothing, recomputed here from the raw losses, bit for bit.
        beta, avg, expected = 0.98, 0.0, []
        for i, loss in enumerate(curve.losses, start=1):
            avg = beta * avg + (1 - beta) * loss
            expected.append(avg / (1 - beta**i))
        assert list(curve.smoothed) == expected
        assert curve.suggestions == suggest(curve.lrs, curve.smoothed, skip_start=3, skip_end=3)
    assert [c.label for c in result.curves] == [
        "sgd",
        "sgd momentum=0.9 wd=0.001",
        "adamw betas=(0.85,0.99) wd=0.1",
    ]


def test_a_huge_end_lr_stops_each_curve_where_it_diverges(noise: DeviceDataset) -> None:
    sweep = SweepSettings(start=1e-3, end=1e5, steps=80)
    result = range_test([cfg(SGD), cfg(ADAM), cfg(SGD_MOMENTUM)], sweep, data=noise)
    for curve in result.curves:
        assert curve.stopped_early
        n = len(curve.losses)
        assert 10 < n < 80 and len(curve.lrs) == len(curve.smoothed) == n
        # The curve ends at the first point the rule stops at, and not before.
        assert stop_index(curve.smoothed, 4.0) == n - 1
        assert curve.stop_reason.endswith(f"(step {n - 1})")
        assert any(s.ok for s in curve.suggestions.values())
        for s in curve.suggestions.values():
            assert s.lr is None or 1e-4 <= s.lr <= curve.lrs[-1]
    assert result.steps_done < 80  # the pass ended once both curves had stopped
    assert result.steps_done == 10 * math.ceil(max(len(c.losses) for c in result.curves) / 10)


def test_without_a_factor_only_nan_stops_a_curve(noise: DeviceDataset) -> None:
    sweep = SweepSettings(start=1e-3, end=1e8, steps=80, diverge_factor=math.inf)
    (curve,) = range_test(cfg(SGD), sweep, data=noise).curves
    # Only a non-finite loss stops it; the NaN point is kept, the suggestions skip it.
    assert curve.stopped_early and "loss became" in curve.stop_reason
    assert not math.isfinite(curve.losses[-1]) and all(math.isfinite(x) for x in curve.losses[:-1])
    assert curve.to_dict()["losses"][-1] is None


def test_several_sweeps_in_one_pass_equal_each_alone(data64: DeviceDataset) -> None:
    sweep = SweepSettings(start=1e-3, end=1e3, steps=60)
    opts = [ADAMW, SGD, SGD_MOMENTUM, ADAM, OptimizerConfig("sgd", weight_decay=0.01)]
    together = range_test([cfg(o) for o in opts], sweep, data=data64, dtype=torch.float64)
    assert [c.run for c in together.curves] == list(range(5))
    for o, curve in zip(opts, together.curves, strict=True):
        (alone,) = range_test(cfg(o), sweep, data=data64, dtype=torch.float64).curves
        assert curve.config.optimizer == o
        assert len(curve.losses) == len(alone.losses)
        assert curve.stopped_early == alone.stopped_early
        assert list(curve.losses) == pytest.approx(list(alone.losses), rel=1e-9, abs=1e-12)
        assert curve.suggestions.keys() == alone.suggestions.keys()
        for m in METHODS:
            assert curve.suggestions[m].index == alone.suggestions[m].index


def test_progress_snapshots_and_stop(data64: DeviceDataset) -> None:
    seen: list[RangeTestProgress] = []
    sweep = SweepSettings(start=1e-4, end=1e-1, steps=35, check_every=10)
    result = range_test(
        [cfg(SGD), cfg(ADAM)], sweep, on_progress=seen.append, data=data64, progress_every_s=0
    )
    assert [p.step for p in seen] == [10, 20, 30, 35]
    assert all(p.steps == 35 and p.done == (False, False) for p in seen)
    assert seen[1].lrs == tuple(sweep.lrs()[:20]) and len(seen[1].losses[1]) == 20
    assert seen[-1].losses == tuple(c.losses for c in result.curves)
    assert seen[-1].smoothed == tuple(c.smoothed for c in result.curves)

    # Throttled (the default, 0.25 s): the first look and the last step are always reported.
    throttled: list[RangeTestProgress] = []
    range_test(cfg(SGD), sweep, on_progress=throttled.append, data=data64, progress_every_s=60)
    assert [p.step for p in throttled] == [10, 35]

    control = Control()

    def stop_at_once(p: RangeTestProgress) -> None:
        control.stop()

    stopped = range_test(cfg(SGD), sweep, on_progress=stop_at_once, control=control, data=data64)
    assert stopped.stopped and stopped.steps_done == 10
    assert len(stopped.curves[0].losses) == 10 and not stopped.curves[0].stopped_early


def test_bad_settings_and_configs_that_cannot_share_a_pass(data64: DeviceDataset) -> None:
    with pytest.raises(ValueError, match=r"^steps: must be an integer >= 10 \(got 3\)$"):
        range_test(cfg(), SweepSettings(steps=3), data=data64)
    with pytest.raises(ValueError, match="must share seed"):
        range_test([cfg(), cfg(seed=9)], data=data64)
    with pytest.raises(ValueError, match=r"optimizer.momentum: must be in \[0, 1\)"):
        range_test(cfg(OptimizerConfig("sgd", momentum=1.5)), data=data64)
    with pytest.raises(ValueError, match="no configs"):
        range_test([], data=data64)
    # The run's own LR, epochs and scheduler play no part (they need not even be valid).
    odd = cfg(lr=-1.0, epochs=0)
    sweep = SweepSettings(start=1e-3, end=1e-2, steps=10)
    assert range_test(odd, sweep, data=data64).curves[0].config is odd


# -- the store -----------------------------------------------------------------------------------


def test_saved_result_reads_back_exactly(noise: DeviceDataset, tmp_path: Path) -> None:
    sweep = SweepSettings(start=1e-3, end=1e8, steps=80, diverge_factor=math.inf)
    result = range_test([cfg(SGD), cfg(ADAM, label="mine")], sweep, data=noise)
    assert any(not math.isfinite(x) for c in result.curves for x in c.losses)
    with Store(tmp_path / "r.db") as store:
        ids = save(store, result)
        records = store.list_range_tests()
        assert [r.id for r in records] == ids and len(ids) == 2
        for curve, rid in zip(result.curves, ids, strict=True):
            rec = store.get_range_test(rid)
            assert (rec.label, rec.optimizer, rec.dataset, rec.device) == (
                curve.label, curve.config.optimizer.name, "synthetic", "cpu",
            )  # fmt: skip
            assert rec.lrs == curve.lrs
            assert same(rec.losses, curve.losses) and same(rec.smoothed, curve.smoothed)
            assert rec.stopped_early == curve.stopped_early
            assert rec.stop_reason == curve.stop_reason
            assert RunConfig.from_dict(rec.config) == curve.config
            assert SweepSettings.from_dict(rec.settings) == sweep
            assert {m: Suggestion.from_dict(d) for m, d in rec.suggestions.items()} == (
                curve.suggestions
            )
            assert rec.batch_id == records[0].batch_id and rec.batch_index == curve.run
        assert math.isnan(records[0].losses[-1]) and records[0].to_dict()["losses"][-1] is None
        assert records[1].label == "mine"
        with pytest.raises(UnknownRangeTestError, match="no range test 99"):
            store.delete_range_tests([ids[0], 99])
        assert len(store.list_range_tests()) == 2  # all or nothing
        assert store.delete_range_tests(ids) == 2 and store.list_range_tests() == []
        with pytest.raises(UnknownRangeTestError, match="no range test 1 in"):
            store.get_range_test(1)


def same(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Equal float for float, NaN matching NaN."""
    return len(a) == len(b) and all(
        x == y or (x != x and y != y) for x, y in zip(a, b, strict=True)
    )


def new_test(**kw: object) -> NewRangeTest:
    base: dict[str, object] = {
        "batch_id": "b", "batch_index": 0, "label": "sgd", "optimizer": "sgd",
        "dataset": "mnist", "device": "cpu", "config": {}, "settings": {},
        "lrs": (1e-3, 1e-2), "losses": (2.3, math.nan), "smoothed": (2.3, math.nan),
        "suggestions": {}, "stopped_early": True, "stop_reason": "nan", "seconds": 0.5,
        "torch_version": "2", "notice": None,
    }  # fmt: skip
    base.update(kw)
    return NewRangeTest(**base)  # type: ignore[arg-type]


def test_store_refuses_bad_records_and_keeps_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as store:
        with pytest.raises(StoreError, match="differ in length"):
            store.save_range_tests([new_test(), new_test(smoothed=(1.0,))])
        with pytest.raises(StoreError, match="suggestions must be finite JSON"):
            store.save_range_tests([new_test(), new_test(suggestions={"min": math.nan})])
        assert store.list_range_tests() == []
        (rid,) = store.save_range_tests([new_test()], created_at=123.0)
        rec = store.get_range_test(rid)
        assert rec.created_at == 123.0 and rec.seconds == 0.5 and math.isnan(rec.smoothed[1])


def test_a_v2_database_gains_the_range_test_table_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:2]:
        for statement in migration:
            conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    conn.execute(
        "INSERT INTO runs (batch_id, batch_index, label, scheduler, optimizer, lr, dataset, device,"
        " epochs, config, status, reason, started_at, lrtui_version, torch_version, pid, host)"
        " VALUES ('b', 0, 'old', 'StepLR', 'sgd', 0.1, 'mnist', 'cpu', 25, '{}', 'finished', '',"
        " 100.0, '0.1', '2.3', 1, 'h')"
    )
    conn.close()
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 5
        assert [r.label for r in store.list_runs()] == ["old"]
        assert store.list_range_tests() == []
        store.save_range_tests([new_test()])
        assert len(store.list_range_tests()) == 1


def test_curve_to_dict_is_strict_json(data64: DeviceDataset) -> None:
    import json

    sweep = SweepSettings(start=1e-3, end=1e-1, steps=12)
    result = range_test(cfg(SGD), sweep, data=data64)
    text = json.dumps(result.to_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["curves"][0]["lrs"] == list(result.curves[0].lrs)
    assert isinstance(result.curves[0], Curve)
