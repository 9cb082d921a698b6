"""At 1280×720 the editors column is about as narrow as it gets: every example's editors must fit
it (a non-wrapping summary line once made the Data panel wider, and its right side was cut off)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.shipped import example_path
from workbench.app.main_window import EDITORS_MIN_WIDTH


@pytest.mark.parametrize("example", ["recurrent-adding", "shapes-gradcam", "table-titanic", "residual-depth"])
def test_every_editor_fits_the_narrowest_column(window: Any, example: str) -> None:
    path = example_path(example)
    window.session.open(path)
    for panel in (window.data_panel, window.network_panel, window.training_panel):
        assert panel.minimumSizeHint().width() <= EDITORS_MIN_WIDTH, type(panel).__name__
