"""Per-class curves over the threshold grid: F-beta, precision, recall, and precision–recall, with markers."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..core.counts import Counts
from ..core.overlay import ALL_CLASSES
from ..core.scores import fbeta_score, precision_score, recall_score
from .table_model import beta_text


WAITING = "Curves appear once the probability index is built."
NO_PROBABILITIES = ("No curves for annotator masks: a mask has no probabilities, so there is no threshold to sweep "
                    "(open the model's logits to see F-beta, precision and recall against the threshold).")


class CurvesPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.vs_threshold = pg.PlotWidget(background=(250, 250, 250))
        self.pr = pg.PlotWidget(background=(250, 250, 250))
        for plot, xl, yl in ((self.vs_threshold, "threshold", "score"), (self.pr, "recall", "precision")):
            plot.setLabel("bottom", xl)
            plot.setLabel("left", yl)
            plot.setXRange(0, 1, padding=0.02)
            plot.setYRange(0, 1.02, padding=0.02)
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setMenuEnabled(False)
        # the legend sits in its own column right of the plot, never over the lines
        self.legend = pg.LegendItem(labelTextSize="8pt", colCount=1)
        item = self.vs_threshold.getPlotItem()
        item.layout.addItem(self.legend, 2, 3)
        item.legend = self.legend
        for plot in (self.vs_threshold, self.pr):
            plot.setMinimumHeight(120)
        self.note = QLabel(WAITING)
        self.note.setStyleSheet("color: gray;")
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.vs_threshold)
        row.addWidget(self.pr)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addLayout(row)
        self.threshold_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((120, 120, 120), style=Qt.DashLine))
        self._curves: tuple | None = None
        self._markers: list = []     # (class, colour, f, p, r): drawn by two scatter items, one per plot
        self._class_id = ALL_CLASSES
        self.source = None

    def set_curves(self, curves: Counts | None, steps: int, source=None, reason: str = "") -> None:
        """Counts [C, N+1] at every grid threshold (from the index); without them, `reason` says why (else that
        they come with the index)."""
        self._curves = None if curves is None else (curves, steps)
        self.source = source
        self.note.setText(reason or WAITING)

    def redraw(self, class_id: int, names, colors, beta: float, smooth: float, threshold, argmax_pr=None) -> None:
        self.vs_threshold.clear()
        self.pr.clear()
        self._markers, self._class_id = [], class_id
        if self._curves is None:
            self.note.setVisible(True)
            return
        self.note.setVisible(False)
        curves, steps = self._curves
        t = np.arange(steps + 1) / steps
        p, r = precision_score(curves).numpy(), recall_score(curves).numpy()
        f = fbeta_score(curves, beta, smooth).numpy()
        classes = range(len(names)) if class_id == ALL_CLASSES else [class_id]
        for c in classes:
            if np.all(np.isnan(f[c])):
                continue
            color = tuple(int(v) for v in colors[c])
            if class_id == ALL_CLASSES:
                self.vs_threshold.plot(t, f[c], pen=pg.mkPen(color, width=1.5), name=f"{names[c]}")
            else:
                self.vs_threshold.plot(t, f[c], pen=pg.mkPen(color, width=2.5), name=f"F{beta_text(beta)}")
                self.vs_threshold.plot(t, p[c], pen=pg.mkPen((90, 90, 90), width=1.5, style=Qt.DashLine), name="precision")
                self.vs_threshold.plot(t, r[c], pen=pg.mkPen((90, 90, 90), width=1.5, style=Qt.DotLine), name="recall")
            ok = ~(np.isnan(p[c]) | np.isnan(r[c]))
            self.pr.plot(r[c][ok], p[c][ok], pen=pg.mkPen(color, width=2))
            self._markers.append((c, color, f[c], p[c], r[c]))
        # one scatter item per plot for every class's marker: a threshold step is two setData calls, not 2 × C
        brushes = [pg.mkBrush(color) for _c, color, *_ in self._markers]
        self._marker_items = (pg.ScatterPlotItem(size=8, pen=None), pg.ScatterPlotItem(size=9, pen=None), brushes)
        self.vs_threshold.addItem(self._marker_items[0])
        self.pr.addItem(self._marker_items[1])
        self.vs_threshold.addItem(self.threshold_line)
        self.move_markers(threshold, argmax_pr)

    def move_markers(self, threshold, argmax_pr=None) -> None:
        """A threshold step moves the markers only; the curves stay. In argmax mode (argmax_pr: per-class recall
        and precision of the argmax prediction) there is no threshold: the markers sit at the argmax point on the
        precision–recall curve, and the threshold line and F-beta markers are hidden."""
        if self._curves is None or not self._markers:
            return
        steps = self._curves[1]
        on_f, on_pr, brushes = self._marker_items
        argmax = argmax_pr is not None
        self.threshold_line.setVisible(not argmax)
        on_f.setVisible(not argmax)
        if argmax:
            recall, precision = argmax_pr
            on_pr.setData(x=[float(recall[c]) for c, *_ in self._markers],
                          y=[float(precision[c]) for c, *_ in self._markers], brush=brushes)
            return
        thr = np.broadcast_to(np.asarray(threshold, dtype=float), (self._curves[0].tp.shape[0],))
        rows = [(int(round(thr[c] * steps)), f, p, r) for c, _color, f, p, r in self._markers]
        on_f.setData(x=[k / steps for k, *_ in rows], y=[f[k] for k, f, _p, _r in rows], brush=brushes)
        on_pr.setData(x=[r[k] for k, _f, _p, r in rows], y=[p[k] for k, _f, p, _r in rows], brush=brushes)
        self.threshold_line.setValue(float(thr.mean()) if self._class_id == ALL_CLASSES else float(thr[self._class_id]))


class CurvesController:
    """Feeds the Curves tab from the view-model: the index's curves once built, redrawn for a class or beta, the
    markers moved by a threshold step (or set at the argmax point)."""

    def __init__(self, viewer, panel: CurvesPanel):
        self.v, self.panel = viewer, panel

    def dataset_opened(self) -> None:
        self.panel.set_curves(None, self.v.steps, reason=NO_PROBABILITIES if self.v.is_hard else "")

    def dataset_scores(self) -> None:
        """New dataset numbers: the curves once the index is there, else the argmax point when it moved."""
        v, index = self.v, self.v.index
        if index is not None and self.panel.source is not index:
            self.panel.set_curves(None if v.is_hard else index.curves(), index.steps, source=index,
                                  reason=NO_PROBABILITIES if v.is_hard else "")
            self.redraw()
        elif v.scoring.argmax:
            self.move_markers()

    def settings_changed(self, changed: set) -> None:
        if changed & {"class_id", "beta", "smooth"}:
            self.redraw()
        elif changed & {"threshold", "argmax"} and self.v.dataset is not None:
            self.move_markers()

    def redraw(self) -> None:
        v = self.v
        if v.dataset is None:
            return
        sc = v.scoring
        self.panel.redraw(v.settings.class_id, v.classes.names, v.classes.color_array(), sc.beta, sc.smooth,
                          sc.effective_threshold(), self.argmax_point())

    def move_markers(self) -> None:
        self.panel.move_markers(self.v.scoring.effective_threshold(), self.argmax_point())

    def argmax_point(self):
        """Per-class (recall, precision) of the dataset in argmax mode, where the markers sit (NaN, not drawn,
        while the dataset's counts are computed); None in threshold mode."""
        v = self.v
        if not v.scoring.argmax:
            return None
        scores = v.dataset_scores()
        if scores is None:
            nothing = np.full(v.classes.num_classes, np.nan)
            return nothing, nothing
        return scores.recall.numpy(), scores.precision.numpy()
