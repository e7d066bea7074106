"""The Calibration tab: the reliability diagram of the selected class (or the top label), pixels per bin under it,
ECE and MCE; dataset-wide or for the current image. Statistics come from the engine, off the GUI thread."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from ..core.calibration import DEFAULT_BINS, TOP_LABEL
from ..core.overlay import ALL_CLASSES

GAP_BRUSH = (230, 120, 90, 110)
BAR_BRUSH = (70, 120, 200, 200)


# px: below it the diagram alone (the Scores dock gives this tab 160 px at 1024×700, 214 at 1920×1080)
SHORT_PANEL = 190


class CalibrationPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.scope = QComboBox()
        self.scope.addItems(["dataset", "image"])
        self.scope.setToolTip("statistics over the whole dataset, or over the current image")
        self.bins = QSpinBox()
        self.bins.setRange(2, 100)
        self.bins.setValue(DEFAULT_BINS)
        self.bins.setPrefix("bins ")
        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setWordWrap(True)     # wraps rather than widening the Scores dock
        top = QHBoxLayout()
        top.addWidget(self.scope)
        top.addWidget(self.bins)
        top.addWidget(self.summary, 1)
        self.diagram = pg.PlotWidget(background=(250, 250, 250))
        self.histogram = pg.PlotWidget(background=(250, 250, 250))
        # short labels and three ticks: on a laptop the Scores panel gives the diagram ~50 px of height
        self.diagram.setLabel("left", "freq")
        self.diagram.getAxis("left").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")]])
        self.diagram.setToolTip("observed frequency of the class (bars) against the bin's confidence (x); dashed: "
                                "perfect calibration")
        self.histogram.setLabel("bottom", "confidence")
        self.diagram.setLabel("bottom", "confidence")        # shown only while the histogram gives way
        self.diagram.getAxis("bottom").showLabel(False)
        self.histogram.setLabel("left", "px")
        self.histogram.getAxis("left").setStyle(showValues=False)     # ~20 px of height on a laptop: no room
        self.histogram.setToolTip("pixels per confidence bin, log scale (the total is in the line above)")
        for plot in (self.diagram, self.histogram):
            plot.setXRange(0, 1, padding=0.02)
            plot.setMenuEnabled(False)
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.getAxis("left").setWidth(56)      # equal axes, so the two plots' bins line up
        self.histogram.setLogMode(y=True)          # most pixels sit in the lowest bin: a log scale shows the rest
        self.diagram.setYRange(0, 1, padding=0.02)
        self.histogram.setXLink(self.diagram)
        self.histogram.setMaximumHeight(110)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.diagram, 3)
        layout.addWidget(self.histogram, 1)
        self.shown = None

    def resizeEvent(self, event) -> None:
        """A short panel (a laptop's Scores dock) gives the reliability diagram the whole height: the pixels per
        bin give way (their total stays in the line above), the diagram takes their confidence axis."""
        super().resizeEvent(event)
        short = self.height() < SHORT_PANEL
        if self.histogram.isHidden() != short:
            self.histogram.setVisible(not short)
            self.diagram.getAxis("bottom").showLabel(short)

    def show_reliability(self, reliability, title: str, mce: float | None = None, unit: str = "pixels") -> None:
        """Bars at each bin's observed frequency, the gap to its mean confidence shaded, the diagonal dashed."""
        self.diagram.clear()
        self.histogram.clear()
        self.shown = reliability
        if reliability is None:
            self.summary.setText(title)
            return
        r = reliability
        centre, width = (r.lower + r.upper) / 2, (r.upper - r.lower) * 0.9
        freq, conf = np.nan_to_num(r.frequency), np.nan_to_num(r.mean_confidence)
        self.diagram.addItem(pg.BarGraphItem(x=centre, height=freq, width=width, brush=BAR_BRUSH, pen=None))
        gap_low = np.minimum(freq, conf)
        self.diagram.addItem(pg.BarGraphItem(x=centre, y0=gap_low, height=np.abs(conf - freq), width=width,
                                             brush=GAP_BRUSH, pen=None))
        filled = r.pixels > 0
        self.diagram.plot(r.mean_confidence[filled], r.frequency[filled], pen=None, symbol="o", symbolSize=6,
                          symbolBrush=(20, 20, 20))
        self.diagram.plot([0, 1], [0, 1], pen=pg.mkPen((120, 120, 120), style=Qt.DashLine))
        self.histogram.addItem(pg.BarGraphItem(x=centre, height=np.log10(r.pixels + 1), width=width,
                                               brush=(150, 150, 150), pen=None))
        ece = r.ece
        text = f"<b>{title}</b>: ECE <b>{_four_digits(ece)}</b>"
        if mce is not None:
            text += f" · MCE {_four_digits(mce)}"
        text += f" · {int(r.pixels.sum()):,} {unit}"
        self.summary.setText(text)


def _four_digits(value: float) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.4f}"


class CalibrationController(QObject):
    """Asks the engine for the statistics the panel shows: the dataset's on the background worker (one pass per
    bin count, kept by the engine), the image's on the compute worker; drawn only while still current."""

    def __init__(self, viewer, panel: CalibrationPanel):
        super().__init__(panel)
        self.v, self.panel = viewer, panel
        self.active = False
        panel.scope.currentIndexChanged.connect(lambda _i: self.refresh())
        panel.bins.valueChanged.connect(lambda _v: self.refresh())
        viewer.sample_loaded.connect(self.refresh)
        viewer.settings_changed.connect(lambda changed: "class_id" in changed and self.refresh())
        viewer.dataset_opened.connect(lambda: self.panel.show_reliability(None, ""))
        viewer.dataset_scores_ready.connect(self.refresh)

    def _request(self) -> tuple:
        """(image or None, class id or TOP_LABEL, bins) the panel asks for now."""
        v, p = self.v, self.panel
        class_id = v.settings.class_id
        return (v.current if p.scope.currentText() == "image" else None,
                TOP_LABEL if class_id == ALL_CLASSES else class_id, p.bins.value())

    def refresh(self) -> None:
        v = self.v
        if not self.active or v.engine is None:
            return
        if v.is_hard:
            self.panel.show_reliability(None, "Calibration needs logits: hard masks have no confidence.")
            return
        engine, (image, class_id, bins) = v.engine, self._request()

        def job():
            stats = engine.calibration.stats(bins, image)
            return stats.reliability(class_id), float(stats.mce()[stats.row(class_id)])

        def draw(out):
            title = "top label" if class_id == TOP_LABEL else v.classes.names[class_id]
            where = "dataset" if image is None else v.engine.names[image]
            unit = "voxels" if v.dataset is not None and v.dataset.volumes else "pixels"
            self.panel.show_reliability(out[0], f"{title} · {where}", out[1], unit)
        if image is None and not v.jobs.is_current("calibration"):
            self.panel.summary.setText("computing the dataset's calibration (one pass over the logits)…")
        v.jobs.request("calibration", self._key, job, draw, worker=v.compute if image is not None else v.background,
                       what="Calibration")

    def _key(self) -> tuple:
        image, class_id, bins = self._request()
        return self.v.engine.key("calibration", image=image, extra=(class_id, bins))
