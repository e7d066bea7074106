"""Per-class curves over the threshold grid: F-beta, precision, recall, and precision–recall, with markers."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem,
                               QVBoxLayout, QWidget)

from ..core.counts import Counts
from ..core.overlay import ALL_CLASSES
from ..core.scores import fbeta_score, precision_score, recall_score
from .table_model import beta_text


WAITING = "Curves appear once the probability index is built."
BACKGROUND = (250, 250, 250)
AXIS_TEXT = (50, 50, 50)         # pyqtgraph's default grey is faint on the light plot
SWATCH = QSize(22, 12)
NO_PROBABILITIES = ("No curves for annotator masks: a mask has no probabilities, so there is no threshold to sweep "
                    "(open the model's logits to see F-beta, precision and recall against the threshold).")


class CurveLegend(QListWidget):
    """The curves' legend beside the plot, in dark text; each entry's swatch carries its line's colour and dash.
    When the panel is short the entries flow into more columns rather than push the plot's axis out of sight."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._entries: list | None = None         # what it shows: a step with the same lines paints nothing
        self.setFlow(QListView.TopToBottom)
        self.setWrapping(True)
        self.setResizeMode(QListView.Adjust)
        self.setIconSize(SWATCH)
        self.setSelectionMode(QAbstractItemView.NoSelection)
        self.setFocusPolicy(Qt.NoFocus)
        self.setFrameShape(QListWidget.NoFrame)
        r, g, b = BACKGROUND
        self.setStyleSheet(f"QListWidget {{ background: rgb({r},{g},{b}); color: rgb(20,20,20); }}")

    def set_entries(self, entries) -> None:
        """entries: (name, rgb, pen style) per line, in the plot's order."""
        entries = [(name, tuple(color), style) for name, color, style in entries]
        if entries == self._entries:
            return                 # a beta or threshold step: the same lines, nothing to paint again
        self._entries = entries
        self.clear()
        for name, color, style in entries:
            QListWidgetItem(swatch_icon(color, style), name, self)
        self.fit_columns()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().height() != event.oldSize().height():
            self.fit_columns()

    def fit_columns(self) -> None:
        """As many columns as the entries need at this height, each as wide as the longest name, up to a third
        of the panel's width (beyond that the legend scrolls sideways)."""
        if self.count() == 0:
            self.setFixedWidth(0)
            return
        metrics = self.fontMetrics()
        text = max(metrics.horizontalAdvance(self.item(k).text()) for k in range(self.count()))
        cell = QSize(SWATCH.width() + text + 16, max(metrics.height(), SWATCH.height()) + 4)
        self.setGridSize(cell)
        rows = max(1, self.viewport().height() // cell.height())
        width = math.ceil(self.count() / rows) * cell.width() + 2 * self.frameWidth()
        room = self.parentWidget().width() // 3 if self.parentWidget() is not None else width
        self.setFixedWidth(min(width, max(room, cell.width())))


def swatch_icon(color, style) -> QIcon:
    """A solid line's colour as a bordered block (a light yellow shows on white); a dashed line as its dash."""
    pixmap = QPixmap(SWATCH)
    pixmap.fill(Qt.transparent)
    painter = QPainter(pixmap)
    if style == Qt.SolidLine:
        painter.setPen(QPen(QColor(*color).darker(160), 1))
        painter.setBrush(QColor(*color))
        painter.drawRect(1, 2, SWATCH.width() - 3, SWATCH.height() - 5)
    else:
        painter.setPen(QPen(QColor(*color), 2.5, style))
        painter.drawLine(1, SWATCH.height() // 2, SWATCH.width() - 1, SWATCH.height() // 2)
    painter.end()
    return QIcon(pixmap)


def axis_labels(class_id: int, beta_word: str, scope: str) -> dict[tuple[str, str], list[str]]:
    """(plot, side) -> its label, longest first (the first that fits the axis is shown; a laptop's short panel
    gets a shorter one): what is plotted, over which pixels ("dataset", or "dataset pooled" over a 3-D dataset's
    voxels)."""
    short = scope.split()[-1]
    what = [beta_word] if class_id == ALL_CLASSES else [f"{beta_word} · P · R", f"{beta_word}/P/R"]
    return {("threshold", "left"): [f"{scope} {w}" for w in what] + [f"{short} {what[-1]}", what[-1]],
            ("pr", "bottom"): [f"{scope} recall", f"{short} recall", "recall"],
            ("pr", "left"): [f"{scope} precision", f"{short} precision", "precision"]}


def set_label(plot: pg.PlotWidget, side: str, text: str) -> None:
    axis = plot.getAxis(side)
    if axis.labelText != text:
        plot.setLabel(side, text)
        axis.resizeEvent(None)      # pyqtgraph centres a label on its axis only when the axis is resized


UNIT_TICKS = [(v / 4, f"{v / 4:g}") for v in range(5)]      # 0, 0.25, 0.5, 0.75, 1


class CurvesPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.vs_threshold = pg.PlotWidget(background=BACKGROUND)
        self.pr = pg.PlotWidget(background=BACKGROUND)
        self.vs_threshold.setLabel("bottom", "threshold")
        for plot in (self.vs_threshold, self.pr):
            for side in ("bottom", "left"):
                plot.getAxis(side).setTextPen(AXIS_TEXT)
            plot.setXRange(0, 1, padding=0.02)
            plot.setYRange(0, 1, padding=0.1)   # room for the 0 and 1 labels at the ends of a short axis
            for side in ("bottom", "left"):      # both ends named: a short plot's own ticks skipped 0 and 1
                plot.getAxis(side).setTicks([UNIT_TICKS, []])
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setMenuEnabled(False)
            plot.setMinimumHeight(100)
        # the legend in its own column right of the plot, never over the lines nor stretching the plot's layout
        self.legend = CurveLegend()
        self.note = QLabel(WAITING)
        self.note.setStyleSheet("color: gray;")
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        row.setSpacing(0)
        row.addWidget(self.vs_threshold, 1)
        row.addWidget(self.legend)
        row.addSpacing(6)
        row.addWidget(self.pr, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addLayout(row)
        self.threshold_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((120, 120, 120), style=Qt.DashLine))
        self._curves: tuple | None = None
        self._markers: list = []     # (class, colour, f, p, r): drawn by two scatter items, one per plot
        self._class_id = ALL_CLASSES
        self.source = None
        self.scope = "dataset"
        self._labels = axis_labels(ALL_CLASSES, "F1", self.scope)
        for plot in (self.vs_threshold, self.pr):
            plot.getViewBox().sigResized.connect(lambda _box: self._fit_labels())

    def _fit_labels(self) -> None:
        """Each axis's longest label that fits its length."""
        plots = {"threshold": self.vs_threshold, "pr": self.pr}
        for (name, side), texts in self._labels.items():
            axis = plots[name].getAxis(side)
            metrics = QFontMetrics(axis.label.font())
            room = (axis.height() if side == "left" else axis.width()) - 2 * axis.label.document().documentMargin()
            set_label(plots[name], side, next((t for t in texts if metrics.horizontalAdvance(t) <= room), texts[-1]))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.legend.fit_columns()

    def set_curves(self, curves: Counts | None, steps: int, source=None, reason: str = "",
                   scope: str = "dataset") -> None:
        """Counts [C, N+1] at every grid threshold (from the index), pooled over `scope` (the axes name it);
        without them, `reason` says why (else that they come with the index)."""
        self._curves = None if curves is None else (curves, steps)
        self.source = source
        self.scope = scope
        self.note.setText(reason or WAITING)

    def redraw(self, class_id: int, names, colors, beta: float, smooth: float, threshold, argmax_pr=None) -> None:
        self.vs_threshold.clear()
        self.pr.clear()
        self._markers, self._class_id = [], class_id
        beta_word = f"F{beta_text(beta)}"
        self._labels = axis_labels(class_id, beta_word, self.scope)
        self._fit_labels()
        if self._curves is None:
            self.note.setVisible(True)
            self.legend.set_entries([])
            return
        self.note.setVisible(False)
        curves, steps = self._curves
        t = np.arange(steps + 1) / steps
        p, r = precision_score(curves).numpy(), recall_score(curves).numpy()
        f = fbeta_score(curves, beta, smooth).numpy()
        classes = range(len(names)) if class_id == ALL_CLASSES else [class_id]
        entries = []
        for c in classes:
            if np.all(np.isnan(f[c])):
                continue
            color = tuple(int(v) for v in colors[c])
            if class_id == ALL_CLASSES:
                lines = [(f[c], names[c], color, 1.5, Qt.SolidLine)]
            else:
                lines = [(f[c], f"{beta_word} {names[c]}", color, 2.5, Qt.SolidLine),
                         (p[c], "precision", (90, 90, 90), 1.5, Qt.DashLine),
                         (r[c], "recall", (90, 90, 90), 1.5, Qt.DotLine)]
            for y, name, line_color, width, style in lines:
                self.vs_threshold.plot(t, y, pen=pg.mkPen(line_color, width=width, style=style))
                entries.append((name, line_color, style))
            ok = ~(np.isnan(p[c]) | np.isnan(r[c]))
            self.pr.plot(r[c][ok], p[c][ok], pen=pg.mkPen(color, width=2))
            self._markers.append((c, color, f[c], p[c], r[c]))
        self.legend.set_entries(entries)
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
                                  reason=NO_PROBABILITIES if v.is_hard else "",
                                  scope="dataset pooled" if v.dataset.volumes else "dataset")
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
