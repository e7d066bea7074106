"""Likely label errors from the logits (issue #12): a per-image label score, a doubt map, suspect regions.

- Self-confidence s = p_g, the probability of the pixel's GT class g, per valid pixel (ignore excluded).
- label_score = Σ s_i·w_i with w = softmax((1 − s)/T) over the image's valid pixels (Lad & Mueller 2023;
  cleanlab's segmentation `get_label_quality_scores(method="softmin")` when there are no ignore pixels). Lower =
  more likely mislabelled. Computed with the largest weight shifted to exp(0), so tiny temperatures do not overflow.
- Suspect regions: 8-connected (in a volume 26-connected) components of pixels where a class other than the label is the most probable with
  probability ≥ min_confidence, one (GT class, predicted class) pair each, largest first.
Everything streams one image at a time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
from scipy import ndimage

from .counts import Target, accumulation_dtype
from .errors import LoadError

DEFAULT_TEMPERATURE = 0.1
DEFAULT_MIN_CONFIDENCE = 0.9
ISSUES_COLUMNS = ("image", "label_score", "suspect_pixels")
REGION_COLUMNS = ("image", "region", "gt_class", "predicted_class", "pixels", "mean_confidence", "x0", "y0", "x1", "y1")
VOLUME_REGION_COLUMNS = REGION_COLUMNS + ("z0", "z1")     # a volume's regions are 3-D: their slices too
CPU_CHUNK = 1 << 17


@dataclass(frozen=True)
class SuspectRegion:
    gt_class: int
    predicted_class: int
    pixels: int
    mean_confidence: float
    bbox: tuple[int, int, int, int]      # x0, y0, x1, y1 (exclusive)
    z: tuple[int, int] | None = None     # z0, z1 (exclusive) of a volume's region


@dataclass
class ImageIssues:
    """One image's label score, suspect pixel count and (when asked) suspect regions."""
    index: int
    name: str
    label_score: float
    suspect_pixels: int
    regions: list[SuspectRegion] | None = None


def check_settings(temperature: float, min_confidence: float) -> tuple[float, float]:
    from . import validate
    return validate.real("temperature", temperature, 0.0, low_open=True), validate.real("min_confidence",
                                                                                        min_confidence, 0.0, 1.0)


def self_confidence(probs: torch.Tensor, target: Target) -> torch.Tensor:
    """H×W probability of each pixel's GT class (ignore pixels hold class 0's; mask them with target.valid)."""
    return probs.gather(0, target.labels[None])[0]


def valid_values(per_pixel: torch.Tensor, target: Target) -> torch.Tensor:
    return per_pixel.flatten() if target.all_valid else per_pixel[target.valid]


def softmin_score(s: torch.Tensor, temperature: float = DEFAULT_TEMPERATURE) -> float:
    """Σ s·softmax((1 − s)/T) of a 1-D tensor of self-confidences; NaN when empty."""
    if s.numel() == 0:
        return float("nan")
    acc = accumulation_dtype(s.device)
    low = s.min().to(acc)
    step = CPU_CHUNK if s.device.type == "cpu" else s.numel()    # cache-sized pieces on the CPU: ~2x faster
    num = den = torch.zeros((), dtype=acc, device=s.device)
    for start in range(0, s.numel(), step):
        part = s[start:start + step].to(acc)
        weights = (low - part).div_(temperature).exp_()   # = exp((1 − s)/T − max), the shifted softmax numerator
        num, den = num + torch.dot(part, weights), den + weights.sum()
    return float(num / den)


def label_score(probs: torch.Tensor, target: Target, temperature: float = DEFAULT_TEMPERATURE) -> float:
    return softmin_score(valid_values(self_confidence(probs, target), target), temperature)


@dataclass
class Suspects:
    """The suspect pixels of one image: flat indices, the predicted class and its probability there."""
    index: torch.Tensor
    predicted: torch.Tensor
    confidence: torch.Tensor


def find_suspects(probs: torch.Tensor, target: Target, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                  sums_to_one: bool = False, s: torch.Tensor | None = None) -> Suspects:
    """Valid pixels whose most probable class is not the label, with probability >= min_confidence.

    sums_to_one (softmax): p_c + p_g <= 1, so only pixels with s <= 1 − min_confidence can be suspect and the
    class maximum is taken at those pixels only."""
    flat, labels = probs.flatten(1), target.labels.flatten()
    if sums_to_one:
        s = self_confidence(probs, target) if s is None else s
        candidate = s.flatten() <= (1.0 - min_confidence) + 1e-6
        if not target.all_valid:
            candidate &= target.valid.flatten()
        index = flat_nonzero(candidate)
        confidence, predicted = flat.index_select(1, index).max(0)
        keep = (predicted != labels[index]) & (confidence >= min_confidence)
        return Suspects(index[keep], predicted[keep], confidence[keep])
    confidence, predicted = flat.max(0)
    suspect = (predicted != labels) & (confidence >= min_confidence)
    if not target.all_valid:
        suspect &= target.valid.flatten()
    index = flat_nonzero(suspect)
    return Suspects(index, predicted[index], confidence[index])


def flat_nonzero(mask: torch.Tensor) -> torch.Tensor:
    """Indices of the True entries of a 1-D bool tensor (numpy's is several times faster than torch's on CPU)."""
    if mask.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(mask.numpy()))
    return torch.nonzero(mask).flatten()


def label_doubt_map(probs: torch.Tensor, target: Target) -> np.ndarray:
    """H×W uint8 heatmap of 1 − s (0 = the label is certain, 255 = the label has probability 0); 0 at ignore."""
    doubt = (1.0 - self_confidence(probs, target)).clamp_(0.0, 1.0).mul_(255.0).round_()
    if not target.all_valid:
        doubt = doubt * target.valid
    return doubt.to(torch.uint8).cpu().numpy()


def suspect_regions(probs: torch.Tensor, target: Target, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                    sums_to_one: bool = False, suspects: Suspects | None = None) -> list[SuspectRegion]:
    """Connected components of suspect pixels, one (GT class, predicted class) pair each, most pixels first."""
    if suspects is None:
        suspects = find_suspects(probs, target, min_confidence, sums_to_one)
    if suspects.index.numel() == 0:
        return []
    c = probs.shape[0]
    index = suspects.index.cpu().numpy()
    pair = np.zeros(target.labels.numel(), np.int64)
    pair[index] = target.labels.flatten()[suspects.index].cpu().numpy() * c + suspects.predicted.cpu().numpy() + 1
    conf = np.zeros(target.labels.numel(), np.float64)
    conf[index] = suspects.confidence.cpu().numpy()
    shape = tuple(target.labels.shape)
    return pair_regions(pair.reshape(shape), conf.reshape(shape), c)


def pair_regions(pair: np.ndarray, conf: np.ndarray, c: int) -> list[SuspectRegion]:
    """Connected components (8-connected; 26 in 3-D) of each value of pair = GT·C + predicted + 1 (0: none)."""
    regions = []
    for value, box in enumerate(ndimage.find_objects(pair), start=1):
        if box is not None:
            gt_class, pred_class = divmod(value - 1, c)
            regions += _components(pair[box] == value, conf[box], box, gt_class, pred_class)
    return sorted(regions, key=lambda r: (-r.pixels, r.z or (0, 0), r.bbox[1], r.bbox[0]))


def _components(inside: np.ndarray, conf: np.ndarray, box, gt_class: int, pred_class: int) -> list[SuspectRegion]:
    labelled, n = ndimage.label(inside, structure=np.ones((3,) * inside.ndim, bool))
    flat = labelled.ravel()
    pixels = np.bincount(flat, minlength=n + 1)
    conf_sum = np.bincount(flat, weights=conf.ravel(), minlength=n + 1)
    out = []
    for k, sub in enumerate(ndimage.find_objects(labelled), start=1):
        *z, y, x = (slice(o.start + s.start, o.start + s.stop) for o, s in zip(box, sub))
        out.append(SuspectRegion(gt_class, pred_class, int(pixels[k]), float(conf_sum[k] / pixels[k]),
                                 (x.start, y.start, x.stop, y.stop), (z[0].start, z[0].stop) if z else None))
    return out


def image_issues(index: int, sample, temperature: float = DEFAULT_TEMPERATURE,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE, with_regions: bool = False,
                 sums_to_one: bool = False) -> ImageIssues:
    if sample.is_volume:
        return volume_issues(index, sample, temperature, min_confidence, with_regions, sums_to_one)
    probs, target = sample.probs, sample.target
    s = self_confidence(probs, target)
    suspects = find_suspects(probs, target, min_confidence, sums_to_one, s)
    regions = suspect_regions(probs, target, min_confidence, suspects=suspects) if with_regions else None
    score = softmin_score(valid_values(s, target), temperature)
    return ImageIssues(index, sample.name, score, int(suspects.index.numel()), regions)


def volume_issues(index: int, sample, temperature: float, min_confidence: float, with_regions: bool,
                  sums_to_one: bool) -> ImageIssues:
    """A case's label score over all its valid voxels and its suspect voxels, a slab at a time; its suspect
    regions (asked) are 3-D components."""
    values, found, plane = [], [], sample.shape[1] * sample.shape[2]
    for (start, _), part in zip(sample.slab_bounds(), sample.parts()):
        s = self_confidence(part.probs, part.target)
        values.append(valid_values(s, part.target).float())
        sus = find_suspects(part.probs, part.target, min_confidence, sums_to_one, s)
        gt = part.target.labels.flatten()[sus.index]
        found.append((start * plane + sus.index.cpu().numpy(), (gt * sample.num_classes + sus.predicted + 1).cpu(),
                      sus.confidence.cpu()))
    score = softmin_score(torch.cat(values), temperature)
    regions = None
    if with_regions:
        pair = np.zeros(int(np.prod(sample.shape)), np.int64)
        conf = np.zeros(pair.size, np.float64)
        for where, value, confidence in found:
            pair[where], conf[where] = value.numpy(), confidence.numpy()
        regions = pair_regions(pair.reshape(sample.shape), conf.reshape(sample.shape), sample.num_classes)
    return ImageIssues(index, sample.name, score, sum(len(w) for w, _, _ in found), regions)


def sums_to_one(dataset) -> bool:
    """Whether the dataset's probabilities sum to 1 per pixel (softmax, or "auto": softmax or a file's own
    probabilities), which lets find_suspects skip most pixels."""
    return getattr(dataset.options, "activation", None) in ("auto", "softmax")


def require_probabilities(dataset) -> None:
    if dataset.is_hard:
        raise LoadError(dataset.options.pred_dir, "likely label errors need logits (probabilities), not hard masks")


def scan_label_issues(dataset, temperature: float = DEFAULT_TEMPERATURE,
                      min_confidence: float = DEFAULT_MIN_CONFIDENCE, with_regions: bool = False,
                      on_error: Callable[[LoadError], None] | None = None, strict: bool = False,
                      progress: Callable[[int, int], None] | None = None,
                      cancelled: Callable[[], bool] | None = None) -> Iterator[ImageIssues]:
    """Each image's issues in dataset order, one image in memory at a time; bad files go to on_error."""
    temperature, min_confidence = check_settings(temperature, min_confidence)
    require_probabilities(dataset)
    one = sums_to_one(dataset)
    for index, sample in dataset.iter_samples(on_error=on_error, strict=strict):
        if cancelled is not None and cancelled():
            return
        yield image_issues(index, sample, temperature, min_confidence, with_regions, one)
        if progress:
            progress(index + 1, len(dataset))


@dataclass
class LabelScores:
    """Per image in dataset order: label_score (NaN where the image failed), suspect pixels (-1 there)."""
    label_score: np.ndarray
    suspect_pixels: np.ndarray
    loaded: np.ndarray


def issues_frame(names, scores: LabelScores):
    """ISSUES table: image, label_score, suspect_pixels, sorted by label_score ascending (failed images left out)."""
    import pandas as pd
    keep = scores.loaded
    frame = pd.DataFrame({"image": np.asarray(names, dtype=object)[keep], "label_score": scores.label_score[keep],
                          "suspect_pixels": scores.suspect_pixels[keep]}, columns=list(ISSUES_COLUMNS))
    return frame.sort_values("label_score", kind="stable").reset_index(drop=True)


def regions_frame(name: str, regions: list[SuspectRegion]):
    """REGIONS table of one image (region numbered from 1, largest first)."""
    import pandas as pd
    rows = [region_row(name, k, r) for k, r in enumerate(regions, start=1)]
    return pd.DataFrame(rows, columns=list(REGION_COLUMNS))


def region_row(name: str, number: int, r: SuspectRegion) -> list:
    """A row of REGION_COLUMNS (of VOLUME_REGION_COLUMNS for a volume's region)."""
    return [name, number, r.gt_class, r.predicted_class, r.pixels, r.mean_confidence, *r.bbox, *(r.z or ())]
