"""Export (e): the app asks where to write, proposing an absolute path (the documents folder, else
the current one), writes only after enter, says inline why it could not, and escape cancels."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from test_app import _store_one_run
from test_app_support import make_app, settle, wait_for
from textual.widgets import Input, Static

from lrtui.app.report import default_export_path, epochs_csv
from lrtui.app.screens import ExportScreen


def test_the_default_path_is_in_the_documents_folder_else_the_current_one(
        tmp_path: Path, monkeypatch: Any) -> None:
    documents = tmp_path / "Documents"
    monkeypatch.setattr("platformdirs.user_documents_dir", lambda: str(documents))
    monkeypatch.chdir(tmp_path)
    assert default_export_path(7) == tmp_path.resolve() / "lrtui-run-7.csv"  # no such folder
    documents.mkdir()
    assert default_export_path(7) == documents.resolve() / "lrtui-run-7.csv"
    assert default_export_path(7).is_absolute()


async def _open_export(pilot: Any, app: Any) -> ExportScreen:
    await settle(pilot, app)
    await pilot.press("escape", "e")  # the runs table has the focus: e exports its row
    await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen), what="export screen")
    screen = app.screen
    assert isinstance(screen, ExportScreen)
    return screen


async def test_e_proposes_a_path_and_writes_only_when_enter_confirms(
        tmp_path: Path, monkeypatch: Any) -> None:
    documents = tmp_path / "Documents"
    documents.mkdir()
    monkeypatch.setattr("platformdirs.user_documents_dir", lambda: str(documents))
    run_id = _store_one_run(tmp_path / "runs.db")
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_export(pilot, app)
        field = screen.query_one(Input)
        target = documents.resolve() / f"lrtui-run-{run_id}.csv"
        assert field.value == str(target)  # shown, absolute, before anything is written
        assert not target.exists()
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportScreen), what="closed")
        store = app.store
        assert target.read_text() == epochs_csv(store.get_run(run_id), store.epochs(run_id))
        assert app.log_pane.entries[-1] == f"exported run #{run_id} (3 epochs) to {target}"


async def test_a_path_that_cannot_be_written_is_said_on_the_screen(
        tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("platformdirs.user_documents_dir", lambda: str(tmp_path / "none"))
    run_id = _store_one_run(tmp_path / "runs.db")
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_export(pilot, app)
        field = screen.query_one(Input)
        error = screen.query_one("#export-error", Static)
        field.value = str(tmp_path / "missing" / "e.csv")  # edited: a folder that is not there
        await pilot.press("end", "enter")
        await wait_for(pilot, lambda: bool(screen.error), what="the error")
        assert app.screen is screen  # still open, to fix the path
        assert screen.error == f"export: the folder {tmp_path / 'missing'} does not exist"
        assert error.display and str(error.render()) == screen.error
        assert not (tmp_path / "missing").exists()
        field.value = ""
        await pilot.press("enter")
        assert screen.error == "give a file name"

        def full(path: Path, text: str, **kw: Any) -> Path:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

        with monkeypatch.context() as m:  # the disk fills up while writing
            m.setattr("lrtui.report.write_file", full)
            field.value = str(tmp_path / "full.csv")
            await pilot.press("enter")
            await wait_for(pilot, lambda: "space" in screen.error, what="disk full")
        assert screen.error == f"not written: No space left on device ({tmp_path / 'full.csv'})"
        field.value = str(tmp_path / "e.csv")
        await pilot.press("enter")  # fixed: written, and the error is gone with the screen
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportScreen), what="closed")
        assert (tmp_path / "e.csv").read_text().startswith("run_id,label,epoch,")
        assert app.log_pane.entries[-1].startswith(f"exported run #{run_id} (3 epochs)")


async def test_escape_cancels_and_writes_nothing(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("platformdirs.user_documents_dir", lambda: str(tmp_path / "none"))
    _store_one_run(tmp_path / "runs.db")
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_export(pilot, app)
        target = Path(screen.query_one(Input).value)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportScreen), what="closed")
        assert not target.exists() and not list(tmp_path.glob("*.csv"))
