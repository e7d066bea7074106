"""Per-class scores for the current image and the whole dataset; a click selects the class on the canvas."""
from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QLabel, QVBoxLayout, QWidget

from ..core.scores import Scores, nanmean
from .table_model import KEY_ROLE, Cell, TableModel, beta_text, fmt, sorted_table

SCORES = ("precision", "recall", "fbeta", "dice", "iou", "soft_dice")
SHORT = {"precision": "P", "recall": "R", "fbeta": "Fβ", "dice": "Dice", "iou": "IoU", "soft_dice": "soft Dice"}
BOUNDARY = ("boundary_iou", "hd95", "nsd")
BOUNDARY_SHORT = {"boundary_iou": "Boundary IoU", "hd95": "HD95 px", "nsd": "NSD"}
BOUNDARY_BOX = "Boundary IoU, HD95, NSD per class"


def headers() -> tuple[list[str], list[str]]:
    """One line each (the table keeps its rows on a laptop): the image's scores, then the dataset's."""
    names = ["", "class", "image GT px"] + [f"image {SHORT[s]}" for s in SCORES]
    names += ["dataset GT px"] + [f"dataset {SHORT[s]}" for s in SCORES] + ["best threshold", "Fβ at best"]
    tips = ["class colour", "class id and name", "ground-truth pixels of the class in this image"]
    tips += [f"{s} on the current image (— absent: not in GT nor prediction)" for s in SCORES]
    tips += ["ground-truth pixels over the dataset"] + [f"{s} over the whole dataset" for s in SCORES]
    tips += ["threshold of maximum F-beta over the grid, for the current beta", "F-beta at that threshold"]
    for scope in ("image", "dataset"):
        names += [f"{scope} {BOUNDARY_SHORT[b]}" for b in BOUNDARY]
        tips += [f"{BOUNDARY_SHORT[b]} ({scope}; tick '{BOUNDARY_BOX}' in Settings to compute)" for b in BOUNDARY]
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
        # the summary sits in the Scores panel's title bar and the boundary box in Settings (the window places
        # them): the table keeps its height for rows
        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.RichText)
        self.boundary_box = QCheckBox(BOUNDARY_BOX)
        self.boundary_box.setToolTip("Boundary IoU, HD95 and NSD per class in the Classes table (computed on request, "
                                     "off the GUI thread)")
        self.boundary: tuple[dict | None, dict | None] = (None, None)   # (image, dataset) columns when computed
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

    def height_for_rows(self, rows: int) -> int:
        """The panel's height that shows the header and this many class rows (with the horizontal scroll bar)."""
        v = self.view
        return (v.horizontalHeader().sizeHint().height() + v.horizontalScrollBar().sizeHint().height()
                + 2 * v.frameWidth() + rows * v.verticalHeader().defaultSectionSize())

    def update_scores(self, names, colors, image: Scores | None, image_gt, dataset: Scores | None, dataset_gt,
                      best=None, beta: float = 1.0, exact_note: str = "", image_missing: str = "computing…") -> None:
        """image_missing: what the image's cells and summary say while they have no numbers (computing, or the
        image could not be loaded)."""
        rows = []
        for c, name in enumerate(names):
            row = [Cell("", swatch=tuple(colors[c])), Cell(f"{c}: {name}")]
            row += self._score_cells(image, image_gt, c, image_missing)
            row += self._score_cells(dataset, dataset_gt, c)
            row += [Cell(float(best.threshold[c]) if best is not None else None),
                    Cell(float(best.fbeta[c]) if best is not None else None)]
            row += [self._boundary_cell(columns, b, c) for columns in self.boundary for b in BOUNDARY]
            rows.append(row)
        self.model.set_rows(rows, list(range(len(names))))
        text = self._summary(image, dataset, beta, exact_note, image_missing)
        self.summary.setText(text)
        self.summary.setToolTip(text)

    @staticmethod
    def _score_cells(scores: Scores | None, gt, c: int, missing: str = "computing…") -> list[Cell]:
        if scores is None:
            return [Cell(None, tooltip=missing) for _ in range(1 + len(SCORES))]
        cells = [Cell(int(gt[c]))]
        for s in SCORES:
            values = getattr(scores, s)
            v = float(values[c]) if values is not None else math.nan
            cells.append(Cell(v, tooltip="absent: no GT and no predicted pixel" if math.isnan(v) else None))
        return cells

    def _boundary_cell(self, columns: dict | None, name: str, c: int) -> Cell:
        if columns is None:
            return Cell(None, tooltip="computing…" if self.boundary_box.isChecked()
                        else f"tick '{BOUNDARY_BOX}' in Settings")
        v = float(columns[name][c])
        return Cell(v, tooltip="undefined: the class is in only one of GT and prediction" if math.isnan(v) else None)

    @staticmethod
    def _summary(image: Scores | None, dataset: Scores | None, beta: float, note: str,
                 image_missing: str = "computing…") -> str:
        """One line: the means over the classes present, for the image and the dataset."""
        def part(label, s):
            if s is None:
                return f"{label} {image_missing if label == 'image' else 'computing…'}"
            m = {k: float(nanmean(getattr(s, k))) for k in ("fbeta", "precision", "recall", "iou")}
            return (f"{label} F{beta_text(beta)} <b>{fmt(m['fbeta'])}</b> · P {fmt(m['precision'])} · "
                    f"R {fmt(m['recall'])} · IoU {fmt(m['iou'])}")
        return part("image", image) + "&nbsp;&nbsp;│&nbsp;&nbsp;" + part("dataset", dataset) + (
            f"&nbsp;&nbsp;<span style='color:gray'>{note}</span>" if note else "")

    def select_class(self, class_id: int) -> None:
        for r in range(self.proxy.rowCount()):
            if self.proxy.index(r, 0).data(KEY_ROLE) == class_id:
                self.view.selectRow(r)
                self.view.scrollTo(self.proxy.index(r, 0))
                return
        self.view.clearSelection()

