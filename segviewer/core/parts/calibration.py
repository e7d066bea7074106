"""`ins.calibration`: per-class and top-label calibration, for the dataset (one pass per bin count, kept) or one
image (its loaded probabilities)."""
from __future__ import annotations

from ..calibration import (DEFAULT_BINS, TOP_LABEL, CalibrationStats, bins_frame, calibration_frame, check_bins,
                           require_confidence)
from .base import Part, refuse_after_close

DATASET_CACHE_SIZE = 4     # bin counts kept; each is (classes + 1) x bins
IMAGE_CACHE_SIZE = 2


@refuse_after_close
class Calibration(Part):
    def __init__(self, engine):
        super().__init__(engine)
        self._dataset = self.add_cache(DATASET_CACHE_SIZE)    # bins -> CalibrationStats
        self._image = self.add_cache(IMAGE_CACHE_SIZE)        # (position, bins) -> CalibrationStats

    def stats(self, bins: int = DEFAULT_BINS, image: int | str | None = None, progress=None, cancelled=None,
              strict: bool = False) -> CalibrationStats:
        """The statistics for the whole dataset, or for one image."""
        from ..passes import calibration_pass
        engine = self.engine
        bins = check_bins(bins)
        require_confidence(engine.dataset)
        if image is not None:
            i = engine.position(image)
            return self._image.get_or_compute((i, bins), lambda: self._one_image(i, bins))
        found = self._dataset.get(bins)
        if found is None:
            found = self._dataset.put(bins, calibration_pass(
                engine.dataset, engine.scoring, engine.cluster_client(), bins=bins, on_error=engine.failures.record,
                strict=strict, progress=progress, cancelled=cancelled))
        return found

    def _one_image(self, i: int, bins: int) -> CalibrationStats:
        from ..calibration import sample_calibration
        return sample_calibration(self.engine.load(i).sample, bins)

    def reliability(self, class_id: int = TOP_LABEL, bins: int = DEFAULT_BINS, image: int | str | None = None):
        """Per bin: lower, upper, pixels, mean_confidence, frequency, for a class or the top label (TOP_LABEL)."""
        from .. import validate
        class_id = validate.class_id(class_id, self.engine.classes.num_classes, every=TOP_LABEL)
        return self.stats(bins, image).reliability(class_id)

    def table(self, bins: int = DEFAULT_BINS, image: int | str | None = None):
        """class_id, class_name, pixels, ece, mce: a row per class, then 'top-label' (class_id <NA>)."""
        return calibration_frame(self.engine.classes.names, self.stats(bins, image))

    def bins_table(self, bins: int = DEFAULT_BINS, image: int | str | None = None):
        """class_id, class_name, bin, lower, upper, pixels, mean_confidence, frequency."""
        return bins_frame(self.engine.classes.names, self.stats(bins, image))
