"""`ins.boundary`: Boundary IoU, HD95 and NSD per class, for one image or the dataset, kept per setting; the
prediction is the one the scores use (threshold, argmax or the mask)."""
from __future__ import annotations

from ..boundary_metrics import (DEFAULT_TOLERANCE, BoundaryMetrics, DatasetBoundary, boundary_frame,
                                sample_boundary_metrics)
from .base import Part, refuse_after_close

CACHE_SIZE = 8
FLOAT32_MAX = 3.4028234663852886e38


@refuse_after_close
class Boundary(Part):
    def __init__(self, engine):
        super().__init__(engine)
        self._results = self.add_cache(CACHE_SIZE)    # (scope, image, prediction key, width, tolerance) -> result

    def image(self, image, width: int | None = None, tolerance: float = DEFAULT_TOLERANCE,
              scoring=None) -> BoundaryMetrics:
        """[C] metrics of one image for its prediction at the scoring's mode (argmax / threshold / mask)."""
        engine = self.engine
        width, tolerance = checked(width, tolerance)
        s, i = engine.effective(scoring), engine.position(image)

        def compute():
            loaded = engine.load(i)
            return sample_boundary_metrics(loaded.sample, engine.classes.num_classes, width=width,
                                           tolerance=tolerance, prediction=loaded.prediction(s))
        return self._results.get_or_compute(("image", i, s.prediction_key(), width, tolerance), compute)

    def dataset(self, width: int | None = None, tolerance: float = DEFAULT_TOLERANCE, scoring=None,
                progress=None, cancelled=None, strict: bool = False) -> DatasetBoundary:
        """Per-image and dataset metrics (`.total()`), one pass over the dataset."""
        from ..passes import boundary_pass
        engine = self.engine
        width, tolerance = checked(width, tolerance)
        s = engine.effective(scoring)
        key = ("dataset", None, s.prediction_key(), width, tolerance)
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


MAX_WIDTH = 2**31 - 1      # past any image's longest side (where the width is clamped anyway)


def checked(width, tolerance) -> tuple[int | None, float]:
    """Boundary IoU's width (None: 2% of the diagonal) a whole number ≥ 1 and NSD's tolerance a finite number
    ≥ 0, at most float32's largest (the distances are float32: a larger one is the same answer)."""
    from .. import validate
    if width is not None:     # past the image's longest side it is that side: any larger number is accepted
        width = min(validate.whole("width", width, 1, 2**63 - 1), MAX_WIDTH)
    tolerance = validate.real("tolerance", tolerance, 0.0)
    return width, min(tolerance, FLOAT32_MAX)
