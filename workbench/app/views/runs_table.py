"""The table of runs: a Qt model over the Runs view's records, sorted and filtered by a proxy.

Numbers sort as numbers (runs without a value last, whichever the direction), the filter
matches any column's text, and a sweep's swept settings get a column each.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap

from workbench.model.runs import RunRecord, from_other_experiment

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[RunRecord], Any]  # a float, str or None
    numeric: bool = True
    tip: str = ""


def best_val_metric(r: RunRecord) -> float:
    if r.history is None or r.history.n_epochs == 0:
        return math.nan
    values = r.history.epochs("val_metric")
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else math.nan


def _status(r: RunRecord) -> str:
    return r.status if not r.message else f"{r.status}: {r.message}"


BASE_COLUMNS = (
    Column("Run", lambda r: r.name, numeric=False),
    Column("Differs from base", lambda r: r.diff, numeric=False),
    Column("Status", _status, numeric=False),
    Column("Train loss", lambda r: r.last("train_loss"), tip="Final training loss"),
    Column("Val loss", lambda r: r.last("val_loss"), tip="Final validation loss"),
    Column("Train metric", lambda r: r.last("train_metric"), tip="Final training accuracy (or R²)"),
    Column("Val metric", lambda r: r.last("val_metric"), tip="Final validation accuracy (or R²)"),
    Column("Best val metric", best_val_metric, tip="The best validation accuracy (R²) of any epoch"),
    Column("Seed", lambda r: r.spec.seed),
    Column("Seconds", lambda r: r.extra.get("seconds", math.nan), tip="Training time of the run"),
)


def _value_column(path: str) -> Column:
    def value(r: RunRecord) -> Any:
        return r.extra.get("values", {}).get(path)

    return Column(path, value, numeric=False, tip=f"The swept setting {path}")


def show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "—"
    return str(value)


class RunsTableModel(QAbstractTableModel):
    """Rows are the records (in the view's order); columns: the base ones, then swept settings."""

    def __init__(self, records: Callable[[], list[RunRecord]], experiment: Callable[[], str]) -> None:
        super().__init__()
        self._records = records
        self._experiment = experiment
        self.columns: list[Column] = list(BASE_COLUMNS)

    def reset(self) -> None:
        """The records changed as a whole (added, removed, reordered): rebuild rows and columns."""
        self.beginResetModel()
        paths: list[str] = []
        for r in self._records():
            for path in r.extra.get("values", {}):
                if path not in paths:
                    paths.append(path)
        self.columns = list(BASE_COLUMNS) + [_value_column(p) for p in paths]
        self.endResetModel()

    def row_changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._records())

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        column = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tip or None
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        records = self._records()
        if not index.isValid() or index.row() >= len(records):
            return None
        r, column = records[index.row()], self.columns[index.column()]
        value = column.value(r)
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == 1 and from_other_experiment(r, self._experiment()):
                return f"other experiment: {r.experiment}"
            return show(value)
        if role == SORT_ROLE:
            return value
        if role == Qt.ItemDataRole.DecorationRole and index.column() == 0:
            pix = QPixmap(12, 12)
            pix.fill(QColor(*r.colour))
            return QIcon(pix)
        if role == Qt.ItemDataRole.ForegroundRole and r.status == "diverged":
            return QBrush(QColor(180, 0, 30))
        if role == Qt.ItemDataRole.TextAlignmentRole and (column.numeric or isinstance(value, (int, float))):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if index.column() == 1 and r.source == "opened":
                return f"From {r.experiment}: {r.diff}"
            if index.column() == 1:
                return r.diff if r.experiment == self._experiment() else (
                    f"A run of “{r.experiment}”: not compared with this experiment's base.")
            return column.tip or None
        return None


def _key(value: Any) -> tuple[int, Any]:
    """Numbers before words, and missing or non-finite values last."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or value == "":
        return (2, 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value).lower())


class RunsFilterModel(QSortFilterProxyModel):
    """Sorts by value (numbers numerically) and keeps rows whose text contains the filter."""

    def __init__(self) -> None:
        super().__init__()
        self.setSortRole(SORT_ROLE)
        self.setFilterKeyColumn(-1)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def lessThan(self, left: Index, right: Index) -> bool:
        a, b = _key(left.data(SORT_ROLE)), _key(right.data(SORT_ROLE))
        descending = self.sortOrder() == Qt.SortOrder.DescendingOrder
        if a[0] == 2 and b[0] == 2:
            return False
        if a[0] == 2 or b[0] == 2:  # missing values stay at the bottom in both directions
            return (b[0] == 2) != descending
        return a < b
