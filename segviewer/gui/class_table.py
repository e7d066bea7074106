"""Per-class scores for the current image and the whole dataset; a click selects the class on the canvas."""
from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..core.scores import Scores, nanmean
from .table_model import KEY_ROLE, Cell, TableModel, fmt, sorted_table

SCORES = ("precision", "recall", "fbeta", "dice", "iou", "soft_dice")
SHORT = {"precision": "P", "recall": "R", "fbeta": "Fβ", "dice": "Dice", "iou": "IoU", "soft_dice": "soft Dice"}
BOUNDARY = ("boundary_iou", "hd95", "nsd")
BOUNDARY_SHORT = {"boundary_iou": "Boundary IoU", "hd95": "HD95 px", "nsd": "NSD"}


def headers() -> tuple[list[str], list[str]]:
    names = ["", "class", "image\nGT px"] + [f"image\n{SHORT[s]}" for s in SCORES]
    names += ["dataset\nGT px"] + [f"dataset\n{SHORT[s]}" for s in SCORES] + ["best\nthreshold", "Fβ at\nbest"]
    tips = ["class colour", "class id and name", "ground-truth pixels of the class in this image"]
    tips += [f"{s} on the current image (— absent: not in GT nor prediction)" for s in SCORES]
    tips += ["ground-truth pixels over the dataset"] + [f"{s} over the whole dataset" for s in SCORES]
    tips += ["threshold of maximum F-beta over the grid, for the current beta", "F-beta at that threshold"]
    for scope in ("image", "dataset"):
        names += [f"{scope}\n{BOUNDARY_SHORT[b]}" for b in BOUNDARY]
        tips += [f"{BOUNDARY_SHORT[b]} ({scope}; tick 'boundary metrics' to compute)" for b in BOUNDARY]
    return names, tips


class ClassTablePanel(QWidget):
    class_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        names, tips = headers()
        self.model = TableModel(names, tips, self)
        self.proxy, self.view = sorted_table(self.model, self)
        self.view.sortByColumn(1, Qt.AscendingOrder)
        self.view.horizontalHeader().setStretchLastSection(False)   # on a wide screen the last number stays put
        self.view.clicked.connect(lambda idx: self.class_clicked.emit(int(idx.data(KEY_ROLE))))
        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setWordWrap(True)   # a long summary wraps instead of widening the Scores panel
        self.summary.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.boundary_box = QCheckBox("boundary metrics")
        self.boundary_box.setToolTip("Boundary IoU, HD95 and NSD per class (computed on request, off the GUI thread)")
        self.boundary: tuple[dict | None, dict | None] = (None, None)   # (image, dataset) columns when computed
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.boundary_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view)

    def update_scores(self, names, colors, image: Scores | None, image_gt, dataset: Scores | None, dataset_gt,
                      best=None, beta: float = 1.0, exact_note: str = "") -> None:
        rows = []
        for c, name in enumerate(names):
            row = [Cell("", swatch=tuple(colors[c])), Cell(f"{c}: {name}")]
            row += self._score_cells(image, image_gt, c)
            row += self._score_cells(dataset, dataset_gt, c)
            row += [Cell(float(best.threshold[c]) if best is not None else None),
                    Cell(float(best.fbeta[c]) if best is not None else None)]
            row += [self._boundary_cell(columns, b, c) for columns in self.boundary for b in BOUNDARY]
            rows.append(row)
        self.model.set_rows(rows, list(range(len(names))))
        self.summary.setText(self._summary(image, dataset, beta, exact_note))

    @staticmethod
    def _score_cells(scores: Scores | None, gt, c: int) -> list[Cell]:
        if scores is None:
            return [Cell(None, tooltip="computing…") for _ in range(1 + len(SCORES))]
        cells = [Cell(int(gt[c]))]
        for s in SCORES:
            values = getattr(scores, s)
            v = float(values[c]) if values is not None else math.nan
            cells.append(Cell(v, tooltip="absent: no GT and no predicted pixel" if math.isnan(v) else None))
        return cells

    def _boundary_cell(self, columns: dict | None, name: str, c: int) -> Cell:
        if columns is None:
            return Cell(None, tooltip="computing…" if self.boundary_box.isChecked() else "tick 'boundary metrics'")
        v = float(columns[name][c])
        return Cell(v, tooltip="undefined: the class is in only one of GT and prediction" if math.isnan(v) else None)

    @staticmethod
    def _summary(image: Scores | None, dataset: Scores | None, beta: float, note: str) -> str:
        def part(label, s):
            if s is None:
                return f"<b>{label}</b>: computing…"
            m = {k: float(nanmean(getattr(s, k))) for k in ("fbeta", "precision", "recall", "iou")}
            return (f"<b>{label}</b>: mean F{beta:g} <b>{fmt(m['fbeta'])}</b> · precision {fmt(m['precision'])} · "
                    f"recall {fmt(m['recall'])} · IoU {fmt(m['iou'])}")
        return part("Image", image) + "&nbsp;&nbsp;&nbsp;&nbsp;" + part("Dataset", dataset) + (
            f"&nbsp;&nbsp;<span style='color:gray'>{note}</span>" if note else "")

    def select_class(self, class_id: int) -> None:
        for r in range(self.proxy.rowCount()):
            if self.proxy.index(r, 0).data(KEY_ROLE) == class_id:
                self.view.selectRow(r)
                self.view.scrollTo(self.proxy.index(r, 0))
                return
        self.view.clearSelection()

