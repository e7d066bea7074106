"""Model A vs model B (issue #11): a second prediction source beside the first, its own threshold (or argmax),
beta shared; per class and per image, A's and B's scores, their difference, and the pixels B fixes or breaks.

The pure parts: finding B's folder, one pass over the images both models have (`compare_images`, the chunk
function of core.passes.compare_pass), and the tables. The engine's side is core.parts.compare.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from .errors import LoadError, OptionError

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
    if suffixes & set(LABEL_EXTS) or suffixes & {".gz", ".nii", ".nrrd"}:    # .nii.gz: a volume's masks
        return folder, "masks"
    raise LoadError(folder, "holds neither logits (.npy, .npz, .pt, .pth) nor masks (.png, or volumes .nii.gz, "
                            ".nii, .nrrd)")


class ImageComparison(NamedTuple):
    """One image (or volume) of both models over the pixels model A's Scoring scores."""
    counts_a: object                 # Counts [C]
    counts_b: object
    changes: object                  # Changes [C]: per class
    pixels: object                   # Changes of single counts: pixels by the all-classes rule

    def __add__(self, other: "ImageComparison") -> "ImageComparison":
        return ImageComparison(*(x + y for x, y in zip(self, other)))


@dataclass
class DatasetComparison:
    """One pass over the images both models have, in model A's dataset order; failed rows are zero."""
    key: tuple
    names: list[str]
    loaded: np.ndarray               # [I] bool: compared
    counts_a: object                 # Counts [I, C]
    counts_b: object
    changes: object                  # Changes [I, C]: per class
    pixels: object                   # Changes [I]: pixels by the all-classes rule (compare_pixels.pixel_changes)
    failures: dict[int, LoadError] = field(default_factory=dict)   # position -> why it was not compared

    @classmethod
    def concatenate(cls, parts: list["DatasetComparison"]) -> "DatasetComparison":
        """The comparison of consecutive chunks, in their order."""
        import torch
        from .compare_pixels import Changes
        from .counts import Counts
        cat = lambda name: Counts(*(torch.cat([getattr(getattr(p, name), k) for p in parts])  # noqa: E731
                                    for k in ("tp", "fp", "fn")))
        changes = lambda name: Changes(*(np.concatenate([getattr(getattr(p, name), k) for p in parts])  # noqa: E731
                                         for k in ("fixed", "broken", "both_wrong")))
        failures, offset = {}, 0
        for p in parts:
            failures.update({offset + i: e for i, e in p.failures.items()})
            offset += len(p.names)
        return cls(parts[0].key, [n for p in parts for n in p.names], np.concatenate([p.loaded for p in parts]),
                   cat("counts_a"), cat("counts_b"), changes("changes"), changes("pixels"), failures)

    def totals(self):
        from .counts import Counts
        import torch
        keep = torch.from_numpy(self.loaded)
        a, b = (Counts(*(t[keep].sum(0) for t in (c.tp, c.fp, c.fn))) for c in (self.counts_a, self.counts_b))
        ch = self.changes
        return a, b, type(ch)(*(v[self.loaded].sum(0) for v in (ch.fixed, ch.broken, ch.both_wrong)))


def compare_images(dataset_a, dataset_b, rows: np.ndarray, scoring_a, scoring_b, *, on_error=None,
                   strict: bool = False, progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] | None = None) -> DatasetComparison:
    """Per image: both models' counts and the changes, over the pixels model A's Scoring scores. A file that fails
    is that image's entry in `failures` (model B's files are not model A's failures)."""
    import torch
    from .compare_pixels import Changes
    from .counts import Counts
    from .dataset import restrict_to_band
    n, c = len(dataset_a), dataset_a.classes.num_classes
    zeros = lambda: np.zeros((n, c), np.int64)  # noqa: E731
    tables = {k: zeros() for k in ("tp_a", "fp_a", "fn_a", "tp_b", "fp_b", "fn_b", "fixed", "broken", "both")}
    pixels = Changes(*(np.zeros(n, np.int64) for _ in range(3)))
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
            failures[i] = exc
            continue
        if scoring_a.boundary:
            restrict_to_band(sa, scoring_a.boundary, dataset_a.classes.ignore_index, scoring_a.interior)
        counts_a, counts_b, ch, px = sample_comparison(sa, sb, scoring_a, scoring_b)
        for suffix, counts in (("a", counts_a), ("b", counts_b)):
            for k in ("tp", "fp", "fn"):
                tables[f"{k}_{suffix}"][i] = getattr(counts, k).numpy()
        tables["fixed"][i], tables["broken"][i], tables["both"][i] = ch.fixed, ch.broken, ch.both_wrong
        pixels.fixed[i], pixels.broken[i], pixels.both_wrong[i] = px.fixed, px.broken, px.both_wrong
        loaded[i] = True
        if progress:
            progress(i + 1, n)
    t = {k: torch.from_numpy(v) for k, v in tables.items()}
    return DatasetComparison((scoring_a.count_key(), scoring_b.count_key()), list(dataset_a.names), loaded,
                             Counts(t["tp_a"], t["fp_a"], t["fn_a"]), Counts(t["tp_b"], t["fp_b"], t["fn_b"]),
                             Changes(tables["fixed"], tables["broken"], tables["both"]), pixels, failures)


def sample_comparison(sample_a, sample_b, scoring_a, scoring_b) -> ImageComparison:
    """One sample of each model over the pixels A's Scoring scores (a 2-D sample's band already set): an image's,
    or the sum of a volume's slabs'."""
    from .compare_pixels import prediction_of
    total = None
    if sample_a.is_volume:           # A's band from its Scoring, not the shared sample's state
        from .volume_sample import band_of
        parts_a = sample_a.parts(band_of(scoring_a))
    else:
        parts_a = sample_a.parts()
    for part_a, part_b in zip(parts_a, sample_b.parts()):
        pa = prediction_of(part_a.probs, part_a.pred_map, scoring_a)
        pb = prediction_of(part_b.probs, part_b.pred_map, scoring_b)
        one = image_comparison(pa, pb, part_a.target)
        total = one if total is None else total + one
    return total


def image_comparison(pa, pb, target) -> ImageComparison:
    """One image's (or slab's) comparison of two predictions; each model's counts made once (image_changes
    takes them rather than counting again)."""
    from .compare_pixels import image_changes, pixel_changes, prediction_counts
    counts_a, counts_b = prediction_counts(pa, target), prediction_counts(pb, target)
    return ImageComparison(counts_a, counts_b, image_changes(pa, pb, target, counts_a, counts_b),
                           pixel_changes(pa, pb, target))


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
    """Rows of the compared images only: mean F-beta over each model's present classes; the pixels fixed and
    broken by the all-classes rule (each pixel once, as the all-classes compare view counts them)."""
    from .scores import compute_scores, nanmean
    keep = comparison.loaded
    fa = nanmean(compute_scores(comparison.counts_a, beta, smooth).fbeta).numpy()[keep]
    fb = nanmean(compute_scores(comparison.counts_b, beta, smooth).fbeta).numpy()[keep]
    return {"image": np.asarray(comparison.names, dtype=object)[keep], "mean_fbeta_a": fa, "mean_fbeta_b": fb,
            "delta_mean_fbeta": fb - fa, "fixed": comparison.pixels.fixed[keep],
            "broken": comparison.pixels.broken[keep]}


def comparison_class_rows(names, values: dict):
    from .export import fmt_number, safe_text
    for c, name in enumerate(names):
        yield [c, safe_text(name), int(values["gt_pixels"][c]),
               *(fmt_number(values[k][c]) for k in PER_CLASS_COLUMNS[3:9]),
               *(int(values[k][c]) for k in PER_CLASS_COLUMNS[9:])]


def comparison_image_rows(values: dict):
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
