"""`segviewer.Evaluator`: the export's numbers inside a validation loop; `save_logits`: what the window reads.

    ev = segviewer.Evaluator(classes="cityscapes", threshold=0.5, ignore_index=255)
    for images, target, names in loader:
        ev.update(model(images), target, names=names)   # logits [N,C,h,w] at any resolution, target [N,H,W]
    ev.compute()                                          # the per-class CSV's columns, as a DataFrame

Each image goes through the same steps as `segviewer export` (resize the logits to the target, activation, count),
so the counts equal the export's on the same tensors saved to disk, to the pixel. The probability index is kept
as histograms (classes x bins, never pixels); `best_thresholds()` reads it. `sync()` all-reduces across ranks.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from . import ddp, validate
from .classes import DEFAULT_IGNORE_INDEX, ClassSpec, generic_classes
from .counts import Counts, Target, argmax_map, count_hard, count_threshold, prepare_target, soft_counts
from .errors import OptionError
from .evaluator_inputs import (batch_shapes, check_logit_values, check_target, checked_class_keywords, folder_arg,
                               map_labels, resolve_classes_arg, resolve_device_arg)
from .export import PER_CLASS_COLUMNS, PER_IMAGE_COLUMNS, write_per_class_csv, write_per_image_csv
from .index import DEFAULT_STEPS, ProbabilityIndex, counts_above, threshold_to_step
from .index_build import ArrayCounts, IndexBuilder
from .io import all_finite
from .options import DEFAULT_BETA, DEFAULT_SMOOTH
from .probs import ProbsBuffer, outside_unit_range, resolve_activation, to_probabilities
from .scores import compute_scores
from .scoring import Scoring
from .sweep import BEST_COLUMNS, best_thresholds

FLOAT16_MAX = 65504.0
_ROW_FIELDS = ("tp", "fp", "fn")


@dataclass
class _State:
    """What the results read: every image's name and rows, and the index (None with keep_index=False)."""
    names: list[str]
    counts: Counts                  # [I, C] int64 at the Evaluator's threshold (or argmax)
    soft: Counts                    # [I, C] float64, the soft-Dice terms
    index: ProbabilityIndex | None


class Evaluator:
    """Per-class tp / fp / fn, F-beta, Dice, IoU over a stream of batches, as `segviewer export` computes them.

    classes: a class count (as torchmetrics' num_classes), a list of class names, a preset name, a class file, a
    ClassSpec, or None (generic names, the class count from the logits).
    threshold: one value or one per class; argmax=True predicts the most probable class instead.
    device: where the counting runs (None: the logits' device). keep_index=False skips the probability index
    (no best_thresholds(), about half the time per batch on CPU). per_image_index=True keeps each image's counts
    at every grid threshold in memory (classes x thresholds per image; the window keeps them on disk), so that
    index().image_counts(t) answers at any grid threshold; else only the dataset's histograms.
    save_logits_to: a folder that receives each image's logits as float16 at the model's resolution (needs names).
    The Evaluator then scores those float16 values, so its numbers equal `segviewer export` over the folder.
    On the CPU one image's probabilities stay in a kept buffer between updates; reset() frees it.
    """

    def __init__(self, classes=None, threshold=0.5, argmax: bool = False, beta: float = DEFAULT_BETA,
                 smooth: float = DEFAULT_SMOOTH, ignore_index: int | None = None, device=None, *,
                 num_classes: int | None = None, activation: str = "softmax", align_corners: bool = True,
                 steps: int = DEFAULT_STEPS, keep_index: bool = True, per_image_index: bool = False,
                 save_logits_to=None):
        if isinstance(threshold, torch.Tensor):
            threshold = threshold.tolist()
        self.scoring = Scoring(threshold=threshold if not isinstance(threshold, list) else tuple(threshold),
                               argmax=argmax, beta=beta, smooth=smooth)
        num_classes, ignore_index = checked_class_keywords(num_classes, ignore_index)
        self.classes: ClassSpec | None = resolve_classes_arg(classes, num_classes, ignore_index)
        self._ignore_index = ignore_index
        if self.classes is not None:
            self.scoring.check_classes(self.classes.num_classes)
        self.device = resolve_device_arg(device)
        # a tensor from a model is logits: "auto" is softmax here
        self.activation = resolve_activation(validate.activation(activation))
        self.align_corners = validate.flag("align_corners", align_corners)
        self.steps = validate.steps(steps)
        self.keep_index = validate.flag("keep_index", keep_index)
        self.per_image_index = validate.flag("per_image_index", per_image_index)
        self.save_logits_to = folder_arg("save_logits_to", save_logits_to)
        self.reset()

    # ---- accumulation ----
    def reset(self) -> None:
        """Forgets every image (the settings stay)."""
        self._builder: IndexBuilder | None = None
        self._names: list[str] = []
        self._counts: list[Counts] = []
        self._soft: list[Counts] = []
        self._synced: _State | None = None
        self._seen = 0
        self._probs = ProbsBuffer()     # each image's probabilities, overwritten by the next

    @torch.no_grad()
    def update(self, logits: torch.Tensor, target: torch.Tensor, names: Sequence[str] | None = None) -> None:
        """One batch: logits [N,C,h,w] (before softmax, any resolution), target [N,H,W] class ids; or volumes:
        logits [N,C,D,H,W] and target [N,D,H,W] of the same size (each volume is one image, as in `export`)."""
        logits, target = batch_shapes(logits, target)
        n, c = logits.shape[:2]
        if n == 0:    # an empty batch (a sampler's last one): nothing to count
            return
        # a batch counts all or nothing: every check runs before the first image is counted
        names = self._batch_names(names, n)
        classes = self._classes_for(c)
        device = self.device or logits.device
        target = map_labels(target.to(device), classes)
        check_target(target, classes)
        check_logit_values(logits, names)
        if self.activation == "none" and (reason := outside_unit_range(logits)) is not None:
            raise OptionError(f"{reason}; nothing of this batch was counted")
        if self.save_logits_to is not None:
            self._refuse_saved_again(names)
            save_logits(self.save_logits_to, names, logits)
            logits = logits.to(torch.float16).float()      # what was saved, as the export reads it back
        self.classes = classes
        self._seen += n
        for i in range(n):
            # a volume's logits are at its target's size (checked): nothing to resize, the activation over dim 0
            probs = to_probabilities(logits[i], tuple(target.shape[-2:]), self.activation, self.align_corners, device,
                                     buffer=self._probs if logits.ndim == 4 else None)
            self._add(names[i], probs, prepare_target(target[i], c, classes.ignore_index))
        self._synced = None

    def _add(self, name: str, probs: torch.Tensor, target: Target) -> None:
        soft = soft_counts(probs, target)
        counts = self._add_to_index(name, probs, target, soft) if self.keep_index else self._count(probs, target)
        self._names.append(name)
        self._counts.append(counts)
        self._soft.append(soft)

    def _count(self, probs: torch.Tensor, target: Target) -> Counts:
        if self.scoring.argmax:
            return count_hard(argmax_map(probs), target).to("cpu")
        return count_threshold(probs, target, self.scoring.effective_threshold()).to("cpu")

    def _add_to_index(self, name: str, probs: torch.Tensor, target: Target, soft: Counts) -> Counts:
        """Adds the image to the index; its counts come from what the index computed (no second pass)."""
        builder = self._builder_for(probs.shape[0])
        pos, pred = builder.add(name, target, probs, soft)
        if self.scoring.argmax:
            return Counts(*(torch.from_numpy(np.asarray(builder.rows[f"argmax_{k}"][-1])) for k in _ROW_FIELDS))
        return self._threshold_counts(probs, target, pos, pred)

    def _threshold_counts(self, probs, target: Target, pos: np.ndarray, pred: np.ndarray) -> Counts:
        """On the grid the image's histograms answer exactly; off the grid, counted directly."""
        t = np.broadcast_to(np.asarray(self.scoring.effective_threshold(), np.float64), (probs.shape[0],))
        ks = [threshold_to_step(v, self.steps) for v in t]
        if any(k is None for k in ks):
            return self._count(probs, target)
        rows = np.arange(len(ks))
        tp = counts_above(pos)[rows, ks]
        predicted = counts_above(pred)[rows, ks]
        gt = target.gt_count.cpu().numpy()
        return Counts(*(torch.from_numpy(np.ascontiguousarray(a, np.int64)) for a in (tp, predicted - tp, gt - tp)))

    def _builder_for(self, num_classes: int) -> IndexBuilder:
        if self._builder is None:
            self._builder = IndexBuilder(num_classes, self.steps, keep_image_counts=self.per_image_index)
        return self._builder

    def _classes_for(self, num_classes: int) -> ClassSpec:
        """The classes for a batch of num_classes channels (generic ones, kept once the batch is counted)."""
        classes = self.classes
        if classes is None:
            ignore = self._ignore_index if self._ignore_index is not None else DEFAULT_IGNORE_INDEX
            classes = generic_classes(num_classes, ignore)
            self.scoring.check_classes(num_classes)
        if num_classes != classes.num_classes:
            raise OptionError(f"wrong number of classes: the logits have {num_classes} channels, "
                              f"but the classes define {classes.num_classes}")
        return classes

    def _refuse_saved_again(self, names: list[str]) -> None:
        """A name saved by an earlier batch would be replaced on disk while both images stay counted here: the
        folder would no longer hold what the Evaluator scored."""
        seen = set(self._names)
        again = [name for name in names if name in seen]
        if again:
            raise OptionError(f"image {again[0]!r} was already saved to {self.save_logits_to} by an earlier batch; "
                              "with save_logits_to every image needs its own name (nothing of this batch was counted)")

    def _batch_names(self, names, n: int) -> list[str]:
        if names is None:
            if self.save_logits_to is not None:
                raise OptionError("save_logits_to needs names= in update(): the files are named for the images")
            prefix = f"rank{ddp.rank()}-" if ddp.world_size() > 1 else ""
            names = [f"{prefix}{self._seen + i:06d}" for i in range(n)]
        names = [str(v) for v in (names.tolist() if isinstance(names, torch.Tensor) else names)]
        if len(names) != n:
            raise OptionError(f"{len(names)} names for a batch of {n} images")
        return names

    # ---- across ranks ----
    def sync(self) -> "Evaluator":
        """Gathers every rank's images (all-reduced histograms, concatenated rows) on every rank; a no-op
        outside torch.distributed. Call it on every rank; update() afterwards works on the local images again."""
        if ddp.world_size() == 1:
            return self
        num_classes = ddp.all_reduce_max(self.classes.num_classes if self.classes is not None else 0)
        if num_classes == 0:
            raise OptionError("no rank has any image: call update() before sync()")
        local = self._local_state(self._classes_for(num_classes).num_classes)
        names = ddp.all_gather_names(local.names)
        counts, soft = (Counts(*(torch.from_numpy(ddp.all_gather_concat(getattr(rows, k).numpy()))
                                 for k in _ROW_FIELDS)) for rows in (local.counts, local.soft))
        index = _gather_index(local.index, names) if local.index is not None else None
        _warn_repeated(names)
        self._synced = _State(names, counts, soft, index)
        return self

    # ---- results ----
    def _local_state(self, num_classes: int | None = None) -> _State:
        c = self.classes.num_classes if self.classes is not None else num_classes
        if c is None:
            raise OptionError("no images yet: call update() first")
        index = None
        if self.keep_index:
            index = self._builder_for(c).finish()
            index.pos_hist, index.pred_hist = index.pos_hist.copy(), index.pred_hist.copy()
        return _State(list(self._names), _stack_rows(self._counts, torch.int64, c),
                      _stack_rows(self._soft, torch.float64, c), index)

    def _state(self) -> _State:
        state = self._synced or self._local_state()
        if not state.names:
            raise OptionError("no images yet: call update() first")
        return state

    def index(self) -> ProbabilityIndex:
        """The probability index of every image seen (after sync(): of every rank's images)."""
        index = self._state().index
        if index is None:
            raise OptionError("this Evaluator keeps no index (keep_index=False)")
        return index

    @property
    def names(self) -> list[str]:
        return list(self._state().names)

    def _totals(self) -> tuple[Counts, Counts]:
        """Dataset counts and soft counts, summed over the images as the export sums them."""
        state = self._state()
        return tuple(Counts(*(getattr(rows, k).sum(0) for k in _ROW_FIELDS)) for rows in (state.counts, state.soft))

    def compute(self):
        """A DataFrame, one row per class, with the per-class CSV's columns (absent classes: NaN scores; the
        CSV's summary row is left out: a column's .mean() skips absent classes as the summary does)."""
        import pandas as pd
        total, soft = self._totals()
        s = self.scoring
        scores = compute_scores(total, s.beta, s.smooth, soft)
        c = self.classes.num_classes
        threshold = np.full(c, np.nan) if s.argmax else np.broadcast_to(
            np.asarray(s.effective_threshold(), np.float64), (c,))
        data = {"class_id": np.arange(c), "class_name": list(self.classes.names),
                "gt_pixels": (total.tp + total.fn).numpy(), "tp": total.tp.numpy(), "fp": total.fp.numpy(),
                "fn": total.fn.numpy(),
                **{k: getattr(scores, k).numpy() for k in ("precision", "recall", "fbeta", "dice", "iou")},
                "soft_dice": scores.soft_dice.numpy(), "threshold": threshold, "beta": np.full(c, s.beta)}
        return pd.DataFrame(data, columns=list(PER_CLASS_COLUMNS))

    def per_image(self):
        """A DataFrame with the per-image CSV's columns: one row per (image, class)."""
        import pandas as pd
        state = self._state()
        counts, names, c = state.counts, state.names, self.classes.num_classes
        scores = compute_scores(counts, self.scoring.beta, self.scoring.smooth)
        data = {"image": np.repeat(np.asarray(names, dtype=object), c), "class_id": np.tile(np.arange(c), len(names)),
                "class_name": list(self.classes.names) * len(names),
                **{k: getattr(counts, k).numpy().ravel() for k in _ROW_FIELDS},
                **{k: getattr(scores, k).numpy().ravel() for k in ("precision", "recall", "fbeta", "dice", "iou")}}
        return pd.DataFrame(data, columns=list(PER_IMAGE_COLUMNS))

    def to_csv(self, path, per_image=None) -> None:
        """The per-class CSV (and the per-image one) exactly as `segviewer export` writes them."""
        from .outputs import OutputGuard, run_scope
        total, soft = self._totals()
        with run_scope():    # both files or neither
            OutputGuard().check({"path": path, "per_image": per_image})
            write_per_class_csv(path, self.classes, total, soft, self.scoring)
            if per_image is not None:
                state = self._state()
                write_per_image_csv(per_image, state.names, self.classes, state.counts, self.scoring)

    def best_thresholds(self):
        """Per class, the grid threshold of maximum F-beta over the images seen (from the index: no pixels kept; a
        class with no GT pixel: the lowest that predicts none of it, scores NaN). A DataFrame: class_id,
        class_name, threshold, precision, recall, fbeta."""
        import pandas as pd
        index = self.index()
        best = best_thresholds(index.curves(), index.steps, self.scoring.beta, self.scoring.smooth)
        data = {"class_id": np.arange(index.num_classes), "class_name": list(self.classes.names),
                **{k: getattr(best, k) for k in ("threshold", "precision", "recall", "fbeta")}}
        return pd.DataFrame(data, columns=list(BEST_COLUMNS))

    def __repr__(self) -> str:
        n = len(self._synced.names) if self._synced else len(self._names)
        return f"<segviewer.Evaluator {n} images, {self.scoring}>"


def _stack_rows(rows: list[Counts], dtype: torch.dtype, num_classes: int) -> Counts:
    return Counts(*(torch.stack([getattr(r, k) for r in rows]).to(dtype) if rows
                    else torch.zeros((0, num_classes), dtype=dtype) for k in _ROW_FIELDS))


def _gather_index(index: ProbabilityIndex, names: list[str]) -> ProbabilityIndex:
    """Every rank's index: histograms summed, per-image rows (and per-image counts, when kept) concatenated in
    rank order."""
    arrays = {k: v for k, v in index.to_arrays().items() if k not in ("steps", "num_classes", "names")}
    merged = {k: ddp.all_reduce_sum(v) if k in ("pos_hist", "pred_hist") else _gathered(v) for k, v in arrays.items()}
    images = index.images
    if isinstance(images, ArrayCounts):
        images = ArrayCounts(_gathered(images.tp_above), _gathered(images.pred_above), merged["gt_count"])
    return ProbabilityIndex(index.steps, index.num_classes, names, images=images, **merged)


def _gathered(array: np.ndarray) -> np.ndarray:
    """Every rank's rows; types the collectives do not carry (bool, uint32) travel as int64."""
    if array.dtype.kind in "bu":
        return ddp.all_gather_concat(array.astype(np.int64)).astype(array.dtype)
    return ddp.all_gather_concat(array)


def save_logits(folder, name, logits: torch.Tensor, *, private: bool = False) -> list[Path]:
    """Writes logits as float16 .npy at the model's own resolution, one file per image, where the window and
    `segviewer export` read them (the name pairs with the ground truth's file name, as a logits folder does).

    name and [C,h,w] (or [1,C,h,w]) logits, or a list of names and [N,C,h,w]; volumes [N,C,D,H,W], each saved
    (C, D, H, W) as a volume dataset's logits folder holds them. Returns the files written."""
    if isinstance(name, (str, os.PathLike)):
        names = [name]
    elif isinstance(name, (list, tuple)) and all(isinstance(n, (str, os.PathLike)) for n in name):
        names = list(name)
    else:
        raise OptionError(f"save_logits: name {name!r}: give an image name (text) or a list of them")
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        got = logits.dtype if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise OptionError(f"save_logits: logits must be a floating-point torch tensor, got {got}")
    logits = logits.detach()
    if logits.ndim == 3 or logits.ndim == 4 and len(names) == 1 and logits.shape[0] != 1:
        logits = logits[None]
    if logits.ndim not in (4, 5) or logits.shape[0] != len(names):
        raise OptionError(f"save_logits: {len(names)} name(s) for logits of shape {tuple(logits.shape)} "
                          f"(expected [C,h,w] for one name or [N,C,h,w] for N names; volumes [N,C,D,H,W])")
    half = logits.to(torch.float16).cpu()
    for image, array in zip(names, half):
        if not all_finite(array):
            raise OptionError(f"save_logits: image {str(image)!r}: logits are NaN, Inf or beyond float16's "
                              f"range (±{FLOAT16_MAX:g}); scale them before saving")
    paths = [_logit_path(Path(folder), str(image)) for image in names]
    from .output_run import atomic_output, run_scope
    # all of the batch's files or none of them; private: segviewer's own cache (a model's logits), written at once
    with run_scope(own=private, private=private) as run:
        for path in paths:
            run.check_file(path, "save_logits")
        for path, array in zip(paths, half):
            with atomic_output(path, "save_logits") as tmp, open(tmp, "wb") as fh:
                np.save(fh, array.numpy(), allow_pickle=False)
    return paths


def _logit_path(folder: Path, name: str) -> Path:
    relative = Path(name)
    if not name or relative.is_absolute() or ".." in relative.parts or "\0" in name \
            or name.endswith(("/", os.sep, ".")):
        raise OptionError(f"save_logits: image name {name!r} must be a relative file name without '..' (the "
                          "ground truth's name, e.g. 'scene_001')")
    return folder / f"{name}.npy"


def _warn_repeated(names: list[str]) -> None:
    repeated = len(names) - len(set(names))
    if repeated:
        warnings.warn(f"{repeated} image(s) were evaluated on more than one rank (a DistributedSampler pads the "
                      f"last batch with repeats); they count more than once", stacklevel=3)
