"""Plots to files: PNG at a chosen size, SVG through QSvgGenerator, the data behind them as CSV.

pyqtgraph 0.14's SVGExporter raises on ordinary plots (DESIGN.md), so SVG and PNG both render
the plot's scene with a QPainter: on a QImage for PNG, on a QSvgGenerator for SVG.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, QSize, QSizeF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator

from workbench.app.plots.base import PlotView


def _render(view: PlotView, painter: QPainter, width: int, height: int) -> None:
    """Lay the plot out at ``width``×``height`` scene units, paint it, restore its size."""
    item = view.plot_item
    old = item.size()
    item.resize(QSizeF(width, height))
    item.layout.activate()
    try:
        view.plot_widget.scene().render(painter, QRectF(0, 0, width, height), item.sceneBoundingRect())
    finally:
        item.resize(old)
        item.layout.activate()


def export_png(view: PlotView, path: str | Path, width: int = 1200, height: int = 800) -> Path:
    path = Path(path)
    image = QImage(int(width), int(height), QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    try:
        _render(view, painter, int(width), int(height))
    finally:
        painter.end()
    if not image.save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    return path


def export_svg(view: PlotView, path: str | Path, width: int = 800, height: int = 500) -> Path:
    path = Path(path)
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(QSize(int(width), int(height)))
    generator.setViewBox(QRectF(0, 0, width, height))
    generator.setTitle(view.title)
    generator.setDescription("Gradient Workbench plot")
    painter = QPainter(generator)
    try:
        painter.fillRect(QRectF(0, 0, width, height), QColor("white"))
        _render(view, painter, int(width), int(height))
    finally:
        painter.end()
    if not path.exists():
        raise OSError(f"could not write {path}")
    return path


def export_csv(view: PlotView, path: str | Path) -> Path:
    path = Path(path)
    header, rows = view.table()
    rows = np.asarray(rows, dtype=float).reshape(-1, len(header))
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if np.isnan(v) else repr(float(v)) for v in row])
    return path


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "plot"


def export_all(views: list[PlotView], folder: str | Path, width: int = 1200, height: int = 800) -> list[Path]:
    """Every plot as PNG, SVG and CSV into ``folder`` (created); returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for view in views:
        base = folder / slug(view.title)
        written.append(export_png(view, base.with_suffix(".png"), width, height))
        written.append(export_svg(view, base.with_suffix(".svg"), width, height))
        written.append(export_csv(view, base.with_suffix(".csv")))
    return written
