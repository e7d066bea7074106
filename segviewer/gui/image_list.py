"""Every image with its score at the current settings; sort worst first, filter, click or keys to switch.

The name, the review status and the column the list is sorted by stay visible at any width; a settings step
updates the rows' data in place, and while a slider is held the order stays put (it re-sorts on release)."""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
from PySide6.QtCore import QEvent, QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QVBoxLayout, QWidget

from .frozen_columns import FrozenColumns
from .image_list_model import (COLUMNS, DELTA, INTEGER_COLUMNS, LABEL, MOST_IS_WORST, NAME, PAIR, STATUS,
                               ImageListModel, header_text)
from .table_model import KEY_ROLE, table_view

NAME_MIN_WIDTH = 90
STATUS_WIDTH = 30
NUMBER_WIDTH = 70
SORT_ARROW = 28          # the header's sort indicator and margins
SCORE_COLUMNS = (1, 2, 3, 4, 5)    # the columns a settings step changes
GT_ANY, PRED_ANY = "GT has any class", "prediction has any class"
COMBO_ARROW = 34         # a combo's frame and drop-down arrow


def fit_width(combo: QComboBox, texts) -> None:
    """The combo at least as wide as the longest of these texts needs (each shows whole)."""
    combo.setMinimumWidth(max(combo.fontMetrics().horizontalAdvance(t) for t in texts) + COMBO_ARROW)


def number_column_width(metrics, column: int) -> int:
    """A number column's width: its header with the sort arrow, or its widest value, whichever is wider."""
    widest = "8,888,888" if column in INTEGER_COLUMNS or column == PAIR else "−0.000"
    header = max(metrics.horizontalAdvance(header_text(column, k)) for k in (None, 99))
    return max(header + SORT_ARROW, metrics.horizontalAdvance(widest) + 14)


ANALYSIS_COLUMNS = (PAIR, LABEL, DELTA)


class ImageListPanel(QWidget):
    image_selected = Signal(int)
    order_changed = Signal()        # re-sorted or re-filtered: "n of N in the list" is said again

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.items_word = "images"               # what the foot calls the rows ("cases" for 3-D volumes)
        self.model = ImageListModel(self)
        self.view = table_view(self.model)      # no proxy: the model sorts and filters itself (numpy)
        self._columns()
        self.view.selectionModel().currentRowChanged.connect(self._row_changed)
        self.view.setTextElideMode(Qt.ElideMiddle)   # a narrow name keeps its start ([ann] open elsewhere) and end
        self.search = QLineEdit()
        self.search.setPlaceholderText("filter by name…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._refilter)
        self.gt_filter = QComboBox()
        self.pred_filter = QComboBox()
        self.status_filter = QComboBox()
        for combo, tip in ((self.gt_filter, "only images whose ground truth has this class"),
                           (self.pred_filter, "only images whose prediction has this class"),
                           (self.status_filter, "only images with this review status")):
            combo.setToolTip(tip)
            combo.setMinimumContentsLength(1)        # as wide as its longest item (fit_width), not n widest letters
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.currentIndexChanged.connect(self._refilter)
        fit_width(self.pred_filter, [PRED_ANY])
        self.summary = QLabel("no dataset")
        self.summary.setStyleSheet("color: gray;")
        self.summary.setWordWrap(True)          # "n of N reviewed (mine: m)" stays whole in a narrow list
        top = QHBoxLayout()        # the class filters on rows of their own: a class name shows whole
        top.addWidget(self.search, 2)
        top.addWidget(self.status_filter, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.gt_filter)
        layout.addWidget(self.pred_filter)
        layout.addWidget(self.view)
        layout.addWidget(self.summary)
        self.setMinimumWidth(200)
        self.scores: dict[str, np.ndarray] | None = None
        self._name_filter: tuple[str, np.ndarray | None] = ("", None)
        self.review_progress = ""       # "n of N reviewed (mine: m)" from the review session
        self._sorted_once = False
        self._held = False
        self._current_key = -1

    def _columns(self) -> None:
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)   # no per-step measuring of every row
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(STATUS_WIDTH)
        header.setDefaultSectionSize(NUMBER_WIDTH)
        self._widths()
        header.moveSection(header.visualIndex(STATUS), 0)      # status icon, name, sorted-by score, the rest
        self.frozen = FrozenColumns(self.view, (STATUS, NAME))   # which row is which, however far it scrolls
        self._sort_column = -1
        self._score_column = 1         # the score beside the name: the last score column sorted by
        header.sortIndicatorChanged.connect(lambda column, _order: self._bring_forward(column))
        header.sectionClicked.connect(self._worst_first_on_first_click)
        self._previous_sort_column = -1
        self._measured: tuple[object, int] = (None, 0)      # (the names measured, their width)
        self.view.viewport().installEventFilter(self)

    def _widths(self) -> None:
        """Every number column as wide as its header (with the sort arrow) and its widest value."""
        header = self.view.horizontalHeader()
        for c in range(len(COLUMNS)):
            if c not in (NAME, STATUS):
                header.resizeSection(c, number_column_width(self.view.fontMetrics(), c))
        header.resizeSection(STATUS, STATUS_WIDTH)

    def _worst_first_on_first_click(self, column: int) -> None:
        """A header clicked for the first time sorts worst first, as the list does: the most FP or FN pixels at
        the top (Qt's first click is ascending); a second click on it reverses the order as usual."""
        if column == self._previous_sort_column or column not in MOST_IS_WORST:
            return
        header = self.view.horizontalHeader()
        if header.sortIndicatorOrder() != Qt.DescendingOrder:
            header.setSortIndicator(column, Qt.DescendingOrder)

    def _bring_forward(self, column: int) -> None:
        """The sorted-by score moves beside the name; sorting by name or status keeps the score that was there."""
        self._previous_sort_column, self._sort_column = self._sort_column, column
        header = self.view.horizontalHeader()
        if column not in (NAME, STATUS) and column >= 0:
            self._score_column = column
            header.moveSection(header.visualIndex(column), 2)
        self._fit_name()
        self.order_changed.emit()

    def _fit_name(self) -> None:
        """The name takes the room the status and the score beside it leave, so those never scroll out of view."""
        header = self.view.horizontalHeader()
        room = self.view.viewport().width() - header.sectionSize(STATUS) - header.sectionSize(self._score_column)
        needed = self._names_width()
        header.resizeSection(NAME, max(NAME_MIN_WIDTH, min(room - 2, max(needed, 2 * NAME_MIN_WIDTH))))

    def _names_width(self) -> int:
        """The widest of the first names, measured once per dataset (a resize drag asks on every event)."""
        names = self.model.names
        if self._measured[0] is not names:
            metrics = self.view.fontMetrics()
            self._measured = (names, max((metrics.horizontalAdvance(n) for n in names[:2000]), default=0) + 28)
        return self._measured[1]

    def eventFilter(self, obj, event) -> bool:
        if obj is self.view.viewport() and event.type() == QEvent.Resize:
            self._fit_name()
        return False

    def set_dataset(self, names: list[str], class_names, status_names, items: str = "images") -> None:
        for column in ANALYSIS_COLUMNS:         # a column of dashes until its analysis first fills it
            self.view.setColumnHidden(column, True)
        self.items_word = items
        self.scores, self._sorted_once, self._current_key = None, False, -1
        self._name_filter = ("", None)
        self.model.set_names(names)
        self._widths()       # a model reset gives every section the default size
        for combo, label, has in ((self.gt_filter, GT_ANY, "GT has"), (self.pred_filter, PRED_ANY, "prediction has")):
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(label, None)
            for i, n in enumerate(class_names):
                combo.addItem(f"{has} {i}: {n}", i)
            combo.blockSignals(False)
        self.set_status_names(status_names)
        self.view.horizontalHeader().setSortIndicator(-1, Qt.AscendingOrder)
        self.refresh()
        self._fit_name()

    def set_status_names(self, status_names) -> None:
        self.status_filter.blockSignals(True)
        self.status_filter.clear()
        self.status_filter.addItem("status: any", None)
        for s in status_names:
            self.status_filter.addItem(s, s)
        self.status_filter.blockSignals(False)
        fit_width(self.status_filter, ["status: any", *status_names])

    def refresh(self, scores: dict[str, np.ndarray] | None = None, failures: dict[int, str] | None = None,
                statuses: dict[str, str] | None = None, notes: dict[str, str] | None = None) -> None:
        """New data for the rows; the rows repaint in place (while a slider is held, in the order they had)."""
        m = self.model
        if scores is not None:
            self.scores = scores
        m.scores = self.scores
        failed = failures is not None and dict(failures) != m.failures
        if failed:
            m.failures = dict(failures)
        if statuses is not None:
            m.statuses = statuses
        if notes is not None:
            m.notes = notes
        if failed or statuses is not None or notes is not None:
            m.changed()
        else:           # a settings step: only the score columns repaint (not the names and status marks)
            m.changed(SCORE_COLUMNS[0], SCORE_COLUMNS[-1])
        if self.scores is not None and not self._sorted_once:
            self._sorted_once = True
            self.sort_worst_first()
        if not self._held and self.scores is not None:   # while numbers are computed the order stays
            self.resort()
            self._refilter()
        self.update_summary()

    def hold_order(self, held: bool) -> None:
        """While held (a slider drag), rows update their numbers but neither re-sort nor re-filter."""
        if held == self._held:
            return
        self._held = held
        if not held:
            self.resort()
            self._refilter()
            if self._current_key >= 0:
                self.select(self._current_key)

    def update_summary(self) -> None:
        m = self.model
        n = len(m.names)
        shown = m.rowCount()
        listed = f"{shown} of {n} {self.items_word}" if shown != n else f"{n} {self.items_word}"
        self.summary.setText(f"{listed} · {self.review_progress}" if n and self.review_progress else
                             listed if n else "no dataset")

    def show_review_progress(self, text: str) -> None:
        """The session's "n of N reviewed" (the team's, and the reviewer's own) at the list's foot."""
        self.review_progress = text
        self.update_summary()

    def show_holders(self, held: dict[str, str]) -> None:
        """Marks the images other reviewers have open now (image name -> reviewer)."""
        if held != self.model.holders:
            self.model.holders = held
            self.model.changed(NAME, NAME)

    @property
    def pair_counts(self):
        return self.model.pair_counts

    def show_pair_counts(self, counts) -> None:
        """Ranks the images by one confusion pair's pixel count, most first."""
        self.view.setColumnHidden(PAIR, False)
        self.model.pair_counts = counts
        self.model.changed(PAIR, PAIR)
        self.view.sortByColumn(PAIR, Qt.DescendingOrder)

    def show_column(self, column: int, values, ascending: bool) -> None:
        """Fills the label-score or Δ column (dataset order) and ranks the list by it."""
        self.view.setColumnHidden(column, False)
        self.model.extra[column] = values
        self.model.changed(column, column)
        self._sorted_once = True      # the first scores must not put the list back to worst first
        self.view.sortByColumn(column, Qt.AscendingOrder if ascending else Qt.DescendingOrder)

    def drop_settings_columns(self, pairs: bool = True) -> None:
        """Δ (and a confusion cell's pixels, when the counts changed) belong to the settings they were computed
        for: cleared on a change until the Compare tab (or the next cell click) computes them again."""
        m = self.model
        dropped = m.extra.pop(DELTA, None) is not None
        if pairs and m.pair_counts is not None:
            m.pair_counts, dropped = None, True
        if dropped:
            m.changed()

    def resort(self) -> None:
        """The rows in the order of the sorted-by column's new values (one numpy argsort)."""
        self.model.sort(self.model.sort_column, self.model.sort_order)
        self.order_changed.emit()

    def sort_worst_first(self, column: int = 1) -> None:
        self.view.sortByColumn(column, Qt.AscendingOrder if column in (1, 2, 3) else Qt.DescendingOrder)

    def _refilter(self) -> None:
        """The rows shown: one boolean mask over the images (name, GT class, predicted class, review status)."""
        shown = self._name_mask()
        s = self.scores
        for combo, key in ((self.gt_filter, "gt_present"), (self.pred_filter, "pred_present")):
            class_id = combo.currentData()
            if s is not None and class_id is not None:
                has = s.present(key, class_id) if hasattr(s, "present") else s[key][:, class_id]
                shown = has if shown is None else shown & has
        status = self.status_filter.currentData()
        if status is not None:
            same = self.model.has_status(status)
            shown = same if shown is None else shown & same
        if self.model.set_shown(None if shown is None else np.asarray(shown, dtype=bool)) and self._current_key >= 0:
            self.select(self._current_key)      # a reset forgets the current row (a filter cleared: selected again)
        self.update_summary()
        self.order_changed.emit()

    def _name_mask(self) -> np.ndarray | None:
        """Images whose name contains the search text (kept for that text: a step does not search again)."""
        text = self.search.text().strip().lower()
        if not text:
            return None
        if self._name_filter[0] != text:
            self._name_filter = (text, np.char.find(self.model.lower_names(), text) >= 0)
        return self._name_filter[1]

    # ---- selection and walking ----
    def _row_changed(self, current, _previous) -> None:
        # sorting moves the current row without changing the image: only a different image is a selection
        if current.isValid() and int(current.data(KEY_ROLE)) != self._current_key:
            self._current_key = int(current.data(KEY_ROLE))
            self.image_selected.emit(self._current_key)

    def select(self, image_index: int) -> None:
        self._current_key = image_index
        if not 0 <= image_index < len(self.model.names):
            return
        row = self.model.row_of(image_index)
        if row < 0:        # hidden by the filter
            return
        idx = self.model.index(row, NAME)
        with self._sideways_kept():
            if self.view.currentIndex().row() != row:
                self.view.selectionModel().setCurrentIndex(idx, QItemSelectionModel.ClearAndSelect
                                                           | QItemSelectionModel.Rows)
            self.view.scrollTo(idx)

    @contextmanager
    def _sideways_kept(self):
        """Another row keeps the columns scrolled to: Qt scrolls to the current cell (the name, drawn by the frozen
        columns anyway) and left the numbers half scrolled out."""
        bar = self.view.horizontalScrollBar()
        at = bar.value()
        yield
        bar.setValue(at)

    def step(self, delta: int) -> None:
        """Next / previous row in the list's current order (and filter)."""
        n = self.model.rowCount()
        if n == 0:
            return
        row = self.view.currentIndex().row()
        row = 0 if row < 0 else max(0, min(n - 1, row + delta))
        with self._sideways_kept():
            self.view.selectionModel().setCurrentIndex(self.model.index(row, NAME),
                                                       QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)

    def position_of(self, image: int) -> tuple[int, int]:
        """(row of the image in the visible list or -1, visible rows), O(1)."""
        shown = self.model.rowCount()
        return (self.model.row_of(image) if 0 <= image < len(self.model.names) else -1), shown

    def visible_order(self) -> list[int]:
        return self.model.order.tolist()
