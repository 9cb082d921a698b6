"""Regression guard for the PySide6 6.12 reference leak (docs/architecture.md, Known traps): void
QPainter calls dropped a reference to None and Signal.emit() one to True, aborting a live session on 3.11."""

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen


def test_qpainter_setpen_keeps_none_references(qapp) -> None:
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    pen = QPen(QColor("red"))
    before = sys.getrefcount(None)
    for _ in range(10_000):
        painter.setPen(pen)
    after = sys.getrefcount(None)
    painter.end()
    assert after >= before - 100  # a leak would lose ~10,000


class _Emitter(QObject):
    fired = Signal(int)


class _Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_fired(self, _value: int) -> None:
        self.count += 1


def test_signal_emit_keeps_true_references(qapp) -> None:
    emitter, receiver = _Emitter(), _Receiver()
    emitter.fired.connect(receiver.on_fired)
    before = sys.getrefcount(True)
    for i in range(10_000):
        emitter.fired.emit(i)
    after = sys.getrefcount(True)
    assert receiver.count == 10_000
    assert after >= before - 100
