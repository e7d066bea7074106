"""Failure analysis for the window: confusion matrices (image and dataset) and error regions, off the GUI thread,
each requested through the keyed jobs (shown only while its key is current)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from ..core.counts import confusion_matrix


class FailureAnalysis(QObject):
    confusion_ready = Signal()
    regions_ready = Signal()

    def __init__(self, viewer):
        super().__init__(viewer)
        self.v = viewer
        self.min_area = 20
        self.active = False      # computed only while a panel shows them
        viewer.sample_loaded.connect(self.refresh)
        viewer.overlay_ready.connect(lambda _codes: self.refresh())
        viewer.dataset_scores_ready.connect(self.refresh_dataset)

    # ---- what the panels draw ----
    @property
    def image_confusion(self) -> np.ndarray | None:
        """[C, C+1] of the current image."""
        out = self.v.jobs.value("regions")
        return None if out is None else out[0]

    @property
    def regions(self) -> list:
        out = self.v.jobs.value("regions")
        return [] if out is None else out[1]

    @property
    def per_image_confusion(self) -> np.ndarray | None:
        """[I, C, C+1] in dataset order."""
        out = self.v.jobs.value("confusion")
        return None if out is None else out[0]

    @property
    def dataset_confusion(self) -> np.ndarray | None:
        out = self.v.jobs.value("confusion")
        return None if out is None else out[1]

    # ---- the current image ----
    def refresh(self) -> None:
        v = self.v
        if not self.active or not v.showing_current():
            return
        engine, loaded, scoring, extra = v.engine, v.loaded, v.scoring, (v.settings.class_id, self.min_area)

        def job():
            cm = confusion_matrix(loaded.prediction(scoring), loaded.target(scoring)).cpu().numpy()
            return cm, loaded.error_regions(scoring, *extra)

        def done(_out):
            self.confusion_ready.emit()
            self.regions_ready.emit()
        v.jobs.request("regions", lambda: engine.key("regions", v.scoring, v.current, (v.settings.class_id,
                                                                                       self.min_area)),
                       job, done, worker=v.compute, what="Error regions")

    def pair_mask(self, g: int, p: int) -> np.ndarray | None:
        """Pixels of the current image where GT is g and the prediction is p (p = C: no prediction)."""
        v = self.v
        return None if v.loaded is None else v.loaded.pair_mask(v.scoring, g, p)

    # ---- the dataset ----
    def refresh_dataset(self) -> None:
        v = self.v
        if not self.active or v.index is None:
            return
        engine, scoring = v.engine, v.scoring

        def job():
            per_image = engine.per_image_confusion(scoring)
            return per_image, per_image.sum(0, dtype=np.int64)
        v.jobs.request("confusion", lambda: engine.key("confusion", v.scoring), job,
                       lambda _out: self.confusion_ready.emit(), worker=v.background, what="Confusion matrix",
                       now=scoring.argmax and not scoring.boundary)   # the index already holds every image's matrix

    def pair_counts(self, g: int, p: int) -> np.ndarray | None:
        per_image = self.per_image_confusion
        return None if per_image is None else per_image[:, g, p]


class FailureTabs(QObject):
    """The Confusion and Error regions tabs: FailureAnalysis's results drawn; a clicked cell highlights its pixels
    on every image (until cleared) and ranks the image list by them; a clicked region zooms the canvas."""
    highlight = Signal(object)        # H×W bool mask of the current image's highlighted pixels (None: none)
    pair_ranked = Signal(object)      # the clicked cell's pixels per image (dataset order)

    def __init__(self, viewer, services, tabs, confusion, regions, parent: QObject | None = None):
        super().__init__(parent)
        self.v, self.services, self.tabs = viewer, services, tabs
        self.confusion, self.regions = confusion, regions
        self.analysis = FailureAnalysis(viewer)
        self.active_pair: tuple[int, int] | None = None
        tabs.currentChanged.connect(self._on_tab_changed)
        self.analysis.confusion_ready.connect(self.show_confusion)
        self.analysis.regions_ready.connect(lambda: regions.set_regions(self.analysis.regions, viewer.classes.names))
        confusion.scope_changed.connect(lambda _scope: self.show_confusion())
        confusion.cell_clicked.connect(self.select_cell)
        regions.region_clicked.connect(lambda region: services.zoom_to(region.bbox))
        regions.min_area_changed.connect(self._on_min_area)
        viewer.sample_loaded.connect(self._highlight_again)

    def _on_tab_changed(self, _index: int) -> None:
        a = self.analysis
        a.active = self.tabs.currentWidget() in (self.confusion, self.regions)
        a.refresh()
        a.refresh_dataset()

    def _on_min_area(self, value: int) -> None:
        self.analysis.min_area = value
        self.analysis.refresh()

    def show_confusion(self) -> None:
        v, a = self.v, self.analysis
        if v.dataset is None:
            return
        matrix = a.dataset_confusion if self.confusion.scope.currentText() == "dataset" else a.image_confusion
        self.confusion.set_matrix(matrix, v.classes.names, show_none=not (v.is_hard or v.scoring.argmax))

    def select_cell(self, g: int, p: int) -> None:
        """Highlights the cell's pixels on the canvas (on every image, until cleared) and ranks the images by it."""
        self.active_pair = (g, p)
        self.highlight.emit(self.analysis.pair_mask(g, p))
        counts = self.analysis.pair_counts(g, p)
        if counts is not None:
            self.pair_ranked.emit(counts)
        names = list(self.v.classes.names) + ["none"]
        self.services.status(f"highlighted: GT {names[g]} predicted as {names[p]} (magenta)", 10000)

    def _highlight_again(self) -> None:
        if self.active_pair is not None:
            self.highlight.emit(self.analysis.pair_mask(*self.active_pair))

    def clear(self) -> None:
        self.active_pair = None
        self.confusion.clear_outline()
        self.highlight.emit(None)
