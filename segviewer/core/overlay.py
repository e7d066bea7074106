"""Error-code maps (one uint8 per pixel) and the lookup tables that colour them.

The canvas draws the code image through a 256-entry RGBA table, so a threshold step rebuilds one H×W uint8
map and never an RGBA image. For "All classes" two H×W maps decide every pixel at any threshold: the GT
class's probability and the largest probability among the other classes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .classes import BACKGROUND_NAMES
from .counts import NO_PREDICTION, as_threshold_vector

TN, FP, FN, TP, IGNORE, IGNORE_HATCH, EXTRA, OUTSIDE, BACKGROUND_TP = 0, 1, 2, 3, 4, 5, 6, 7, 8
ALL_CLASSES = -1
NO_CLASS_CODE = 255          # class-colour views: no prediction (transparent)
# "all classes", for a pixel of GT class g: TP correct (g predicted, nothing else), EXTRA (g and another class
# predicted), FP wrong class (another class predicted, g not), FN missed (nothing predicted)
ALL_CLASSES_WORDS = {TP: "correct", EXTRA: "extra", FP: "wrong class", FN: "missed"}
PALETTES = {
    "classic": {TP: (0, 200, 0), FP: (230, 30, 30), FN: (40, 90, 255), EXTRA: (255, 200, 0)},
    # Okabe-Ito colours, distinguishable with every common colour-vision deficiency
    "colour-blind safe": {TP: (0, 158, 115), FP: (230, 159, 0), FN: (86, 180, 233), EXTRA: (204, 121, 167)},
}
OUTSIDE_RGBA = (0, 0, 0, 110)   # pixels a boundary band leaves unscored: dimmed, so the band reads at a glance
IGNORE_RGB = (150, 150, 150)
HATCH_RGB = (90, 90, 90)
HATCH_PERIOD = 8
TP_ALPHA_FACTOR = 0.45   # with all classes almost every pixel is TP: fainter, so the errors stand out


@dataclass
class OverlayMaps:
    """Per-image maps prepared once on load, on the torch device."""
    labels: torch.Tensor         # H×W int64 (ignore pixels kept as the ignore id)
    safe: torch.Tensor           # H×W int64, ignore pixels as class 0 (safe to index with)
    ignore: torch.Tensor         # H×W bool
    ignore_codes: torch.Tensor   # H×W uint8: IGNORE / IGNORE_HATCH (diagonal stripes) where ignored
    p_gt: torch.Tensor | None    # H×W float32, probability of the GT class
    p_other: torch.Tensor | None  # H×W float32, largest probability among the other classes
    pred_argmax: torch.Tensor    # H×W int64 hard prediction (argmax, or the mask)


def hatch_pattern(h: int, w: int, device) -> torch.Tensor:
    yy = torch.arange(h, device=device).view(-1, 1)
    xx = torch.arange(w, device=device).view(1, -1)
    return ((xx + yy) % HATCH_PERIOD) < 2


def prepare_maps(labels: torch.Tensor, ignore_index: int, probs: torch.Tensor | None,
                 pred_map: torch.Tensor | None) -> OverlayMaps:
    ignore = labels == ignore_index
    safe = torch.where(ignore, torch.zeros_like(labels), labels)
    hatch = hatch_pattern(*labels.shape, labels.device)
    ignore_codes = torch.where(hatch, IGNORE_HATCH, IGNORE).to(torch.uint8)
    if probs is None:
        return OverlayMaps(labels, safe, ignore, ignore_codes, None, None, pred_map)
    p_gt = probs.gather(0, safe[None])[0].clone()
    # one max over the other classes gives both p_other and the argmax (masking in place avoids a C×H×W copy)
    probs.scatter_(0, safe[None], -1.0)
    p_other, i_other = probs.max(0)
    probs.scatter_(0, safe[None], p_gt[None])
    # ties go to the lower class id, as argmax does
    pred = torch.where(p_gt > p_other, safe, torch.where(p_gt < p_other, i_other, torch.minimum(safe, i_other)))
    return OverlayMaps(labels, safe, ignore, ignore_codes, p_gt, p_other, pred)


def _finish(codes: torch.Tensor, maps: OverlayMaps) -> np.ndarray:
    return torch.where(maps.ignore, maps.ignore_codes, codes).cpu().numpy()


def error_codes_class(maps: OverlayMaps, class_id: int, predicted: torch.Tensor) -> np.ndarray:
    """One class: TN/FP/FN/TP from 'predicted as class_id' (H×W bool)."""
    is_gt = maps.labels == class_id
    codes = predicted.to(torch.uint8) + is_gt.to(torch.uint8) * 2  # 0 TN, 1 FP, 2 FN, 3 TP
    return _finish(codes, maps)


def error_codes_all(maps: OverlayMaps, gt_predicted: torch.Tensor, other_predicted: torch.Tensor) -> np.ndarray:
    """All classes: correct (TP), extra (EXTRA), wrong class (FP) or missed (FN), see ALL_CLASSES_WORDS."""
    g, o = gt_predicted.to(torch.uint8), other_predicted.to(torch.uint8)
    # g=1,o=0 -> TP 3; g=1,o=1 -> EXTRA 6; g=0,o=1 -> FP 1; g=0,o=0 -> FN 2
    codes = FN + g - o + 4 * (g & o)
    return _finish(codes, maps)


def threshold_codes(maps: OverlayMaps, probs: torch.Tensor, class_id: int, threshold) -> np.ndarray:
    """Codes in threshold mode: pred_c = p_c > t_c."""
    c = probs.shape[0]
    thr = as_threshold_vector(threshold, c, probs.device)
    if class_id != ALL_CLASSES:
        return error_codes_class(maps, class_id, probs[class_id] > thr[class_id])
    if bool((thr == thr[0]).all()):
        return error_codes_all(maps, maps.p_gt > thr[0], maps.p_other > thr[0])
    # per-class thresholds: the GT class against its own, any other class above its own
    above = probs > thr.view(-1, 1, 1)
    gt_pred = above.gather(0, maps.safe[None])[0]
    above.scatter_(0, maps.safe[None], False)
    return error_codes_all(maps, gt_pred, above.any(0))


def hard_codes(maps: OverlayMaps, pred_map: torch.Tensor, class_id: int) -> np.ndarray:
    """Codes from a hard prediction (argmax mode, or an annotator's mask)."""
    if class_id != ALL_CLASSES:
        return error_codes_class(maps, class_id, pred_map == class_id)
    gt_predicted = pred_map == maps.labels
    return error_codes_all(maps, gt_predicted, (pred_map != NO_PREDICTION) & ~gt_predicted)


def class_map_codes(class_map: torch.Tensor, num_classes: int, ignore: torch.Tensor | None = None) -> np.ndarray:
    """A class-id map for the class-colour views: ids as codes, no prediction -> 255, ignore -> num_classes."""
    codes = torch.where(class_map < 0, 255, class_map).clamp(max=255)
    if ignore is not None:
        codes = torch.where(ignore, num_classes, codes)
    return codes.to(torch.uint8).cpu().numpy()


def error_lut(palette: str = "classic", show=(True, True, True), opacity: float = 0.6,
              tp_factor: float = TP_ALPHA_FACTOR, background: bool = False) -> np.ndarray:
    """256×4 RGBA: TN transparent, TP/FP/FN from the palette (each can be hidden), ignore grey and hatched;
    a correct background pixel (BACKGROUND_TP) is left unpainted unless `background` asks for it."""
    lut = np.zeros((256, 4), np.uint8)
    alpha = int(round(255 * opacity))
    for code, visible in zip((TP, FP, FN), show):
        if visible:
            lut[code] = (*PALETTES[palette][code], int(alpha * tp_factor) if code == TP else alpha)
    if background:
        lut[BACKGROUND_TP] = lut[TP]
    if show[1]:   # extra predictions are false positives of another class
        lut[EXTRA] = (*PALETTES[palette][EXTRA], alpha)
    lut[OUTSIDE] = OUTSIDE_RGBA
    lut[IGNORE] = (*IGNORE_RGB, int(alpha * 0.7))
    lut[IGNORE_HATCH] = (*HATCH_RGB, max(alpha, 160))
    return lut


def class_lut(colors: np.ndarray, opacity: float = 0.6) -> np.ndarray:
    """256×4 RGBA for class-id codes; code C (ignore) grey, 255 (no prediction) transparent."""
    lut = np.zeros((256, 4), np.uint8)
    n = min(len(colors), 250)
    lut[:n, :3] = colors[:n]
    lut[:n, 3] = int(round(255 * opacity))
    lut[n] = (*IGNORE_RGB, int(round(255 * opacity)))
    return lut


def code_counts(codes: np.ndarray) -> dict[str, int]:
    """How many pixels of each kind a code map shows (for tests and the legend). "tp" counts every correct pixel,
    background ones included (they are counted, just not painted); "background" says how many of them those are."""
    counts = np.bincount(codes.ravel(), minlength=256)
    return {"tn": int(counts[TN]), "fp": int(counts[FP]), "fn": int(counts[FN]),
            "tp": int(counts[TP] + counts[BACKGROUND_TP]), "background": int(counts[BACKGROUND_TP]),
            "extra": int(counts[EXTRA]), "outside": int(counts[OUTSIDE]),
            "ignore": int(counts[IGNORE] + counts[IGNORE_HATCH])}


legend_counts = code_counts


def restrict_codes(codes: np.ndarray, keep: np.ndarray, ignore: np.ndarray) -> np.ndarray:
    """Pixels outside the scored band become OUTSIDE (ignore pixels keep their hatching)."""
    return np.where(keep | ignore, codes, np.uint8(OUTSIDE)).astype(np.uint8)


def background_classes(names) -> tuple[int, ...]:
    """The classes that are context, not a result: those a class file names background, else class 0."""
    marked = tuple(i for i, n in enumerate(names) if str(n).strip().lower() in BACKGROUND_NAMES)
    return marked or ((0,) if len(names) else ())


def mark_background(codes: np.ndarray, background: np.ndarray) -> np.ndarray:
    """All-classes codes with the correct pixels of a background class as BACKGROUND_TP (same counts, not painted)."""
    return np.where(background & (codes == TP), np.uint8(BACKGROUND_TP), codes).astype(np.uint8)


def contour(codes: np.ndarray, blank: int = TN) -> np.ndarray:
    """Outlines of the regions of equal code (napari's labels contour): a pixel stays when a 4-neighbour differs,
    the inside becomes `blank` (transparent)."""
    base = np.where(codes == IGNORE_HATCH, np.uint8(IGNORE), codes) if blank == TN else codes
    edge = np.zeros(codes.shape, bool)
    vertical, horizontal = base[1:, :] != base[:-1, :], base[:, 1:] != base[:, :-1]
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    return np.where(edge, codes, np.uint8(blank)).astype(np.uint8)
