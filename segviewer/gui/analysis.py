"""Failure analysis for the window: confusion matrices (image and dataset) and error regions, off the GUI thread."""
from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from ..core.counts import NO_PREDICTION, confusion_matrix, threshold_map
from ..core.dataset import evaluate
from ..core.overlay import ALL_CLASSES
from ..core.regions import error_regions


class FailureAnalysis(QObject):
    confusion_ready = Signal()
    regions_ready = Signal()

    def __init__(self, viewer):
        super().__init__(viewer)
        self.v = viewer
        self.image_confusion: np.ndarray | None = None      # [C, C+1]
        self.dataset_confusion: np.ndarray | None = None    # [C, C+1]
        self.per_image_confusion: np.ndarray | None = None  # [I, C, C+1] in dataset order
        self.regions = []
        self.min_area = 20
        self.active = False      # computed only while a panel shows them
        self._dataset_key = None
        viewer.sample_loaded.connect(self.refresh)
        viewer.overlay_ready.connect(lambda _codes: self.refresh())
        viewer.dataset_scores_ready.connect(self.refresh_dataset)
        viewer.dataset_opened.connect(self._reset)

    def _reset(self) -> None:
        self.image_confusion = self.dataset_confusion = self.per_image_confusion = None
        self.regions, self._dataset_key = [], None

    def prediction_map(self, loaded, settings) -> torch.Tensor:
        """The current image's hard prediction: argmax / mask, or the most probable class above its threshold.
        Kept for the last (image, threshold), so a click on the GUI thread does not recompute it."""
        if loaded.sample.probs is None or settings.argmax:
            return loaded.maps.pred_argmax
        key = (id(loaded), str(settings.effective_threshold()))
        cached = getattr(self, "_pred_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        pred = threshold_map(loaded.sample.probs, settings.effective_threshold())
        self._pred_cache = (key, pred)
        return pred

    # ---- the current image ----
    def refresh(self) -> None:
        v = self.v
        if not self.active or v.loaded is None:
            return
        loaded, settings, generation, min_area = v.loaded, v.settings, v.generation, self.min_area

        def job():
            pred = self.prediction_map(loaded, settings)
            cm = confusion_matrix(pred, loaded.sample.target).cpu().numpy()
            return cm, self._regions(loaded, settings, pred, min_area)

        def done(out):
            if generation == v.generation and loaded is v.loaded:
                self.image_confusion, self.regions = out
                self.confusion_ready.emit()
                self.regions_ready.emit()
        v.compute.submit("analysis", job, done)

    @staticmethod
    def _regions(loaded, settings, pred: torch.Tensor, min_area: int):
        maps = loaded.maps
        valid = ~maps.ignore
        c = settings.class_id
        if c == ALL_CLASSES:
            fn = valid & (pred != maps.safe)
            fp = valid & (pred != maps.safe) & (pred != NO_PREDICTION)
            fp_class, fn_class = pred.clamp(min=0).cpu().numpy(), maps.safe.cpu().numpy()
        else:
            fn = valid & (maps.labels == c) & (pred != c)
            fp = valid & (maps.labels != c) & (pred == c)
            if loaded.sample.probs is not None and not settings.argmax:  # per-class threshold, as the overlay shows
                t = torch.as_tensor(settings.effective_threshold(), dtype=torch.float32).expand(loaded.sample.probs.shape[0])
                above = loaded.sample.probs[c] > t[c]
                fn, fp = valid & (maps.labels == c) & ~above, valid & (maps.labels != c) & above
            fp_class = fn_class = np.full(tuple(pred.shape), c)
        regions = error_regions(fn.cpu().numpy(), fn_class, "missed", min_area)
        regions += error_regions(fp.cpu().numpy(), fp_class, "hallucinated", min_area)
        return sorted(regions, key=lambda r: -r.area)

    def pair_mask(self, g: int, p: int) -> np.ndarray | None:
        """Pixels of the current image where GT is g and the prediction is p (p = C: no prediction)."""
        v = self.v
        if v.loaded is None:
            return None
        pred = self.prediction_map(v.loaded, v.settings)
        c = v.classes.num_classes
        hit = (v.loaded.maps.labels == g) & ((pred == NO_PREDICTION) if p == c else (pred == p))
        return hit.cpu().numpy()

    # ---- the dataset ----
    def refresh_dataset(self) -> None:
        v = self.v
        if not self.active or v.dataset is None or v.index is None:
            return
        s = v.settings
        key = (v.generation, s.argmax or v.is_hard, None if (s.argmax or v.is_hard) else str(s.effective_threshold()))
        if key == self._dataset_key:
            return
        self._dataset_key = key
        if key[1]:  # argmax / masks: the index already holds every image's matrix
            per_image = v._in_dataset_order_array(v.index.confusion, v.index.names)
            self._set_dataset(per_image)
            return
        dataset, generation, threshold = v.dataset, v.generation, s.effective_threshold()

        def job():
            result = evaluate(dataset, threshold, False, with_confusion=True)
            return v._in_dataset_order_array(result.confusion_per_image.numpy(), result.names)

        v.background.submit("confusion", job, lambda arr: generation == v.generation and self._set_dataset(arr))

    def _set_dataset(self, per_image: np.ndarray) -> None:
        self.per_image_confusion = per_image
        self.dataset_confusion = per_image.sum(0)
        self.confusion_ready.emit()

    def pair_counts(self, g: int, p: int) -> np.ndarray | None:
        return None if self.per_image_confusion is None else self.per_image_confusion[:, g, p]
