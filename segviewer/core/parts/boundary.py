"""`ins.boundary`: Boundary IoU, HD95 and NSD per class, for one image or the dataset, kept per setting; the
prediction is the one the scores use (threshold, argmax or the mask)."""
from __future__ import annotations

from ..boundary_metrics import (DEFAULT_TOLERANCE, BoundaryMetrics, DatasetBoundary, boundary_frame,
                                sample_boundary_metrics)
from .base import Part, refuse_after_close

CACHE_SIZE = 8


@refuse_after_close
class Boundary(Part):
    def __init__(self, engine):
        super().__init__(engine)
        self._results = self.add_cache(CACHE_SIZE)    # (scope, image, prediction key, width, tolerance) -> result

    def image(self, image, width: int | None = None, tolerance: float = DEFAULT_TOLERANCE,
              scoring=None) -> BoundaryMetrics:
        """[C] metrics of one image for its prediction at the scoring's mode (argmax / threshold / mask)."""
        engine = self.engine
        s, i = engine.effective(scoring), engine.position(image)

        def compute():
            loaded = engine.load(i)
            return sample_boundary_metrics(loaded.sample, engine.classes.num_classes, width=width,
                                           tolerance=tolerance, prediction=loaded.prediction(s))
        return self._results.get_or_compute(("image", i, s.prediction_key(), width, float(tolerance)), compute)

    def dataset(self, width: int | None = None, tolerance: float = DEFAULT_TOLERANCE, scoring=None,
                progress=None, cancelled=None, strict: bool = False) -> DatasetBoundary:
        """Per-image and dataset metrics (`.total()`), one pass over the dataset."""
        from ..passes import boundary_pass
        engine = self.engine
        s = engine.effective(scoring)
        key = ("dataset", None, s.prediction_key(), width, float(tolerance))
        found = self._results.get(key)
        if found is None:
            found = self._results.put(key, boundary_pass(
                engine.dataset, s, engine.cluster_client(), width=width, tolerance=tolerance,
                on_error=engine.failures.record, strict=strict, progress=progress, cancelled=cancelled))
        return found

    def table(self, image=None, width: int | None = None, tolerance: float = DEFAULT_TOLERANCE):
        """A row per class: class_id, class_name, boundary_iou, hd95, nsd, for one image or (None) the dataset."""
        metrics = self.dataset(width, tolerance).total() if image is None else self.image(image, width, tolerance)
        return boundary_frame(self.engine.classes.names, metrics)
