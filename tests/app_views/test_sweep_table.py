"""The sweep from the dialog to the table: parallel runs with live rows, sorting, filtering, the
scatter with the best run starred, CSV export, a sweep folder opened again, an unreachable
scheduler."""

from __future__ import annotations

import csv
import socket
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialogButtonBox

from tests.app.conftest import menu_action
from workbench.app.views.sweep_dialog import SweepDialog
from workbench.model.runs import SweepChoice
from workbench.model.sweep.results import read_sweep


def runs(window: Any) -> Any:
    return window.views["runs"]


def column(view: Any, title: str) -> int:
    return [c.title for c in view.table_model.columns].index(title)


def texts(view: Any, title: str) -> list[str]:
    col = column(view, title)
    return [view.cell(i, col) for i in range(view.proxy.rowCount())]


def run_dialog_sweep(qtbot: Any, window: Any, out: Path) -> Any:
    """Analyze ▸ Sweep…, filled in and accepted through the dialog's own widgets."""
    view = runs(window)
    shown: list[SweepDialog] = []

    def ask() -> SweepChoice | None:
        dialog = SweepDialog(window.session.spec, view)
        qtbot.addWidget(dialog)
        shown.append(dialog)
        dialog.set_param("lr")
        dialog.values.clear()
        qtbot.keyClicks(dialog.values, "0.3, 0.03")
        dialog.epochs.setValue(3)
        dialog.seeds.setValue(2)
        dialog.workers.setValue(2)
        dialog.out.setText(str(out))
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        assert ok.text() == "Run Sweep"
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
        assert dialog.result() == 1  # accepted
        return dialog.choice()

    view.ask_sweep = ask
    live: list[list[str]] = []  # the Status column each time a run finished
    view.job.partial.connect(lambda m: live.append(texts(view, "Status")) if m[0] == "done" else None)
    with qtbot.waitSignal(view.job.finished, timeout=60_000):
        menu_action(window.analyze_menu, "Sweep…").trigger()
    qtbot.waitUntil(lambda: not view.job.is_running())
    assert shown
    return live


def test_a_sweep_from_the_dialog_fills_a_sortable_filterable_table(qtbot: Any, window: Any,
                                                                   tmp_path: Path) -> None:
    view = runs(window)
    live = run_dialog_sweep(qtbot, window, tmp_path / "sweep")
    names = ["lr=0.3 seed=0", "lr=0.3 seed=1", "lr=0.03 seed=0", "lr=0.03 seed=1"]
    assert [r.name for r in view.records] == names
    assert all(r.status == "finished" and r.history.n_epochs == 3 for r in view.records)
    assert [r.spec.seed for r in view.records] == [0, 1, 0, 1]
    # Live: after the first finished run the others were still queued or running.
    assert len(live) == 4
    assert live[0].count("finished") == 1 and {"queued", "running"} & set(live[0])
    assert live[-1] == ["finished"] * 4
    # The swept setting has its own column; the seed too.
    assert texts(view, "optimizer.lr") == ["0.3", "0.3", "0.03", "0.03"]
    assert texts(view, "Seed") == ["0", "1", "0", "1"]

    # Sort by final validation loss, as a user would: click the header.
    header = view.table_view.horizontalHeader()
    col = column(view, "Val loss")
    x = header.sectionViewportPosition(col) + header.sectionSize(col) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    losses = [r.last("val_loss") for r in view.visible_records()]
    assert losses == sorted(losses) and texts(view, "Val loss") == [f"{v:.4g}" for v in losses]
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    assert [r.last("val_loss") for r in view.visible_records()] == sorted(losses, reverse=True)
    # Names sort as text, numbers as numbers (0.03 < 0.3, whatever their text).
    view.table_view.sortByColumn(column(view, "optimizer.lr"), Qt.SortOrder.AscendingOrder)
    assert texts(view, "optimizer.lr") == ["0.03", "0.03", "0.3", "0.3"]

    # Filter: only the rows whose text matches.
    qtbot.keyClicks(view.filter, "seed=1")
    assert sorted(texts(view, "Run")) == ["lr=0.03 seed=1", "lr=0.3 seed=1"]
    assert view.proxy.rowCount() == 2 and len(view.scatter.shown) == 2
    view.filter.clear()
    assert view.proxy.rowCount() == 4

    # The scatter: one point per run, x the swept value, the best final val metric starred.
    scatter = view.scatter
    assert scatter.x_choice.currentText() == "optimizer.lr"
    assert sorted(scatter.x) == [0.03, 0.03, 0.3, 0.3]
    best = max(view.records, key=lambda r: r.last("val_metric"))
    assert scatter.best_record.last("val_metric") == best.last("val_metric")
    bx, by = scatter.best.getOriginalDataset()
    assert (bx[0], by[0]) == (best.spec.optimizer.lr, best.last("val_metric"))
    assert scatter.best_text.toPlainText().startswith("best: ")
    scatter.y_choice.setCurrentIndex(scatter.y_choice.findData("val_loss"))
    assert scatter.best_record.last("val_loss") == min(losses)  # lower is better for a loss

    # Another experiment opened: the sweep stays listed, but is not compared with it.
    window.session.new(window.session.spec.with_overrides({"name": "another experiment"}))
    assert view.proxy.rowCount() == 4
    assert len(view.scatter.shown) == 0
    assert view.scatter.best_text.toPlainText().startswith("No sweep of this experiment yet.")

    # The same runs were written as `gradient-workbench sweep` writes them.
    table = read_sweep(tmp_path / "sweep")
    assert sorted(row["run"] for row in table.rows) == sorted(names)
    for row in table.rows:
        record = next(r for r in view.records if r.name == row["run"])
        assert row["final_val_loss"] == record.last("val_loss") and row["status"] == "finished"
        assert table.run_folder(row).is_dir()


def test_csv_export_and_reopening_the_sweep_folder(qtbot: Any, window: Any, tmp_path: Path) -> None:
    view = runs(window)
    run_dialog_sweep(qtbot, window, tmp_path / "sweep")
    view.table_view.sortByColumn(column(view, "Val metric"), Qt.SortOrder.DescendingOrder)
    qtbot.keyClicks(view.filter, "lr=0.3")
    view.ask_csv_path = lambda: str(tmp_path / "runs.csv")
    assert view.export_button.isEnabled()
    view.export_button.click()
    with (tmp_path / "runs.csv").open() as f:
        rows = list(csv.DictReader(f))
    shown = view.visible_records()
    assert [row["Run"] for row in rows] == [r.name for r in shown] and len(rows) == 2
    # Full precision: the exported numbers are the runs' own floats.
    assert [float(row["Val metric"]) for row in rows] == [r.last("val_metric") for r in shown]
    assert [float(row["optimizer.lr"]) for row in rows] == [0.3, 0.3]
    view.filter.clear()

    swept = {r.name: r for r in view.records}
    view.clear()
    assert view.records == []
    view.ask_sweep_folder = lambda: str(tmp_path / "sweep")
    menu_action(window.analyze_menu, "Open Sweep Folder…").trigger()
    assert sorted(r.name for r in view.records) == sorted(swept)
    for r in view.records:
        assert r.source == "opened" and r.status == "finished"
        assert r.last("val_loss") == swept[r.name].last("val_loss")
        assert r.extra["values"]["optimizer.lr"] == swept[r.name].spec.optimizer.lr
    assert view.selected_rows() == [0, 1, 2, 3]  # opened runs are overlaid at once
    assert {name for name, which, _ in view.loss_plot.curves if which == "train"} == set(swept)
    assert all(text.startswith("lr=") for text in texts(view, "Differs from base"))
    assert len(view.scatter.shown) == 4
    view.ask_sweep_folder = lambda: str(tmp_path)  # no sweep.csv here
    assert not view.open_sweep()
    assert "Cannot open the sweep" in view.hint.text() and "sweep.csv" in view.hint.text()


def test_an_unreachable_scheduler_is_a_clear_message(qtbot: Any, window: Any) -> None:
    view = runs(window)
    view.connect_timeout = 1.0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with qtbot.waitSignal(view.job.failed, timeout=30_000):
        assert view.start_sweep(SweepChoice("lr", (0.1,), 1, scheduler=f"tcp://127.0.0.1:{port}"))
    qtbot.waitUntil(lambda: not view.job.is_running())
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 1 s" in view.hint.text()
    assert view.records == [] and view.sweep_button.isEnabled()
