"""The Label doubt tab: where the model is confident the label is wrong. Suspect regions of the current image (click
to zoom), the dataset's label scores (worst first, click to open), and one button to mark the image "needs fix"
with the region noted. Everything comes from the engine, off the GUI thread."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget)

from ..core.label_issues import DEFAULT_MIN_CONFIDENCE, DEFAULT_TEMPERATURE
from .table_model import KEY_ROLE, Cell, TableModel, sorted_table


class LabelIssuesPanel(QWidget):
    region_clicked = Signal(object)        # SuspectRegion
    image_clicked = Signal(int)            # dataset position
    mark_clicked = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.temperature = _spin("T ", (0.01, 10), 0.05, DEFAULT_TEMPERATURE,
                                 "softmin temperature of the label score: lower weighs the worst pixels more")
        self.confidence = _spin("confidence ≥ ", (0.5, 1.0), 0.01, DEFAULT_MIN_CONFIDENCE,
                                "a suspect pixel: another class than the label is predicted at least this surely")
        self.mark = QPushButton("Mark: needs fix")
        self.mark.setToolTip("sets the review status to 'needs fix' and notes the selected (or largest) region")
        self.mark.clicked.connect(self.mark_clicked)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)     # wraps rather than widening the Scores dock
        top = QHBoxLayout()
        for w in (self.temperature, self.confidence, self.mark):
            top.addWidget(w)
        top.addWidget(self.summary, 1)
        self.regions = TableModel(["label", "predicted", "pixels", "confidence", "x0", "y0", "x1", "y1"],
                                  ["the class in the ground truth", "what the model is sure it is instead"], self)
        self.regions_proxy, self.regions_view = sorted_table(self.regions, self)
        self.regions_view.clicked.connect(lambda idx: self.region_clicked.emit(idx.data(KEY_ROLE)))
        self.images = TableModel(["image", "label score", "suspect px"],
                                 ["", "lower = more likely mislabelled", "pixels in suspect regions"], self)
        self.images_proxy, self.images_view = sorted_table(self.images, self)
        self.images_view.clicked.connect(lambda idx: self.image_clicked.emit(int(idx.data(KEY_ROLE))))
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.regions_view)
        split.addWidget(self.images_view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(split, 1)

    def set_regions(self, regions, names) -> None:
        rows = [[Cell(f"{r.gt_class}: {names[r.gt_class]}"), Cell(f"{r.predicted_class}: {names[r.predicted_class]}"),
                 Cell(r.pixels), Cell(float(r.mean_confidence)), *(Cell(v) for v in r.bbox)] for r in regions]
        self.regions.set_rows(rows, list(regions))
        self.regions_view.sortByColumn(2, Qt.DescendingOrder)
        self.summary.setText(f"{len(regions)} suspect regions in this image")

    def set_scores(self, names, scores) -> None:
        rows = [[Cell(n), Cell(float(scores.label_score[i])),
                 Cell(int(scores.suspect_pixels[i]) if scores.loaded[i] else None)] for i, n in enumerate(names)]
        self.images.set_rows(rows, list(range(len(names))))
        self.images_view.sortByColumn(1, Qt.AscendingOrder)

    def selected_region(self):
        rows = self.regions_view.selectionModel().selectedRows()
        if rows:
            return rows[0].data(KEY_ROLE)
        return self.regions.keys[0] if self.regions.keys else None


class LabelIssuesController(QObject):
    """Suspect regions on the compute worker, the dataset's label scores on the background worker (one pass, kept
    by the engine per setting); each shown only while its key (the image and the settings) is the current one."""
    scores_ready = Signal(object)        # LabelScores in dataset order (the image list ranks by them)
    needs_fix = Signal(str)              # the review note of the image's selected (or largest) suspect region

    def __init__(self, viewer, services, panel: LabelIssuesPanel):
        super().__init__(panel)
        self.v, self.services, self.panel = viewer, services, panel
        self.active = False
        viewer.sample_loaded.connect(self._image_changed)
        viewer.image_failed.connect(lambda _i, _m: self._image_changed())
        viewer.dataset_opened.connect(lambda: self.panel.set_regions([], []))
        viewer.dataset_scores_ready.connect(self.refresh)
        panel.temperature.valueChanged.connect(lambda _v: self.refresh())
        panel.confidence.valueChanged.connect(lambda _v: self.refresh())
        panel.image_clicked.connect(viewer.select_image)
        panel.mark_clicked.connect(self.mark_needs_fix)

    @property
    def scores(self):
        return self.v.jobs.value("label_scores")

    def _image_changed(self) -> None:
        """Another image: its regions are not the previous one's (nothing to mark until they arrive). Another slice
        of the same 3-D case keeps the case's regions: their request is already answered and would not run again."""
        kept = self.v.jobs.value("suspect_regions") if self.v.engine is not None else None
        self.panel.set_regions(kept or [], self.v.classes.names if self.v.engine is not None else [])
        self.refresh()

    def current_regions(self) -> bool:
        return self.v.jobs.is_current("suspect_regions")

    def settings(self) -> tuple[float, float]:
        return float(self.panel.temperature.value()), float(self.panel.confidence.value())

    def _regions_key(self) -> tuple:
        v = self.v
        return v.engine.key("suspect_regions", image=v.current, extra=(self.settings()[1],))

    def refresh(self) -> None:
        v = self.v
        if not self.active or v.engine is None:
            return
        if v.is_hard:
            self.panel.summary.setText("Label doubt needs logits: hard masks have no confidence.")
            return
        engine, i, (temperature, confidence) = v.engine, v.current, self.settings()
        if v.loaded is not None:
            v.jobs.request("suspect_regions", self._regions_key, lambda: engine.label_issues.regions(i, confidence),
                           lambda regions: self.panel.set_regions(regions, v.classes.names), worker=v.compute,
                           what="Suspect regions")
        v.jobs.request("label_scores", lambda: engine.key("label_scores", extra=self.settings()),
                       lambda: engine.label_issues.scores(temperature, confidence), self._show_scores,
                       worker=v.background, what="Label scores")

    def _show_scores(self, scores) -> None:
        self.panel.set_scores(self.v.engine.names, scores)
        self.scores_ready.emit(scores)

    def regions_now(self) -> bool:
        """The current image's regions, computed here when they have not arrived yet (L in review mode)."""
        if self.current_regions():
            return True
        v, confidence = self.v, self.settings()[1]
        engine, i = v.engine, v.current
        v.jobs.request("suspect_regions", self._regions_key, lambda: engine.label_issues.regions(i, confidence),
                       lambda regions: self.panel.set_regions(regions, v.classes.names), worker=v.compute,
                       what="Suspect regions", now=True)
        return self.current_regions()

    def mark_needs_fix(self) -> None:
        """In review: a note naming the region (the selected one, else the largest) for the 'needs fix' status."""
        if not self.current_regions():
            self.services.error("Mark needs fix failed: the suspect regions of this image are still being computed.")
            return
        region, names = self.panel.selected_region(), self.v.classes.names
        note = "label doubt" if region is None else (
            f"label doubt: {names[region.gt_class]} looks like {names[region.predicted_class]} "
            f"({region.pixels} px, p={region.mean_confidence:.2f}) at x {region.bbox[0]}-{region.bbox[2]}, "
            f"y {region.bbox[1]}-{region.bbox[3]}")
        self.needs_fix.emit(note)


def _spin(prefix: str, bounds: tuple[float, float], step: float, value: float, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(*bounds)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setPrefix(prefix)
    spin.setToolTip(tip)
    return spin
