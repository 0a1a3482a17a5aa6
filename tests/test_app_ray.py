"""The app trains on Ray when the form's device says `ray:local` / `ray:auto` (a real local Ray,
started by the app itself for the training and shut down after it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from test_app_support import settle, wait_for

from lrtui.app.app import LrtuiApp
from lrtui.app.form import FormValues, describe_device, evaluate
from lrtui.distributed import choice as ray_choice
from lrtui.store import Store


def test_a_ray_choice_trains_auto_on_the_workers_and_names_its_address() -> None:
    result = evaluate(FormValues(dataset="mnist-sample", device="ray:auto"))
    assert result.ok and result.config is not None
    assert (result.ray, result.config.device) == ("auto", "auto")
    plain = evaluate(FormValues(dataset="mnist-sample", device="cpu"))
    assert plain.ray is None and plain.config is not None and plain.config.device == "cpu"
    bad = evaluate(FormValues(dataset="mnist-sample", device="ray:nowhere"))
    assert bad.errors["device"] == (
        "must be auto, cpu, cuda, mps, ray:auto or ray:local (got ray:nowhere)")


def test_without_ray_the_choice_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ray" else real(name, *a))
    assert ray_choice.describe("auto") == ("Ray is not installed: pip install 'lrtui[ray]'", False)


@pytest.mark.ray
async def test_r_with_ray_local_trains_on_a_ray_worker_and_records_here(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="needs the `ray` extra: pip install 'lrtui[ray]'")
    from idx import write_dataset

    root = tmp_path / "idx"
    root.mkdir()
    write_dataset(root, n_train=64, n_valid=16)
    describe_device.cache_clear()
    initial = FormValues(dataset="mnist", device="ray:local", epochs="2", batch_size="16",
                         scheduler="StepLR", params={"step_size": "1", "gamma": "0.5"})
    app = LrtuiApp(store=Store(tmp_path / "runs.db"), data_dir=str(root), initial=initial,
                   form_debounce_s=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.form is not None and app.form.ray == "local"
        app.simulate_key("escape")
        app.simulate_key("r")
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None, timeout=180,
                       what="the Ray training")
        log = app.log_pane.entries
        assert any(x.startswith("training StepLR") and x.endswith(", on Ray (local))")
                   for x in log)
        assert any(x.startswith("training on a local Ray: 1 node") for x in log)
        assert any(x.startswith("pass 1 of 1 (1 run): training on Ray node ") for x in log)
        [run] = app.store.list_runs()
        assert run.status == "finished" and run.epochs_done == 2
        assert "(ray node " in run.device  # where it trained, as the details and log say
        assert any(x.startswith("#1 StepLR started") and "(ray node " in x for x in log)
        assert app.traces[run.id].status == "finished"
        assert len(app.traces[run.id].epochs) == 2
