"""Every image with its score at the current settings; sort worst first, filter, click or keys to switch."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QHeaderView, QLineEdit, QVBoxLayout, QWidget

from .table_model import KEY_ROLE, Cell, TableModel, sorted_table

COLUMNS = ["image", "mean Fβ", "class Fβ", "mean IoU", "FP px", "FN px", "status", "cell px"]
TIPS = ["image name (⚠: failed to load; hover for the reason)", "mean F-beta over the classes present in the image",
        "F-beta of the selected class (mean over classes when 'All classes')",
        "mean IoU over present classes (with masks: agreement of the two annotations)",
        "false-positive pixels (selected class)",
        "false-negative pixels (selected class)", "review status",
        "pixels of the confusion-matrix cell last clicked (GT class → predicted class)"]
FAILED_COLOR = (220, 80, 80)


class ImageListPanel(QWidget):
    image_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = TableModel(COLUMNS, TIPS, self)
        self.proxy, self.view = sorted_table(self.model, self)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Interactive)
        header.resizeSection(0, 120)
        header.setStretchLastSection(True)
        self.view.selectionModel().currentRowChanged.connect(self._row_changed)
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
            combo.currentIndexChanged.connect(self._refilter)
        top, filters = QHBoxLayout(), QHBoxLayout()
        top.addWidget(self.search, 2)
        top.addWidget(self.status_filter, 1)
        filters.addWidget(self.gt_filter)
        filters.addWidget(self.pred_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(filters)
        layout.addWidget(self.view)
        self.names: list[str] = []
        self.scores: dict[str, np.ndarray] | None = None
        self.failures: dict[int, str] = {}
        self.statuses: dict[str, str] = {}
        self.pair_counts = None
        self._sorted_once = False
        self._current_key = -1

    def set_dataset(self, names: list[str], class_names, status_names) -> None:
        self.names, self.scores, self.failures, self._sorted_once = list(names), None, {}, False
        self._current_key, self.pair_counts = -1, None
        for combo, label in ((self.gt_filter, "in GT: any class"), (self.pred_filter, "predicted: any class")):
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(label, None)
            for i, n in enumerate(class_names):
                combo.addItem(f"{i}: {n}", i)
            combo.blockSignals(False)
        self.set_status_names(status_names)
        self.proxy.sort(-1)
        self.refresh()

    def set_status_names(self, status_names) -> None:
        self.status_filter.blockSignals(True)
        self.status_filter.clear()
        self.status_filter.addItem("status: any", None)
        for s in status_names:
            self.status_filter.addItem(s, s)
        self.status_filter.blockSignals(False)

    def refresh(self, scores: dict[str, np.ndarray] | None = None, failures: dict[int, str] | None = None,
                statuses: dict[str, str] | None = None) -> None:
        if scores is not None:
            self.scores = scores
        if failures is not None:
            self.failures = dict(failures)
        if statuses is not None:
            self.statuses = statuses
        rows = [self._row(i, name) for i, name in enumerate(self.names)]
        self.model.set_rows(rows, list(range(len(self.names))))
        if self.scores is not None and not self._sorted_once:
            self._sorted_once = True
            self.sort_worst_first()
        self._refilter()

    def _row(self, i: int, name: str) -> list[Cell]:
        failed = self.failures.get(i)
        status = self.statuses.get(name, "unreviewed")
        pair = Cell(int(self.pair_counts[i]) if self.pair_counts is not None else None)
        if failed:
            return [Cell(f"⚠ {name}", tooltip=failed, color=FAILED_COLOR), Cell(math.nan), Cell(math.nan),
                    Cell(math.nan), Cell(None), Cell(None), Cell(status), pair]
        s = self.scores
        if s is None:
            return [Cell(name), Cell(math.nan, tooltip="computing…"), Cell(math.nan), Cell(math.nan), Cell(None),
                    Cell(None), Cell(status), pair]
        return [Cell(name), Cell(float(s["mean_fbeta"][i])), Cell(float(s["class_fbeta"][i])),
                Cell(float(s["mean_iou"][i])), Cell(int(s["fp"][i])), Cell(int(s["fn"][i])), Cell(status), pair]

    def show_pair_counts(self, counts) -> None:
        """Ranks the images by one confusion pair's pixel count, most first."""
        self.pair_counts = counts
        self.refresh()
        self.view.sortByColumn(len(COLUMNS) - 1, Qt.DescendingOrder)

    def sort_worst_first(self, column: int = 1) -> None:
        self.view.sortByColumn(column, Qt.AscendingOrder if column in (1, 2, 3) else Qt.DescendingOrder)

    def _refilter(self) -> None:
        text = self.search.text().strip().lower()
        gt_c, pred_c = self.gt_filter.currentData(), self.pred_filter.currentData()
        status = self.status_filter.currentData()
        s = self.scores

        def accept(i: int) -> bool:
            if text and text not in self.names[i].lower():
                return False
            if s is not None and gt_c is not None and not s["gt_present"][i, gt_c]:
                return False
            if s is not None and pred_c is not None and not s["pred_present"][i, pred_c]:
                return False
            return status is None or self.statuses.get(self.names[i], "unreviewed") == status
        self.proxy.set_filter(accept)

    # ---- selection and walking ----
    def _row_changed(self, current, _previous) -> None:
        # sorting moves the current row without changing the image: only a different image is a selection
        if current.isValid() and int(current.data(KEY_ROLE)) != self._current_key:
            self._current_key = int(current.data(KEY_ROLE))
            self.image_selected.emit(self._current_key)

    def select(self, image_index: int) -> None:
        self._current_key = image_index
        for r in range(self.proxy.rowCount()):
            idx = self.proxy.index(r, 0)
            if idx.data(KEY_ROLE) == image_index:
                if self.view.currentIndex().row() != r:
                    self.view.selectionModel().setCurrentIndex(
                        idx, QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)
                self.view.scrollTo(idx)
                return

    def step(self, delta: int) -> None:
        """Next / previous row in the list's current order (and filter)."""
        n = self.proxy.rowCount()
        if n == 0:
            return
        row = self.view.currentIndex().row()
        row = 0 if row < 0 else max(0, min(n - 1, row + delta))
        self.view.selectionModel().setCurrentIndex(self.proxy.index(row, 0),
                                                   QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)

    def visible_order(self) -> list[int]:
        return [int(self.proxy.index(r, 0).data(KEY_ROLE)) for r in range(self.proxy.rowCount())]
