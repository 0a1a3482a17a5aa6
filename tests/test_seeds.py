"""Seeds and sweeps: pairing across specs, the planned runs and their groups, passes, the store."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from lrtui import runner
from lrtui.cli import build_parser, main
from lrtui.commands import UsageError
from lrtui.commands import run as run_command
from lrtui.data import synthetic, to_device
from lrtui.engine.loop import Pass
from lrtui.engine.models.mlp import init_params
from lrtui.model import RunConfig
from lrtui.schedulers import parse_spec
from lrtui.store import Store


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", *argv])


def _config(spec: str, seed: int, **kw: object) -> RunConfig:
    return RunConfig(dataset="synthetic", device="cpu", epochs=1, seed=seed,
                     scheduler=parse_spec(spec), **kw)  # type: ignore[arg-type]  # fmt: skip


# ------------------------------------------------------------------------------- pairing


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_same_seed_index_shares_initial_weights_and_first_batch_across_specs(model: str) -> None:
    data = to_device(synthetic(64, 16, seed=3), "cpu")
    specs = ("StepLR:step_size=1", "CosineAnnealingLR")
    configs = [_config(spec, seed, model=model) for spec in specs for seed in (5, 6)]
    p = Pass(configs, data, independent_seeds=True)
    weights = [p.model.params(p.internal(i)) for i in range(4)]
    for a, b in ((0, 2), (1, 3)):  # seed 5 in both specs, seed 6 in both
        assert all(torch.equal(x, y) for x, y in zip(weights[a], weights[b], strict=True))
    assert not torch.equal(weights[0][0], weights[1][0])
    if model == "mlp":  # the documented init: torch.manual_seed(seed); MLP(hidden)
        assert torch.equal(weights[1][0], init_params((64, 32), 6)[0])
    order = p.new_order()  # [K, n] in internal order
    first = {i: order[p.internal(i)] for i in range(4)}
    assert torch.equal(first[0], first[2]) and torch.equal(first[1], first[3])
    assert torch.equal(first[0], torch.randperm(64, generator=torch.Generator().manual_seed(5)))
    assert not torch.equal(first[0], first[1])


# ------------------------------------------------------------------------------- planned runs


def test_seeds_cross_specs_in_group_order() -> None:
    configs, groups, _ = run_command.build_runs(
        _args("-s", "StepLR:step_size=2", "-s", "CosineAnnealingLR", "--seeds", "3", "--seed", "7")
    )
    assert [c.seed for c in configs] == [7, 8, 9, 7, 8, 9]
    assert [g.seed_index for g in groups if g] == [0, 1, 2, 0, 1, 2]
    ids = [g.id for g in groups if g]
    assert ids[0] == ids[2] != ids[3] == ids[5] and ids[3].endswith(".2")
    assert [g.label for g in groups if g][::3] == ["StepLR:step_size=2", "CosineAnnealingLR"]
    assert configs[4].label == "CosineAnnealingLR seed=8"


def test_spec_and_setting_sweeps_cross_with_seeds() -> None:
    configs, groups, _ = run_command.build_runs(
        _args("-s", "StepLR:step_size=1,gamma={0.3,0.5,0.9}", "--lr", "{0.03,0.1}", "--seeds", "2")
    )
    assert len(configs) == 12 and len({g.id for g in groups if g}) == 6
    assert [(c.scheduler.params["gamma"], c.lr, c.seed) for c in configs[:4]] == [
        (0.3, 0.03, 0), (0.3, 0.03, 1), (0.3, 0.1, 0), (0.3, 0.1, 1)
    ]
    g = groups[2]
    assert g is not None and g.sweep == (("gamma", "0.3"), ("lr", "0.1"))
    assert g.label == "StepLR:step_size=1,gamma=0.3 lr=0.1"


def test_a_config_file_sweeps_and_seeds(tmp_path: Path) -> None:
    path = tmp_path / "cfg.toml"
    path.write_text('seeds = 2\nlr = "{1e-3..1e-1:log:3}"\n[[run]]\nscheduler = "StepLR"\n'
                    'label = "step"\n')  # fmt: skip
    configs, groups, _ = run_command.build_runs(_args("--config", str(path)))
    assert [c.lr for c in configs] == [1e-3, 1e-3, 0.01, 0.01, 1e-1, 1e-1]
    assert groups[2] is not None and groups[2].label == "step lr=0.01"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lr", "{}"], "lrtui: error: --lr: empty value set {}: list values, e.g. {0.1,0.3}\n"),
        (["--lr", "{1..0.1:log:1}"], "lrtui: error: --lr: a range has 2 to 1000 points (got 1)\n"),
        (["--lr", "{0.1,-1}"], "lrtui: error: --lr: must be > 0 (got -1)\n"),
        (["-s", "StepLR:gamma={0.1..0.9:log}"],
         "lrtui: error: -s gamma: a range is {START..END:N} or {START..END:log:N} with N >= 2 "
         "(got {0.1..0.9:log})\n"),
        (["--seeds", "0"], "lrtui: error: --seeds: must be an integer >= 1 (got 0)\n"),
        (["--seeds", "2", "--independent-seeds"],
         "lrtui: error: --seeds: already gives each run its own seed; drop independent_seeds\n"),
        (["--lr", "{1e-5..1:log:100}", "--seeds", "11"],
         "lrtui: error: runs: 1100 runs planned; at most 1024 per command (specs x swept "
         "settings x seeds: 1 x 100 x 11); sweep fewer values or use fewer seeds\n"),
    ],
)  # fmt: skip
def test_bad_sweeps_and_seeds_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    db = tmp_path / "r.db"
    assert main(["run", "-s", "StepLR", *argv, "--db", str(db)]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", message)
    assert not db.exists()


def test_every_usage_error_of_a_sweep_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"^--batch-size: "):
        run_command.build_runs(_args("-s", "StepLR", "--batch-size", "{8,0}"))


# ------------------------------------------------------------------------------- passes


def test_passes_split_by_what_runs_share_and_by_memory() -> None:
    configs = [_config("StepLR", s, batch_size=b) for b in (16, 32) for s in (0, 1, 2)]
    plans = runner.plan_passes(configs, budget_bytes=10**12)
    assert [p.runs for p in plans] == [(0, 1, 2), (3, 4, 5)]
    assert all(p.independent_seeds for p in plans)
    per_run = runner.run_bytes(configs[0])
    assert per_run == plans[0].bytes_per_run > 0
    small = runner.plan_passes(configs[:3], budget_bytes=2 * per_run)
    assert [p.runs for p in small] == [(0, 1), (2,)]
    shared = runner.plan_passes([_config("StepLR", 0)] * 2, budget_bytes=10**12)
    assert [(p.runs, p.independent_seeds) for p in shared] == [((0, 1), False)]


# ------------------------------------------------------------------------------- stored groups


def test_seeded_runs_are_stored_with_their_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.db"
    code = main(["run", "-s", "StepLR", "-s", "ExponentialLR:gamma={0.5,0.9}", "--seeds", "2",
                 "--dataset", "mnist-sample", "--epochs", "1", "--batch-size", "1000",
                 "--device", "cpu", "--db", str(db), "--json"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert "lrtui: note: 6 runs (3 groups x 2 seeds) in 1 pass\n" in err
    with Store(db) as store:
        runs = sorted(store.list_runs(), key=lambda r: r.id)
        assert [r.seed_index for r in runs] == [0, 1] * 3
        assert [r.group_label for r in runs[::2]] == [
            "StepLR", "ExponentialLR:gamma=0.5", "ExponentialLR:gamma=0.9"
        ]
        assert runs[2].sweep == (("gamma", "0.5"),) and runs[0].sweep == ()
        assert len({r.group_id for r in runs}) == 3 and len({r.batch_id for r in runs}) == 1
        first = [store.epochs(r.id)[0].train_loss for r in runs]
        # same seed, same LR in epoch 0 (every schedule starts at the base LR): same loss
        assert first[0] == first[2] == first[4] and first[1] == first[3] == first[5]
        assert first[0] != first[1]
