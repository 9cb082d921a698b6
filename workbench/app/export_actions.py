"""File ▸ Export: plots as PNG/SVG/CSV, weights as NPZ, the model as ONNX, the run as a folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.app.export import export_all, export_csv, export_png, export_svg, slug
from workbench.app.plots.base import PlotView

if TYPE_CHECKING:
    from workbench.app.main_window import MainWindow


class ExportActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.session = window.session

    def export_plot(self, plot: PlotView, fmt: str) -> Path | None:
        w = self.window
        suggested = f"{slug(plot.title)}.{fmt}"
        filters = {"png": "PNG images (*.png)", "svg": "SVG images (*.svg)", "csv": "CSV files (*.csv)"}[fmt]
        size = None
        if fmt == "png":
            size = w.ask_png_size()
            if size is None:
                return None
        path = w.ask_save_path(f"Export {plot.title}", suggested, filters)
        if not path:
            return None
        target = Path(path)
        if target.suffix.lower() != f".{fmt}":
            target = target.with_name(target.name + f".{fmt}")
        plot.refresh(self.session.history, force=True)
        try:
            if fmt == "png":
                export_png(plot, target, *size)
            elif fmt == "svg":
                export_svg(plot, target)
            else:
                export_csv(plot, target)
        except OSError as exc:
            w.show_error("Export failed", str(exc))
            return None
        w.settings.setValue("last_dir", str(target.parent))
        w.statusBar().showMessage(f"Exported {target.name}", 3000)
        return target

    def export_all_plots(self) -> list[Path]:
        w = self.window
        folder = w.ask_folder("Export all plots to folder")
        if not folder:
            return []
        w.refresh_views(force=True)
        try:
            files = export_all(w.plots, folder)
        except OSError as exc:
            w.show_error("Export failed", str(exc))
            return []
        w.statusBar().showMessage(f"Exported {len(files)} files to {folder}", 4000)
        return files

    def _network(self) -> Any:
        """The network to export: the trainer's when it is at rest, else the latest snapshot."""
        s = self.session
        if s.trainer is None:
            return None
        return s.view_network if s.is_running and s.run_state != "paused" else s.trainer.network

    def export_weights(self, fmt: str) -> Path | None:
        w = self.window
        network = self._network()
        if network is None:
            w.show_warning("Nothing to export", "Fix the experiment first: it cannot build a network.")
            return None
        ext = {"npz": "npz", "onnx": "onnx"}[fmt]
        path = w.ask_save_path(f"Export {fmt.upper()}", f"{slug(self.session.spec.name)}.{ext}",
                               f"{fmt.upper()} files (*.{ext})")
        if not path:
            return None
        target = Path(path)
        try:
            from workbench.export import export_onnx, save_weights
            from workbench.export.preprocessing import standardization_of

            scaling = standardization_of(getattr(self.session.trainer, "dataset", None))
            if fmt == "npz":
                save_weights(network, target, self.session.spec, scaling)
            else:
                export_onnx(network, self.session.trainer.loss, target, name=self.session.spec.name[:80],
                            standardization=scaling)
        except Exception as exc:
            w.show_error("Export failed", f"{type(exc).__name__}: {exc}")
            return None
        w.statusBar().showMessage(f"Exported {target.name}", 3000)
        return target

    def export_run_folder(self) -> Path | None:
        w, s = self.window, self.session
        if s.trainer is None or not s.trainer.history:
            w.show_warning("Nothing to export", "Train at least one epoch first.")
            return None
        if s.is_running and s.run_state != "paused":
            w.show_warning("Training is running", "Pause or stop the run before exporting it.")
            return None
        folder = w.ask_folder("Export run into folder")
        if not folder:
            return None
        from engine.events import RunFinished
        from workbench.runs import write_run

        t = s.trainer
        finished = s.last_finished or RunFinished(t.status, t.epoch, t.step, t.seconds, t.divergence)
        try:
            from workbench.export.preprocessing import standardization_of

            out = write_run(folder, s.spec, list(t.history), t.network, finished, loss=t.loss,
                            standardization=standardization_of(t.dataset))
        except Exception as exc:
            w.show_error("Export failed", f"{type(exc).__name__}: {exc}")
            return None
        w.statusBar().showMessage(f"Run written to {out}", 4000)
        return Path(out)
