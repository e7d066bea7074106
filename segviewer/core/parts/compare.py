"""`ins.compare`: model B beside model A. B is an Inspector of its own (its dataset, index and loaded images); the
engine's `compare_scoring` gives B's threshold / argmax, model A's Scoring beta, smoothing and the band."""
from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from ..compare import (PER_CLASS_COLUMNS, PER_IMAGE_COLUMNS, DatasetComparison, detect_kind, image_comparison,
                       per_class_values, per_image_values, sample_comparison)
from ..errors import LoadError, OptionError
from .base import Part, refuse_after_close

COMPARE_CACHE_SIZE = 4     # dataset passes kept, one per pair of count settings
KINDS = ("logits", "masks")


@refuse_after_close
class Compare(Part):
    def __init__(self, engine):
        super().__init__(engine)
        self.add_state("_model", lambda: None)    # model B's Inspector
        self.add_state("_rows", lambda: None)     # [I] model B's image for each of model A's images (-1: none)
        self._passes = self.add_cache(COMPARE_CACHE_SIZE)

    def reset(self) -> None:
        if self._model is not None:
            self._model.close()
        super().reset()

    @property
    def attached(self) -> bool:
        return self._model is not None

    @property
    def model(self):
        """Model B's Inspector (its dataset, index and loaded images); OptionError without one."""
        if self._model is None:
            raise OptionError("no second model: open one with compare= (or ins.compare.attach)")
        return self._model

    @property
    def rows(self) -> np.ndarray:
        """[I] model B's image for each of model A's images (-1 where B has none)."""
        self.model  # noqa: B018  (OptionError without a second model)
        return self._rows

    # ---- attaching ----
    def attach(self, pred_dir, kind: str | None = None):
        """Opens model B's predictions (kind None: logits or masks, detected) over model A's ground truth; B
        starts with A's threshold / argmax (the engine's compare_scoring). Returns B's own Inspector."""
        from ..dataset import Dataset
        from ..inspector import Inspector
        from ..options import DataOptions
        from ..scoring import Scoring
        engine = self.engine
        if kind is None:
            folder, kind = detect_kind(pred_dir)
        elif kind not in KINDS:
            raise OptionError(f"kind {kind!r}: use 'logits' or 'masks'")
        else:
            folder = Path(pred_dir)
        opts = engine.dataset.options        # model A may run a model: B reads files with A's plain data options
        opts = DataOptions(**{f.name: getattr(opts, f.name) for f in fields(DataOptions)})
        options = replace(opts, pred_dir=folder, pred_kind=kind, images_dir=None,
                          num_classes=engine.classes.num_classes if opts.classes is None else opts.num_classes)
        dataset = Dataset(options)
        if dataset.classes.names != engine.classes.names:
            raise LoadError(folder, "model B's classes differ from model A's")
        positions = {name: i for i, name in enumerate(engine.names)}
        rows = np.full(len(engine), -1, np.int64)
        for j, name in enumerate(dataset.names):
            if name in positions:
                rows[positions[name]] = j
        if not (rows >= 0).any():
            raise LoadError(folder, "none of model B's predictions pairs with model A's images")
        self.reset()
        self._model = Inspector(dataset, steps=engine.steps, use_cache=engine.use_cache,
                                cluster=engine.cluster_client())     # the same client as model A's passes
        self._rows = rows
        s = engine.scoring
        engine.compare_scoring = Scoring(s.threshold, s.argmax)
        return self._model

    def scoring_b(self, scoring=None, compare_scoring=None):
        """The full Scoring model B counts with: A's (or the given snapshot), with B's threshold / argmax (argmax
        for masks). Every method takes these two snapshots, so a worker computes exactly what its key says."""
        own = compare_scoring if compare_scoring is not None else self.engine.compare_scoring
        base = self.engine.effective(scoring)
        return replace(base, threshold=own.threshold, argmax=own.argmax).for_dataset(self.model.is_hard)

    def _snapshots(self, scoring, compare_scoring):
        sa = self.engine.effective(scoring)
        return sa, self.scoring_b(sa, compare_scoring)

    # ---- one image ----
    def load(self, image: int | str):
        """Model B's loaded image for model A's image (LoadError when B has none)."""
        i = self.engine.position(image)
        row = int(self.rows[i])
        if row < 0:
            raise LoadError(self.engine.dataset.items[i].pred, "model B has no prediction for this image")
        return self.model.load(row)

    def _predictions(self, image, sa, sb, at=None):
        from ..compare_pixels import prediction_of
        la, lb = self.engine.load(image), self.load(image)
        if at is not None:            # a slice (axis, index) of a 3-D case, of both models
            la, lb = la.slice(*at), lb.slice(*at)
        pa = prediction_of(la.sample.probs, la.sample.pred_map, sa, la.maps)
        pb = prediction_of(lb.sample.probs, lb.sample.pred_map, sb, lb.maps)
        return la, pa, pb

    def image(self, image: int | str, scoring=None, compare_scoring=None):
        """An ImageComparison: counts A, counts B, the changes per class ([C] each) and the pixels by the
        all-classes rule, over the pixels A's Scoring scores."""
        sa, sb = self._snapshots(scoring, compare_scoring)
        if getattr(self.engine.load(image), "is_volume", False):
            return sample_comparison(self.engine.load(image).sample, self.load(image).sample, sa, sb)
        la, pa, pb = self._predictions(image, sa, sb)
        return image_comparison(pa, pb, la.target(sa))

    def overlay(self, image: int | str, class_id: int = -1, scoring=None, compare_scoring=None, at=None):
        """The compare view's codes (SAME / FIXED / BROKEN / BOTH_WRONG, ignore hatched) for one class or all
        (-1), with the legend's pixel counts; draw them through compare_pixels.compare_lut(). at: (axis, index)
        of a 3-D case's slice."""
        from .. import validate
        from ..compare_pixels import change_legend, compare_codes
        from ..loaded import Overlay
        class_id = validate.class_id(class_id, self.engine.classes.num_classes)
        sa, sb = self._snapshots(scoring, compare_scoring)
        la, pa, pb = self._predictions(image, sa, sb, at)
        codes = compare_codes(pa, pb, la.maps, class_id, la.scored(sa))
        return Overlay(codes, change_legend(codes))

    # ---- the whole dataset ----
    def dataset(self, progress=None, cancelled=None, scoring=None, compare_scoring=None,
                strict: bool = False) -> DatasetComparison:
        """Both models' per-image counts and changes at these settings (one pass, kept for a few)."""
        from ..passes import compare_pass
        sa, sb = self._snapshots(scoring, compare_scoring)
        key = (sa.count_key(), sb.count_key())
        found = self._passes.get(key)
        if found is not None:
            return found
        engine = self.engine
        result = compare_pass(engine.dataset, sa, engine.cluster_client(), model_b=self.model.dataset, rows=self.rows,
                              compare_scoring=sb, strict=strict, progress=progress, cancelled=cancelled)
        if not result.loaded.any():
            raise LoadError(engine.dataset.options.gt_dir,
                            f"no image could be compared ({len(result.failures)} failed)")
        return self._passes.put(key, result)

    def deltas(self, score: str = "fbeta", class_id: int = -1, scoring=None,
               compare_scoring=None) -> dict[str, np.ndarray]:
        """Per image in dataset order, from both indexes (a threshold step is a lookup): A's and B's score (mean
        over present classes for -1, else the class's), delta = B − A, and 'failed'. Rank with rank_by_delta."""
        from .. import validate
        from ..scores import SCORE_NAMES, compute_scores, nanmean
        if score not in SCORE_NAMES:
            raise OptionError(f"score {score!r}: use one of {', '.join(SCORE_NAMES)}")
        class_id = validate.class_id(class_id, self.engine.classes.num_classes)
        s, sb = self._snapshots(scoring, compare_scoring)
        da, db = self.engine.dataset_counts(s), self.model.dataset_counts(sb)
        rows = self.rows
        found = rows >= 0
        values = []
        for counts, order in ((da.per_image, np.arange(len(rows))), (db.per_image, rows)):
            per = getattr(compute_scores(counts, s.beta, s.smooth), score)
            v = (nanmean(per) if class_id == -1 else per[:, class_id]).numpy()
            values.append(np.where(found, v[np.maximum(order, 0)], np.nan))
        failed = ~da.loaded | ~found | ~np.where(found, db.loaded[np.maximum(rows, 0)], False)
        a, b = (np.where(failed, np.nan, v) for v in values)
        return {"a": a, "b": b, "delta": b - a, "failed": failed}

    # ---- tables ----
    def table(self, scoring=None, compare_scoring=None):
        """A row per class: class_id, class_name, gt_pixels, fbeta_a, fbeta_b, delta_fbeta, iou_a, iou_b, delta_iou,
        fixed, broken, both_wrong (absent classes: NaN scores)."""
        import pandas as pd
        sa, sb = self._snapshots(scoring, compare_scoring)      # one snapshot for the counts and the scores
        classes = self.engine.classes
        values = per_class_values(self.dataset(scoring=sa, compare_scoring=sb), sa.beta, sa.smooth)
        return pd.DataFrame({"class_id": np.arange(classes.num_classes), "class_name": list(classes.names),
                             **values}, columns=list(PER_CLASS_COLUMNS))

    def images(self, scoring=None, compare_scoring=None):
        """A row per compared image: image, mean_fbeta_a, mean_fbeta_b, delta_mean_fbeta, fixed, broken."""
        import pandas as pd
        sa, sb = self._snapshots(scoring, compare_scoring)
        return pd.DataFrame(per_image_values(self.dataset(scoring=sa, compare_scoring=sb), sa.beta, sa.smooth),
                            columns=list(PER_IMAGE_COLUMNS))
