"""Model A vs model B on one image: which pixels B fixes, breaks, or both get wrong (issue #11).

Per class c, over valid pixels: a pixel is an error for c under a model when it is an FP or an FN of c there.
fixed = error under A and not under B, broken = error under B and not under A, both wrong = error under both.
For all classes a pixel is right when its GT class is predicted and no other class is (argmax: prediction = GT);
an image's fixed / broken / both wrong count its pixels by that rule, once each (`pixel_changes`), where the
per-class changes count a pixel under every class it is an error of.
The canvas draws the uint8 codes through `compare_lut`, as it draws the error codes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .counts import (Counts, Target, argmax_map, as_threshold_vector, count_hard, count_threshold,
                     count_true_per_class)
from .overlay import ALL_CLASSES, IGNORE, IGNORE_HATCH, IGNORE_RGB, HATCH_RGB, OUTSIDE, OUTSIDE_RGBA, OverlayMaps

SAME, FIXED, BROKEN, BOTH_WRONG = 0, 1, 2, 3       # code = error under A + 2 * error under B
COMPARE_WORDS = {FIXED: "fixed", BROKEN: "broken", BOTH_WRONG: "both wrong"}
# Okabe-Ito blue, vermillion and yellow: told apart with every common colour-vision deficiency
COMPARE_RGB = {FIXED: (0, 114, 178), BROKEN: (213, 94, 0), BOTH_WRONG: (240, 228, 66)}
BOTH_WRONG_ALPHA_FACTOR = 0.6    # what neither model gets right is context; the changes stand out


@dataclass
class Changes:
    """Pixels fixed, broken and wrong under both, int64: per class ([C]) or per image and class ([I, C]), or by
    the all-classes rule (one count, or [I] per image)."""
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


def per_class(threshold: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """A [C] threshold shaped to compare with C×H×W (or a volume's C×z×y×x) probabilities."""
    return threshold.view(-1, *[1] * (probs.dim() - 1))


def prediction_of(probs: torch.Tensor | None, pred_map: torch.Tensor | None, scoring,
                  maps: OverlayMaps | None = None) -> Prediction:
    """The prediction a Scoring makes from an image's probabilities (or its hard mask)."""
    if probs is None:
        return Prediction(pred_map=pred_map, maps=maps)
    if scoring.argmax:
        return Prediction(pred_map=maps.pred_argmax if maps is not None else argmax_map(probs), maps=maps)
    thr = as_threshold_vector(scoring.effective_threshold(), probs.shape[0], probs.device)
    return Prediction(probs=probs, threshold=thr, maps=maps)


def prediction_counts(pred: Prediction, target: Target) -> Counts:
    """[C] tp / fp / fn of one model, on the CPU."""
    if pred.hard:
        return count_hard(pred.pred_map, target).to("cpu")
    return count_threshold(pred.probs, target, pred.threshold).to("cpu")


# ---- per class ----
def right_pixels(pred: Prediction, labels: torch.Tensor) -> torch.Tensor:
    """H×W bool: the GT class is predicted and no other class is (labels: safe ids, ignore as 0)."""
    if pred.hard:
        return pred.pred_map == labels
    above = pred.probs > per_class(pred.threshold, pred.probs)
    gt_above = above.gather(0, labels[None])[0]
    above.scatter_(0, labels[None], False)
    return gt_above & ~above.any(0)


def image_changes(a: Prediction, b: Prediction, target: Target, counts_a: Counts | None = None,
                  counts_b: Counts | None = None) -> Changes:
    """[C] fixed / broken / both wrong over the target's valid pixels.

    A model's errors for c number fp_c + fn_c, so only 'both wrong' is counted: pixels where both predict c
    without GT c (both FP), plus GT-c pixels where neither predicts c (both FN). fixed = errors_A − both,
    broken = errors_B − both."""
    c = target.num_classes
    counts_a = counts_a if counts_a is not None else prediction_counts(a, target)
    counts_b = counts_b if counts_b is not None else prediction_counts(b, target)
    gt_a, gt_b = _predicts_gt(a, target), _predicts_gt(b, target)
    labels = target.labels
    if not target.all_valid:
        gt_a, gt_b, labels = gt_a[target.valid], gt_b[target.valid], labels[target.valid]

    def per_class(mask: torch.Tensor) -> np.ndarray:
        return torch.bincount(labels[mask], minlength=c)[:c].cpu().numpy().astype(np.int64)
    both = _both_predict(a, b, target) - per_class(gt_a & gt_b) + per_class(~gt_a & ~gt_b)
    errors_a = (counts_a.fp + counts_a.fn).numpy().astype(np.int64)
    errors_b = (counts_b.fp + counts_b.fn).numpy().astype(np.int64)
    return Changes(errors_a - both, errors_b - both, both)


def pixel_changes(a: Prediction, b: Prediction, target: Target) -> Changes:
    """Valid pixels fixed / broken / wrong under both by the all-classes rule (what the all-classes compare view
    shows): each pixel counts once, however many classes it is an error of."""
    right_a, right_b = right_pixels(a, target.labels), right_pixels(b, target.labels)
    if not target.all_valid:
        right_a, right_b = right_a[target.valid], right_b[target.valid]
    count = lambda mask: np.int64(torch.count_nonzero(mask))  # noqa: E731
    return Changes(count(~right_a & right_b), count(right_a & ~right_b), count(~right_a & ~right_b))


def _predicts_gt(pred: Prediction, target: Target) -> torch.Tensor:
    """H×W bool: the model predicts the pixel's GT class."""
    if pred.hard:
        return pred.pred_map == target.labels
    p_gt = pred.probs.gather(0, target.labels[None])[0]
    return p_gt > pred.threshold[target.labels]


def _both_predict(a: Prediction, b: Prediction, target: Target) -> np.ndarray:
    """[C] valid pixels where both models predict class c."""
    c = target.num_classes
    if a.hard or b.hard:
        hard, other = (a, b) if a.hard else (b, a)
        ids = hard.pred_map.long()
        sel = ids >= 0
        if not other.hard:
            safe = ids.clamp(min=0)
            sel &= other.probs.gather(0, safe[None])[0] > other.threshold[safe]
        else:
            sel &= other.pred_map == ids
        if not target.all_valid:
            sel &= target.valid
        return torch.bincount(ids[sel], minlength=c)[:c].cpu().numpy().astype(np.int64)
    both = (a.probs > per_class(a.threshold, a.probs)) & (b.probs > per_class(b.threshold, b.probs))
    count = count_true_per_class(both)
    if not target.all_valid:
        count = count - count_true_per_class(both.flatten(1)[:, target.ignored_index()]).to(count.device)
    return count.cpu().numpy().astype(np.int64)


# ---- what the canvas draws (numpy: one thread, SIMD, steady while other work holds the cores) ----
def _host(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _predicted_host(pred: Prediction, class_id: int) -> np.ndarray:
    if pred.hard:
        return _host(pred.pred_map) == class_id
    return _host(pred.probs[class_id]) > np.float32(pred.threshold[class_id])


def _right_host(pred: Prediction, maps: OverlayMaps) -> np.ndarray:
    thr = pred.threshold
    if pred.hard:
        return _host(pred.pred_map) == _host(maps.safe)
    if pred.maps is not None and pred.maps.p_gt is not None and bool((thr == thr[0]).all()):
        t = np.float32(thr[0])
        return (_host(pred.maps.p_gt) > t) & (_host(pred.maps.p_other) <= t)
    return _host(right_pixels(pred, maps.safe))


def change_codes(err_a: np.ndarray, err_b: np.ndarray, maps: OverlayMaps,
                 keep: torch.Tensor | None = None) -> np.ndarray:
    """uint8 codes: SAME / FIXED / BROKEN / BOTH_WRONG, ignore pixels hatched, pixels outside a band OUTSIDE."""
    codes = err_a.view(np.uint8) + (err_b.view(np.uint8) << 1)
    if keep is not None:
        np.copyto(codes, np.uint8(OUTSIDE), where=~_host(keep))
    np.copyto(codes, _host(maps.ignore_codes), where=_host(maps.ignore))
    return codes


def compare_codes(a: Prediction, b: Prediction, maps: OverlayMaps, class_id: int = ALL_CLASSES,
                  keep: torch.Tensor | None = None) -> np.ndarray:
    """Codes for one class, or for all classes (ALL_CLASSES); maps: model A's (the GT and its ignore pixels)."""
    if class_id == ALL_CLASSES:
        return change_codes(~_right_host(a, maps), ~_right_host(b, maps), maps, keep)
    is_gt = _host(maps.labels) == class_id
    return change_codes(_predicted_host(a, class_id) ^ is_gt, _predicted_host(b, class_id) ^ is_gt, maps, keep)


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
