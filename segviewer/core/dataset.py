"""A paired dataset that loads one image's tensors at a time (the passes over it are core.passes)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Iterator

import numpy as np
import torch

from .classes import ClassSpec, generic_classes, resolve_classes, DEFAULT_IGNORE_INDEX
from .counts import (Counts, Target, argmax_map, confusion_matrix, count_hard, count_threshold, hard_map_from_labels,
                     prepare_target, soft_counts, threshold_map)
from .device import resolve_device
from .errors import LoadError, OptionError, all_failed, plain
from .options import DataOptions
from .io import (Item, Pairing, MAX_CLASSES, check_label_values, label_map_size, load_image, load_label_map,
                 load_logits, logits_budget, logits_shape, pair_dataset)
from .probs import outside_unit_range, resolve_activation, to_probabilities
from .regions import boundary_band, restrict_target
from .scoring import Mode, Scoring


@dataclass
class Sample:
    """One image's tensors on the device; probs for logits, pred_map for hard masks."""
    name: str
    item: Item
    labels: np.ndarray                   # H×W raw class ids, ignore id kept
    target: Target
    probs: torch.Tensor | None = None    # C×H×W float32
    pred_map: torch.Tensor | None = None  # H×W int64, NO_PREDICTION where nothing is predicted
    image: np.ndarray | None = None      # H×W×3 uint8
    is_volume: ClassVar[bool] = False    # a 3-D case is a volume_sample.VolumeSample

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape  # type: ignore[return-value]

    def parts(self) -> Iterator["Sample"]:
        """The pieces a pass reduces one at a time and adds up: a 2-D image is one; a volume's are its slabs."""
        yield self

    def confusion(self, scoring: Scoring) -> torch.Tensor:
        """[C, C+1] GT class x predicted class (last column: nothing predicted)."""
        return confusion_matrix(self.prediction_map(scoring), self.target)

    def prediction_map(self, scoring: Scoring) -> torch.Tensor:
        """H×W predicted class at the Scoring's mode (NO_PREDICTION where a threshold predicts nothing)."""
        if self.pred_map is not None:
            return self.pred_map
        if scoring.mode is Mode.ARGMAX:
            return argmax_map(self.probs)
        return threshold_map(self.probs, scoring.effective_threshold())

    def counts(self, scoring: Scoring) -> Counts:
        if self.pred_map is not None or scoring.mode is Mode.ARGMAX:
            return count_hard(self.pred_map if self.pred_map is not None else argmax_map(self.probs), self.target)
        return count_threshold(self.probs, self.target, scoring.effective_threshold())

    def soft(self) -> Counts:
        if self.probs is None:
            return count_hard(self.pred_map, self.target)
        return soft_counts(self.probs, self.target)


MAX_INFERRED_CLASSES = 4096   # without a class file; more (up to MAX_CLASSES) must be asked for


class Dataset:
    volumes = False        # a dataset of 3-D cases (set from its ground-truth folder)

    def __init__(self, options: DataOptions):
        from .volume_layouts import holds_volumes, pair_volumes
        self.options = options
        self.device = resolve_device(options.device)
        # a folder of volumes (NIfTI, NRRD, .npy; no PNG): each case is one image (volume_sample.VolumeSample)
        self.volumes = holds_volumes(Path(options.gt_dir))
        if self.volumes:
            # the readers' modules now, in the thread that opens the dataset: the window's two workers would
            # otherwise import nibabel and these at once, which PySide6's import hook does not survive
            from . import loaded_volume, regions, volume_sample  # noqa: F401
            import nibabel  # noqa: F401
            import nrrd  # noqa: F401
            self.pairing: Pairing = pair_volumes(options.gt_dir, options.pred_dir, options.pred_kind,
                                                 options.images_dir)
        else:
            self.pairing = pair_dataset(options.gt_dir, options.pred_dir, options.pred_kind, options.images_dir,
                                        options.strip_suffixes)
        self.classes: ClassSpec = self._resolve_classes()
        self._label_lut = self.classes.lookup_table()

    @property
    def items(self) -> list[Item]:
        return self.pairing.items

    @property
    def names(self) -> list[str]:
        """The images' names in dataset order (kept per pairing: every slider step asks, 100,000 names cost ~6 ms)."""
        cached = self.__dict__.get("_names")
        if cached is None or cached[0] is not self.pairing:
            cached = self.__dict__["_names"] = (self.pairing, [item.name for item in self.items])
        return cached[1]

    @property
    def is_hard(self) -> bool:
        return self.options.pred_kind == "masks"

    def __len__(self) -> int:
        return len(self.items)

    def _resolve_classes(self) -> ClassSpec:
        opts = self.options
        spec = opts.classes
        if spec is None and self.volumes:     # nnU-Net's / the Decathlon's dataset.json beside labelsTr/
            from .volume_layouts import dataset_json_classes
            beside = Path(opts.gt_dir).parent / "dataset.json"
            spec = str(beside) if dataset_json_classes(beside)[0] is not None else None
        classes = resolve_classes(spec, opts.num_classes, opts.ignore_index)
        if classes is not None:
            return classes
        ignore = opts.ignore_index if opts.ignore_index is not None else DEFAULT_IGNORE_INDEX
        return generic_classes(self._infer_num_classes(ignore), ignore)

    def _infer_num_classes(self, ignore: int) -> int:
        """Without a class file: the logits' channel count, or for masks the largest label seen + 1.

        Files that cannot be read are passed over here (they are reported, by name, when the images load); when
        none can be read, the error gives the first reasons."""
        failures: list[LoadError] = []
        count = self._logit_channels(failures) if not self.is_hard else self._largest_label(ignore, failures) + 1
        if count is None or count <= 0:
            raise all_failed(self.options.pred_dir if not self.is_hard else self.options.gt_dir, failures)
        return count

    def _logit_channels(self, failures: list[LoadError]) -> int | None:
        for item in self.items:
            try:
                channels = self._declared_channels(item)
                if channels > MAX_INFERRED_CLASSES:
                    raise LoadError(item.pred, f"{channels:,} channels: more than {MAX_INFERRED_CLASSES:,} classes "
                                               "need --classes or --num-classes")
                return channels
            except LoadError as exc:
                failures.append(exc)
        return None

    def _declared_channels(self, item: Item) -> int:
        if self.volumes:
            from .volumes import prediction_volume_shape
            return prediction_volume_shape(item.pred)[0]
        return logits_shape(item.pred, self._header_budget(item))[0]

    def _label_values(self, path: Path) -> np.ndarray:
        if self.volumes:
            from .volumes import read_label_volume
            return np.unique(read_label_volume(path).labels)
        return np.unique(load_label_map(path))

    def _largest_label(self, ignore: int, failures: list[LoadError]) -> int:
        """The largest class id in any readable GT or mask; -1 when none could be read."""
        largest = -1
        for item in self.items:
            for path in (item.gt, item.pred):
                try:
                    values = self._label_values(path)
                    values = values[values != ignore]
                    if values.size and not 0 <= values[0] <= values[-1] < MAX_INFERRED_CLASSES:
                        raise LoadError(path, f"label values {values[0]}..{values[-1]}: more than "
                                              f"{MAX_INFERRED_CLASSES:,} classes need --classes or --num-classes")
                except LoadError as exc:
                    failures.append(exc)
                    continue
                largest = max(largest, int(values[-1]) if values.size else 0)
        return largest

    def _header_budget(self, item: Item) -> int:
        """Before the class count is known: the values a logit file may declare for its GT (any class count)."""
        return logits_budget(MAX_CLASSES, label_map_size(item.gt) or (1, 1))

    def load(self, index: int, with_image: bool = True, preview: bool = False) -> Sample:
        """One sample; raises LoadError naming the file for anything wrong with it (any exception while loading
        is that image's failure: the CLI, the index and the window skip it and go on). preview: a 3-D case's
        first look (volume_sample.load_volume_sample)."""
        item = self.items[index]
        current = [item.gt]   # the file being read, for the message
        try:
            if self.volumes:
                from .volume_sample import load_volume_sample
                return load_volume_sample(self, item, with_image, current, preview)
            return self._load_sample(item, with_image, current)
        except LoadError:
            raise
        except MemoryError:
            raise LoadError(current[0], "not enough memory to load this image") from None
        except Exception as exc:  # a bug or a library's surprise about this file: still only this image fails
            raise LoadError(current[0], f"cannot be loaded ({type(exc).__name__}: {plain(exc, 200)})") from None

    def _load_sample(self, item: Item, with_image: bool, current: list) -> Sample:
        classes = self.classes
        labels = load_label_map(item.gt, self._label_lut, classes.num_classes)
        check_label_values(labels, classes.num_classes, classes.ignore_index, item.gt)
        target = prepare_target(torch.from_numpy(labels).to(self.device), classes.num_classes, classes.ignore_index)
        sample = Sample(item.name, item, labels, target)
        current[0] = item.pred
        if self.is_hard:
            sample.pred_map = self._load_mask(item, labels.shape)
        else:
            sample.probs = self._load_probs(item, labels.shape)
        if with_image and item.image is not None:
            current[0] = item.image
            sample.image = load_image(item.image)
            if sample.image.shape[:2] != labels.shape:
                raise LoadError(item.image, f"image is {sample.image.shape[1]}×{sample.image.shape[0]} but its "
                                            f"ground truth {item.gt.name} is {labels.shape[1]}×{labels.shape[0]}")
        return sample

    def load_preview(self, index: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(photo, GT label map) of an image that failed to load, each None when its own file cannot be read: what
        can still be shown of it. Never raises for a file."""
        item = self.items[index]
        photo = labels = None
        try:
            labels = load_label_map(item.gt, self._label_lut, self.classes.num_classes)
        except LoadError:       # the image's failure is reported already: this is only what is left to show
            labels = None
        if item.image is not None:
            try:
                photo = load_image(item.image)
            except LoadError:
                photo = None
        return photo, labels

    def _load_probs(self, item: Item, size: tuple[int, int]) -> torch.Tensor:
        logits = load_logits(item.pred, logits_budget(self.classes.num_classes, size))
        if logits.shape[0] != self.classes.num_classes:
            raise LoadError(item.pred, f"wrong number of classes: {logits.shape[0]} channels, "
                                       f"but the classes define {self.classes.num_classes}")
        opts = self.options
        # load_logits returns a fresh copy, so the softmax may reuse its buffer (one C×H×W allocation less)
        probs = to_probabilities(logits, size, opts.activation, opts.align_corners, self.device, overwrite=True)
        if resolve_activation(opts.activation) == "none" and (reason := outside_unit_range(probs)) is not None:
            raise LoadError(item.pred, reason)
        return probs

    def _load_mask(self, item: Item, size: tuple[int, int]) -> torch.Tensor:
        mask = load_label_map(item.pred, self._label_lut)
        if mask.shape != size:
            raise LoadError(item.pred, f"mask is {mask.shape[1]}×{mask.shape[0]} but its ground truth "
                                       f"{item.gt.name} is {size[1]}×{size[0]}")
        check_label_values(mask, self.classes.num_classes, self.classes.ignore_index, item.pred)
        return hard_map_from_labels(torch.from_numpy(mask).to(self.device), self.classes.num_classes,
                                    self.classes.ignore_index)

    def iter_samples(self, on_error: Callable[[LoadError], None] | None = None, strict: bool = False,
                     with_image: bool = False) -> Iterator[tuple[int, Sample]]:
        """Streams samples in order; a bad file is reported and skipped unless strict."""
        for index in range(len(self)):
            try:
                yield index, self.load(index, with_image=with_image)
            except LoadError as exc:
                if strict:
                    raise
                if on_error is not None:
                    on_error(exc)


def restrict_to_band(sample: Sample, width: int, ignore_index: int, interior: bool = False) -> None:
    if sample.is_volume:
        sample.restrict_to_band(width, interior)
        return
    band = torch.from_numpy(boundary_band(sample.labels, width, ignore_index)).to(sample.target.labels.device)
    sample.target = restrict_target(sample.target, ~band if interior else band)


def checked_dataset(value) -> Dataset:
    if not isinstance(value, Dataset):
        raise OptionError(f"dataset {value!r}: give a segviewer Dataset (e.g. another engine's .dataset)")
    return value
