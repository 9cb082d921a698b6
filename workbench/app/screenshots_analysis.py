"""README screenshots of the "explain the gradients" views, rendered offscreen.

``python -m workbench.app.screenshots_analysis docs/`` writes four composite PNGs (1280×800):

- ``views-gradients.png``: the deep sigmoid network of ``experiments/vanishing-gradients.json``
  after training: gradient-health heatmap, gradients by layer, and the diagnostics naming the
  vanishing gradient.
- ``views-landscape-lr.png``: the default spiral after 80 Step Epochs (F10, one path snapshot
  each): the loss landscape along the optimizer's path (PCA) beside the learning-rate range test
  (run after 20 epochs, 300 steps) and its suggestion.
- ``views-inside.png``: the same spiral from the inside: neuron thumbnails, one unit enlarged,
  saliency over the input plane, weight and gradient histograms.
- ``views-runs.png``: a learning-rate sweep (1, 0.03, 1e-4) overlaid in the Runs view.

Each view is driven as a person would (the menu actions and buttons' slots); its dock is then
floated at a fixed size and grabbed, and the grabs are painted into one image with small
titles. Settings live in a throwaway file, so the user's layout is never read or changed.
Everything is seeded by the experiment files: the pictures change only when the app does.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.shipped import example_path

SIZE = (1280, 800)
TITLE_H = 24  # height of the title strip above each panel
GAP = 6
HEADER_H = 30  # the image's own one-line caption
SPIRAL_EPOCHS = 80  # validation accuracy passes 90 %: the maps and the path tell the whole story
LR_TEST_AFTER = 20  # epochs: the fresh spiral sits on a plateau where no rate lowers the loss clearly
LR_TEST_STEPS = 300
SWEEP = ("lr", (1.0, 0.03, 1e-4), 80)


# ----------------------------------------------------------------------------- driving the app
def pump(seconds: float = 0.05) -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    end = time.monotonic() + seconds
    while True:
        app.processEvents()
        if time.monotonic() >= end:
            return
        time.sleep(0.005)


def wait_until(done: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            raise TimeoutError(f"timed out waiting for {what}")
        pump(0.01)


def new_window(tmp: Path, name: str) -> Any:
    from PySide6.QtCore import QSettings

    from workbench.app.main_window import MainWindow

    settings = QSettings(str(tmp / f"{name}.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    # No modal dialog may block an unattended run: report instead.
    window.show_error = lambda title, text, details="": print(f"error: {title}: {text}", file=sys.stderr)
    window.show_warning = lambda title, text: print(f"warning: {title}: {text}", file=sys.stderr)
    window.show_info = lambda title, text: None
    window.ask_save_changes = lambda: "discard"
    window.ask_confirm = lambda title, text: True
    window.resize(*SIZE)
    window.show()
    pump(0.1)
    return window


def open_experiment(window: Any, name: str) -> None:
    if not window.open_path(example_path(name), ask=False):
        raise RuntimeError(f"cannot open experiments/{name}")
    pump(0.05)


def train_run(window: Any, timeout: float = 60.0) -> None:
    """Start (F5) and wait until the run has finished and its last batch reached the views."""
    s = window.session
    s.start()
    wait_until(lambda: s.run is None, "the training run", timeout)
    pump(0.1)


def step_epochs(window: Any, n: int, timeout: float = 60.0) -> None:
    """Press Step Epoch (F10) ``n`` times: each epoch ends with a weights snapshot."""
    s = window.session
    for _ in range(n):
        wait_until(lambda: s.run is None and window.step_action.isEnabled(), "Step Epoch", timeout)
        window.step_action.trigger()
        wait_until(lambda: s.run is None, "an epoch", timeout)
    pump(0.1)


def run_job(view: Any, start: Callable[[], Any], what: str, timeout: float = 60.0) -> None:
    start()
    wait_until(lambda: not view.job.is_running(), what, timeout)
    pump(0.05)


def float_dock(window: Any, title: str, width: int, height: int) -> Any:
    """Float the dock ``title`` so that its content is ``width``×``height``; returns the content."""
    dock = dock_of(window, title)
    dock.setFloating(True)
    dock.show()
    dock.raise_()
    widget = dock.widget()
    for _ in range(3):  # the dock's frame around its widget is known only once shown
        pump(0.02)
        extra_w = dock.width() - widget.width()
        extra_h = dock.height() - widget.height()
        dock.resize(width + extra_w, height + extra_h)
    pump(0.05)
    return widget


def dock_of(window: Any, title: str) -> Any:
    if title in window.view_docks:
        return window.view_docks[title]
    for plot, dock in window.plot_docks.items():
        if plot.title == title:
            return dock
    raise KeyError(title)


def grab(widget: Any, width: int, height: int) -> Any:
    """The widget as a pixmap of exactly ``width``×``height`` (cropped or padded if it would not fit)."""
    from PySide6.QtCore import QRect

    widget.resize(width, height)
    pump(0.02)
    return widget.grab(QRect(0, 0, width, height))


# ----------------------------------------------------------------------------- composing
class Composite:
    """Panels (a title over a grab) painted into one white image, under a one-line caption."""

    def __init__(self, caption: str, size: tuple[int, int] = SIZE) -> None:
        from PySide6.QtGui import QColor, QImage

        self.image = QImage(size[0], size[1], QImage.Format.Format_RGB32)
        self.image.fill(QColor("white"))
        self.caption = caption

    def panel(self, x: int, y: int, title: str, pixmap: Any) -> None:
        from PySide6.QtCore import QRect, Qt
        from PySide6.QtGui import QColor, QFont, QPainter, QPen

        p = QPainter(self.image)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        w = pixmap.width()
        p.fillRect(QRect(x, y, w, TITLE_H), QColor(236, 240, 245))
        font = QFont()
        font.setPixelSize(14)
        font.setBold(True)
        p.setFont(font)
        p.setPen(QColor(30, 40, 60))
        p.drawText(QRect(x + 8, y, w - 16, TITLE_H), Qt.AlignmentFlag.AlignVCenter, title)
        p.drawPixmap(x, y + TITLE_H, pixmap)
        p.setPen(QPen(QColor(190, 198, 210), 1))
        p.drawRect(QRect(x, y, w - 1, TITLE_H + pixmap.height() - 1))
        p.end()

    def save(self, path: Path) -> bool:
        from PySide6.QtCore import QRect, Qt
        from PySide6.QtGui import QColor, QFont, QPainter

        p = QPainter(self.image)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        font = QFont()
        font.setPixelSize(16)
        font.setBold(True)
        p.setFont(font)
        p.setPen(QColor(20, 20, 20))
        p.drawText(QRect(GAP + 2, 0, self.image.width() - 2 * GAP, HEADER_H),
                   Qt.AlignmentFlag.AlignVCenter, self.caption)
        p.end()
        ok = self.image.save(str(path))
        print(f"wrote {path}" if ok else f"could not write {path}")
        return ok


def columns_of(widths: list[int]) -> list[int]:
    """Left edges of panels of ``widths`` laid side by side with GAP margins."""
    xs, x = [], GAP
    for w in widths:
        xs.append(x)
        x += w + GAP
    return xs


# ----------------------------------------------------------------------------- the shots
def shot_gradients(tmp: Path, out: Path) -> bool:
    window = new_window(tmp, "gradients")
    try:
        open_experiment(window, "vanishing-gradients.json")
        # Closed while training, the plots are first drawn from the whole run once it is over: the
        # heatmap's colour range then never depends on how many live frames happened to be drawn.
        for title in ("Gradient health", "Gradients by layer"):
            dock_of(window, title).hide()
        train_run(window)
        window.refresh_views(force=True)
        W, H = SIZE
        bottom_h = 200
        top_h = H - HEADER_H - bottom_h - 2 * TITLE_H - 3 * GAP
        half = (W - 3 * GAP) // 2
        heat = float_dock(window, "Gradient health", half, top_h)
        curves = float_dock(window, "Gradients by layer", half, top_h)
        panel = float_dock(window, "Diagnostics", W - 2 * GAP, bottom_h)
        window.refresh_views(force=True)
        window.diagnostics_panel.update_diagnoses()
        # Zoomed out to the right (as a person would) so the legend sits beside the curves, not on them.
        last = float(window.session.history.steps("step")[-1])
        window.gradient_plot.plot_item.setXRange(0.0, 1.3 * last, padding=0.02)
        pump(0.1)
        epochs = window.session.history.n_epochs
        c = Composite(f"Vanishing gradients: 8 sigmoid layers, SGD, after {epochs} epochs "
                      "(experiments/vanishing-gradients.json)")
        x0, x1 = columns_of([half, half])
        y0 = HEADER_H
        c.panel(x0, y0, "Gradient health: log₁₀ ‖∂L/∂W‖ per layer over training", grab(heat, half, top_h))
        c.panel(x1, y0, "Gradients by layer (epoch means, log axis)", grab(curves, half, top_h))
        y1 = y0 + TITLE_H + top_h + GAP
        c.panel(x0, y1, "Diagnostics", grab(panel, W - 2 * GAP, bottom_h))
        return c.save(out)
    finally:
        close(window)


def shot_spiral(tmp: Path, out_landscape: Path, out_inside: Path) -> bool:
    window = new_window(tmp, "spiral")
    try:
        open_experiment(window, "default-spiral.json")
        W, H = SIZE
        body_h = H - HEADER_H - TITLE_H - 2 * GAP
        left_w = 760
        right_w = W - 3 * GAP - left_w
        # Step Epoch (F10) a few times, run the range test (more steps than the default: the
        # spiral's descent is slow), then keep stepping: every epoch adds a snapshot to the path.
        step_epochs(window, LR_TEST_AFTER)
        lr = float_dock(window, "Learning-rate range test", right_w, body_h)
        lr_view = window.lr_finder_view
        lr_view.steps.setValue(LR_TEST_STEPS)
        run_job(lr_view, lr_view.run_button.click, "the LR range test")
        step_epochs(window, SPIRAL_EPOCHS - LR_TEST_AFTER)
        land = float_dock(window, "Loss landscape", left_w, body_h)
        view = window.landscape_view
        view.set_method("pca")
        run_job(view, view.run_button.click, "the loss landscape")
        epochs = window.session.history.n_epochs
        acc = window.session.history.last("val_metric")
        c = Composite(f"Three-class spiral (experiments/default-spiral.json), Adam, {epochs} × Step Epoch "
                      f"(F10), validation accuracy {100 * acc:.0f} %")
        x0, x1 = columns_of([left_w, right_w])
        c.panel(x0, HEADER_H, f"Loss landscape along the optimizer's path (PCA), after {epochs} epochs",
                grab(land, left_w, body_h))
        c.panel(x1, HEADER_H, f"Learning-rate range test, after {LR_TEST_AFTER} epochs",
                grab(lr, right_w, body_h))
        ok = c.save(out_landscape)
        for title in ("Loss landscape", "Learning-rate range test"):
            dock_of(window, title).hide()
        return shot_inside(window, out_inside, epochs, acc) and ok
    finally:
        close(window)


def shot_inside(window: Any, out: Path, epochs: int, acc: float) -> bool:
    W, H = SIZE
    body_h = H - HEADER_H - TITLE_H - 2 * GAP
    thumbs_w, mid_w = 250, 470
    right_w = W - 4 * GAP - thumbs_w - mid_w
    mid_h = (body_h - TITLE_H - GAP) // 2
    neurons = float_dock(window, "Neurons", thumbs_w, body_h)
    window.neuron_maps_view.update_maps()
    big = float_dock(window, "Neuron map", mid_w, mid_h)
    window.neuron_maps_view.buttons[("dense2", 3)].click()  # a thumbnail clicked: enlarged
    sal = float_dock(window, "Saliency", mid_w, mid_h)
    hist = float_dock(window, "Weights and gradients", right_w, body_h)
    hv = window.histogram_view
    hv.layer_box.setCurrentText("dense2")
    window.refresh_views(force=True)
    window.saliency_view.refresh(window.session.history, force=True)
    window.neuron_map_plot.refresh(window.session.history, force=True)
    pump(0.1)
    c = Composite(f"Inside the spiral network after {epochs} epochs (validation accuracy {100 * acc:.0f} %)")
    x0, x1, x2 = columns_of([thumbs_w, mid_w, right_w])
    c.panel(x0, HEADER_H, "Neurons (click to enlarge)", grab(neurons, thumbs_w, body_h))
    c.panel(x1, HEADER_H, "Neuron map: dense2, unit 4", grab(big, mid_w, mid_h))
    c.panel(x1, HEADER_H + TITLE_H + mid_h + GAP, "Saliency", grab(sal, mid_w, mid_h))
    c.panel(x2, HEADER_H, "Weights and gradients of dense2", grab(hist, right_w, body_h))
    return c.save(out)


def shot_runs(tmp: Path, out: Path) -> bool:
    from workbench.app.views.runs_view import SweepChoice

    window = new_window(tmp, "runs")
    try:
        open_experiment(window, "default-spiral.json")
        W, H = SIZE
        body_h = H - HEADER_H - TITLE_H - 2 * GAP
        runs = float_dock(window, "Runs", W - 2 * GAP, body_h)
        view = window.runs_view
        param, values, epochs = SWEEP
        view.ask_sweep = lambda: SweepChoice(param, values, epochs)
        run_job(view, window.sweep_action.trigger, "the sweep", timeout=90)
        view.select_records([])  # nothing selected shows every run, without the selection's blue rows
        splitter = view.table_widget.parentWidget()
        splitter.setSizes([110, body_h])  # three rows need little room: the curves get it
        view.table_widget.setCurrentCell(-1, -1)  # no focus frame on a cell
        pump(0.2)
        # Curves drawn afresh at their final size: pyqtgraph's peak downsampling of the step-level
        # gradient norms depends on the plot width when they were first drawn.
        view.select_records([])
        pump(0.2)
        c = Composite(f"Effect of the learning rate: Adam on the spiral, {epochs} epochs each, same seed "
                      "(Analyze ▸ Sweep…)")
        c.panel(GAP, HEADER_H, "Runs", grab(runs, W - 2 * GAP, body_h))
        return c.save(out)
    finally:
        close(window)


def close(window: Any) -> None:
    window.session.shutdown()
    window.close()
    pump(0.05)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out_dir = Path(argv[0] if argv else "docs")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    quiet_offscreen_warnings()
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ok = shot_gradients(tmp, out_dir / "views-gradients.png")
        ok = shot_spiral(tmp, out_dir / "views-landscape-lr.png", out_dir / "views-inside.png") and ok
        ok = shot_runs(tmp, out_dir / "views-runs.png") and ok
    del app
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


def quiet_offscreen_warnings() -> None:
    """The offscreen platform warns on every floating dock ("does not support raise()"): drop those."""
    from PySide6.QtCore import qInstallMessageHandler

    previous = None

    def handler(mode: Any, context: Any, message: str) -> None:
        if message.startswith("This plugin does not support"):
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            print(message, file=sys.stderr)

    previous = qInstallMessageHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
