"""Confusion matrix heatmap (rows: GT class, columns: predicted class), normalised by row, with each cell's share
written in it (in a smaller type on a short panel) and a colour bar; hover a cell for its classes, pixels and share,
click it (it stays outlined)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPen
from PySide6.QtWidgets import QComboBox, QGraphicsRectItem, QLabel, QWidget

from .curves import AXIS_TEXT
from .layout import tab_layout

SHARE_PX = range(13, 7, -1)     # the shares' type, largest first: the largest whose line fits a cell's height
LEAST_NAME = 3                  # characters of a column's name kept before it ends in "…"; fewer: its id


class ConfusionPanel(QWidget):
    cell_clicked = Signal(int, int)     # gt class, predicted class (C = no prediction)
    scope_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = pg.PlotWidget(background=(250, 250, 250))
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.invertY(True)
        self.plot.setAspectLocked(False)
        self.plot.setLabel("left", "ground truth")
        self.plot.setLabel("bottom", "predicted")
        for side in ("left", "bottom"):
            self.plot.getAxis(side).setTextPen(AXIS_TEXT)
        self.image = pg.ImageItem()
        colormap = pg.colormap.get("viridis")
        self.image.setLookupTable(colormap.getLookupTable(0.0, 1.0, 256))
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=colormap, interactive=False, width=12,
                                        label="row share")     # of its GT class's pixels: fits a laptop's panel
        self.plot.getPlotItem().layout.addItem(self.colorbar, 2, 5)
        self.outline = QGraphicsRectItem()
        pen = QPen(QColor(255, 0, 255))
        pen.setWidth(3)
        pen.setCosmetic(True)
        self.outline.setPen(pen)
        self.outline.setZValue(10)
        self.outline.hide()
        self.plot.addItem(self.outline)
        self.labels: list = []
        self.clicked: tuple[int, int] | None = None
        self.plot.getViewBox().sigResized.connect(lambda _box: self._fit_labels())
        self.scope = QComboBox()
        self.scope.addItems(["dataset", "current image"])
        self.scope.currentTextChanged.connect(self.scope_changed)
        self.readout = QLabel("Hover a cell for its pixel count; click it to highlight those pixels and rank images.")
        self.readout.setWordWrap(True)
        tab_layout(self, ["matrix of", self.scope, self.readout], self.plot)
        self.matrix: np.ndarray | None = None
        self.names: list[str] = []
        self.plot.scene().sigMouseMoved.connect(self._hover)
        self.plot.scene().sigMouseClicked.connect(self._click)

    def set_matrix(self, matrix: np.ndarray | None, names, show_none: bool) -> None:
        """matrix [C, C+1]; the 'none' column is shown only where the mode can predict nothing."""
        if matrix is None:
            self.image.clear()
            self._clear_labels()
            self.matrix = None
            return
        self.matrix = matrix if show_none else matrix[:, :-1]
        self.names = list(names) + (["none"] if show_none else [])
        rows = self.matrix.sum(1, keepdims=True)
        normalised = np.divide(self.matrix, rows, out=np.zeros(self.matrix.shape), where=rows > 0)
        self.image.setImage(normalised, autoLevels=False, levels=(0, 1))
        c, k = self.matrix.shape
        self.plot.getAxis("left").setTicks([[(i + 0.5, n) for i, n in enumerate(names)]])
        self.plot.setXRange(0, k, padding=0)
        self.plot.setYRange(0, c, padding=0)
        self._write_shares(normalised)
        self._fit_labels()
        self._outline()

    def _fit_labels(self) -> None:
        """The columns' names elided to their cells' width (their ids where not even a few letters fit), and the
        shares in the cells in the largest type that fits their height, wherever they fit; hover tells always."""
        if self.matrix is None:
            return
        c, k = self.matrix.shape
        box = self.plot.getViewBox().boundingRect()
        cell_w, cell_h = box.width() / k, box.height() / c
        metrics = QFontMetrics(self.plot.getAxis("bottom").style["tickFont"] or self.plot.font())
        ticks = [(j + 0.5, column_name(j, n, metrics, cell_w - 6)) for j, n in enumerate(self.names)]
        self.plot.getAxis("bottom").setTicks([ticks])
        font = share_font(self.plot.font(), cell_h)
        measure = QFontMetrics(font) if font is not None else None     # once, not per cell (C² of them a step)
        for label in self.labels:
            fits = measure is not None and measure.horizontalAdvance(label.toPlainText()) <= cell_w - 4
            if fits:
                label.setFont(font)
            label.setVisible(fits)

    def _clear_labels(self) -> None:
        for label in self.labels:
            self.plot.removeItem(label)
        self.labels = []

    def _write_shares(self, normalised: np.ndarray) -> None:
        """Each cell's share of its GT row as text (up to 24 classes; beyond that the cells are too small)."""
        self._clear_labels()
        c, k = normalised.shape
        if max(c, k) > 24:
            return
        for g in range(c):
            for j in range(k):
                share = normalised[g, j]
                if self.matrix[g, j] == 0:
                    continue
                text = f"{100 * share:.0f}%" if share >= 0.01 else "<1%"
                label = pg.TextItem(text, color=(0, 0, 0) if share > 0.6 else (255, 255, 255), anchor=(0.5, 0.5))
                label.setPos(j + 0.5, g + 0.5)
                self.plot.addItem(label)
                self.labels.append(label)

    def _outline(self) -> None:
        if self.clicked is None or self.matrix is None:
            self.outline.hide()
            return
        g, j = self.clicked
        j = min(j, self.matrix.shape[1] - 1)
        self.outline.setRect(QRectF(j, g, 1, 1))
        self.outline.show()

    def _cell(self, scene_pos):
        if self.matrix is None:
            return None
        p = self.plot.getViewBox().mapSceneToView(scene_pos)
        g, j = int(np.floor(p.y())), int(np.floor(p.x()))
        c, k = self.matrix.shape
        return (g, j) if 0 <= g < c and 0 <= j < k else None

    def _hover(self, pos) -> None:
        cell = self._cell(pos)
        if cell is None:
            return
        text = self.cell_text(*cell)
        self.readout.setText(text)
        self.image.setToolTip(text)

    def cell_text(self, g: int, j: int) -> str:
        total = self.matrix[g].sum()
        share = f" ({100 * self.matrix[g, j] / total:.1f}% of {self.names[g]})" if total else ""
        return f"GT {self.names[g]} → predicted {self.names[j]}: {int(self.matrix[g, j]):,} px{share}"

    def _click(self, event) -> None:
        cell = self._cell(event.scenePos())
        if cell is not None:
            g, j = cell
            self.clicked = (g, j)
            self._outline()
            self.cell_clicked.emit(g, j if self.names[j] != "none" else len(self.names) - 1)

    def clear_outline(self) -> None:
        self.clicked = None
        self.outline.hide()


def column_name(j: int, name: str, metrics: QFontMetrics, room: float) -> str:
    """A column's name, elided to `room` px; its id (∅ for none) where fewer than LEAST_NAME letters would show."""
    elided = metrics.elidedText(name, Qt.ElideRight, max(int(room), 0))
    if elided == name or len(elided) > LEAST_NAME:
        return elided
    return "∅" if name == "none" else str(j)


def share_font(base: QFont, cell_height: float) -> QFont | None:
    """The largest type (SHARE_PX) whose line fits a cell's height; None where none does."""
    font = QFont(base)
    for px in SHARE_PX:
        font.setPixelSize(px)
        if QFontMetrics(font).height() <= cell_height + 1:
            return font
    return None
