"""One table model for every table in the window: typed cells shown consistently, sorted by value."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

SORT_ROLE = Qt.UserRole + 1
KEY_ROLE = Qt.UserRole + 2
ANSWERED = frozenset({Qt.DisplayRole, SORT_ROLE, KEY_ROLE, Qt.ToolTipRole, Qt.ForegroundRole, Qt.BackgroundRole,
                      Qt.TextAlignmentRole})
ABSENT = "—"
ROW_HEIGHT = 18       # compact rows: the class table of a small dataset shows every class at 1024×700


@dataclass
class Cell:
    value: Any
    tooltip: str | None = None
    color: tuple[int, int, int] | None = None      # text colour
    swatch: tuple[int, int, int] | None = None     # background of a small colour cell


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, float):
        return ABSENT if math.isnan(value) else f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def beta_text(beta: float) -> str:
    """Beta as the beta field shows it (three decimals, trailing zeros dropped): F6.31, never F6.3096."""
    return f"{beta:.3f}".rstrip("0").rstrip(".")


class TableModel(QAbstractTableModel):
    def __init__(self, headers: list[str], tooltips: list[str] | None = None, parent=None):
        super().__init__(parent)
        self.headers = headers
        self.tooltips = tooltips or [""] * len(headers)
        self.rows: list[list[Cell]] = []
        self.keys: list[Any] = []

    def set_rows(self, rows: list[list[Cell]], keys: list[Any]) -> None:
        """Replaces the content; same shape -> only a dataChanged, so selection and scroll stay put."""
        if len(rows) == len(self.rows) and rows:
            self.rows, self.keys = rows, keys
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(self.headers) - 1))
            return
        self.beginResetModel()
        self.rows, self.keys = rows, keys
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal:
            if role == Qt.DisplayRole:
                return self.headers[section]
            if role == Qt.ToolTipRole:
                return self.tooltips[section] or None
        return None

    def data(self, index, role=Qt.DisplayRole):
        # the view asks ~10 roles per visible cell on every repaint: refuse the unused ones before any work
        if role not in ANSWERED or not index.isValid():
            return None
        cell = self.rows[index.row()][index.column()]
        if role == Qt.DisplayRole:
            return fmt(cell.value)
        if role == SORT_ROLE:
            v = cell.value
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float("inf") if isinstance(v, float) and math.isnan(v) else float(v)
            return "" if v is None else str(v).lower()
        if role == KEY_ROLE:
            return self.keys[index.row()]
        if role == Qt.ToolTipRole:
            return cell.tooltip
        if role == Qt.ForegroundRole and cell.color is not None:
            return QBrush(QColor(*cell.color))
        if role == Qt.BackgroundRole and cell.swatch is not None:
            return QBrush(QColor(*cell.swatch))
        if role == Qt.TextAlignmentRole and isinstance(cell.value, (int, float)):
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None


class SortProxy(QSortFilterProxyModel):
    """Sorts by value (absent last when ascending); rows can be hidden by a predicate on their key."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.accept = None

    def set_filter(self, accept) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10 deprecates invalidateFilter()
            self.beginFilterChange()
            self.accept = accept
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.accept = accept
            self.invalidateFilter()

    def sort(self, column: int, order=Qt.AscendingOrder) -> None:
        """A source that sorts itself (the image list, with numpy) is asked to; others are sorted here."""
        source = self.sourceModel()
        if hasattr(source, "sort_values"):
            source.sort(column, order)
            return
        super().sort(column, order)

    def sortColumn(self) -> int:
        source = self.sourceModel()
        return source.sort_column if hasattr(source, "sort_values") else super().sortColumn()

    def sortOrder(self):
        source = self.sourceModel()
        return source.sort_order if hasattr(source, "sort_values") else super().sortOrder()

    def filterAcceptsRow(self, row, parent) -> bool:
        if self.accept is None:
            return True
        return bool(self.accept(self.sourceModel().keys[row]))

    def lessThan(self, left, right) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if type(a) is not type(b):
            return str(a) < str(b)
        return a < b


def sorted_table(model: TableModel, parent=None) -> tuple[SortProxy, QTableView]:
    """A read-only, sortable, row-selecting table over the model, with compact rows."""
    proxy = SortProxy(parent)
    proxy.setSourceModel(model)
    view = QTableView()
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectRows)
    view.setSelectionMode(QAbstractItemView.SingleSelection)
    view.setEditTriggers(QAbstractItemView.NoEditTriggers)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    # sized to the contents when the rows are replaced, not on every value change: ResizeToContents asks every
    # cell of every row for its size on each dataChanged, which made a slider step cost O(rows) in Python
    view.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
    model.modelReset.connect(view.resizeColumnsToContents)
    return proxy, view
