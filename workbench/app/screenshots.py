"""The README's screenshots: ``python -m workbench.app.screenshots docs/screens``.

Run it under a real X server (``make screenshot`` starts Xvfb at 1280×720): each picture is the
whole screen, as a newcomer sees it with a fresh settings profile. Every state is reached the
way a person reaches it, through the menu actions: the Training screen during a run, each
analysis view in its tab, and the layout after View ▸ Reset Layout. Without a display it falls
back to grabbing the window offscreen.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.shipped import example_path

SIZE = (1280, 720)


def _pump(app: Any, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def _until(app: Any, done: Callable[[], bool], timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not done() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def _trigger(menu: Any, text: str) -> None:
    for action in menu.actions():
        if action.text().replace("&", "") == text:
            action.trigger()
            return
        if action.menu() is not None:
            for sub in action.menu().actions():
                if sub.text().replace("&", "") == text:
                    sub.trigger()
                    return
    raise LookupError(f"no menu entry {text!r}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "docs/screens")
    out.mkdir(parents=True, exist_ok=True)
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from workbench.app.main_window import MainWindow
    from workbench.app.views.runs_view import SweepChoice

    app = QApplication.instance() or QApplication(sys.argv[:1])
    real_screen = app.platformName() == "xcb"
    tmp = tempfile.mkdtemp()
    settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("pace", "full")
    window = MainWindow(settings)
    window.move(0, 0)
    window.resize(*SIZE)
    window.show()
    _pump(app, 1.0)
    s = window.session

    def shot(name: str) -> None:
        _pump(app, 0.6)
        window.refresh_views(force=True)
        _pump(app, 0.4)
        screen = window.screen()
        image = screen.grabWindow(0) if real_screen else window.grab()
        image.save(str(out / f"{name}.png"))
        print(f"wrote {out / name}.png")

    def open_example(name: str) -> None:
        if not window.files.open_path(example_path(name), ask=False):
            raise RuntimeError(f"cannot open {name}")
        _pump(app, 0.3)

    def train_epochs(n: int) -> None:
        s.start()
        _until(app, lambda: s.history.n_epochs >= n or not s.is_running)
        s.pause()
        _pump(app, 0.5)

    # The Training screen during the default run.
    open_example("default-spiral.json")
    train_epochs(60)
    shot("training")

    # Inside the network, on the same run.
    for text, name in (("Weight and Gradient Histograms", "histograms"), ("Neuron Maps", "neurons"),
                       ("Saliency Map", "saliency")):
        _trigger(window.analyze_menu, text)
        if name == "neurons":
            view = window.views["neuron_maps"]
            view.update_maps()
            _pump(app, 0.3)
            button = next(iter(view.buttons.values()), None)
            if button is not None:
                button.click()
        shot(name)
    s.stop(join=True)

    # Learning-rate range test and loss landscape, as Analyze runs them.
    for text, name, view in (("Learning-Rate Range Test", "lr-range-test", "lr_finder"),
                             ("Loss Landscape", "loss-landscape", "landscape")):
        if name == "loss-landscape":
            train_epochs(40)
            s.stop(join=True)
        _trigger(window.analyze_menu, text)
        _until(app, lambda v=view: not window.views[v].job.is_running())
        shot(name)

    # Vanishing gradients: the heatmap full size and the diagnostics.
    open_example("vanishing-gradients.json")
    train_epochs(30)
    s.stop(join=True)
    _trigger(window.analyze_menu, "Gradient Health Heatmap")
    shot("gradient-health")
    _trigger(window.analyze_menu, "Diagnostics")
    shot("diagnostics")

    # A sweep of learning rates in the Runs tab.
    open_example("default-spiral.json")
    runs = window.views["runs"]
    runs.ask_sweep = lambda: SweepChoice("lr", (1.0, 0.03, 1e-4), 40)
    _trigger(window.analyze_menu, "Sweep…")
    _until(app, lambda: not runs.job.is_running(), timeout=300)
    shot("runs")

    # Data ▸ Import table… on the Titanic-like example: preview, types, balance, warnings.
    open_example("table-titanic.json")
    from workbench.app.table_import import TableImportDialog

    data = s.spec.data
    dialog = TableImportDialog(data.path or "", data, s.spec.seed, s.base_dir, window)
    dialog.move(window.x() + 50, window.y() + 20)
    dialog.show()
    _pump(app, 0.5)
    shot("table-import")
    dialog.reject()

    # Recurrent: the plain RNN against the LSTM on the adding problem (Run Variants), then the
    # plain RNN's gradient through time.
    open_example("recurrent-adding.json")
    _trigger(window.analyze_menu, "Run Variants")
    _until(app, lambda: not runs.job.is_running(), timeout=900)
    shot("recurrent-runs")
    train_epochs(3)
    s.stop(join=True)
    _trigger(window.analyze_menu, "Gradient Through Time")
    shot("gradient-through-time")

    # A CNN on the shapes set: its feature maps and Grad-CAM, and what the classifier confuses.
    open_example("shapes-gradcam.json")
    train_epochs(8)
    s.stop(join=True)
    _trigger(window.analyze_menu, "Feature Maps and Filters")
    window.views["feature_maps"].sample_box.setValue(2)
    shot("feature-maps")
    _trigger(window.analyze_menu, "Grad-CAM")
    window.views["gradcam"].sample_box.setValue(2)
    shot("gradcam")
    _trigger(window.analyze_menu, "Confusion Matrix and Mistakes")
    shot("confusion")

    # Backprop step by step where a saturated sigmoid collapses the product, and an optimizer race.
    algorithm_states(window, open_example, shot, lambda done: _until(app, done))

    # View ▸ Reset Layout: exactly the designed layout, nothing else open.
    _trigger(window.view_menu, "Reset Layout")
    shot("reset-layout")

    s.shutdown()
    window.jobs.cancel_all()
    settings.setValue("pace", "full")
    window.close()
    return 0


def algorithm_states(window: Any, open_example: Callable[[str], None], shot: Callable[[str], None],
                     until: Callable[[Callable[[], bool]], None]) -> None:
    open_example("saturated-sigmoid.json")
    _trigger(window.analyze_menu, "Step Through Backprop")
    walk = window.views["step_through"]
    walk.go_to(next(i + 1 for i, step in enumerate(walk.walk.steps) if step.note))
    shot("step-through")
    open_example("race-momentum-adam-sgd.json")
    _trigger(window.analyze_menu, "Optimizer Race")
    race = window.views["race"]
    race.race()
    until(lambda: bool(race.paths))
    race.finish()
    shot("optimizer-race")


if __name__ == "__main__":
    sys.exit(main())
