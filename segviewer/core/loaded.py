"""One loaded image and everything the engine computes on it for a Scoring: counts, prediction, overlay codes."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .classes import ClassSpec
from .counts import NO_PREDICTION, Counts, Target, confusion_matrix, count_hard, count_threshold, soft_counts, threshold_map
from .dataset import Sample
from .overlay import (ALL_CLASSES, OverlayMaps, background_classes, class_map_codes, hard_codes, legend_counts,
                      mark_background, prepare_maps, restrict_codes, threshold_codes)
from .regions import ErrorRegion, boundary_band, error_regions, restrict_target
from .scoring import Scoring

VIEWS = ("errors", "gt", "pred", "image")


@dataclass
class Overlay:
    """The code image the canvas draws, and what its legend says (pixels per category, over scored pixels)."""
    codes: np.ndarray
    legend: dict[str, int]


@dataclass
class LoadedImage:
    index: int
    sample: Sample
    maps: OverlayMaps
    classes: ClassSpec
    _hard: Counts | None = None
    _soft: Counts | None = None
    _bands: dict = field(default_factory=dict)
    _pred: tuple | None = None
    _background: np.ndarray | None = None

    @classmethod
    def prepare(cls, index: int, sample: Sample, classes: ClassSpec) -> "LoadedImage":
        labels = sample.target.labels.new_tensor(sample.labels)
        return cls(index, sample, prepare_maps(labels, classes.ignore_index, sample.probs, sample.pred_map), classes)

    @property
    def name(self) -> str:
        return self.sample.name

    @property
    def hard(self) -> bool:
        return self.sample.probs is None

    # ---- which pixels are scored ----
    def band(self, width: int) -> torch.Tensor:
        # the GUI thread and a worker may both ask: each returns what it read or made, never the other's entry
        band = self._bands.get(width)
        if band is None:
            band = torch.from_numpy(boundary_band(self.sample.labels, width, self.classes.ignore_index))
            band = band.to(self.sample.target.labels.device)
            self._bands = {width: band}
        return band

    def scored(self, s: Scoring) -> torch.Tensor | None:
        """H×W bool of the pixels the band keeps (None: every valid pixel counts)."""
        if not s.boundary:
            return None
        band = self.band(s.boundary)
        return ~band if s.interior else band

    def target(self, s: Scoring) -> Target:
        keep = self.scored(s)
        return self.sample.target if keep is None else restrict_target(self.sample.target, keep)

    # ---- predictions and counts ----
    def prediction(self, s: Scoring) -> torch.Tensor:
        """H×W predicted class (NO_PREDICTION where none): argmax / mask, or the most probable above threshold."""
        if self.hard or s.argmax:
            return self.maps.pred_argmax
        key, kept = s.prediction_key(), self._pred
        if kept is None or kept[0] != key:
            kept = (key, threshold_map(self.sample.probs, s.effective_threshold()))
            self._pred = kept
        return kept[1]

    def counts(self, s: Scoring) -> Counts:
        """[C] tp / fp / fn on the CPU, over the scored pixels."""
        if self.hard or s.argmax:
            if not s.boundary:
                if self._hard is None:
                    self._hard = count_hard(self.maps.pred_argmax, self.sample.target).to("cpu")
                return self._hard
            return count_hard(self.maps.pred_argmax, self.target(s)).to("cpu")
        return count_threshold(self.sample.probs, self.target(s), s.effective_threshold()).to("cpu")

    def confusion(self, s: Scoring) -> torch.Tensor:
        """[C, C+1] GT class x predicted class over the scored pixels (last column: nothing predicted)."""
        return confusion_matrix(self.prediction(s), self.target(s))

    def soft_counts(self, s: Scoring) -> Counts:
        """Probability-weighted counts (soft Dice's terms) over the scored pixels; hard counts for masks."""
        if s.boundary:
            target = self.target(s)
            return (count_hard(self.maps.pred_argmax, target) if self.hard
                    else soft_counts(self.sample.probs, target)).to("cpu")
        if self._soft is None:
            self._soft = self.sample.soft().to("cpu")
        return self._soft

    # ---- what the canvas draws ----
    def background(self) -> np.ndarray:
        """H×W bool: GT pixels of a background class (see overlay.background_classes)."""
        if self._background is None:
            ids = list(background_classes(self.classes.names))
            self._background = np.isin(self.sample.labels, ids)
        return self._background

    def overlay(self, s: Scoring, class_id: int = ALL_CLASSES, view: str = "errors") -> Overlay:
        """Codes for the view, restricted to the scored pixels exactly as the counts are, with the legend.
        "image" draws nothing; in the all-classes errors view a correct background pixel is BACKGROUND_TP
        (counted in the legend's "tp" as in the table, left unpainted by the default lookup table)."""
        from . import validate
        maps, c = self.maps, self.classes.num_classes
        validate.choice("view", view, (*VIEWS, "doubt", "compare"))
        class_id = validate.class_id(class_id, c)
        if view in ("image", "compare") or (view == "doubt" and self.hard):   # compare: the engine draws B
            return Overlay(np.zeros(tuple(maps.labels.shape), np.uint8), {})
        if view == "doubt":     # 1 − p(label) per pixel, 0..255, drawn through a heat lookup table
            from .label_issues import label_doubt_map
            return Overlay(label_doubt_map(self.sample.probs, self.sample.target), {})
        if view == "gt":
            codes = class_map_codes(maps.labels.clamp(max=255), c, maps.ignore)
        elif view == "pred":
            codes = class_map_codes(self.prediction(s), c)
        elif self.hard or s.argmax:
            codes = hard_codes(maps, maps.pred_argmax, class_id)
        else:
            codes = threshold_codes(maps, self.sample.probs, class_id, s.effective_threshold())
        if view == "errors" and class_id == ALL_CLASSES:
            codes = mark_background(codes, self.background())
        keep = self.scored(s)
        if keep is not None and view == "errors":
            codes = restrict_codes(codes, keep.cpu().numpy(), maps.ignore.cpu().numpy())
        return Overlay(codes, legend_counts(codes) if view == "errors" else {})

    # ---- where the errors are ----
    def error_regions(self, s: Scoring, class_id: int = ALL_CLASSES, min_area: int = 1) -> list[ErrorRegion]:
        """Connected FN ("missed") and FP ("hallucinated") regions over the scored pixels, largest first."""
        maps, pred = self.maps, self.prediction(s)
        valid = ~maps.ignore
        keep = self.scored(s)
        if keep is not None:
            valid = valid & keep
        if class_id == ALL_CLASSES:
            wrong = valid & (pred != maps.safe)
            fn, fp = wrong, wrong & (pred != NO_PREDICTION)
            fp_class, fn_class = pred.clamp(min=0).cpu().numpy(), maps.safe.cpu().numpy()
        else:
            predicted = self.class_predicted(s, class_id)
            is_gt = maps.labels == class_id
            fn, fp = valid & is_gt & ~predicted, valid & ~is_gt & predicted
            fp_class = fn_class = np.full(tuple(pred.shape), class_id)
        regions = error_regions(fn.cpu().numpy(), fn_class, "missed", min_area)
        regions += error_regions(fp.cpu().numpy(), fp_class, "hallucinated", min_area)
        return sorted(regions, key=lambda r: -r.area)

    def class_predicted(self, s: Scoring, class_id: int) -> torch.Tensor:
        """H×W bool: class_id counts as predicted (p_c > t_c in threshold mode, as the counts and overlay say)."""
        if self.hard or s.argmax:
            return self.maps.pred_argmax == class_id
        t = torch.as_tensor(s.effective_threshold(), dtype=torch.float32).expand(self.sample.probs.shape[0])
        return self.sample.probs[class_id] > t[class_id]

    def pair_mask(self, s: Scoring, g: int, p: int) -> np.ndarray:
        """Scored pixels whose GT is g and whose prediction is p (p = C: nothing predicted)."""
        pred = self.prediction(s)
        hit = (self.maps.labels == g) & ((pred == NO_PREDICTION) if p == self.classes.num_classes else (pred == p))
        keep = self.scored(s)
        return (hit & keep if keep is not None else hit).cpu().numpy()
