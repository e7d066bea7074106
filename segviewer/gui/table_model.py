"""One table model for every table in the window: typed cells shown consistently, sorted by value."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from .number_field import exact_text

SORT_ROLE = Qt.UserRole + 1
KEY_ROLE = Qt.UserRole + 2
ANSWERED = frozenset({Qt.DisplayRole, SORT_ROLE, KEY_ROLE, Qt.ToolTipRole, Qt.ForegroundRole, Qt.BackgroundRole,
                      Qt.TextAlignmentRole})
ABSENT = "—"
DISPLAY, ALIGN, FOREGROUND, BACKGROUND = (int(r) for r in (Qt.DisplayRole, Qt.TextAlignmentRole, Qt.ForegroundRole,
                                                             Qt.BackgroundRole))
# QStyledItemDelegate::initStyleOption's roles, in its order (Qt 6)
DELEGATE_ROLES = tuple(int(r) for r in (Qt.FontRole, Qt.TextAlignmentRole, Qt.ForegroundRole, Qt.CheckStateRole,
                                        Qt.DecorationRole, Qt.DisplayRole, Qt.BackgroundRole))
DISPLAY_SLOT = DELEGATE_ROLES.index(DISPLAY)
RIGHT = int(Qt.AlignRight | Qt.AlignVCenter)
CENTER = int(Qt.AlignCenter)
ROW_HEIGHT = 18       # compact rows: the class table of a small dataset shows every class at 1024×700


@dataclass
class Cell:
    value: Any
    tooltip: str | None = None
    color: tuple[int, int, int] | None = None      # text colour
    swatch: tuple[int, int, int] | None = None     # background of a small colour cell


def same_cell(a: Cell, b: Cell) -> bool:
    """Equal values (NaN equals NaN: an absent score stays absent), tooltip and colours."""
    if (a.tooltip, a.color, a.swatch) != (b.tooltip, b.color, b.swatch) or type(a.value) is not type(b.value):
        return False
    if isinstance(a.value, float) and math.isnan(a.value):
        return math.isnan(b.value)
    return a.value == b.value


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, float):
        return ABSENT if math.isnan(value) else f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def beta_text(beta: float) -> str:
    """Beta as the beta field shows it: the engine's value, exactly (F6.31 for 6.31, F6.3096 for 6.3096)."""
    return exact_text(beta)


def column_spans(columns: list[int]) -> list[tuple[int, int]]:
    """Sorted column numbers as (first, last) runs: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    spans: list[list[int]] = []
    for c in columns:
        if spans and c == spans[-1][1] + 1:
            spans[-1][1] = c
        else:
            spans.append([c, c])
    return [(a, b) for a, b in spans]


class TableModel(QAbstractTableModel):
    def __init__(self, headers: list[str], tooltips: list[str] | None = None, parent=None):
        super().__init__(parent)
        self.headers = headers
        self.tooltips = tooltips or [""] * len(headers)
        self.rows: list[list[Cell]] = []
        self.texts: list[list[str]] = []     # what each cell shows, formatted once per change
        self.painted: list[list[tuple]] = []   # (text, alignment, brushes) per cell: what a repaint asks
        self.keys: list[Any] = []

    def set_rows(self, rows: list[list[Cell]], keys: list[Any]) -> None:
        """Replaces the content; same shape -> a dataChanged for the columns whose cells changed only, so the view
        repaints those (a threshold step leaves the class names and GT pixels alone) and a sort proxy re-sorts
        only when its column changed; selection and scroll stay put."""
        texts = [[fmt(cell.value) for cell in row] for row in rows]
        painted = [[painted_cell(cell, text) for cell, text in zip(row, row_texts)]
                   for row, row_texts in zip(rows, texts)]
        if len(rows) == len(self.rows) and rows and keys == self.keys:
            changed = [c for c in range(len(self.headers))
                       if any(not same_cell(old[c], new[c]) for old, new in zip(self.rows, rows))]
            self.rows, self.texts, self.painted = rows, texts, painted
            for first, last in column_spans(changed):
                self.dataChanged.emit(self.index(0, first), self.index(len(rows) - 1, last))
            return
        self.beginResetModel()
        self.rows, self.keys, self.texts, self.painted = rows, keys, texts, painted
        self.endResetModel()

    def set_headers(self, headers: list[str], tooltips: list[str]) -> None:
        """Other columns (and no rows until the next set_rows)."""
        self.beginResetModel()
        self.headers, self.tooltips = headers, tooltips
        self.rows, self.keys = [], []
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
        if role == Qt.DisplayRole:
            return self.texts[index.row()][index.column()]
        cell = self.rows[index.row()][index.column()]
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
            return brush(cell.color)
        if role == Qt.BackgroundRole and cell.swatch is not None:
            return brush(cell.swatch)
        if role == Qt.TextAlignmentRole and isinstance(cell.value, (int, float)):
            return RIGHT
        return None

    def multiData(self, index, roles) -> None:
        """Every role a painted cell needs in one call (Qt's delegate asks for 7 at once): one Python call per cell
        on a repaint instead of seven, from what set_rows prepared."""
        if index.isValid():
            fill_painted(roles, *self.painted[index.row()][index.column()])


def fill_painted(roles, text, align, foreground, background) -> None:
    """Fills a QModelRoleDataSpan with a cell's text, alignment and brushes; every other role is cleared (Qt's
    delegate reuses the span from cell to cell: a role left alone would keep the last cell's value). The delegate
    asks for its seven roles in one fixed order: that span is filled by position."""
    values = {DISPLAY: text, ALIGN: align, FOREGROUND: foreground, BACKGROUND: background}
    if roles.size() == len(DELEGATE_ROLES) and roles[DISPLAY_SLOT].role() == DISPLAY:
        for position, role in enumerate(DELEGATE_ROLES):
            value = values.get(role)
            slot = roles[position]
            slot.clearData() if value is None else slot.setData(value)
        return
    for k in range(roles.size()):
        slot = roles[k]
        value = values.get(slot.role())
        slot.clearData() if value is None else slot.setData(value)


@lru_cache(maxsize=256)
def brush(rgb: tuple[int, int, int] | None) -> QBrush | None:
    """One QBrush per colour for the whole window (a repaint asks for them cell by cell)."""
    return QBrush(QColor(*rgb)) if rgb is not None else None


def painted_cell(cell: Cell, text: str) -> tuple:
    """(text, alignment, text brush, background brush) of a cell."""
    number = isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool)
    return text, RIGHT if number else None, brush(cell.color), brush(cell.swatch)


class SortProxy(QSortFilterProxyModel):
    """Sorts by value (absent last when ascending)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)

    def multiData(self, index, roles) -> None:
        """Qt's proxies ask their source role by role; this one hands the whole span on (see TableModel)."""
        if index.isValid():
            self.sourceModel().multiData(self.mapToSource(index), roles)

    def lessThan(self, left, right) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if type(a) is not type(b):
            return str(a) < str(b)
        return a < b


def table_view(model) -> QTableView:
    """A read-only, sortable, row-selecting table over the model, with compact rows."""
    view = QTableView()
    view.setModel(model)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectRows)
    view.setSelectionMode(QAbstractItemView.SingleSelection)
    view.setEditTriggers(QAbstractItemView.NoEditTriggers)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    # sized to the contents when the rows are replaced, not on every value change: ResizeToContents asks every
    # cell of every row for its size on each dataChanged, which made a slider step cost O(rows) in Python
    view.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
    return view


def sorted_table(model: TableModel, parent=None) -> tuple[SortProxy, QTableView]:
    """table_view over a sort proxy of the model, its columns sized to the contents when the rows are replaced."""
    proxy = SortProxy(parent)
    proxy.setSourceModel(model)
    view = table_view(proxy)
    model.modelReset.connect(view.resizeColumnsToContents)
    return proxy, view


def select_key(proxy: SortProxy, view: QTableView, key) -> None:
    """Selects and shows the row whose key is `key` (a class, a slice), wherever the sort put it; none: no row."""
    for r in range(proxy.rowCount()):
        if proxy.index(r, 0).data(KEY_ROLE) == key:
            view.selectRow(r)
            view.scrollTo(proxy.index(r, 0))
            return
    view.clearSelection()
