"""Confusion matrix heatmap (rows: GT class, columns: predicted class), normalised by row; click a cell."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget


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
        self.image = pg.ImageItem()
        self.image.setLookupTable(pg.colormap.get("viridis").getLookupTable(0.0, 1.0, 256))
        self.plot.addItem(self.image)
        self.scope = QComboBox()
        self.scope.addItems(["dataset", "current image"])
        self.scope.currentTextChanged.connect(self.scope_changed)
        self.readout = QLabel("Hover a cell for its pixel count; click it to highlight those pixels and rank images.")
        self.readout.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("matrix of"))
        top.addWidget(self.scope)
        top.addWidget(self.readout, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)
        self.matrix: np.ndarray | None = None
        self.names: list[str] = []
        self.plot.scene().sigMouseMoved.connect(self._hover)
        self.plot.scene().sigMouseClicked.connect(self._click)

    def set_matrix(self, matrix: np.ndarray | None, names, show_none: bool) -> None:
        """matrix [C, C+1]; the 'none' column is shown only where the mode can predict nothing."""
        if matrix is None:
            self.image.clear()
            self.matrix = None
            return
        self.matrix = matrix if show_none else matrix[:, :-1]
        self.names = list(names) + (["none"] if show_none else [])
        rows = self.matrix.sum(1, keepdims=True)
        normalised = np.divide(self.matrix, rows, out=np.zeros(self.matrix.shape), where=rows > 0)
        self.image.setImage(normalised, autoLevels=False, levels=(0, 1))
        c, k = self.matrix.shape
        self.plot.getAxis("left").setTicks([[(i + 0.5, n) for i, n in enumerate(names)]])
        self.plot.getAxis("bottom").setTicks([[(j + 0.5, n[:10]) for j, n in enumerate(self.names)]])
        self.plot.setXRange(0, k, padding=0)
        self.plot.setYRange(0, c, padding=0)

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
        g, j = cell
        total = self.matrix[g].sum()
        share = f" ({100 * self.matrix[g, j] / total:.1f}% of {self.names[g]})" if total else ""
        self.readout.setText(f"GT {self.names[g]} → predicted {self.names[j]}: {int(self.matrix[g, j]):,} px{share}")

    def _click(self, event) -> None:
        cell = self._cell(event.scenePos())
        if cell is not None:
            g, j = cell
            self.cell_clicked.emit(g, j if self.names[j] != "none" else len(self.names) - 1)
