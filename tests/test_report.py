"""lrtui.report: the words, rows, files and code that `lrtui runs` and the app share."""

from __future__ import annotations

import errno
import math
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from lrtui import report as R
from lrtui import schedulers as S
from lrtui.model import OptimizerConfig, RunConfig
from lrtui.store import EpochRecord, NewRun, StepsRecord, Store

STEP_CFG = RunConfig(
    hidden=(64, 32),
    optimizer=OptimizerConfig(momentum=0.9, dampening=0.1),
    scheduler=S.parse_spec("StepLR:step_size=10,gamma=0.1"),
)
LAMBDA_CFG = RunConfig(
    hidden=(8,),
    optimizer=OptimizerConfig(name="adamw", betas=(0.8, 0.99), weight_decay=0.01),
    epochs=4,
    scheduler=S.parse_spec("LambdaLR:lr_lambda='0.5 * (1 + cos(epoch))'"),
)


def test_numbers() -> None:
    assert [R.fmt_num(x) for x in (None, 0.5, 2 / 3, math.inf, math.nan)] == [
        "-", "0.5000", "0.6667", "inf", "nan",
    ]  # fmt: skip
    assert R.fmt_num(1.234, 2) == "1.23"
    assert [R.fmt_lr(x) for x in (None, 0.1, 0.0125, 1e-5, 0.123456789)] == [
        "-", "0.1", "0.0125", "1e-05", "0.123457",
    ]  # fmt: skip
    assert [R.fmt_acc(x) for x in (None, 0.8125, 1.0)] == ["-", "81.25%", "100.00%"]
    assert [R.fmt_duration(x) for x in (None, 12.34, 245.0, 3725.4)] == [
        "-", "12.3 s", "4m05s", "1h02m05s",
    ]  # fmt: skip


def test_optimizer_text_names_the_non_default_settings() -> None:
    assert R.optimizer_text(RunConfig().to_dict()) == "sgd lr=0.1"
    assert R.optimizer_text(STEP_CFG.to_dict()) == "sgd lr=0.1 m=0.9"
    nesterov = RunConfig(optimizer=OptimizerConfig(momentum=0.9, nesterov=True, weight_decay=1e-4))
    assert R.optimizer_text(nesterov.to_dict()) == "sgd lr=0.1 m=0.9 nesterov wd=0.0001"
    assert R.optimizer_text(LAMBDA_CFG.to_dict()) == "adamw lr=0.1 betas=(0.8,0.99) wd=0.01"
    assert R.optimizer_text({}) == "? lr=-"  # a config from elsewhere still reads


def _store_run(store: Store) -> int:
    run_id = store.start_run(
        NewRun(
            batch_id="0123456789abcdef", batch_index=1, label="", scheduler="StepLR",
            optimizer="sgd", lr=0.1, dataset="mnist-sample", device="cpu", epochs=3,
            config=STEP_CFG.to_dict(), torch_version="2.x", notice="fell back",
        ),
        started_at=1_700_000_000.0,
    )  # fmt: skip
    store.record_epoch(
        run_id,
        EpochRecord(0, 2.0, math.inf, 0.5, 0.1, 0.9, 1.5, 0.25, 1, 0),
        StepsRecord(0, 0, (0.1, 0.1), (0.9, 0.85)),
        steps_per_epoch=2,
    )
    store.record_epoch(run_id, EpochRecord(1, 1.0, 0.5, 0.75, 0.01, 0.9, 1.25, 0.25, 0, 0))
    store.end_run(run_id, "stopped", "stopped by user", ended_at=1_700_000_065.0)
    return run_id


def test_facts_table_and_rows_of_a_stored_run(tmp_path: Path) -> None:
    with Store(tmp_path / "runs.db") as store:
        run = store.get_run(_store_run(store))
        epochs = store.epochs(run.id)
        steps = store.steps(run.id)
    facts = dict(R.run_facts(run))
    assert list(facts) == [
        "label", "status", "scheduler", "optimizer", "dataset", "device", "epochs", "started",
        "ended", "took", "batch", "versions", "writer",
    ]  # fmt: skip
    assert facts["label"] == "-" and facts["status"] == "stopped (stopped by user)"
    assert facts["dataset"] == "mnist-sample  [fell back]"
    assert facts["epochs"] == "2 of 3 done, 2 steps each"
    assert facts["took"] == "1m05s" and facts["batch"].startswith("0123456789ab (run 1 of")
    assert facts["writer"] == f"pid {os.getpid()} on {run.host}"

    columns, rows = R.epoch_table(epochs)
    assert columns == [*R.EPOCH_COLUMNS, *R.PLATEAU_COLUMNS]
    assert rows == [
        ["1", "0.1", "0.9", "2.0000", "inf", "50.00%", "1.50", "0.2500", "1", "0"],
        ["2", "0.01", "0.9", "1.0000", "0.5000", "75.00%", "1.25", "0.2500", "0", "0"],
    ]
    plain = [EpochRecord(0, 1.0, math.nan, None, 0.1, None, 2.0)]
    assert R.epoch_table(plain) == (
        list(R.EPOCH_COLUMNS),
        [["1", "0.1", "-", "1.0000", "nan", "-", "2.00"]],
    )

    exported = R.epoch_rows(run, epochs)
    assert list(exported[0]) == list(R.EPOCH_FIELDS)
    # inf: no number in strict JSON, an empty CSV cell
    assert exported[0] == {
        "run_id": run.id, "label": "", "epoch": 1, "lr": 0.1, "momentum": 0.9, "train_loss": 2.0,
        "valid_loss": None, "valid_acc": 0.5, "seconds": 1.5,
    }  # fmt: skip
    assert R.to_csv(exported, R.EPOCH_FIELDS) == (
        "run_id,label,epoch,lr,momentum,train_loss,valid_loss,valid_acc,seconds\n"
        f"{run.id},,1,0.1,0.9,2.0,,0.5,1.5\n"
        f"{run.id},,2,0.01,0.9,1.0,0.5,0.75,1.25\n"
    )
    assert R.step_rows(run.id, steps) == [
        {"run_id": run.id, "epoch": 1, "step": 1, "lr": 0.1, "momentum": 0.9},
        {"run_id": run.id, "epoch": 1, "step": 2, "lr": 0.1, "momentum": 0.85},
    ]
    assert R.to_json(R.step_rows(run.id, steps)[:1]) == (
        f'[\n {{\n  "run_id": {run.id},\n  "epoch": 1,\n  "step": 1,\n  "lr": 0.1,\n'
        '  "momentum": 0.9\n }\n]\n'
    )


def test_epoch_dict_keeps_every_field_and_nulls_non_finite_numbers(tmp_path: Path) -> None:
    with Store(tmp_path / "runs.db") as store:
        run = store.get_run(_store_run(store))
    e = EpochRecord(3, math.inf, math.nan, 0.5, 0.1, None, 1.0)
    assert R.epoch_dict(run, e) == {
        "run_id": run.id, "label": "", "epoch": 4, "train_loss": None, "valid_loss": None,
        "valid_acc": 0.5, "lr": 0.1, "momentum": None, "seconds": 1.0, "plateau_best": None,
        "plateau_num_bad_epochs": None, "plateau_cooldown_counter": None,
    }  # fmt: skip


def test_flat_config_keeps_the_scheduler_whole() -> None:
    flat = R.flat_config(STEP_CFG.to_dict())
    assert list(flat) == sorted(flat)
    assert flat["optimizer.momentum"] == 0.9 and flat["optimizer.dampening"] == 0.1
    assert flat["scheduler"] == STEP_CFG.scheduler.to_dict()
    assert "optimizer" not in flat and flat["hidden"] == [64, 32]


# -- write_file ----------------------------------------------------------------------------------


def test_write_file_replaces_keeping_the_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    R.write_file(target, "a,b\n")
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_text() == "a,b\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    target.chmod(0o640)
    R.write_file(target, "new\r\n")  # written as given: no newline translation
    assert target.read_bytes() == b"new\r\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_write_file_errors_name_the_folder_or_the_file(tmp_path: Path) -> None:
    with pytest.raises(OSError) as info:
        R.write_file(tmp_path / "missing" / "x.csv", "x")
    assert info.value.filename == str(tmp_path / "missing")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "child").write_text("")  # os.replace cannot put a file over a folder
    with pytest.raises(OSError) as info:
        R.write_file(busy, "x")
    assert info.value.filename == str(busy)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]  # the temp file is gone


def _char_device(path: Path, minor: int) -> Path:
    """Our own node with the numbers of /dev/null (1, 3) or /dev/full (1, 7), in a temp folder."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
        os.close(os.open(path, os.O_WRONLY))
    except OSError as exc:  # not root, or a nodev mount
        pytest.skip(f"cannot make or open a device node here: {exc}")
    return path


def test_write_file_writes_through_a_character_device(tmp_path: Path) -> None:
    null = _char_device(tmp_path / "null", 3)
    assert R.write_file(null, "a,b\n") == null
    assert stat.S_ISCHR(null.stat().st_mode)  # still the device, not a plain file
    assert null.stat().st_rdev == os.makedev(1, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]  # no temp file left


def test_write_file_reports_a_full_device(tmp_path: Path) -> None:
    full = _char_device(tmp_path / "full", 7)
    with pytest.raises(OSError) as info:
        R.write_file(full, "x" * 10)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(full)
    assert stat.S_ISCHR(full.stat().st_mode)


def test_write_file_writes_through_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def read() -> None:
        with fifo.open("rb") as fh:
            got.append(fh.read())

    reader = threading.Thread(target=read)
    reader.start()
    R.write_file(fifo, "one\ntwo\n")
    reader.join(10)
    assert got == [b"one\ntwo\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    # Without a reader: at once an error, or (the default) waiting as `> fifo` does.
    with pytest.raises(OSError, match="no program is reading") as info:
        R.write_file(fifo, "x", wait_for_reader=False)
    assert info.value.filename == str(fifo)


def test_write_file_follows_a_symlink_and_replaces_its_target(tmp_path: Path) -> None:
    real = tmp_path / "data" / "real.csv"
    real.parent.mkdir()
    real.write_text("old")
    real.chmod(0o600)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert R.write_file(link, "new") == real
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new" and stat.S_IMODE(real.stat().st_mode) == 0o600
    assert sorted(p.name for p in real.parent.iterdir()) == ["real.csv"]
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "data" / "new.csv")
    R.write_file(dangling, "made")
    assert dangling.is_symlink() and (tmp_path / "data" / "new.csv").read_text() == "made"


def test_write_file_keeps_hard_links(tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text("old")
    second = tmp_path / "b.csv"
    os.link(first, second)
    R.write_file(first, "new")
    assert second.read_text() == "new" and first.stat().st_ino == second.stat().st_ino


def test_write_file_refuses_a_block_device(tmp_path: Path) -> None:
    node = tmp_path / "disk"
    try:
        os.mknod(node, stat.S_IFBLK | 0o600, os.makedev(7, 250))  # never opened
    except OSError as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    with pytest.raises(OSError, match="block device") as info:
        R.write_file(node, "x")
    assert info.value.filename == str(node) and stat.S_ISBLK(node.stat().st_mode)


# -- code ----------------------------------------------------------------------------------------


def test_model_layers_and_optimizer_code() -> None:
    assert R.model_layers((64, 32)) == [
        "nn.Flatten()", "nn.Linear(784, 64)", "nn.ReLU()", "nn.Linear(64, 32)", "nn.ReLU()",
        "nn.Linear(32, 10)",
    ]  # fmt: skip
    assert R.model_layers(()) == ["nn.Flatten()", "nn.Linear(784, 10)"]
    assert R.optimizer_code(STEP_CFG) == (
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, dampening=0.1, "
        "weight_decay=0.0, nesterov=False)"
    )
    assert R.optimizer_code(LAMBDA_CFG) == (
        "optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, betas=(0.8, 0.99), eps=1e-08, "
        "weight_decay=0.01)"
    )


def test_pytorch_code_block_layout_exactly() -> None:
    assert R.pytorch_code(STEP_CFG, 1875) == (
        "import torch\n"
        "from torch import nn\n"
        "from torch.optim.lr_scheduler import StepLR\n"
        "\n"
        "model = nn.Sequential(\n"
        "    nn.Flatten(),\n"
        "    nn.Linear(784, 64), nn.ReLU(),\n"
        "    nn.Linear(64, 32), nn.ReLU(),\n"
        "    nn.Linear(32, 10),\n"
        ")\n"
        "optimizer = torch.optim.SGD(\n"
        "    model.parameters(), lr=0.1, momentum=0.9, dampening=0.1,\n"
        "    weight_decay=0.0, nesterov=False,\n"
        ")\n"
        "# resolved for 25 epochs x 1875 steps per epoch, stepped per epoch\n"
        "scheduler = StepLR(optimizer, step_size=10, gamma=0.1)\n"
        "# once per epoch, after that epoch's optimizer.step() calls:\n"
        "# scheduler.step()\n"
    )
    unknown = R.pytorch_code(STEP_CFG, None)
    assert "# steps per epoch unknown (no epoch finished): 1 assumed below\n" in unknown
    assert "25 epochs x 1 step per epoch" in unknown


def test_pytorch_code_compact_layout_exactly() -> None:
    assert R.pytorch_code(LAMBDA_CFG, 3, compact=True) == (
        "import torch\n"
        "from torch import nn\n"
        "import math\n"
        "from torch.optim.lr_scheduler import LambdaLR\n"
        "\n"
        "model = nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.ReLU(), nn.Linear(8, 10))\n"
        "optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, betas=(0.8, 0.99), "
        "eps=1e-08, weight_decay=0.01)\n"
        "\n"
        "# resolved for 4 epochs x 3 steps per epoch, stepped per epoch\n"
        "scheduler = LambdaLR(optimizer, lr_lambda=lambda epoch: 0.5 * (1 + math.cos(epoch)))\n"
        "# once per epoch, after that epoch's optimizer.step() calls:\n"
        "# scheduler.step()\n"
    )
    # The block layout sorts the imports (plain imports first).
    assert R.pytorch_code(LAMBDA_CFG, 3).splitlines()[:4] == [
        "import math", "import torch", "from torch import nn",
        "from torch.optim.lr_scheduler import LambdaLR",
    ]  # fmt: skip


def test_scheduler_code_splits_imports_and_a_given_part_replaces_it() -> None:
    code = R.scheduler_code(STEP_CFG, 10)
    assert code.imports == ("from torch.optim.lr_scheduler import StepLR",)
    assert code.body[0] == "# resolved for 25 epochs x 10 steps per epoch, stepped per epoch"
    bad = RunConfig(scheduler=S.SchedulerSpec("StepLR", {"step_size": 0}))
    with pytest.raises(S.SpecError):
        R.pytorch_code(bad, 10)
    note = R.SchedulerCode((), ("# no scheduler",))
    assert R.pytorch_code(bad, 10, compact=True, scheduler=note).endswith(
        "weight_decay=0.0, nesterov=False)\n\n# no scheduler\n"
    )


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("cfg", [STEP_CFG, LAMBDA_CFG], ids=["sgd-step", "adamw-lambda"])
def test_both_layouts_run_and_build_what_the_run_trained_with(
    cfg: RunConfig, compact: bool
) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(R.pytorch_code(cfg, 5, compact=compact), "<snippet>", "exec"), namespace)
    model, optimizer, scheduler = (namespace[k] for k in ("model", "optimizer", "scheduler"))
    widths = [m.out_features for m in model if isinstance(m, torch.nn.Linear)]
    assert widths == [*cfg.hidden, 10]
    group = optimizer.param_groups[0]
    opt = cfg.optimizer
    assert group["weight_decay"] == opt.weight_decay
    if opt.name == "sgd":
        assert (group["momentum"], group["dampening"]) == (opt.momentum, opt.dampening)
    else:
        assert type(optimizer) is torch.optim.AdamW and group["betas"] == opt.betas
    assert type(scheduler).__name__ == cfg.scheduler.name
