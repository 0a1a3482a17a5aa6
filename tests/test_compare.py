"""`lrtui runs compare`: group summaries and paired differences against values computed here."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path

import pytest

from lrtui.cli import main
from lrtui.compare import select_runs, summarize
from lrtui.stats import bootstrap_interval
from lrtui.store import EpochRecord, NewRun, Store

#: final valid accuracy per (group, seed index); the second group is better on every seed.
ACC = {"a": [0.90, 0.92, 0.91, 0.93], "b": [0.93, 0.94, 0.935, 0.95]}
LOSS = {"a": [0.30, 0.28, 0.29, 0.27], "b": [0.25, 0.24, 0.26, 0.22]}


def _store(path: Path, sweep: bool = False) -> None:
    with Store(path) as store:
        for g, name in enumerate(ACC, start=1):
            for i, (acc, loss) in enumerate(zip(ACC[name], LOSS[name], strict=True)):
                run_id = store.start_run(
                    NewRun(batch_id="b", batch_index=i, label=f"{name} seed={i}",
                           scheduler="StepLR", optimizer="sgd", lr=0.1, dataset="mnist-sample",
                           device="cpu", epochs=2, config={}, torch_version="2.x",
                           group_id=f"cmd1.{g}", group_label=f"lr={g / 10}" if sweep else name,
                           seed_index=i, sweep=(("lr", str(g / 10)),) if sweep else ())
                )
                # epoch 0 is better on loss than the last epoch, so best != final for loss
                store.record_epoch(run_id, EpochRecord(0, 1.0, loss - 0.01, acc - 0.05, 0.1,
                                                       None, 1.0), None)  # fmt: skip
                store.record_epoch(run_id, EpochRecord(1, 0.5, loss, acc, 0.1, None, 1.0), None)
                store.end_run(run_id, "finished")


def test_summaries_and_paired_differences_match_independent_values(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    _store(db)
    with Store(db) as store:
        comparison = summarize(store, select_runs(store, last=True), baseline="a")
    a, b = comparison.groups
    assert (a.n, b.n, comparison.baseline) == (4, 4, 1)
    acc = b.metrics["final_valid_acc"]
    assert acc.mean == pytest.approx(statistics.fmean(ACC["b"]), abs=1e-15)
    assert acc.std == pytest.approx(statistics.stdev(ACC["b"]), abs=1e-15)
    assert (acc.min, acc.max) == (0.93, 0.95)
    best_loss = a.metrics["best_valid_loss"]
    assert best_loss.mean == pytest.approx(statistics.fmean(v - 0.01 for v in LOSS["a"]))
    diff = b.vs_baseline["final_valid_acc"]
    expected = [x - y for x, y in zip(ACC["b"], ACC["a"], strict=True)]
    assert diff.mean == pytest.approx(statistics.fmean(expected), abs=1e-15)
    assert (diff.low, diff.high) == bootstrap_interval(expected)
    assert diff.verdict == "better" and diff.low is not None and diff.low > 0
    assert b.vs_baseline["final_valid_loss"].verdict == "better"  # lower loss on every seed
    assert a.vs_baseline == {}


def test_an_id_given_twice_is_one_run_not_two_seeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.db"
    _store(db)
    with Store(db) as store:
        assert [r.id for r in select_runs(store, ids=[2, 1, 2])] == [2, 1]
    assert main(["runs", "compare", "1", "2", "1", "2", "--json", "--db", str(db)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [g["n"] for g in out["groups"]] == [2]
    acc = out["groups"][0]["final_valid_acc"]
    assert acc["mean"] == pytest.approx(statistics.fmean(ACC["a"][:2]), abs=1e-15)


def test_the_bootstrap_resamples_as_documented() -> None:
    """The percentile interval, computed here from the same seeded resamples."""
    diffs = [0.1, -0.2, 0.3, 0.05, 0.0]
    rng = random.Random(0)
    means = sorted(sum(rng.choices(diffs, k=5)) / 5 for _ in range(10_000))
    low = means[int(0.025 * 9999)] * (1 - (0.025 * 9999) % 1) + means[
        int(0.025 * 9999) + 1
    ] * ((0.025 * 9999) % 1)
    assert bootstrap_interval(diffs)[0] == pytest.approx(low, abs=1e-12)


def test_compare_json_is_strict_and_names_the_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.db"
    _store(db)
    assert main(["runs", "compare", "--last", "--baseline", "1", "--json", "--db", str(db)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["baseline"] == 1 and [g["n"] for g in out["groups"]] == [4, 4]
    assert out["groups"][0]["vs_baseline"] is None
    assert out["groups"][1]["vs_baseline"]["final_valid_acc"]["verdict"] == "better"


def test_compare_text_and_sweep_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    _store(db, sweep=True)
    assert main(["runs", "compare", "--db", str(db), "--group", "lr=0.2"]) == 0
    out = capsys.readouterr().out
    assert "lr=0.2" in out and "93.88% ± 0.85 [93.00, 95.00]" in out
    assert main(["runs", "compare", "--last", "--baseline", "lr=0.1", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "+2.37 pp" in out and "better" in out
    assert "mean final valid accuracy against lr" in out
    assert "best: lr=0.2 (93.88% mean final valid accuracy), marked x" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--baseline", "9"], "--baseline: no group '9' among those compared (numbers: 1, 2)"),
        (["--group", "nope"], "--group: no stored group 'nope' (see `lrtui runs list`)"),
        (["1", "--last"], "runs compare: give run ids, --group G or --last, not several"),
    ],
)
def test_bad_compare_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    db = tmp_path / "r.db"
    _store(db)
    assert main(["runs", "compare", *argv, "--db", str(db)]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"lrtui: error: {message}\n")


async def test_the_app_compare_screen_shows_the_groups_and_the_sweep(tmp_path: Path) -> None:
    from test_app_support import make_app, settle, wait_for

    from lrtui.app.compare_screen import CompareScreen

    db = tmp_path / "runs.db"
    _store(db, sweep=True)
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("escape", "v")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
        table = app.screen.query_one("#compare-table")
        rows = [table.get_row_at(i) for i in range(table.row_count)]  # type: ignore[attr-defined]
        vs = app.screen.query_one("#compare-vs")
        vs_rows = [vs.get_row_at(i) for i in range(vs.row_count)]  # type: ignore[attr-defined]
        assert [r[1] for r in rows] == ["lr=0.1", "lr=0.2"] and vs_rows[0][3] == "baseline"
        assert rows[1][3] == "93.88% ± 0.85 [93.00, 95.00]" and vs_rows[1][3].startswith("+2.37 pp")
        best = app.screen.query_one("#compare-best")
        assert "best: lr=0.2" in str(best.render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, CompareScreen))
