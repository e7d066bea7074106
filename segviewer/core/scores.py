"""Scores from counts: precision, recall, F-beta, Dice, IoU (and soft Dice from soft counts).

The empty-class policy: a class with tp + fp + fn == 0 (absent from both GT and prediction) is NaN
("absent") in every score and left out of every mean; the smoothing term never scores it 1.0.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .counts import Counts

from .options import DEFAULT_BETA, DEFAULT_SMOOTH  # noqa: F401
SCORE_NAMES = ("precision", "recall", "fbeta", "dice", "iou")


def _as_double(counts: Counts) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return counts.tp.double(), counts.fp.double(), counts.fn.double()


def absent_mask(counts: Counts) -> torch.Tensor:
    return (counts.tp + counts.fp + counts.fn) == 0


def fbeta_score(counts: Counts, beta: float = DEFAULT_BETA, smooth: float = DEFAULT_SMOOTH) -> torch.Tensor:
    """((1+β²)tp + s) / ((1+β²)tp + β²fn + fp + s), the reference formula; NaN for absent classes."""
    tp, fp, fn = _as_double(counts)
    b2 = float(beta) ** 2
    score = ((1 + b2) * tp + smooth) / ((1 + b2) * tp + b2 * fn + fp + smooth)
    return score.masked_fill(absent_mask(counts), float("nan"))


def iou_score(counts: Counts, smooth: float = DEFAULT_SMOOTH) -> torch.Tensor:
    tp, fp, fn = _as_double(counts)
    return ((tp + smooth) / (tp + fp + fn + smooth)).masked_fill(absent_mask(counts), float("nan"))


def _ratio(tp: torch.Tensor, other: torch.Tensor, absent: torch.Tensor) -> torch.Tensor:
    """tp / (tp + other); 0 when the denominator is empty but the class is present (nothing to be right about)."""
    denom = tp + other
    value = torch.where(denom > 0, tp / denom.clamp(min=1), torch.zeros_like(tp))
    return value.masked_fill(absent, float("nan"))


def precision_score(counts: Counts) -> torch.Tensor:
    tp, fp, _ = _as_double(counts)
    return _ratio(tp, fp, absent_mask(counts))


def recall_score(counts: Counts) -> torch.Tensor:
    tp, _, fn = _as_double(counts)
    return _ratio(tp, fn, absent_mask(counts))


def soft_dice_score(soft: Counts, smooth: float = DEFAULT_SMOOTH, absent: torch.Tensor | None = None) -> torch.Tensor:
    """Dice on probabilities (no threshold). Absent where the hard counts say so (the same classes as every
    other column), else where the class has no GT pixel and no probability mass."""
    tp, fp, fn = _as_double(soft)
    score = (2 * tp + smooth) / (2 * tp + fn + fp + smooth)
    return score.masked_fill(absent if absent is not None else (tp + fp + fn) <= 0, float("nan"))


@dataclass
class Scores:
    """Every per-class score for one set of counts; each tensor has the counts' shape ([C] or [I, C])."""
    precision: torch.Tensor
    recall: torch.Tensor
    fbeta: torch.Tensor
    dice: torch.Tensor
    iou: torch.Tensor
    soft_dice: torch.Tensor | None = None

    def mean(self, name: str) -> torch.Tensor:
        """Mean over present classes (last dim); NaN when no class is present."""
        return nanmean(getattr(self, name))


def compute_scores(counts: Counts, beta: float = DEFAULT_BETA, smooth: float = DEFAULT_SMOOTH,
                   soft: Counts | None = None) -> Scores:
    return Scores(
        precision=precision_score(counts),
        recall=recall_score(counts),
        fbeta=fbeta_score(counts, beta, smooth),
        dice=fbeta_score(counts, 1.0, smooth),
        iou=iou_score(counts, smooth),
        soft_dice=soft_dice_score(soft, smooth, absent_mask(counts)) if soft is not None else None,
    )


def nanmean(values: torch.Tensor) -> torch.Tensor:
    present = ~torch.isnan(values)
    total = torch.where(present, values, torch.zeros_like(values)).sum(-1)
    n = present.sum(-1)
    return torch.where(n > 0, total / n.clamp(min=1), torch.full_like(total, float("nan")))


def dice_loss(soft: Counts, smooth: float = DEFAULT_SMOOTH) -> float:
    """1 − mean soft Dice over present classes (the reference's Dice loss, minus its flaws)."""
    return float(1.0 - nanmean(soft_dice_score(soft, smooth)))
