"""Which settings change which result: the table behind Inspector.key, the key of every kind of result.

A result computed for one snapshot of the settings is valid while its key still equals the key of the current
settings; the window shows a result only then, so no number on screen belongs to other settings.
"""
from __future__ import annotations

from enum import Enum


class Depends(Enum):
    NOTHING = "nothing"         # the files only: a loaded image, the index, calibration, label scores, regions
    PREDICTION = "prediction"   # threshold / argmax: boundary metrics
    COUNTS = "counts"           # the prediction and the band: counts, overlay, error regions, confusion
    SCORES = "scores"           # the counts, beta and smooth
    BEST = "best"               # beta and smooth only: the best thresholds over the whole grid


# kind -> (what it depends on, whether model B's threshold / argmax count too)
KINDS: dict[str, tuple[Depends, bool]] = {
    "image": (Depends.NOTHING, False), "index": (Depends.NOTHING, False),
    "image_counts": (Depends.COUNTS, False), "dataset_counts": (Depends.COUNTS, False),
    "overlay": (Depends.COUNTS, False), "regions": (Depends.COUNTS, False),
    "image_confusion": (Depends.COUNTS, False), "confusion": (Depends.COUNTS, False),
    "image_scores": (Depends.SCORES, False), "dataset_scores": (Depends.SCORES, False),
    "images": (Depends.SCORES, False), "best": (Depends.BEST, False),
    "compare_image": (Depends.COUNTS, True), "compare_dataset": (Depends.COUNTS, True),
    "compare_overlay": (Depends.COUNTS, True), "compare_deltas": (Depends.SCORES, True),
    "calibration": (Depends.NOTHING, False), "label_scores": (Depends.NOTHING, False),
    "suspect_regions": (Depends.NOTHING, False), "boundary": (Depends.PREDICTION, False),
    # a 3-D case: one slice (its extra: axis, index), every slice's counts across an axis (extra: axis)
    "slice": (Depends.NOTHING, False), "slice_counts": (Depends.COUNTS, False),
}


def settings_key(depends: Depends, scoring) -> tuple:
    if depends is Depends.NOTHING:
        return ()
    if depends is Depends.PREDICTION:
        return scoring.prediction_key()
    if depends is Depends.COUNTS:
        return scoring.count_key()
    if depends is Depends.SCORES:
        return scoring.score_key()
    return (scoring.beta, scoring.smooth)
