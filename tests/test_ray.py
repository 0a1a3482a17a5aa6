"""Sweeps on a real local Ray (2 CPUs, started once for the module): the same numbers as a local
run, events recorded while the tasks train, and the faults (a killed worker, a dataset a worker
cannot load, Ctrl+C, the cluster lost) each ending the runs with a row and a reason."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="needs the `ray` extra: pip install 'lrtui[ray]'")

from idx import write_dataset  # noqa: E402

from lrtui import runner  # noqa: E402
from lrtui.distributed import (  # noqa: E402
    ClusterLostError,
    PassPlaced,
    RaySweep,
    connect,
    disconnect,
    train_passes,
)
from lrtui.engine import Control, EpochEnd, Event, RunEnded  # noqa: E402
from lrtui.model import RunConfig  # noqa: E402
from lrtui.schedulers import parse_spec  # noqa: E402
from lrtui.store import RunRecord, Store  # noqa: E402

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def local_ray() -> Iterator[str]:
    """One local Ray for the module, always shut down (no Ray process outlives the tests)."""
    line = connect("local", num_cpus=2)
    try:
        yield line
    finally:
        disconnect()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Real IDX files (64 training, 16 validation images) on storage every worker sees."""
    root = tmp_path_factory.mktemp("idx")
    write_dataset(root, n_train=64, n_valid=16)
    return str(root)


def config(spec: str, epochs: int = 3, **kw: Any) -> RunConfig:
    return RunConfig(dataset="mnist", device="cpu", epochs=epochs, batch_size=16,
                     scheduler=parse_spec(spec), label=spec, **kw)  # fmt: skip


def in_sweep_order(store: Store) -> list[RunRecord]:
    """The stored runs by their place in the sweep (passes start in any order)."""
    return sorted(store.list_runs(), key=lambda r: r.batch_index)


def ignore(event: Event, run_id: int | None) -> None:
    pass


def test_a_sweep_on_ray_stores_the_numbers_of_the_same_runs_trained_here(
    local_ray: str, data_dir: str, tmp_path: Path
) -> None:
    assert local_ray == "a local Ray: 1 node, 2 CPUs, 0 GPUs"
    passes = [[config("StepLR:step_size=1,gamma=0.5"), config("ConstantLR")],
              [config("CosineAnnealingLR")]]  # fmt: skip
    placed: list[PassPlaced] = []
    with Store(tmp_path / "ray.db") as store:
        ended = train_passes(passes, store, ignore, data_dir=data_dir, on_placed=placed.append)
        on_ray = [(r, store.epochs(r.id), store.steps(r.id)) for r in in_sweep_order(store)]
    with Store(tmp_path / "here.db") as store:
        for configs in passes:
            runner.train(runner.prepare(configs, data_dir=data_dir), store, ignore)
        here = [(r, store.epochs(r.id), store.steps(r.id)) for r in store.list_runs()]
    assert [(e.run, e.status, e.reason, e.epochs_done) for e in ended] == [
        (0, "finished", "3 epochs", 3), (1, "finished", "3 epochs", 3),
        (2, "finished", "3 epochs", 3),
    ]  # fmt: skip
    assert sorted(p.index for p in placed) == [0, 1]
    assert {p.pid for p in placed}.isdisjoint({os.getpid()})
    assert [r.batch_index for r, _, _ in on_ray] == [0, 1, 2]
    assert len({r.batch_id for r, _, _ in on_ray}) == 1  # one sweep, one batch
    for (ray_run, ray_epochs, ray_steps), (run, epochs, steps) in zip(on_ray, here, strict=True):
        assert ray_run.device == f"cpu (ray node {placed[0].node})" and run.device == "cpu"
        assert (ray_run.label, ray_run.status, ray_run.config) == (run.label, run.status,
                                                                   run.config)  # fmt: skip
        assert [(e.train_loss, e.valid_loss, e.valid_acc, e.lr) for e in ray_epochs] == [
            (e.train_loss, e.valid_loss, e.valid_acc, e.lr) for e in epochs
        ]
        assert [(s.first_step, s.lr) for s in ray_steps] == [(s.first_step, s.lr) for s in steps]
    assert [e.lr for e in on_ray[0][1]] == [0.1, 0.05, 0.025]


def test_events_are_recorded_while_the_task_trains_and_a_stop_cancels_it(
    local_ray: str, data_dir: str, tmp_path: Path
) -> None:
    sweep = RaySweep([[config("StepLR", epochs=2000), config("ConstantLR", epochs=2000)]],
                     data_dir=data_dir)  # fmt: skip
    control = Control()
    seen: list[tuple[bool, int]] = []  # (task still running, epochs stored) at the first epoch
    with Store(tmp_path / "r.db") as store:

        def on_event(event: Event, run_id: int | None) -> None:
            if isinstance(event, EpochEnd) and not seen:
                ready, _ = ray.wait(sweep.tasks, timeout=0)
                assert run_id is not None
                seen.append((not ready, len(store.epochs(run_id))))
                control.stop()

        ended = sweep.run(store, on_event, control)
        runs = in_sweep_order(store)
    assert seen == [(True, 1)]  # on disk, and shown, while its task still trained
    assert [e.status for e in ended] == ["stopped", "stopped"]
    done = ended[0].epochs_done
    assert 1 <= done < 2000
    assert ended[0].reason == f"stopped by user during epoch {done + 1} of 2000"
    assert [(r.status, r.reason, r.epochs_done) for r in runs] == [
        ("stopped", e.reason, e.epochs_done) for e in ended
    ]


def test_a_killed_worker_fails_its_runs_and_the_other_pass_finishes(
    local_ray: str, data_dir: str, tmp_path: Path
) -> None:
    passes = [[config("StepLR", epochs=40)], [config("ConstantLR", epochs=5000),
                                              config("ExponentialLR", epochs=5000)]]  # fmt: skip
    pids: dict[int, int] = {}
    killed: list[int] = []

    def on_placed(placed: PassPlaced) -> None:
        pids[placed.index] = placed.pid

    def on_event(event: Event, run_id: int | None) -> None:
        if isinstance(event, EpochEnd) and event.run == 1 and not killed:
            os.kill(pids[1], signal.SIGKILL)
            killed.append(event.epoch)

    with Store(tmp_path / "r.db") as store:
        ended = train_passes(passes, store, on_event, data_dir=data_dir, on_placed=on_placed)
        runs = in_sweep_order(store)
        kept = [len(store.epochs(r.id)) for r in runs]
    assert [(e.run, e.status) for e in ended] == [(0, "finished"), (1, "failed"), (2, "failed")]
    assert ended[0].epochs_done == 40
    assert ended[1].reason.startswith("the Ray worker died: ")
    assert ended[1].reason == ended[2].reason and "\n" not in ended[1].reason
    assert [(r.status, r.reason) for r in runs] == [(e.status, e.reason) for e in ended]
    assert kept[0] == 40 and kept[1] == ended[1].epochs_done >= 1  # what it sent is kept


def test_a_worker_that_cannot_load_the_dataset_fails_its_runs_with_the_reason(
    local_ray: str, tmp_path: Path
) -> None:
    missing = str(tmp_path / "not-here")
    with Store(tmp_path / "r.db") as store:
        ended = train_passes([[config("StepLR")]], store, ignore, data_dir=missing,
                             steps_per_epoch=[4])  # fmt: skip
        [run] = store.list_runs()
    assert ended == [RunEnded(0, "failed", ended[0].reason, 0)]
    assert ended[0].reason.startswith("on its Ray worker: RunInputError: ")
    assert missing in ended[0].reason
    assert (run.status, run.reason, run.epochs_done) == ("failed", ended[0].reason, 0)
    assert run.scheduler == "StepLR:step_size=10"  # a row for the run all the same


def test_losing_the_cluster_keeps_what_was_recorded_and_says_so(
    local_ray: str, data_dir: str, tmp_path: Path
) -> None:
    sweep = RaySweep([[config("StepLR", epochs=5000)]], data_dir=data_dir)
    with Store(tmp_path / "r.db") as store:

        def on_event(event: Event, run_id: int | None) -> None:
            if isinstance(event, EpochEnd) and event.epoch == 0:
                ray.kill(sweep.queue.actor)  # the driver's end of the stream is gone

        with pytest.raises(ClusterLostError, match=r"^lost the Ray cluster: "):
            sweep.run(store, on_event)
        [run] = store.list_runs()
        assert run.status == "interrupted" and run.reason.startswith("lost the Ray cluster: ")
        assert len(store.epochs(run.id)) >= 1
    ray.wait(sweep.tasks, num_returns=1, timeout=30)  # its cancelled task is gone
