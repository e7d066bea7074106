"""Per-class scores for the current image and the whole dataset; a click selects the class on the canvas."""
from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QCheckBox, QLabel, QVBoxLayout, QWidget

from ..core.scores import Scores, nanmean
from .table_model import KEY_ROLE, Cell, TableModel, beta_text, fmt, select_key, sorted_table

SCORES = ("precision", "recall", "fbeta", "dice", "iou", "soft_dice")
SHORT = {"precision": "P", "recall": "R", "fbeta": "Fβ", "dice": "Dice", "iou": "IoU", "soft_dice": "soft Dice"}
BOUNDARY = ("boundary_iou", "hd95", "nsd")
BOUNDARY_SHORT = {"boundary_iou": "Boundary IoU", "hd95": "HD95 px", "nsd": "NSD"}
BOUNDARY_BOX = "Boundary IoU, HD95, NSD per class"
SUMMARY_DETAIL = (("precision", "recall", "iou"), ("iou",), ())     # the Scores title, most detailed first


IMAGE_SCOPES = ("image", "dataset")
# a 3-D case: its slice, the case, and the dataset under both aggregations (core.volume_metrics)
VOLUME_SCOPES = ("slice", "case", "dataset pooled", "dataset case mean")
SCOPE_TIPS = {"image": "the current image", "dataset": "the whole dataset", "slice": "the slice shown",
              "case": "the current case (3-D)", "dataset pooled": "the dataset: tp, fp, fn summed over the cases",
              "dataset case mean": "the dataset: the mean over the cases where the class is present (nnU-Net)"}


def headers(scopes: tuple[str, ...] = IMAGE_SCOPES) -> tuple[list[str], list[str]]:
    """The columns, one line each (the table keeps its rows on a laptop): per scope its GT count and scores, the
    best threshold, then the boundary metrics of the image (a 3-D case: the whole case) and of the dataset."""
    names, tips = ["", "class"], ["class colour", "class id and name"]
    for scope in scopes:
        unit = "vx" if scopes is VOLUME_SCOPES else "px"
        names += [f"{scope} GT {unit}"] + [f"{scope} {SHORT[s]}" for s in SCORES]
        tips += [f"ground-truth {unit} of the class: {SCOPE_TIPS[scope]}"]
        tips += [f"{s}: {SCOPE_TIPS[scope]} (— absent: not in GT nor prediction)" for s in SCORES]
    names += ["best threshold", "Fβ at best"]
    tips += ["threshold of maximum F-beta over the grid, for the current beta (a class in no GT: the lowest that "
             "predicts none of it)", "F-beta at that threshold (— for a class in no GT: absent there)"]
    for scope in (("case" if scopes is VOLUME_SCOPES else "image"), "dataset"):
        short = {**BOUNDARY_SHORT, "hd95": "HD95 mm"} if scopes is VOLUME_SCOPES else BOUNDARY_SHORT
        names += [f"{scope} {short[b]}" for b in BOUNDARY]
        tips += [f"{short[b]} ({scope}; tick '{BOUNDARY_BOX}' in Settings to compute)" for b in BOUNDARY]
    return names, tips


class FittingLabel(QLabel):
    """One line of rich text: the most detailed of its texts that fits the label's width (a 3-D case's four scopes
    do not fit a laptop's Scores title in full); the most detailed one is its tooltip."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("", parent)
        self.setTextFormat(Qt.RichText)
        self._texts: tuple[str, ...] = ("",)

    def set_texts(self, texts: list[str]) -> None:
        self._texts = tuple(texts)
        self.setToolTip(texts[0])
        self._fit()

    def text_width(self, text: str) -> float:
        doc = QTextDocument()
        doc.setDocumentMargin(0)
        doc.setDefaultFont(self.font())
        doc.setHtml(text)
        return doc.idealWidth()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        room = self.contentsRect().width()
        shown = next((t for t in self._texts if self.text_width(t) <= room), self._texts[-1])
        if shown != self.text():
            self.setText(shown)


class ClassTablePanel(QWidget):
    class_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.scopes = IMAGE_SCOPES
        names, tips = headers(self.scopes)
        self.model = TableModel(names, tips, self)
        self.proxy, self.view = sorted_table(self.model, self)
        self.view.sortByColumn(1, Qt.AscendingOrder)
        self.view.horizontalHeader().setStretchLastSection(False)   # on a wide screen the last number stays put
        self.view.clicked.connect(lambda idx: self.class_clicked.emit(int(idx.data(KEY_ROLE))))
        # the summary sits in the Scores panel's title bar and the boundary box in Settings (the window places
        # them): the table keeps its height for rows
        self.summary = FittingLabel()
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

    def set_scopes(self, scopes: tuple[str, ...]) -> None:
        """IMAGE_SCOPES, or VOLUME_SCOPES for a dataset of 3-D cases."""
        if scopes is not self.scopes:
            self.scopes = scopes
            self.model.set_headers(*headers(scopes))

    def update_scores(self, names, colors, scopes: list[tuple], best=None, beta: float = 1.0,
                      exact_note: str = "", image_missing: str = "computing…", class_id: int | None = None) -> None:
        """scopes: (Scores or None while computed, GT pixels) per scope of self.scopes; image_missing: what the
        first scope's cells and summary say while they have no numbers (computing, or the image could not be
        loaded); class_id: the summary's class (None: the mean over the classes present)."""
        rows = []
        for c, name in enumerate(names):
            row = [Cell("", swatch=tuple(colors[c])), Cell(f"{c}: {name}")]
            for k, (scores, gt) in enumerate(scopes):
                row += self._score_cells(scores, gt, c, image_missing if k == 0 else "computing…")
            row += [Cell(float(best.threshold[c]) if best is not None else None),
                    Cell(float(best.fbeta[c]) if best is not None else None)]
            row += [self._boundary_cell(columns, b, c) for columns in self.boundary for b in BOUNDARY]
            rows.append(row)
        self.model.set_rows(rows, list(range(len(names))))
        parts = [(scope, scores) for scope, (scores, _) in zip(self.scopes, scopes)]
        of = None if class_id is None else (class_id, f"{class_id}: {names[class_id]}")
        self.summary.set_texts([self._summary(parts, beta, exact_note, image_missing, detail, of)
                                for detail in SUMMARY_DETAIL])

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
    def _summary(parts: list[tuple[str, Scores | None]], beta: float, note: str,
                 first_missing: str = "computing…", detail: tuple[str, ...] = SUMMARY_DETAIL[0],
                 of: tuple[int, str] | None = None) -> str:
        """One line, per scope (the image's first): the class's scores when one is chosen (of: its id and
        name), else the means over the classes present; detail: the scores after F-beta."""
        def value(s, k) -> str:
            values = getattr(s, k)
            return fmt(float(values[of[0]]) if of is not None else float(nanmean(values)))

        def part(label, s):
            if s is None:
                return f"{label} {first_missing if label == parts[0][0] else 'computing…'}"
            rest = "".join(f" · {SHORT[k]} {value(s, k)}" for k in detail)
            return f"{label} F{beta_text(beta)} <b>{value(s, 'fbeta')}</b>{rest}"
        head = f"<b>{of[1]}</b>:&nbsp;" if of is not None else "<span style='color:gray'>mean</span>&nbsp;"
        return head + "&nbsp;&nbsp;│&nbsp;&nbsp;".join(part(label, s) for label, s in parts) + (
            f"&nbsp;&nbsp;<span style='color:gray'>{note}</span>" if note else "")

    def select_class(self, class_id: int) -> None:
        select_key(self.proxy, self.view, class_id)

