"""Failure analysis for the window: confusion matrices (image and dataset) and error regions, off the GUI thread.

Every result carries its request key and is shown only while the key is current (see Viewer._apply)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from ..core.counts import confusion_matrix
from .guard import message


class FailureAnalysis(QObject):
    confusion_ready = Signal()
    regions_ready = Signal()

    def __init__(self, viewer):
        super().__init__(viewer)
        self.v = viewer
        self.min_area = 20
        self.active = False      # computed only while a panel shows them
        self._reset()
        viewer.sample_loaded.connect(self.refresh)
        viewer.overlay_ready.connect(lambda _codes: self.refresh())
        viewer.dataset_scores_ready.connect(self.refresh_dataset)
        viewer.dataset_opened.connect(self._reset)

    def _reset(self) -> None:
        self.image_confusion: np.ndarray | None = None       # [C, C+1]
        self.dataset_confusion: np.ndarray | None = None     # [C, C+1]
        self.per_image_confusion: np.ndarray | None = None   # [I, C, C+1] in dataset order
        self.regions = []
        self._image_key = self._dataset_key = None

    def _extra(self) -> tuple:
        return (self.v.settings.class_id, self.min_area)

    # ---- the current image ----
    def refresh(self) -> None:
        v = self.v
        if not self.active or not v.showing_current():
            return
        loaded, scoring, extra = v.loaded, v.scoring, self._extra()
        key = v.key("regions", image=True, extra=extra)
        if key == self._image_key:
            return

        def job():
            cm = confusion_matrix(loaded.prediction(scoring), loaded.target(scoring)).cpu().numpy()
            return cm, loaded.error_regions(scoring, *extra)

        def done(out):
            self._image_key = key
            self.image_confusion, self.regions = out
            self.confusion_ready.emit()
            self.regions_ready.emit()
        v.compute.submit("analysis", job, lambda out: v._apply(key, "regions", extra, out, done),
                         v._job_failed(key, "regions", extra, "Error regions"))

    def pair_mask(self, g: int, p: int) -> np.ndarray | None:
        """Pixels of the current image where GT is g and the prediction is p (p = C: no prediction)."""
        v = self.v
        return None if v.loaded is None else v.loaded.pair_mask(v.scoring, g, p)

    # ---- the dataset ----
    def refresh_dataset(self) -> None:
        v = self.v
        if not self.active or v.index is None:
            return
        key = v.key("confusion")
        if key == self._dataset_key:
            return
        engine, scoring = v.engine, v.scoring

        def done(per_image):
            self._dataset_key = key
            self._set_dataset(per_image)
        if scoring.argmax and not scoring.boundary:  # the index already holds every image's matrix
            done(engine.per_image_confusion(scoring))
            return
        v.background.submit("confusion", lambda: engine.per_image_confusion(scoring),
                            lambda out: v._apply(key, "confusion", (), out, done),
                            lambda exc: v.error.emit(message("Confusion matrix", exc)))

    def _set_dataset(self, per_image: np.ndarray) -> None:
        self.per_image_confusion = per_image
        self.dataset_confusion = per_image.sum(0)
        self.confusion_ready.emit()

    def pair_counts(self, g: int, p: int) -> np.ndarray | None:
        return None if self.per_image_confusion is None else self.per_image_confusion[:, g, p]
