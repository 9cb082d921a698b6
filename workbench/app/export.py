"""Plots to files: PNG at a chosen size, SVG written by our own paint engine, the data as CSV.

PNG and SVG both lay the plot out at the requested size and render its scene with a QPainter:
on a QImage for PNG, on ``_SvgDevice`` for SVG. Qt's QSvgGenerator is not used: over pyqtgraph
it writes every curve in data units under a huge ``matrix()`` with ``non-scaling-stroke``, sizes
the page in millimetres at 72 dpi and leaves fills to inheritance, and real renderers disagree
with it (Chromium drew the Loss curves on another scale than their axes, librsvg filled every
curve as a polygon and stretched the gradient-health heatmap past its axes). ``_SvgEngine``
receives the same paint calls as the PNG's raster engine and writes plain SVG 1.1 in pixels:
every path mapped to device coordinates, fill and stroke explicit on every element (crisp
edges where pyqtgraph paints without antialiasing), clips as ``clipPath`` in device pixels,
text as glyph outlines (no font lookup in the viewer), and each distinct image once, as a PNG
data URI, placed by ``<use>`` on its device rectangle (flips baked into the pixels), so the file
looks the same in every renderer as the PNG does.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QPaintDevice,
    QPaintEngine,
    QPaintEngineState,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QTextItem,
    QTransform,
)
from PySide6.QtWidgets import QGraphicsWidget

from workbench.app.plots.base import PlotView

SVG_DPI = 96  # CSS pixels: what browsers and librsvg assume for a unitless size
SETTLE_PAINTS = 4  # at most this many layout rounds before an export paints (see _render)
MAX_IMAGE_SIDE = 4096  # an image enlarged into the file (see _image) stays below this many pixels


@contextmanager
def _laid_out(view: PlotView, width: int, height: int) -> Iterator[QRectF]:
    """The plot laid out at ``width``×``height`` scene units (yields its scene rectangle); its
    on-screen size comes back afterwards.

    pyqtgraph's axes measure their tick labels while painting and widen afterwards, so the first
    paint at a new size is laid out for the old one: it is painted on a scratch image until the
    layout stops moving. Every export of a plot at one size (PNG or SVG) then has the same layout.
    """
    item = view.plot_item
    old = item.size()
    item.resize(QSizeF(width, height))
    item.layout.activate()
    scene = view.plot_widget.scene()
    try:
        scratch = QImage(width, height, QImage.Format.Format_ARGB32)
        before = None
        for _ in range(SETTLE_PAINTS):  # a grid of plots can take two rounds
            layout = _layout_signature(scene)
            if layout == before:
                break
            warm = QPainter(scratch)
            try:
                scene.render(warm, QRectF(0, 0, width, height), item.sceneBoundingRect())
            finally:
                warm.end()
            _activate_layouts(scene)
            before = layout
        yield item.sceneBoundingRect()
    finally:
        item.resize(old)
        item.layout.activate()


def _render(view: PlotView, painter: QPainter, width: int, height: int) -> None:
    with _laid_out(view, width, height) as source:
        view.plot_widget.scene().render(painter, QRectF(0, 0, width, height), source)


def _activate_layouts(scene: object) -> None:
    """Apply pending geometry changes now, nested layouts included (a plot in a grid has its own)."""
    for item in scene.items():
        # QGraphicsWidget.layout(item): pyqtgraph shadows the method with an attribute.
        layout = QGraphicsWidget.layout(item) if isinstance(item, QGraphicsWidget) else None
        if layout is not None:
            layout.activate()


def _view_boxes(scene: object) -> list[object]:
    import pyqtgraph as pg

    return [i for i in scene.items() if isinstance(i, pg.ViewBox)]


def _layout_signature(scene: object) -> list[tuple[float, ...]]:
    return [box.sceneBoundingRect().getRect() for box in _view_boxes(scene)]


def data_rects(view: PlotView, width: int, height: int) -> list[QRectF]:
    """Where each data area (pyqtgraph ViewBox) of ``view`` lands in an export of that size."""
    with _laid_out(view, width, height) as source:
        origin = source.topLeft()
        return [box.sceneBoundingRect().translated(-origin)
                for box in _view_boxes(view.plot_widget.scene()) if box.isVisible()]


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
    _write_atomically(path, _png_bytes(image))
    return path


def export_svg(view: PlotView, path: str | Path, width: int = 800, height: int = 500) -> Path:
    path = Path(path)
    width, height = int(width), int(height)
    device = _SvgDevice(width, height)
    painter = QPainter(device)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    try:
        painter.fillRect(QRectF(0, 0, width, height), QColor("white"))
        _render(view, painter, width, height)
    finally:
        painter.end()
    if device.engine.errors:
        raise OSError(f"could not draw {view.title} as SVG: {device.engine.errors[0]}")
    _write_atomically(path, device.engine.document(view.title).encode("utf-8"))
    return path


def _write_atomically(path: Path, data: bytes) -> None:
    """A temporary file beside ``path``, renamed over it: a failed export leaves no half file."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise OSError(f"could not write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(f"could not write {path}: {exc.strerror or exc}") from None


# ------------------------------------------------------------------------------------ SVG engine
_CAPS = {Qt.PenCapStyle.FlatCap: "butt", Qt.PenCapStyle.SquareCap: "square", Qt.PenCapStyle.RoundCap: "round"}
_JOINS = {Qt.PenJoinStyle.MiterJoin: "miter", Qt.PenJoinStyle.SvgMiterJoin: "miter",
          Qt.PenJoinStyle.BevelJoin: "bevel", Qt.PenJoinStyle.RoundJoin: "round"}
_M = QPaintDevice.PaintDeviceMetric


class _SvgDevice(QPaintDevice):
    """A paint device of ``width``×``height`` pixels whose engine writes SVG."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.engine = _SvgEngine(width, height)

    def paintEngine(self) -> QPaintEngine:
        return self.engine

    def metric(self, metric: QPaintDevice.PaintDeviceMetric) -> int:
        # Every value must be an int: a float here crashes QPainter.begin.
        values = {
            _M.PdmWidth: self.width, _M.PdmHeight: self.height,
            _M.PdmWidthMM: round(self.width * 25.4 / SVG_DPI),
            _M.PdmHeightMM: round(self.height * 25.4 / SVG_DPI),
            _M.PdmDpiX: SVG_DPI, _M.PdmDpiY: SVG_DPI,
            _M.PdmPhysicalDpiX: SVG_DPI, _M.PdmPhysicalDpiY: SVG_DPI,
            _M.PdmDepth: 32, _M.PdmNumColors: 2**31 - 1, _M.PdmDevicePixelRatio: 1,
            _M.PdmDevicePixelRatioScaled: int(QPaintDevice.devicePixelRatioFScale()),
        }
        return values.get(metric, 0)


class _SvgEngine(QPaintEngine):
    """Turns QPainter calls into SVG elements in device pixels (see the module docstring)."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__(QPaintEngine.PaintEngineFeature.AllFeatures)
        self.width, self.height = width, height
        self.body: list[str] = []
        self.defs: list[str] = []
        self._clips: dict[str, str] = {}
        self._images: dict[tuple, str] = {}
        self._clip: QPainterPath | None = None
        self._clip_on = False
        self._text = False
        self.errors: list[str] = []  # pyqtgraph prints and ignores exceptions raised while painting

    # QPaintEngine's interface ------------------------------------------------------------
    def begin(self, device: QPaintDevice) -> bool:
        return True

    def end(self) -> bool:
        return True

    def type(self) -> QPaintEngine.Type:
        return QPaintEngine.Type.User

    def updateState(self, state: QPaintEngineState) -> None:
        # Pen, brush, transform and opacity are read from the painter at each draw; the clip is
        # kept here, mapped to device pixels when it is set (mapping it back from a curve's data
        # coordinates later loses it: a loss axis scales by thousands).
        flags = state.state()
        dirty = QPaintEngine.DirtyFlag
        if flags & (dirty.DirtyClipPath | dirty.DirtyClipRegion):
            if flags & dirty.DirtyClipPath:
                shape = state.clipPath()
            else:
                shape = QPainterPath()
                shape.addRegion(state.clipRegion())
            operation = state.clipOperation()
            if operation == Qt.ClipOperation.NoClip:
                self._clip = None
            else:
                mapped = state.transform().map(shape)
                replace = operation == Qt.ClipOperation.ReplaceClip or self._clip is None
                self._clip = mapped if replace else self._clip.intersected(mapped)
            self._clip_on = True
        if flags & dirty.DirtyClipEnabled:
            self._clip_on = state.isClipEnabled()

    def drawPath(self, path: QPainterPath) -> None:
        with self._recorded():
            painter = self.painter()
            self._shape(painter.transform().map(path), painter.pen(), painter.brush(), path.fillRule())

    def drawPolygon(self, points: list, mode: QPaintEngine.PolygonDrawMode) -> None:
        with self._recorded():
            self._polygon(points, mode)

    def _polygon(self, points: list, mode: QPaintEngine.PolygonDrawMode) -> None:
        if not points:
            return
        path = QPainterPath(points[0])
        for p in points[1:]:
            path.lineTo(p)
        painter = self.painter()
        if mode == QPaintEngine.PolygonDrawMode.PolylineMode:
            self._shape(painter.transform().map(path), painter.pen(), QBrush(), Qt.FillRule.OddEvenFill)
            return
        path.closeSubpath()
        winding = mode == QPaintEngine.PolygonDrawMode.WindingMode
        rule = Qt.FillRule.WindingFill if winding else Qt.FillRule.OddEvenFill
        self._shape(painter.transform().map(path), painter.pen(), painter.brush(), rule)

    def drawTextItem(self, position: QPointF, text: QTextItem) -> None:
        # Qt's default turns the glyphs into paths (drawPath): outlines need no font in the viewer.
        self._text = True
        try:
            super().drawTextItem(position, text)
        finally:
            self._text = False

    def drawPixmap(self, rect: QRectF, pixmap: QPixmap, source: QRectF) -> None:
        with self._recorded():
            self._image(rect, pixmap.toImage(), source, ("p", pixmap.cacheKey()))

    def drawImage(self, rect: QRectF, image: QImage, source: QRectF, flags: object = None) -> None:
        with self._recorded():
            self._image(rect, image, source, ("i", image.cacheKey()))

    @contextmanager
    def _recorded(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # an element missing from the file must fail the export
            self.errors.append(f"{type(exc).__name__}: {exc}")

    # SVG ------------------------------------------------------------------------------------
    def document(self, title: str) -> str:
        w, h = self.width, self.height
        esc = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}">\n'
            f"<title>{esc}</title>\n<desc>Gradient Workbench plot</desc>\n"
            "<defs>\n" + "".join(self.defs) + "</defs>\n" + "".join(self.body) + "</svg>\n"
        )

    def _clip_attr(self) -> str:
        """The clip-path attribute for the current clip (kept in device pixels by updateState)."""
        if self._clip is None or not self._clip_on:
            return ""
        key = _path_d(self._clip)
        name = self._clips.get(key)
        if name is None:
            name = self._clips[key] = f"c{len(self._clips)}"
            self.defs.append(f'<clipPath id="{name}"><path d="{key}"/></clipPath>\n')
        return f' clip-path="url(#{name})"'

    def _shape(self, path: QPainterPath, pen: QPen, brush: QBrush, rule: Qt.FillRule) -> None:
        if path.isEmpty():
            return
        opacity = self.painter().opacity()
        fill = _paint(brush.color(), opacity) if brush.style() != Qt.BrushStyle.NoBrush else None
        stroke = self._stroke(pen, opacity)
        if fill is None and stroke is None:
            return
        attrs = [f'fill="{fill[0]}"', f'fill-opacity="{fill[1]}"'] if fill else ['fill="none"']
        if fill and rule == Qt.FillRule.OddEvenFill:
            attrs.append('fill-rule="evenodd"')
        attrs.append(stroke or 'stroke="none"')
        hints = self.painter().renderHints()
        smooth = QPainter.RenderHint.TextAntialiasing if self._text else QPainter.RenderHint.Antialiasing
        if not hints & smooth:  # pyqtgraph draws unsmoothed by default: crisp, pixel-snapped lines
            attrs.append('shape-rendering="crispEdges"')
        self.body.append(f'<path d="{_path_d(path)}" {" ".join(attrs)}{self._clip_attr()}/>\n')

    def _stroke(self, pen: QPen, opacity: float) -> str | None:
        if pen.style() == Qt.PenStyle.NoPen or pen.brush().style() == Qt.BrushStyle.NoBrush:
            return None
        colour, alpha = _paint(pen.color(), opacity)
        width = pen.widthF()
        if not pen.isCosmetic():  # scales with the drawing, like the raster engine
            t = self.painter().transform()
            width *= abs(t.determinant()) ** 0.5
        width = width if width > 0 else 1.0
        out = (f'stroke="{colour}" stroke-opacity="{alpha}" stroke-width="{width:.3g}" '
               f'stroke-linecap="{_CAPS.get(pen.capStyle(), "square")}" '
               f'stroke-linejoin="{_JOINS.get(pen.joinStyle(), "bevel")}"')
        if pen.style() not in (Qt.PenStyle.SolidLine, Qt.PenStyle.NoPen):
            dashes = " ".join(f"{d * max(width, 1.0):.3g}" for d in pen.dashPattern())
            if dashes:
                out += f' stroke-dasharray="{dashes}"'
        return out

    def _image(self, rect: QRectF, image: QImage, source: QRectF, key: tuple) -> None:
        """Each distinct image once in <defs> (a scatter plot draws one marker hundreds of times),
        placed by a <use> whose matrix maps its pixels onto the device rectangle."""
        painter = self.painter()
        t = painter.transform()
        if source.toAlignedRect() != image.rect():
            image = image.copy(source.toAlignedRect())
            key = (*key, source.x(), source.y(), source.width(), source.height())
        smooth = bool(painter.renderHints() & QPainter.RenderHint.SmoothPixmapTransform)
        if t.m12() == 0 and t.m21() == 0:
            # Axis-aligned (every pyqtgraph image): the device rectangle, flips baked into the pixels.
            target = t.mapRect(rect)
            flip_x, flip_y = t.m11() < 0, t.m22() < 0
            if flip_x or flip_y:
                image = image.flipped(_orientation(flip_x, flip_y))
                key = (*key, flip_x, flip_y)
            w, h = min(round(target.width()), MAX_IMAGE_SIDE), min(round(target.height()), MAX_IMAGE_SIDE)
            if not smooth and (w > image.width() or h > image.height()):
                # Renderers smooth an enlarged image whatever image-rendering says (librsvg does),
                # so a heatmap's cells are enlarged here, as the raster engine draws them: blocks.
                image = image.scaled(max(w, image.width()), max(h, image.height()),
                                     Qt.AspectRatioMode.IgnoreAspectRatio,
                                     Qt.TransformationMode.FastTransformation)
                key = (*key, w, h)
            place = QTransform(target.width() / image.width(), 0, 0, target.height() / image.height(),
                               target.x(), target.y())
        else:  # rotated or sheared: the painter's matrix, nothing to bake
            place = QTransform(rect.width() / image.width(), 0, 0, rect.height() / image.height(),
                               rect.x(), rect.y()) * t
        key = (*key, smooth)
        name = self._images.get(key)
        if name is None:
            name = self._images[key] = f"i{len(self._images)}"
            data = _png_data_uri(image)
            rendering = "" if smooth else ' image-rendering="optimizeSpeed" style="image-rendering:pixelated"'
            self.defs.append(f'<image id="{name}" width="{image.width()}" height="{image.height()}" '
                             f'preserveAspectRatio="none"{rendering} xlink:href="{data}" href="{data}"/>\n')
        opacity = painter.opacity()
        alpha = f' opacity="{opacity:.3g}"' if opacity < 1 else ""
        matrix = (f"{place.m11():.6g},{place.m12():.6g},{place.m21():.6g},{place.m22():.6g},"
                  f"{place.dx():.3f},{place.dy():.3f}")
        use = f'<use xlink:href="#{name}" href="#{name}" transform="matrix({matrix})"{alpha}/>'
        clip = self._clip_attr()
        # A clip on the <use> itself would move with its transform: it goes on a group around it.
        self.body.append(f"<g{clip}>{use}</g>\n" if clip else use + "\n")


def _orientation(flip_x: bool, flip_y: bool) -> Qt.Orientation:
    o = Qt.Orientation(0)
    if flip_x:
        o |= Qt.Orientation.Horizontal
    if flip_y:
        o |= Qt.Orientation.Vertical
    return o


def _paint(colour: QColor, opacity: float) -> tuple[str, str]:
    return colour.name(QColor.NameFormat.HexRgb), f"{colour.alphaF() * opacity:.3g}"


def _path_d(path: QPainterPath) -> str:
    parts: list[str] = []
    kinds = QPainterPath.ElementType
    i, n = 0, path.elementCount()
    while i < n:
        e = path.elementAt(i)
        if e.type == kinds.MoveToElement:
            parts.append(f"M{e.x:.2f} {e.y:.2f}")
        elif e.type == kinds.LineToElement:
            parts.append(f"L{e.x:.2f} {e.y:.2f}")
        elif e.type == kinds.CurveToElement and i + 2 < n:
            c2, end = path.elementAt(i + 1), path.elementAt(i + 2)
            parts.append(f"C{e.x:.2f} {e.y:.2f} {c2.x:.2f} {c2.y:.2f} {end.x:.2f} {end.y:.2f}")
            i += 2
        i += 1
    return "".join(parts).replace(".00", "")


def _png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    ok = image.save(buffer, "PNG")
    buffer.close()
    if not ok:
        raise OSError(f"could not encode a {image.width()}×{image.height()} image as PNG")
    return bytes(data)


def _png_data_uri(image: QImage) -> str:
    return "data:image/png;base64," + base64.b64encode(_png_bytes(image)).decode("ascii")


def export_csv(view: PlotView, path: str | Path) -> Path:
    path = Path(path)
    header, rows = view.table()
    rows = np.asarray(rows, dtype=float).reshape(-1, len(header))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if np.isnan(v) else repr(float(v)) for v in row])
    _write_atomically(path, text.getvalue().encode("utf-8"))
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
