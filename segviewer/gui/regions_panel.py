"""Connected error regions of the current image, largest first; a click zooms the canvas to one."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSpinBox, QWidget

from .layout import tab_layout
from .table_model import KEY_ROLE, Cell, TableModel, sorted_table


KIND_WORDS = {"missed": "FN", "hallucinated": "FP"}        # the engine's ErrorRegion.kind -> the table's word
FN_WORDS = "the class's ground truth not predicted as it (nothing, or another class, predicted)"
FP_WORDS = "the class predicted where its ground truth is not"


class RegionsPanel(QWidget):
    region_clicked = Signal(object)      # ErrorRegion
    min_area_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # FN / FP, as the class table counts them: the canvas legend's "missed" is only the FN pixels where
        # nothing was predicted (in all-classes mode), so the table does not reuse the word
        self.model = TableModel(["kind", "class", "area px", "x0", "y0", "x1", "y1"],
                                [f"FN: {FN_WORDS}; FP: {FP_WORDS}"], self)
        self.proxy, self.view = sorted_table(self.model, self)
        self.view.clicked.connect(lambda idx: self.region_clicked.emit(idx.data(KEY_ROLE)))
        self.min_area = QSpinBox()
        self.min_area.setRange(1, 10**7)
        self.min_area.setValue(20)
        self.min_area.setSuffix(" px")
        self.min_area.setToolTip("hide specks smaller than this")
        self.min_area.valueChanged.connect(self.min_area_changed)
        self.count = QLabel("")
        tab_layout(self, ["minimum area", self.min_area, self.count], self.view)

    def set_regions(self, regions, names) -> None:
        rows = [[Cell(KIND_WORDS[r.kind], tooltip=FN_WORDS if r.kind == "missed" else FP_WORDS),
                 Cell(f"{r.class_id}: {names[r.class_id]}"), Cell(r.area), *(Cell(v) for v in r.bbox)]
                for r in regions]
        self.model.set_rows(rows, list(regions))
        self.view.sortByColumn(2, Qt.DescendingOrder)
        missed = sum(r.kind == "missed" for r in regions)
        self.count.setText(f"{missed} FN, {len(regions) - missed} FP regions")

