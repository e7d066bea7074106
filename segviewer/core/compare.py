"""Model A vs model B (issue #11): a second prediction source beside the first, its own threshold (or argmax),
beta shared; per class and per image, A's and B's scores, their difference, and the pixels B fixes or breaks.

The second source is an Inspector of its own (its index, its loaded images); model A's Scoring supplies beta,
smoothing and the boundary band, `compare_scoring` only B's threshold / argmax. Pixel-level changes need both
predictions at once: one streaming pass per pair of settings, kept for the last few (`compare_dataset`).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import LoadError, OptionError

COMPARE_CACHE_SIZE = 4
PER_CLASS_COLUMNS = ("class_id", "class_name", "gt_pixels", "fbeta_a", "fbeta_b", "delta_fbeta", "iou_a", "iou_b",
                     "delta_iou", "fixed", "broken", "both_wrong")
PER_IMAGE_COLUMNS = ("image", "mean_fbeta_a", "mean_fbeta_b", "delta_mean_fbeta", "fixed", "broken")
RANKINGS = ("breaks", "fixes")     # what B breaks first (most negative delta), or what it fixes first


def detect_kind(pred_dir: str | Path) -> tuple[Path, str]:
    """(folder, 'logits' | 'masks'): a dataset folder's logits/ or masks/, else by the files it holds."""
    from .io import LABEL_EXTS, LOGIT_EXTS
    folder = Path(pred_dir)
    if not folder.is_dir():
        raise LoadError(folder, "model B's prediction folder does not exist")
    for kind in ("logits", "masks"):
        if (folder / kind).is_dir():
            return folder / kind, kind
    suffixes = {p.suffix.lower() for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}
    if suffixes & set(LOGIT_EXTS):
        return folder, "logits"
    if suffixes & set(LABEL_EXTS):
        return folder, "masks"
    raise LoadError(folder, "holds neither logits (.npy, .npz, .pt, .pth) nor masks (.png)")


@dataclass
class DatasetComparison:
    """One pass over the images both models have, in model A's dataset order; failed rows are zero."""
    key: tuple
    names: list[str]
    loaded: np.ndarray               # [I] bool: compared
    counts_a: object                 # Counts [I, C]
    counts_b: object
    changes: object                  # Changes [I, C]
    failures: dict[int, str] = field(default_factory=dict)

    def totals(self):
        from .counts import Counts
        import torch
        keep = torch.from_numpy(self.loaded)
        a, b = (Counts(*(t[keep].sum(0) for t in (c.tp, c.fp, c.fn))) for c in (self.counts_a, self.counts_b))
        ch = self.changes
        return a, b, type(ch)(*(v[self.loaded].sum(0) for v in (ch.fixed, ch.broken, ch.both_wrong)))


def compare_pass(dataset_a, dataset_b, rows: np.ndarray, scoring_a, scoring_b,
                 progress: Callable[[int, int], None] | None = None,
                 cancelled: Callable[[], bool] | None = None, strict: bool = False) -> DatasetComparison:
    """Per image: both models' counts and the changes, over the pixels model A's Scoring scores."""
    import torch
    from .compare_pixels import Changes, image_changes, prediction_counts, prediction_of
    from .counts import Counts
    from .dataset import restrict_to_band
    n, c = len(dataset_a), dataset_a.classes.num_classes
    zeros = lambda: np.zeros((n, c), np.int64)  # noqa: E731
    tables = {k: zeros() for k in ("tp_a", "fp_a", "fn_a", "tp_b", "fp_b", "fn_b", "fixed", "broken", "both")}
    loaded, failures = np.zeros(n, bool), {}
    for i in range(n):
        if cancelled is not None and cancelled():
            raise InterruptedError("comparison cancelled")
        try:
            if rows[i] < 0:
                raise LoadError(dataset_a.items[i].pred, "model B has no prediction for this image")
            sa = dataset_a.load(i, with_image=False)
            sb = dataset_b.load(int(rows[i]), with_image=False)
        except LoadError as exc:
            if strict:
                raise
            failures[i] = str(exc)
            continue
        if scoring_a.boundary:
            restrict_to_band(sa, scoring_a.boundary, dataset_a.classes.ignore_index, scoring_a.interior)
        pa = prediction_of(sa.probs, sa.pred_map, scoring_a)
        pb = prediction_of(sb.probs, sb.pred_map, scoring_b)
        for suffix, counts in (("a", prediction_counts(pa, sa.target)), ("b", prediction_counts(pb, sa.target))):
            for k in ("tp", "fp", "fn"):
                tables[f"{k}_{suffix}"][i] = getattr(counts, k).numpy()
        ch = image_changes(pa, pb, sa.target)
        tables["fixed"][i], tables["broken"][i], tables["both"][i] = ch.fixed, ch.broken, ch.both_wrong
        loaded[i] = True
        if progress:
            progress(i + 1, n)
    t = {k: torch.from_numpy(v) for k, v in tables.items()}
    return DatasetComparison((scoring_a.count_key(), scoring_b.count_key()), list(dataset_a.names), loaded,
                             Counts(t["tp_a"], t["fp_a"], t["fn_a"]), Counts(t["tp_b"], t["fp_b"], t["fn_b"]),
                             Changes(tables["fixed"], tables["broken"], tables["both"]), failures)


# ---- tables ----
def per_class_values(comparison: DatasetComparison, beta: float, smooth: float) -> dict[str, np.ndarray]:
    from .scores import compute_scores
    a, b, ch = comparison.totals()
    sa, sb = compute_scores(a, beta, smooth), compute_scores(b, beta, smooth)
    out = {"gt_pixels": (a.tp + a.fn).numpy().astype(np.int64)}
    for score in ("fbeta", "iou"):
        va, vb = getattr(sa, score).numpy(), getattr(sb, score).numpy()
        out.update({f"{score}_a": va, f"{score}_b": vb, f"delta_{score}": vb - va})
    out.update(fixed=ch.fixed, broken=ch.broken, both_wrong=ch.both_wrong)
    return out


def per_image_values(comparison: DatasetComparison, beta: float, smooth: float) -> dict[str, np.ndarray]:
    """Rows of the compared images only: mean F-beta over each model's present classes, changes summed."""
    from .scores import compute_scores, nanmean
    keep = comparison.loaded
    fa = nanmean(compute_scores(comparison.counts_a, beta, smooth).fbeta).numpy()[keep]
    fb = nanmean(compute_scores(comparison.counts_b, beta, smooth).fbeta).numpy()[keep]
    return {"image": np.asarray(comparison.names, dtype=object)[keep], "mean_fbeta_a": fa, "mean_fbeta_b": fb,
            "delta_mean_fbeta": fb - fa, "fixed": comparison.changes.fixed.sum(1)[keep],
            "broken": comparison.changes.broken.sum(1)[keep]}


def per_class_rows(names, values: dict):
    from .export import fmt_number, safe_text
    for c, name in enumerate(names):
        yield [c, safe_text(name), int(values["gt_pixels"][c]),
               *(fmt_number(values[k][c]) for k in PER_CLASS_COLUMNS[3:9]),
               *(int(values[k][c]) for k in PER_CLASS_COLUMNS[9:])]


def per_image_rows(values: dict):
    from .export import fmt_number, safe_text
    for i, image in enumerate(values["image"]):
        yield [safe_text(str(image)), *(fmt_number(values[k][i]) for k in PER_IMAGE_COLUMNS[1:4]),
               int(values["fixed"][i]), int(values["broken"][i])]


def rank_by_delta(delta: np.ndarray, ranking: str = "breaks") -> np.ndarray:
    """Positions ordered by delta (B − A): most negative first ('breaks') or most positive ('fixes'); NaN last."""
    if ranking not in RANKINGS:
        raise OptionError(f"ranking {ranking!r}: use one of {RANKINGS}")
    delta = np.asarray(delta, np.float64)
    key = delta if ranking == "breaks" else -delta
    return np.argsort(np.where(np.isnan(key), np.inf, key), kind="stable")


class CompareMixin:
    """Inspector methods for a second prediction source (model B)."""

    # ---- attaching ----
    def attach_compare(self, pred_dir, kind=None):
        """Opens model B's predictions (kind None: logits or masks, detected) over model A's ground truth; B starts
        with A's threshold / argmax. Returns B's own Inspector."""
        from .dataset import Dataset
        from .inspector import Inspector
        from .options import DataOptions
        from .scoring import Scoring
        if kind is None:
            folder, kind = detect_kind(pred_dir)
        elif kind not in ("logits", "masks"):
            raise OptionError(f"kind {kind!r}: use 'logits' or 'masks'")
        else:
            folder = Path(pred_dir)
        opts = self.dataset.options        # model A may run a model: B reads files with A's plain data options
        opts = DataOptions(**{f.name: getattr(opts, f.name) for f in fields(DataOptions)})
        options = replace(opts, pred_dir=folder, pred_kind=kind, images_dir=None,
                          num_classes=self.classes.num_classes if opts.classes is None else opts.num_classes)
        dataset = Dataset(options)
        if dataset.classes.names != self.classes.names:
            raise LoadError(folder, "model B's classes differ from model A's")
        mine = self._name_positions()
        rows = np.full(len(self), -1, np.int64)
        for j, name in enumerate(dataset.names):
            if name in mine:
                rows[mine[name]] = j
        if not (rows >= 0).any():
            raise LoadError(folder, "none of model B's predictions pairs with model A's images")
        s = self.scoring
        self._compare = Inspector(dataset, Scoring(s.threshold, s.argmax), steps=self.steps, use_cache=self.use_cache)
        self._compare_rows = rows
        self._compare_kept: OrderedDict[tuple, DatasetComparison] = OrderedDict()
        return self._compare

    @property
    def has_compare(self) -> bool:
        return getattr(self, "_compare", None) is not None

    @property
    def compare_model(self):
        """Model B's Inspector (its dataset, index and loaded images)."""
        if not self.has_compare:
            raise OptionError("no second model: open one with compare= (or attach_compare)")
        return self._compare

    @property
    def compare_scoring(self):
        """Model B's threshold / argmax (its beta, smoothing and band are model A's)."""
        return self.compare_model.scoring

    @compare_scoring.setter
    def compare_scoring(self, value) -> None:
        self.compare_model.scoring = value

    def scoring_b(self, scoring=None, compare_scoring=None):
        """The full Scoring model B counts with: A's (or the given snapshot), with B's threshold / argmax (argmax
        for masks). Every compare method takes these two snapshots, so a worker computes exactly what its key says."""
        own = compare_scoring if compare_scoring is not None else self.compare_scoring
        base = self.effective(scoring)
        return replace(base, threshold=own.threshold, argmax=own.argmax).for_dataset(self._compare.is_hard)

    def compare_key(self, kind: str, image: int | None = None, extra: tuple = (), scoring=None,
                    compare_scoring=None) -> tuple:
        """The request key of a compare result: both models' count settings (and beta for scores)."""
        s = self.effective(scoring)
        scores = (s.beta, s.smooth) if kind in ("compare_scores", "compare_images", "compare_deltas") else ()
        return (kind, image, s.count_key(), self.scoring_b(s, compare_scoring).count_key(), scores, extra)

    # ---- one image ----
    def compare_load(self, image: int | str):
        """Model B's loaded image for model A's image (LoadError when B has none)."""
        i = self.position(image)
        self.compare_model  # noqa: B018  (LoadError without a second model)
        row = int(self._compare_rows[i])
        if row < 0:
            raise LoadError(self.dataset.items[i].pred, "model B has no prediction for this image")
        return self._compare.load(row)

    def _predictions(self, image, sa, sb):
        from .compare_pixels import prediction_of
        la, lb = self.load(image), self.compare_load(image)
        pa = prediction_of(la.sample.probs, la.sample.pred_map, sa, la.maps)
        pb = prediction_of(lb.sample.probs, lb.sample.pred_map, sb, lb.maps)
        return la, pa, pb

    def _snapshots(self, scoring, compare_scoring):
        sa = self.effective(scoring)
        return sa, self.scoring_b(sa, compare_scoring)

    def compare_image(self, image: int | str, scoring=None, compare_scoring=None):
        """(counts A, counts B, Changes) of one image, [C] each, over the pixels A's Scoring scores."""
        from .compare_pixels import image_changes, prediction_counts
        sa, sb = self._snapshots(scoring, compare_scoring)
        la, pa, pb = self._predictions(image, sa, sb)
        target = la.target(sa)
        return prediction_counts(pa, target), prediction_counts(pb, target), image_changes(pa, pb, target)

    def compare_overlay(self, image: int | str, class_id: int = -1, scoring=None, compare_scoring=None):
        """The compare view's codes (SAME / FIXED / BROKEN / BOTH_WRONG, ignore hatched) for one class or all
        (-1), with the legend's pixel counts; draw them through compare_pixels.compare_lut()."""
        from .compare_pixels import change_legend, compare_codes
        from .loaded import Overlay
        sa, sb = self._snapshots(scoring, compare_scoring)
        la, pa, pb = self._predictions(image, sa, sb)
        codes = compare_codes(pa, pb, la.maps, class_id, la.scored(sa))
        return Overlay(codes, change_legend(codes))

    # ---- the whole dataset ----
    def compare_dataset(self, progress=None, cancelled=None, scoring=None, compare_scoring=None) -> DatasetComparison:
        """Both models' per-image counts and changes at the current settings (one pass, kept for a few)."""
        b = self.compare_model
        sa, sb = self._snapshots(scoring, compare_scoring)
        key = (sa.count_key(), sb.count_key())
        kept = self._compare_kept
        with self._lock:
            if key in kept:
                kept.move_to_end(key)
                return kept[key]
        result = compare_pass(self.dataset, b.dataset, self._compare_rows, sa, sb, progress, cancelled)
        if not result.loaded.any():
            raise LoadError(self.dataset.options.gt_dir, f"no image could be compared ({len(result.failures)} failed)")
        with self._lock:
            kept[key] = result
            while len(kept) > COMPARE_CACHE_SIZE:
                kept.popitem(last=False)
        return result

    def compare_deltas(self, score: str = "fbeta", class_id: int = -1, scoring=None,
                       compare_scoring=None) -> dict[str, np.ndarray]:
        """Per image in dataset order, from both indexes (a threshold step is a lookup): A's and B's score (mean
        over present classes for -1, else the class's), delta = B − A, and 'failed'. Rank with rank_by_delta."""
        from .scores import compute_scores, nanmean, SCORE_NAMES
        if score not in SCORE_NAMES:
            raise OptionError(f"score {score!r}: use one of {', '.join(SCORE_NAMES)}")
        b = self.compare_model
        s, sb = self._snapshots(scoring, compare_scoring)
        da = self.dataset_counts(s)
        db = b.dataset_counts(sb)
        rows = self._compare_rows
        found = rows >= 0
        values = []
        for counts, order in ((da.per_image, np.arange(len(self))), (db.per_image, rows)):
            per = getattr(compute_scores(counts, s.beta, s.smooth), score)
            v = (nanmean(per) if class_id == -1 else per[:, class_id]).numpy()
            values.append(np.where(found, v[np.maximum(order, 0)], np.nan))
        failed = ~da.loaded | ~found | ~np.where(found, db.loaded[np.maximum(rows, 0)], False)
        a, bv = (np.where(failed, np.nan, v) for v in values)
        return {"a": a, "b": bv, "delta": bv - a, "failed": failed}

    def compare_scores(self):
        """A row per class: class_id, class_name, gt_pixels, fbeta_a, fbeta_b, delta_fbeta, iou_a, iou_b, delta_iou,
        fixed, broken, both_wrong (absent classes: NaN scores)."""
        import pandas as pd
        values = per_class_values(self.compare_dataset(), self.scoring.beta, self.scoring.smooth)
        return pd.DataFrame({"class_id": np.arange(self.classes.num_classes), "class_name": list(self.classes.names),
                             **values}, columns=list(PER_CLASS_COLUMNS))

    def compare_images(self):
        """A row per compared image: image, mean_fbeta_a, mean_fbeta_b, delta_mean_fbeta, fixed, broken."""
        import pandas as pd
        values = per_image_values(self.compare_dataset(), self.scoring.beta, self.scoring.smooth)
        return pd.DataFrame(values, columns=list(PER_IMAGE_COLUMNS))
