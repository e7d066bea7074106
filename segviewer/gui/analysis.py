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
