"""The app's non-widget parts: form parsing and validation, chart data, downsampling, details."""

from __future__ import annotations

import math
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from lrtui import schedulers as S
from lrtui.app.chartdata import build_charts
from lrtui.app.form import (
    FormValues,
    evaluate,
    field_of,
    steps_per_epoch,
    tutorial_configs,
    values_from_config,
)
from lrtui.app.plotting import PALETTE, color_for, downsample, fmt_duration, log_ticks, to_log10
from lrtui.app.report import epochs_csv, export_run, pytorch_code, run_details
from lrtui.model import OptimizerConfig, RunConfig
from lrtui.report import EPOCH_FIELDS
from lrtui.session import PreviewCurve, RunTrace
from lrtui.store import EpochRecord, NewRun, Store


def test_the_default_form_is_the_tutorials_run() -> None:
    r = evaluate(FormValues(dataset="mnist-sample"))
    assert r.ok and r.errors == {}
    assert r.config == RunConfig(dataset="mnist-sample", scheduler=S.SchedulerSpec("StepLR"))
    assert r.steps_per_epoch == 125  # ceil(4000 / 32)
    assert evaluate(FormValues(dataset="mnist")).steps_per_epoch == 1875  # ceil(60000 / 32)
    assert evaluate(FormValues(dataset="kmnist", batch_size="100")).steps_per_epoch == 600


@pytest.mark.parametrize(
    ("n", "batch", "steps"), [(60000, 32, 1875), (4000, 32, 125), (4000, 3, 1334), (7, 8, 1)])
def test_steps_per_epoch_counts_the_short_last_batch(n: int, batch: int, steps: int) -> None:
    assert steps_per_epoch(n, batch) == steps


def test_every_field_reports_its_own_error_at_once() -> None:
    r = evaluate(FormValues(lr="-1", momentum="2", hidden="64,a", seed="-2",
                            params={"step_size": "0", "gamma": "0.1"}))
    assert not r.ok and r.config is None
    assert r.errors == {
        "hidden": "must be an integer >= 1 (got a in 64,a)",
        "lr": "must be > 0 (got -1)",
        "seed": "must be an integer >= 0 (got -2)",
        "optimizer.momentum": "must be in [0, 1) (got 2)",
        "param:step_size": "must be an integer >= 1 (got 0)",
    }
    assert r.first_error() == "hidden: must be an integer >= 1 (got a in 64,a)"
    # The schedule is judged against the run's length only once the length is readable.
    r = evaluate(FormValues(epochs="x", params={"step_size": "0"}))
    assert r.errors == {"epochs": "must be an integer >= 1 (got x)"}


def test_optimizer_fields_follow_the_optimizer() -> None:
    r = evaluate(FormValues(optimizer="adam", beta1="1.5", eps="0"))
    assert r.errors == {"optimizer.beta1": "must be in [0, 1) (got 1.5)",
                        "optimizer.eps": "must be > 0 (got 0)"}
    r = evaluate(FormValues(optimizer="sgd", momentum="0.9", nesterov=True, weight_decay="5e-4",
                            beta1="nonsense"))  # Adam fields are ignored for SGD
    assert r.ok and r.config is not None
    assert r.config.optimizer == OptimizerConfig(name="sgd", momentum=0.9, nesterov=True,
                                                 weight_decay=5e-4)
    r = evaluate(FormValues(nesterov=True))
    assert r.errors["optimizer.nesterov"].startswith("needs momentum > 0")


def test_scheduler_params_are_typed_and_only_changes_enter_the_spec() -> None:
    r = evaluate(FormValues(scheduler="MultiStepLR",
                            params={"milestones": "[10, 30]", "gamma": "0.5"}))
    assert r.spec == S.SchedulerSpec("MultiStepLR", {"gamma": 0.5})  # milestones = default
    r = evaluate(FormValues(scheduler="MultiStepLR", params={"milestones": "5, 8"}))
    assert r.spec == S.SchedulerSpec("MultiStepLR", {"milestones": [5, 8]})
    r = evaluate(FormValues(scheduler="MultiStepLR", params={"milestones": "5, x"}))
    assert r.errors == {"param:milestones": "must be a list of integers like 10, 30 (got 5, x)"}
    r = evaluate(FormValues(scheduler="LambdaLR", params={"lr_lambda": "0.9 ** epoch"}))
    assert r.ok and r.spec == S.SchedulerSpec("LambdaLR", {"lr_lambda": "0.9 ** epoch"})
    r = evaluate(FormValues(scheduler="LambdaLR", params={"lr_lambda": "__import__('os')"}))
    assert set(r.errors) == {"param:lr_lambda"}
    r = evaluate(FormValues(scheduler="CosineAnnealingLR", params={"T_max": ""}))
    assert r.ok and r.spec == S.SchedulerSpec("CosineAnnealingLR")  # empty: derived (auto)


def test_warmup_wraps_the_scheduler_into_a_sequence() -> None:
    r = evaluate(FormValues(scheduler="CosineAnnealingLR", warmup="3", warmup_start="0.1"))
    assert r.ok and r.spec is not None
    assert S.format_spec(r.spec) == (
        "LinearLR:start_factor=0.1,total_iters=3 -> @3 CosineAnnealingLR")
    r = evaluate(FormValues(warmup="-1"))
    assert r.errors == {"warmup": "must be an integer >= 0 (got -1)"}
    r = evaluate(FormValues(epochs="5", warmup="5"))
    assert r.errors == {"warmup": "must be shorter than the run (5 epochs), leaving the schedule"
                                  " at least one (got 5)"}


def test_a_warmup_before_a_per_step_schedule_is_stepped_per_step() -> None:
    """SequentialLR's members share one interval: the ramp takes the schedule's, in optimizer
    steps (mnist-sample, batch 32: 4000 / 32 = 125 steps per epoch), and clones back to epochs."""
    torch = pytest.importorskip("torch")
    from torch.optim import lr_scheduler as m

    r = evaluate(FormValues(dataset="mnist-sample", epochs="5", scheduler="CosineAnnealingLR",
                            interval="step", warmup="2", warmup_start="0.1"))
    assert r.ok and r.spec is not None and r.config is not None
    assert S.format_spec(r.spec) == ("LinearLR:interval=step,start_factor=0.1,total_iters=250"
                                     " -> @250 CosineAnnealingLR:interval=step")
    # The plain loop: scheduler.step() after every optimizer.step(), cosine over the rest.
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = m.SequentialLR(opt, [m.LinearLR(opt, start_factor=0.1, total_iters=250),
                                 m.CosineAnnealingLR(opt, T_max=375)], milestones=[250])
    expected = []
    for _ in range(625):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    got = S.preview(r.spec, epochs=5, steps_per_epoch=125).lr_per_step
    assert got == expected
    back = values_from_config(r.config)
    assert (back.warmup, back.warmup_start, back.scheduler, back.interval) == (
        "2", "0.1", "CosineAnnealingLR", "step")
    assert evaluate(back).config == r.config
    # OneCycleLR and a recipe step per step by nature; a recipe's own warm-up is pointed out.
    r = evaluate(FormValues(dataset="mnist-sample", scheduler="OneCycleLR", warmup="3",
                            params={"cycle_momentum": False}))
    assert r.ok and r.spec is not None and S.format_spec(r.spec) == (
        "LinearLR:interval=step,start_factor=0.1,total_iters=375"
        " -> @375 OneCycleLR:cycle_momentum=false")
    r = evaluate(FormValues(dataset="mnist-sample", scheduler="WarmupCosine", warmup="1",
                            params={"warmup_steps": "10"}))
    assert r.ok and r.warnings["warmup"] == ("WarmupCosine has a warm-up of its own (warmup_steps,"
                                             " warmup_ratio): this one runs before it")
    # A ramp that is not whole epochs at this batch size is not the form's: it clones as a spec.
    odd = replace(r.config, scheduler=S.parse_spec(
        "LinearLR:interval=step,total_iters=100 -> @100 CosineAnnealingLR:interval=step"))
    back = values_from_config(odd)
    assert back.scheduler == "SequentialLR" and back.warmup == "0"
    assert evaluate(back).config == odd


def test_warnings_do_not_block_a_run() -> None:
    r = evaluate(FormValues(scheduler="CosineAnnealingLR", params={"T_max": "100"}))
    assert r.ok
    assert r.warnings == {
        "param:T_max": "100 is longer than the run (25 epochs): the LR never reaches eta_min"}


def test_composites_take_a_spec_text() -> None:
    r = evaluate(FormValues(scheduler="ChainedScheduler",
                            spec_text="ConstantLR:factor=0.5,total_iters=2 + ExponentialLR"))
    assert r.ok and r.spec is not None and r.spec.name == "ChainedScheduler"
    r = evaluate(FormValues(scheduler="SequentialLR", spec_text="StepLR -> "))
    assert list(r.errors) == ["spec"]


@pytest.mark.parametrize(("key", "field"), [
    ("StepLR.step_size", "param:step_size"),
    ("optimizer.betas[1]", "optimizer.beta2"),
    ("lr", "lr"),
    ("SequentialLR[1].StepLR.gamma", "param:gamma"),
    ("SequentialLR[0].LinearLR.start_factor", "warmup_start"),
    ("SequentialLR.schedulers", "warmup"),
])
def test_core_error_keys_land_on_form_fields(key: str, field: str) -> None:
    assert field_of(key, "StepLR", warmup=key.startswith("SequentialLR")) == field


def test_clone_round_trips_a_config_through_the_form() -> None:
    for spec in ["StepLR:step_size=3,gamma=0.5", "OneCycleLR:max_lr=0.3,cycle_momentum=false",
                 "LinearLR:start_factor=0.2,total_iters=4 -> @4 ExponentialLR:gamma=0.8",
                 "ConstantLR:factor=0.5,total_iters=2 + ExponentialLR:gamma=0.9"]:
        config = RunConfig(dataset="mnist-sample", hidden=(32,), lr=0.05, epochs=7, seed=3,
                           optimizer=OptimizerConfig(name="adamw", betas=(0.8, 0.99)),
                           scheduler=S.parse_spec(spec), label="x")
        back = evaluate(values_from_config(config))
        assert back.ok, back.errors
        assert back.config is not None
        assert back.config.scheduler == S.parse_spec(spec)
        assert back.config.to_dict() == config.to_dict()


def test_tutorial_configs_are_the_four_schedulers() -> None:
    configs = tutorial_configs("mnist", epochs=25)
    assert [str(c.scheduler) for c in configs] == [
        "StepLR:step_size=10,gamma=0.1", "MultiStepLR:milestones=[10,30],gamma=0.1",
        "ExponentialLR:gamma=0.1", "ReduceLROnPlateau:mode=min,patience=5"]
    assert {(c.lr, c.batch_size, c.epochs, c.hidden) for c in configs} == {(0.1, 32, 25, (64, 32))}


def test_downsample_keeps_extremes_and_never_averages() -> None:
    xs = [float(i) for i in range(10_000)]
    ys = [0.1 if i < 5000 else 0.01 for i in range(10_000)]
    ys[1234] = 7.0  # a spike
    dx, dy = downsample(xs, ys, 90)
    assert len(dx) <= 100 and set(dy) <= set(ys)
    assert max(dy) == 7.0 and min(dy) == 0.01 and dx[-1] == 9999.0
    assert dx == sorted(dx)
    assert downsample([1.0, 2.0], [3.0, 4.0], 100) == ([1.0, 2.0], [3.0, 4.0])


def test_log_scale_helpers() -> None:
    xs, ys, dropped = to_log10([0, 1, 2], [0.1, 0.0, 0.001])
    assert (xs, dropped) == ([0, 2], 1) and ys == pytest.approx([-1.0, -3.0])
    ticks, labels = log_ticks(-3.0, -1.0)
    assert ticks == [-3.0, -2.0, -1.0] and labels == ["1e-03", "1e-02", "1e-01"]
    assert fmt_duration(3725) == "1:02:05" and fmt_duration(65) == "1:05"
    assert fmt_duration(math.nan) == "--:--"


def test_a_run_keeps_its_colour() -> None:
    assert color_for(3) == color_for(3 + len(PALETTE)) == PALETTE[3]


def test_charts_show_the_preview_and_shown_runs_only() -> None:
    a = RunTrace(key=1, label="", scheduler="StepLR", dataset="d", epochs_planned=2,
                 steps_per_epoch=2)
    a.add_steps(0, [0.1, 0.1], None)
    a.add_steps(2, [0.01, 0.01], None)
    a.epochs = [EpochRecord(0, 1.0, 0.9, 0.5, 0.1, None, 1.0),
                EpochRecord(1, 0.8, 0.7, 0.6, 0.01, None, 1.0)]
    b = RunTrace(key=2, label="b", scheduler="StepLR", dataset="d", epochs_planned=2, shown=False)
    preview = PreviewCurve("StepLR", 2, [0.1, 0.1, 0.01, 0.01], None)
    charts = build_charts([a, b], preview)
    assert [s.label for s in charts.lr.series] == ["preview StepLR", "#1 StepLR"]
    assert list(charts.lr.series[1].xs) == [0.0, 0.5, 1.0, 1.5]
    assert [list(s.ys) for s in charts.loss.series] == [[1.0, 0.8], [0.9, 0.7]]
    assert [list(s.xs) for s in charts.acc.series] == [[1.0, 2.0]]
    assert [list(s.ys) for s in charts.acc.series] == [[50.0, 60.0]]
    assert charts.aux_title == "momentum / beta1" and charts.aux.series == ()
    plateau = PreviewCurve("ReduceLROnPlateau", 2, [0.1] * 4, None, plateau=True)
    assert build_charts([], plateau).aux_title == "plateau: epochs without improvement"


def _stored(store: Store) -> int:
    config = RunConfig(dataset="mnist-sample", epochs=2,
                       scheduler=S.parse_spec("StepLR:step_size=1,gamma=0.5"), label="lbl")
    run_id = store.start_run(NewRun(
        batch_id="b", batch_index=0, label="lbl", scheduler=str(config.scheduler),
        optimizer="sgd", lr=0.1, dataset="mnist-sample", device="cpu", epochs=2,
        config=config.to_dict(), torch_version="x"))
    for e, (loss, acc) in enumerate([(0.5, 0.81), (0.25, 0.9)]):
        store.record_epoch(run_id, EpochRecord(e, loss * 2, loss, acc, 0.1 * 0.5**e, None, 1.5))
    store.end_run(run_id, "finished", "2 epochs")
    return run_id


def test_details_and_export_read_the_store(tmp_path: Path) -> None:
    with Store(tmp_path / "runs.db") as store:
        run_id = _stored(store)
        d = run_details(store, run_id)
        assert d.title == f"Run {run_id}: lbl"
        # epochs numbered from 1 (lrtui.numbering)
        assert d.epoch_rows == (("1", "0.1", "-", "1.0000", "0.5000", "81.00%", "1.50"),
                                ("2", "0.05", "-", "0.5000", "0.2500", "90.00%", "1.50"))
        assert "StepLR(optimizer, step_size=1, gamma=0.5)" in d.code
        where, n = export_run(store, run_id, str(tmp_path / "e.csv"))
        assert (where, n) == ((tmp_path / "e.csv").resolve(), 2)
        lines = (tmp_path / "e.csv").read_text().splitlines()
        assert lines[0] == ",".join(EPOCH_FIELDS)
        assert lines[1] == f"{run_id},lbl,1,0.1,,1.0,0.5,0.81,1.5"
        assert epochs_csv(store.get_run(run_id), store.epochs(run_id)).splitlines() == lines
        with pytest.raises(ValueError, match="does not exist"):
            export_run(store, run_id, str(tmp_path / "nope" / "e.csv"))


def test_export_writes_through_devices_and_never_waits_for_a_fifo(tmp_path: Path) -> None:
    with Store(tmp_path / "runs.db") as store:
        run_id = _stored(store)
        null = tmp_path / "null"  # our own node with /dev/null's numbers
        try:
            os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
            os.close(os.open(null, os.O_WRONLY))
        except OSError as exc:
            pytest.skip(f"cannot make or open a device node here: {exc}")
        assert export_run(store, run_id, str(null)) == (null, 2)
        assert stat.S_ISCHR(null.stat().st_mode)
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        with pytest.raises(OSError, match="no program is reading this FIFO"):
            export_run(store, run_id, str(fifo))  # at once: the UI thread must never block
        assert stat.S_ISFIFO(fifo.stat().st_mode)
        with pytest.raises(ValueError, match=r"is the run database runs\.db; give another file"):
            export_run(store, run_id, str(tmp_path / "runs.db"))
        assert store.get_run(run_id).label == "lbl"


def test_code_snippet_builds_the_model_optimizer_and_scheduler() -> None:
    cfg = RunConfig(hidden=(64, 32), optimizer=OptimizerConfig(name="adam"),
                    scheduler=S.parse_spec("OneCycleLR:max_lr=0.2"))
    code = pytorch_code(cfg, 1875)
    namespace: dict[str, object] = {}
    exec(compile(code, "<snippet>", "exec"), namespace)  # the snippet is real, runnable PyTorch
    sched = namespace["scheduler"]
    assert type(sched).__name__ == "OneCycleLR" and sched.total_steps == 25 * 1875  # type: ignore[attr-defined]


def test_the_preview_legend_names_a_composite_by_its_members() -> None:
    """A warm-up made the legend read 'preview LinearLR', the ramp alone."""
    from lrtui.session import Previews

    r = evaluate(FormValues(dataset="mnist-sample", epochs="4", scheduler="StepLR", warmup="1",
                            params={"step_size": "2"}))
    assert r.ok and r.config is not None and r.steps_per_epoch == 125
    curve = Previews.compute(r.config, 125, {}, lambda: False)
    assert curve is not None and curve.label == "LinearLR 1 → StepLR 2/0.1"
    plain = evaluate(FormValues(dataset="mnist-sample", epochs="4", scheduler="StepLR",
                                params={"step_size": ""}))
    assert plain.config is not None
    curve = Previews.compute(plain.config, 125, plain.defaults, lambda: False)
    assert curve is not None and curve.label == "StepLR (default step_size 10)"
