"""The image list's model: columns read on demand from per-image arrays, so a settings step swaps arrays and
repaints the visible rows; it never rebuilds rows. It sorts and filters itself with numpy (row -> image is one
array): a sort/filter proxy asks Python for every row on each re-sort or re-filter (~300 ms per re-sort at 800
images; at 100,000 images, seconds), so there is none. Only the rows on screen are ever asked for."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from ..core.list_values import BLOCK
from .table_model import CENTER, KEY_ROLE, RIGHT, SORT_ROLE, Cell, brush, fill_painted, fmt

COLUMNS = ["image", "mean Fβ", "class Fβ", "mean IoU", "FP px", "FN px", "status", "cell px", "label score",
           "ΔFβ B−A"]
TIPS = ["image name (⚠: failed to load; hover for the reason)", "mean F-beta over the classes present in the image",
        "F-beta of the selected class (mean over classes when 'All classes')",
        "mean IoU over present classes (with masks: agreement of the two annotations)",
        "false-positive pixels (selected class)",
        "false-negative pixels (selected class)", "review status (hover for the note; ✎: has a note)",
        "pixels of the confusion-matrix cell last clicked (GT class → predicted class)",
        "label score (Label doubt tab): lower = the model more surely disagrees with the label",
        "F-beta of model B minus model A (Compare tab; selected class, or the mean over classes)"]
NAME, STATUS, PAIR, LABEL, DELTA = 0, 6, 7, 8, 9
ANSWERED = frozenset({Qt.DisplayRole, SORT_ROLE, KEY_ROLE, Qt.ToolTipRole, Qt.ForegroundRole, Qt.TextAlignmentRole})
EXTRA_KEYS = {LABEL: "label_score", DELTA: "delta"}
SCORE_KEYS = {1: "mean_fbeta", 2: "class_fbeta", 3: "mean_iou", 4: "fp", 5: "fn"}
INTEGER_COLUMNS = {4, 5}
MOST_IS_WORST = {4, 5, 7}       # FP px, FN px, cell px: a first click on their header puts the most at the top
CLASS_COLUMNS = (2, 4, 5)      # class Fβ, FP px, FN px: they follow the class selected in Settings
FAILED_COLOR = (220, 80, 80)
HELD_COLOR = (40, 100, 190)
HOLDER_CHARS = 12
HELD_ROLES = frozenset({Qt.DisplayRole, Qt.ToolTipRole, Qt.ForegroundRole})
STATUS_MARKS = {"unreviewed": ("", None), "accepted": ("✓", (30, 150, 60)), "needs fix": ("✗", (210, 60, 40)),
                "model error": ("!", (200, 120, 0)), "ambiguous": ("?", (110, 90, 200))}


def header_text(column: int, class_id: int | None = None, _name: str = "") -> str:
    """A column's header; the ones that follow the selected class say which (its id; Σ for all classes)."""
    if column not in CLASS_COLUMNS:
        return COLUMNS[column]
    if column == 2:
        return f"Fβ class {class_id}" if class_id is not None else "class Fβ (all)"
    return f"{COLUMNS[column]} ({class_id})" if class_id is not None else f"Σ {COLUMNS[column]}"


def status_mark(status: str, note: str) -> tuple[str, tuple | None]:
    mark, color = STATUS_MARKS.get(status, (status[:1].upper(), (90, 90, 90)))
    return mark + ("✎" if note else ""), color


class ImageListModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.headers, self.tooltips = COLUMNS, TIPS
        self.names: list[str] = []
        self.order = np.zeros(0, np.int64)    # row -> image (dataset position): the shown images in sorted order
        self.rank = np.zeros(0, np.int64)     # image -> row, -1 when filtered out
        self.sorted = np.zeros(0, np.int64)   # every image in the sort order
        self.shown: np.ndarray | None = None  # [I] bool, None: every image
        self.sort_column, self.sort_order = -1, Qt.AscendingOrder
        self.scores: dict[str, np.ndarray] | None = None
        self.failures: dict[int, str] = {}
        self.statuses: dict[str, str] = {}
        self.notes: dict[str, str] = {}
        self.holders: dict[str, str] = {}           # image name -> the reviewer who has it open elsewhere
        self.pair_counts: np.ndarray | None = None
        self.extra: dict[int, np.ndarray] = {}      # LABEL / DELTA column values, in dataset order
        self.class_column: tuple[int | None, str] = (None, "")
        self._lower: np.ndarray | None = None       # names lower-cased (sorting, the name filter)
        self._name_rank: np.ndarray | None = None
        self._cells: tuple = (None, {})             # (the scores they are of, image -> (block of rows, position))
        self._status_cache: tuple = (None, None, None, None)

    # ---- content ----
    def set_names(self, names: list[str]) -> None:
        self.beginResetModel()
        self.names = list(names)
        self.sorted = self.order = self.rank = np.arange(len(names))
        self.shown, self._lower, self._name_rank, self.extra = None, None, None, {}
        self.sort_column = -1
        self.scores, self.failures, self.statuses, self.notes, self.pair_counts = None, {}, {}, {}, None
        self.endResetModel()

    def changed(self, first_column: int = 0, last_column: int = len(COLUMNS) - 1) -> None:
        """The data of these columns changed in every row: views repaint what they show, nothing is rebuilt."""
        if len(self.order):
            self.dataChanged.emit(self.index(0, first_column), self.index(len(self.order) - 1, last_column))

    @property
    def keys(self) -> np.ndarray:
        return self.order

    def row_of(self, image: int) -> int:
        """The image's row, -1 when the filter hides it."""
        return int(self.rank[image])

    def lower_names(self) -> np.ndarray:
        if self._lower is None:
            self._lower = np.array([n.lower() for n in self.names], dtype=np.str_)
        return self._lower

    def has_status(self, status: str) -> np.ndarray:
        """[I] bool: the images whose review status is this one."""
        codes, names = self._status_codes()
        return codes == (names.index(status) if status in names else -1)

    def _status_codes(self) -> tuple[np.ndarray, list[str]]:
        """Per image the position of its status ('unreviewed' where none is recorded) among the sorted status
        names: a filter or a sort by status is one integer comparison, not one Python string per image on every
        threshold step. Kept while the names and the statuses (a new mapping per change) are the same objects."""
        names, statuses, cached = self.names, self.statuses, self._status_cache
        if cached[0] is names and cached[1] is statuses:
            return cached[2], cached[3]
        labels = sorted({"unreviewed", *statuses.values()})
        code = {label: i for i, label in enumerate(labels)}
        codes = np.full(len(names), code["unreviewed"], np.int64)
        positions = self._positions()
        for name, status in statuses.items():
            i = positions.get(name)
            if i is not None:
                codes[i] = code[status]
        self._status_cache = (names, statuses, codes, labels)
        return codes, labels

    def _positions(self) -> dict[str, int]:
        cached = getattr(self, "_position_cache", None)
        if cached is None or cached[0] is not self.names:
            cached = self._position_cache = (self.names, {n: i for i, n in enumerate(self.names)})
        return cached[1]

    # ---- filtering: a mask over the images ----
    def set_shown(self, shown: np.ndarray | None) -> bool:
        """Shows only the images where shown is True (None: all), in the current sort order; False if unchanged."""
        if shown is None and self.shown is None or (
                shown is not None and self.shown is not None and np.array_equal(shown, self.shown)):
            return False
        self.beginResetModel()      # the row count changes: a reset, the view then asks for the visible rows only
        self.shown = shown
        self._place(self.sorted)
        self.endResetModel()
        return True

    def _place(self, sorted_images: np.ndarray) -> None:
        self.sorted = sorted_images
        self.order = sorted_images if self.shown is None else sorted_images[self.shown[sorted_images]]
        self.rank = np.full(len(self.names), -1, np.int64)
        self.rank[self.order] = np.arange(len(self.order))

    # ---- sorting: one numpy argsort, then the rows move as a block ----
    def sort_values(self, column: int) -> np.ndarray:
        """Per image, what the column sorts by: numbers as floats (absent: NaN), text as integer ranks."""
        if column == NAME:
            if self._name_rank is None:
                self._name_rank = np.unique(self.lower_names(), return_inverse=True)[1].astype(np.float64)
            return self._name_rank
        if column == STATUS:
            return self._status_codes()[0].astype(np.float64)
        if column == PAIR:
            values = self.pair_counts
        elif column in EXTRA_KEYS:
            values = self.extra.get(column)
        else:
            values = None if self.scores is None else self.scores[SCORE_KEYS[column]]
            if values is not None and self.failures:
                values = np.asarray(values, dtype=np.float64).copy()
                values[list(self.failures)] = np.nan
        if values is None:
            return np.full(len(self.names), np.nan)
        return np.asarray(values, dtype=np.float64)

    def sort(self, column: int, order=Qt.AscendingOrder) -> None:
        """Rows by the column, absent values last in either direction; ties keep the dataset order."""
        self.sort_column, self.sort_order = column, order
        if not self.names or column < 0:
            return
        values = self.sort_values(column)
        absent = np.isnan(values)
        keyed = np.where(absent, 0.0, -values if order == Qt.DescendingOrder else values)
        self._reorder(np.lexsort((keyed, absent)))

    def _reorder(self, new: np.ndarray) -> None:
        if np.array_equal(new, self.sorted):
            return
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        images = [int(self.order[i.row()]) for i in old]
        self._place(new)
        self.changePersistentIndexList(old, [self.index(int(self.rank[im]), i.column()) for im, i in zip(images, old)])
        self.layoutChanged.emit()

    def value(self, row: int, column: int) -> Any:
        """The value of image `row` (a dataset position, whatever the sort order)."""
        name = self.names[row]
        if column == NAME:
            return f"⚠ {name}" if row in self.failures else name
        if column == STATUS:
            return self.statuses.get(name, "unreviewed")
        if column == PAIR:
            return int(self.pair_counts[row]) if self.pair_counts is not None else None
        if column in EXTRA_KEYS:
            values = self.extra.get(column)
            return float(values[row]) if values is not None else None
        if row in self.failures or self.scores is None:
            return None if column in INTEGER_COLUMNS else math.nan
        v = self._score(row, SCORE_KEYS[column])
        return int(v) if column in INTEGER_COLUMNS else float(v)

    def _score(self, image: int, key: str):
        """One image's value: a list's columns (core.list_values) are computed for a block of rows around the one
        the view asks for (the rows on screen), not for every image, unless every image's are known already."""
        scores = self.scores
        if not hasattr(scores, "rows"):           # plain arrays
            return scores[key][image]
        if self._cells[0] is not scores:
            self._cells = (scores, {})
        cells = self._cells[1]
        found = cells.get(image)
        if found is None:
            row = int(self.rank[image])
            images = self.order[max(0, row - BLOCK // 2):row + BLOCK // 2] if row >= 0 else np.array([image])
            block = scores.rows(images)
            if len(cells) > 8 * BLOCK:
                cells.clear()
            cells.update((int(im), (block, j)) for j, im in enumerate(images))
            found = cells[image]
        block, j = found
        return block[key][j]

    @property
    def rows(self) -> list[list[Cell]]:
        """Every image's cells in dataset order (tests and exports; the view reads value() on demand)."""
        return [[Cell(self.value(r, c)) for c in range(len(COLUMNS))] for r in range(len(self.names))]

    # ---- Qt ----
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.order)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def set_class(self, class_id: int | None, name: str = "") -> None:
        """The class the class Fβ, FP and FN columns follow (None: all classes): their headers say which."""
        self.class_column = (class_id, name)
        self.headerDataChanged.emit(Qt.Horizontal, min(CLASS_COLUMNS), max(CLASS_COLUMNS))

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal:
            if role == Qt.DisplayRole:
                return "" if section == STATUS else header_text(section, *self.class_column)
            if role == Qt.ToolTipRole:
                class_id, name = self.class_column
                which = f" — now class {class_id}: {name}" if class_id is not None else " — now all classes"
                return TIPS[section] + (which if section in CLASS_COLUMNS else "")
        return None

    def data(self, index, role=Qt.DisplayRole):
        # the view asks ~10 roles per visible cell on every repaint: refuse the unused ones before any work
        if role not in ANSWERED or not index.isValid():
            return None
        r = int(self.order[index.row()])
        return r if role == KEY_ROLE else self._role(r, index.column(), role)

    def multiData(self, index, roles) -> None:
        """A painted cell's roles in one call, its value read once (see TableModel.multiData)."""
        if index.isValid():
            r, c = int(self.order[index.row()]), index.column()
            fill_painted(roles, *self._painted(r, c))

    def _painted(self, r: int, c: int) -> tuple:
        """(text, alignment, text brush, background brush) of a cell."""
        v = self.value(r, c)
        if c == STATUS:
            mark, color = status_mark(v, self.notes.get(self.names[r], ""))
            return mark, CENTER, brush(color), None
        if c == NAME and self.holders and self.names[r] in self.holders:
            return self._held_role(r, v, Qt.DisplayRole), None, self._held_role(r, v, Qt.ForegroundRole), None
        if c == NAME:
            return v, None, brush(FAILED_COLOR) if r in self.failures else None, None
        return fmt(v), RIGHT, None, None

    def _role(self, r: int, c: int, role):
        if role == Qt.TextAlignmentRole and c != STATUS:     # asked for every cell on every repaint: no value needed
            return None if c == NAME else RIGHT
        if role == Qt.ForegroundRole and c not in (NAME, STATUS):
            return None
        v = self.value(r, c)
        if c == STATUS:
            return self._status_role(r, v, role)
        if c == NAME and self.holders and self.names[r] in self.holders and role in HELD_ROLES:
            return self._held_role(r, v, role)
        if role == Qt.DisplayRole:
            return fmt(v)
        if role == SORT_ROLE:
            if isinstance(v, (int, float)):
                return math.inf if isinstance(v, float) and math.isnan(v) else float(v)
            return "" if v is None else str(v).lower()
        if role == Qt.ToolTipRole:
            return self.failures.get(r) if c == NAME else ("computing…" if self.scores is None else None)
        if role == Qt.ForegroundRole:
            return brush(FAILED_COLOR) if c == NAME and r in self.failures else None
        return None

    def _held_role(self, r: int, name: str, role):
        """An image another reviewer has open: their name before the image's (a narrow list elides the end), in the
        held colour."""
        who = self.holders[self.names[r]]
        if role == Qt.DisplayRole:
            return f"[{who if len(who) <= HOLDER_CHARS else who[:HOLDER_CHARS - 1] + '…'}]\u00a0{name}"   # one word
        if role == Qt.ToolTipRole:
            return (f"{who} has this image open: next unreviewed skips it"
                    + (f"\n{self.failures[r]}" if r in self.failures else ""))
        return brush(HELD_COLOR)

    def _status_role(self, r: int, status: str, role):
        note = self.notes.get(self.names[r], "")
        if role == SORT_ROLE:
            return status
        if role == Qt.ToolTipRole:
            return status + (f" — {note}" if note else "")
        mark, color = status_mark(status, note)
        if role == Qt.DisplayRole:
            return mark
        if role == Qt.ForegroundRole:
            return brush(color)
        return CENTER
