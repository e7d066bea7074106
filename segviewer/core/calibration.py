"""Per-class and top-label calibration (issue #11): reliability diagrams, ECE and MCE, in one streaming pass.

Class-wise, for class c over valid pixels: confidence p_c, outcome y = [GT = c]. Top label: confidence max_c p_c,
outcome [argmax = GT] (torchmetrics' MulticlassCalibrationError). B equal-width bins over [0, 1]: bin b holds p in
[b/B, (b+1)/B), p = 1 (and anything above) falls in the last bin. Each bin keeps its pixel count, the exact sum of
its probabilities (so a bin's mean confidence is the pixels' mean, not the bin's centre) and its positives; memory
is (classes + 1) x bins whatever the dataset size, and statistics of disjoint image sets add.

ECE = Σ_b (n_b / n) · |mean y − mean p|_b = Σ_b |Σy − Σp|_b / n;  MCE = the largest gap over non-empty bins.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .counts import Target
from .errors import LoadError
from .validate import MAX_BINS  # noqa: F401  (one bound for the CLI, the API and the window)

DEFAULT_BINS = 15
TOP_LABEL = -1          # the top-label row, where a class id is expected
TOP_LABEL_NAME = "top-label"
CALIBRATION_COLUMNS = ("class_id", "class_name", "pixels", "ece", "mce")
BINS_COLUMNS = ("class_id", "class_name", "bin", "lower", "upper", "pixels", "mean_confidence", "frequency")


def bin_edges(bins: int) -> np.ndarray:
    """float32 e_b = the smallest float32 >= b/B (b = 0..B), so p >= b/B  <=>  p >= e_b for every float32 p."""
    exact = np.arange(bins + 1, dtype=np.float64) / bins
    edges = exact.astype(np.float32)
    low = edges.astype(np.float64) < exact
    edges[low] = np.nextafter(edges[low], np.float32(np.inf))
    return edges


def check_bins(bins: int) -> int:
    from .validate import bins as valid_bins
    return valid_bins(bins)


@dataclass
class CalibrationStats:
    """Per row (classes 0..C-1, then the top label) and bin: pixels, probability sum, positives."""
    bins: int
    pixels: np.ndarray      # [C+1, B] int64
    conf_sum: np.ndarray    # [C+1, B] float64
    positives: np.ndarray   # [C+1, B] int64

    @classmethod
    def empty(cls, num_classes: int, bins: int) -> "CalibrationStats":
        from .budgets import check_calibration
        check_calibration(num_classes, bins)   # within the memory budget, before anything is allocated
        shape = (num_classes + 1, bins)
        return cls(bins, np.zeros(shape, np.int64), np.zeros(shape, np.float64), np.zeros(shape, np.int64))

    @property
    def num_classes(self) -> int:
        return self.pixels.shape[0] - 1

    def __add__(self, other: "CalibrationStats") -> "CalibrationStats":
        if (self.bins, self.num_classes) != (other.bins, other.num_classes):
            raise ValueError("calibration statistics differ in bins or classes")
        return CalibrationStats(self.bins, self.pixels + other.pixels, self.conf_sum + other.conf_sum,
                                self.positives + other.positives)

    def row(self, class_id: int) -> int:
        return self.num_classes if class_id == TOP_LABEL else int(class_id)

    def total_pixels(self) -> np.ndarray:
        return self.pixels.sum(1)

    def gaps(self) -> np.ndarray:
        """[C+1, B] |mean y − mean p| per bin (NaN where the bin is empty)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.pixels > 0, np.abs(self.positives - self.conf_sum) / self.pixels, np.nan)

    def ece(self) -> np.ndarray:
        """[C+1] expected calibration error (NaN without pixels)."""
        n = self.total_pixels()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, np.abs(self.positives - self.conf_sum).sum(1) / n, np.nan)

    def mce(self) -> np.ndarray:
        gaps = self.gaps()
        empty = np.all(np.isnan(gaps), axis=1)
        return np.where(empty, np.nan, np.nanmax(np.where(empty[:, None], 0.0, gaps), axis=1))

    def reliability(self, class_id: int = TOP_LABEL) -> "Reliability":
        r = self.row(class_id)
        edges = np.arange(self.bins + 1, dtype=np.float64) / self.bins
        n = self.pixels[r]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_conf = np.where(n > 0, self.conf_sum[r] / n, np.nan)
            freq = np.where(n > 0, self.positives[r] / n, np.nan)
        return Reliability(class_id, edges[:-1], edges[1:], n.copy(), mean_conf, freq)


@dataclass
class Reliability:
    """What a reliability diagram draws for one class (or the top label): per bin, its range, pixels, the mean
    confidence of its pixels and the observed frequency of the outcome (NaN for empty bins)."""
    class_id: int
    lower: np.ndarray
    upper: np.ndarray
    pixels: np.ndarray
    mean_confidence: np.ndarray
    frequency: np.ndarray

    @property
    def ece(self) -> float:
        n = self.pixels.sum()
        gap = np.abs(np.nan_to_num(self.frequency) - np.nan_to_num(self.mean_confidence)) * self.pixels
        return float(gap.sum() / n) if n else float("nan")


# ---- one image ----
def image_calibration(probs: torch.Tensor, target: Target, bins: int = DEFAULT_BINS) -> CalibrationStats:
    """The statistics of one image's C×H×W probabilities over its valid pixels."""
    p = probs.detach().to("cpu", torch.float32).reshape(probs.shape[0], -1).numpy()
    labels = target.labels.detach().cpu().reshape(-1).numpy()
    valid = None if target.all_valid else target.valid.detach().cpu().reshape(-1).numpy()
    edges = bin_edges(bins)
    c, hw = p.shape
    # most probabilities sit in bin 0: only the values >= 1/B are binned one by one, bin 0 is the rest
    flat = p.reshape(-1)
    picked = np.flatnonzero(flat >= edges[1]) if bins > 1 else np.zeros(0, np.int64)
    p_gt = np.take_along_axis(p, labels[None], axis=0)[0]
    stats = CalibrationStats.empty(c, bins)
    _class_wise(stats, p, picked, _valid_only(p_gt, valid), _valid_only(labels, valid), valid, edges)
    _top_label(stats, p, picked, p_gt, labels, valid, edges)
    return stats


def _valid_only(values: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    return values if valid is None else values[valid]


def _bin_of(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin b with e_b <= v < e_{b+1}; below 0 -> bin 0, 1 and above -> the last bin."""
    return np.searchsorted(edges[1:-1], values, side="right")


def _class_wise(stats: CalibrationStats, p: np.ndarray, picked: np.ndarray, p_gt: np.ndarray, labels: np.ndarray,
                valid: np.ndarray | None, edges: np.ndarray) -> None:
    """Rows 0..C-1: p_c against [GT = c]; the picked values fill bins >= 1, bin 0 holds the remainder."""
    c, hw = p.shape
    bins = stats.bins
    size = c * bins
    if valid is not None:
        picked = picked[valid[picked % hw]]
    values = p.reshape(-1)[picked]
    keys = (picked // hw) * bins + _bin_of(values, edges)
    counts = np.bincount(keys, minlength=size).reshape(c, bins)
    sums = np.bincount(keys, weights=values.astype(np.float64), minlength=size).reshape(c, bins).astype(np.float64)
    counts[:, 0] = len(labels) - counts[:, 1:].sum(1)
    sums[:, 0] = np.where(counts[:, 0] > 0, np.maximum(_row_sums(p, valid) - sums[:, 1:].sum(1), 0.0), 0.0)
    stats.pixels[:c] += counts
    stats.conf_sum[:c] += sums
    stats.positives[:c] += np.bincount(labels * bins + _bin_of(p_gt, edges), minlength=size).reshape(c, bins)


def _row_sums(p: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """Σ p_c over valid pixels, summed in float64 (the ignored pixels removed)."""
    totals = p.sum(1, dtype=np.float64)
    if valid is not None:
        totals -= p[:, ~valid].astype(np.float64).sum(1)
    return totals


def _top_label(stats: CalibrationStats, p: np.ndarray, picked: np.ndarray, p_gt: np.ndarray, labels: np.ndarray,
               valid: np.ndarray | None, edges: np.ndarray) -> None:
    """The last row: max_c p_c against [argmax = GT], argmax taking the lowest class on ties (as torch does)."""
    hw = p.shape[1]
    conf = p.max(0)
    hit = p_gt == conf
    # the GT class ties for the maximum only where two picked values equal it; unpicked maxima are checked too
    pix = picked % hw
    at_max = np.bincount(pix[p.reshape(-1)[picked] == conf[pix]], minlength=hw)
    unsure = np.flatnonzero(hit & ((at_max > 1) | (conf < edges[1])))
    if len(unsure):
        hit[unsure] = p[:, unsure].argmax(0) == labels[unsure]
    conf, hit = _valid_only(conf, valid), _valid_only(hit, valid)
    b = _bin_of(conf, edges)
    bins = stats.bins
    stats.pixels[-1] += np.bincount(b, minlength=bins)
    stats.conf_sum[-1] += np.bincount(b, weights=conf.astype(np.float64), minlength=bins)
    stats.positives[-1] += np.bincount(b[hit], minlength=bins)


def sample_calibration(sample, bins: int = DEFAULT_BINS) -> CalibrationStats:
    """One dataset Sample's statistics: an image's, or the sum of a volume's slabs'."""
    stats = None
    for part in sample.parts():
        one = image_calibration(part.probs, part.target, bins)
        stats = one if stats is None else stats + one
    return stats


# ---- the dataset ----
def require_confidence(dataset) -> None:
    if dataset.is_hard:
        raise LoadError(dataset.options.pred_dir, "calibration needs logits; hard masks have no confidence")


def dataset_calibration(dataset, bins: int = DEFAULT_BINS, progress: Callable[[int, int], None] | None = None,
                        on_error: Callable[[LoadError], None] | None = None, strict: bool = False,
                        cancelled: Callable[[], bool] | None = None) -> CalibrationStats:
    """One streaming pass: memory is one image plus (classes + 1) x bins (core.passes.calibration_pass runs it
    here; on a cluster the images' statistics come back and are added in the same order)."""
    require_confidence(dataset)
    stats = CalibrationStats.empty(dataset.classes.num_classes, check_bins(bins))
    for i, sample in dataset.iter_samples(on_error=on_error, strict=strict):
        if cancelled is not None and cancelled():
            raise InterruptedError("calibration cancelled")
        stats = stats + sample_calibration(sample, bins)
        if progress:
            progress(i + 1, len(dataset))
    return stats


# ---- tables ----
def calibration_rows(names, stats: CalibrationStats):
    """CALIBRATION.csv rows: one per class, then the top label (empty class_id)."""
    from .export import fmt_number, safe_text
    n, ece, mce = stats.total_pixels(), stats.ece(), stats.mce()
    for r in range(stats.num_classes + 1):
        top = r == stats.num_classes
        yield ["" if top else r, TOP_LABEL_NAME if top else safe_text(names[r]), int(n[r]), fmt_number(ece[r]),
               fmt_number(mce[r])]


def bins_rows(names, stats: CalibrationStats):
    """BINS.csv rows: per class (then the top label) and bin; empty bins have empty means."""
    from .export import fmt_number, safe_text
    for r in range(stats.num_classes + 1):
        top = r == stats.num_classes
        rel = stats.reliability(TOP_LABEL if top else r)
        for b in range(stats.bins):
            yield ["" if top else r, TOP_LABEL_NAME if top else safe_text(names[r]), b, fmt_number(rel.lower[b]),
                   fmt_number(rel.upper[b]), int(rel.pixels[b]), fmt_number(rel.mean_confidence[b]),
                   fmt_number(rel.frequency[b])]


def write_calibration(path, names, stats: CalibrationStats) -> None:
    from .export import write_rows
    write_rows(path, CALIBRATION_COLUMNS, calibration_rows(names, stats))


def write_bins(path, names, stats: CalibrationStats) -> None:
    from .export import write_rows
    write_rows(path, BINS_COLUMNS, bins_rows(names, stats))


def calibration_frame(names, stats: CalibrationStats):
    import pandas as pd
    c = stats.num_classes
    return pd.DataFrame({"class_id": pd.array([*range(c), None], dtype="Int64"),
                         "class_name": [*names, TOP_LABEL_NAME], "pixels": stats.total_pixels().astype(np.int64),
                         "ece": stats.ece(), "mce": stats.mce()}, columns=list(CALIBRATION_COLUMNS))


def bins_frame(names, stats: CalibrationStats):
    import pandas as pd
    parts = []
    for r in range(stats.num_classes + 1):
        top = r == stats.num_classes
        rel = stats.reliability(TOP_LABEL if top else r)
        parts.append(pd.DataFrame({
            "class_id": pd.array([None if top else r] * stats.bins, dtype="Int64"),
            "class_name": [TOP_LABEL_NAME if top else names[r]] * stats.bins, "bin": np.arange(stats.bins),
            "lower": rel.lower, "upper": rel.upper, "pixels": rel.pixels, "mean_confidence": rel.mean_confidence,
            "frequency": rel.frequency}, columns=list(BINS_COLUMNS)))
    return pd.concat(parts, ignore_index=True)


def plot_calibration(path, names, stats: CalibrationStats, label: str = "--plot") -> None:
    """The top label's reliability diagram with its pixels per bin beneath, and the ECE of every class (headless,
    names drawn literally, saved through the output gate)."""
    from .plots import drawing, literal, save_figure
    with drawing() as plt:
        rel = stats.reliability(TOP_LABEL)
        fig = plt.figure(figsize=(max(9.0, 0.4 * len(names) + 6), 5.0), dpi=120)
        grid = fig.add_gridspec(2, 2, height_ratios=(3, 1), width_ratios=(1, 1.2))
        ax, hist, bars = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[:, 1])
        width = 1.0 / stats.bins
        ax.bar(rel.lower, np.nan_to_num(rel.frequency), width=width, align="edge", color="#0072B2", alpha=0.75,
               edgecolor="white", label="observed accuracy")
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
        ax.plot(rel.mean_confidence, rel.frequency, "o", color="#D55E00", markersize=4,
                label="mean confidence of the bin")
        ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy",
               title=f"Top label: ECE {stats.ece()[-1]:.4f}, MCE {stats.mce()[-1]:.4f}")
        ax.legend(loc="upper left", fontsize=7)
        hist.bar(rel.lower, rel.pixels, width=width, align="edge", color="grey", edgecolor="white")
        hist.set(xlim=(0, 1), xlabel="confidence", ylabel="pixels")
        hist.set_yscale("log" if rel.pixels.max(initial=0) > 0 else "linear")
        ece = stats.ece()[:-1]
        bars.barh(np.arange(len(names)), np.nan_to_num(ece), color="#009E73")
        bars.set_yticks(np.arange(len(names)), [literal(n) for n in names], fontsize=7)
        bars.invert_yaxis()
        bars.set(xlabel="class-wise ECE", title="Per class")
        bars.tick_params(axis="x", labelsize=7, labelrotation=45)
        fig.tight_layout()
        save_figure(fig, path, label)
