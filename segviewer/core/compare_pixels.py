"""Model A vs model B on one image: which pixels B fixes, breaks, or both get wrong (issue #11).

Per class c, over valid pixels: a pixel is an error for c under a model when it is an FP or an FN of c there.
fixed = error under A and not under B, broken = error under B and not under A, both wrong = error under both.
For all classes a pixel is right when its GT class is predicted and no other class is (argmax: prediction = GT).
The canvas draws the uint8 codes through `compare_lut`, as it draws the error codes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .counts import Counts, Target, as_threshold_vector, count_hard, count_threshold, count_true_per_class
from .overlay import ALL_CLASSES, IGNORE, IGNORE_HATCH, IGNORE_RGB, HATCH_RGB, OUTSIDE, OUTSIDE_RGBA, OverlayMaps

SAME, FIXED, BROKEN, BOTH_WRONG = 0, 1, 2, 3       # code = error under A + 2 * error under B
COMPARE_WORDS = {FIXED: "fixed", BROKEN: "broken", BOTH_WRONG: "both wrong"}
# Okabe-Ito blue, vermillion and yellow: told apart with every common colour-vision deficiency
COMPARE_RGB = {FIXED: (0, 114, 178), BROKEN: (213, 94, 0), BOTH_WRONG: (240, 228, 66)}
BOTH_WRONG_ALPHA_FACTOR = 0.6    # what neither model gets right is context; the changes stand out


@dataclass
class Changes:
    """Pixels fixed, broken and wrong under both, per class ([C]) or per image and class ([I, C]), int64."""
    fixed: np.ndarray
    broken: np.ndarray
    both_wrong: np.ndarray

    def __add__(self, other: "Changes") -> "Changes":
        return Changes(self.fixed + other.fixed, self.broken + other.broken, self.both_wrong + other.both_wrong)


@dataclass
class Prediction:
    """One model's prediction on one image at its settings: a hard map (masks, argmax) or probabilities and a
    per-class threshold. `maps` (from a loaded image) gives the all-classes view its fast path."""
    pred_map: torch.Tensor | None = None
    probs: torch.Tensor | None = None
    threshold: torch.Tensor | None = None
    maps: OverlayMaps | None = None

    @property
    def hard(self) -> bool:
        return self.pred_map is not None


def prediction_of(probs: torch.Tensor | None, pred_map: torch.Tensor | None, scoring,
                  maps: OverlayMaps | None = None) -> Prediction:
    """The prediction a Scoring makes from an image's probabilities (or its hard mask)."""
    if probs is None:
        return Prediction(pred_map=pred_map, maps=maps)
    if scoring.argmax:
        return Prediction(pred_map=maps.pred_argmax if maps is not None else probs.max(0).indices, maps=maps)
    thr = as_threshold_vector(scoring.effective_threshold(), probs.shape[0], probs.device)
    return Prediction(probs=probs, threshold=thr, maps=maps)


def prediction_counts(pred: Prediction, target: Target) -> Counts:
    """[C] tp / fp / fn of one model, on the CPU."""
    if pred.hard:
        return count_hard(pred.pred_map, target).to("cpu")
    return count_threshold(pred.probs, target, pred.threshold).to("cpu")


# ---- per class ----
def predicted_as(pred: Prediction, class_id: int) -> torch.Tensor:
    if pred.hard:
        return pred.pred_map == class_id
    return pred.probs[class_id] > pred.threshold[class_id]


def class_errors(pred: Prediction, labels: torch.Tensor, class_id: int) -> torch.Tensor:
    """H×W bool: FP or FN of class_id (ignore pixels are masked by the caller)."""
    return predicted_as(pred, class_id) ^ (labels == class_id)


def right_pixels(pred: Prediction, labels: torch.Tensor) -> torch.Tensor:
    """H×W bool: the GT class is predicted and no other class is (labels: safe ids, ignore as 0)."""
    if pred.hard:
        return pred.pred_map == labels
    thr = pred.threshold
    maps = pred.maps
    if maps is not None and maps.p_gt is not None and bool((thr == thr[0]).all()):
        return (maps.p_gt > thr[0]) & (maps.p_other <= thr[0])
    above = pred.probs > thr.view(-1, 1, 1)
    gt_above = above.gather(0, labels[None])[0]
    above.scatter_(0, labels[None], False)
    return gt_above & ~above.any(0)


def image_changes(a: Prediction, b: Prediction, target: Target) -> Changes:
    """[C] fixed / broken / both wrong over the target's valid pixels."""
    if a.hard and b.hard:
        return _hard_changes(a.pred_map, b.pred_map, target)
    c = target.num_classes
    err_a, err_b = _error_stack(a, target), _error_stack(b, target)
    if not target.all_valid:
        err_a &= target.valid
    fixed = count_true_per_class(err_a & ~err_b)
    both = count_true_per_class(err_a & err_b)
    err_b &= ~err_a
    if not target.all_valid:
        err_b &= target.valid
    broken = count_true_per_class(err_b)
    return Changes(*(t.cpu().numpy().astype(np.int64)[:c] for t in (fixed, broken, both)))


def _error_stack(pred: Prediction, target: Target) -> torch.Tensor:
    """C×H×W bool: pixel is an FP or FN of class c."""
    c = target.num_classes
    ids = torch.arange(c, device=target.labels.device).view(-1, 1, 1)
    predicted = (pred.pred_map[None] == ids) if pred.hard else (pred.probs > pred.threshold.view(-1, 1, 1))
    predicted.scatter_(0, target.labels[None], ~predicted.gather(0, target.labels[None]))   # flip the GT channel
    return predicted


def _hard_changes(pa: torch.Tensor, pb: torch.Tensor, target: Target) -> Changes:
    """One prediction per pixel: errors only at the GT class and at the predicted class, so O(pixels)."""
    c = target.num_classes
    g, a, b = target.labels.flatten(), pa.flatten().long(), pb.flatten().long()
    if not target.all_valid:
        keep = target.valid.flatten()
        g, a, b = g[keep], a[keep], b[keep]
    wrong_a, wrong_b = a != g, b != g

    def count(ids, mask):
        return torch.bincount(ids[mask], minlength=c)[:c]
    extra_a = wrong_a & (a >= 0)                      # an FP of class a under A; under B too exactly when b == a
    extra_b = wrong_b & (b >= 0) & (b != a)           # an FP of class b under B only
    fixed = count(g, wrong_a & ~wrong_b) + count(a, extra_a & (b != a))
    broken = count(g, ~wrong_a & wrong_b) + count(b, extra_b)
    both = count(g, wrong_a & wrong_b) + count(a, extra_a & (b == a))
    return Changes(*(t.cpu().numpy().astype(np.int64) for t in (fixed, broken, both)))


# ---- what the canvas draws ----
def change_codes(err_a: torch.Tensor, err_b: torch.Tensor, maps: OverlayMaps,
                 keep: torch.Tensor | None = None) -> np.ndarray:
    """uint8 codes: SAME / FIXED / BROKEN / BOTH_WRONG, ignore pixels hatched, pixels outside a band OUTSIDE."""
    codes = err_a.to(torch.uint8) + err_b.to(torch.uint8) * 2
    if keep is not None:
        codes = torch.where(keep, codes, torch.full((), OUTSIDE, dtype=torch.uint8, device=codes.device))
    return torch.where(maps.ignore, maps.ignore_codes, codes).cpu().numpy()


def compare_codes(a: Prediction, b: Prediction, maps: OverlayMaps, class_id: int = ALL_CLASSES,
                  keep: torch.Tensor | None = None) -> np.ndarray:
    """Codes for one class, or for all classes (ALL_CLASSES)."""
    if class_id == ALL_CLASSES:
        return change_codes(~right_pixels(a, maps.safe), ~right_pixels(b, maps.safe), maps, keep)
    return change_codes(class_errors(a, maps.labels, class_id), class_errors(b, maps.labels, class_id), maps, keep)


def change_legend(codes: np.ndarray) -> dict[str, int]:
    counts = np.bincount(codes.ravel(), minlength=256)
    return {word: int(counts[code]) for code, word in COMPARE_WORDS.items()}


def compare_lut(opacity: float = 0.6, show=(True, True, True)) -> np.ndarray:
    """256×4 RGBA for the codes: fixed, broken, both wrong (each can be hidden); ignore grey and hatched."""
    lut = np.zeros((256, 4), np.uint8)
    alpha = int(round(255 * opacity))
    for code, visible in zip((FIXED, BROKEN, BOTH_WRONG), show):
        if visible:
            factor = BOTH_WRONG_ALPHA_FACTOR if code == BOTH_WRONG else 1.0
            lut[code] = (*COMPARE_RGB[code], int(alpha * factor))
    lut[OUTSIDE] = OUTSIDE_RGBA
    lut[IGNORE] = (*IGNORE_RGB, int(alpha * 0.7))
    lut[IGNORE_HATCH] = (*HATCH_RGB, max(alpha, 160))
    return lut
