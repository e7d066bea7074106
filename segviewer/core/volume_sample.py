"""One 3-D case as the engine's passes see it: a volume is one image, and its slabs are images too.

A VolumeSample holds a case's ground truth (z, y, x) and its prediction: probabilities (C, z, y, x) on the device,
or, for a case whose whole prediction does not fit the memory budget and whose file allows it (.npy or an
uncompressed .nii in (z, y, x) order), a reader of axial slabs by offset (never a memory map). Every pass reduces
it as it reduces a 2-D image, a slab of axial slices at a time: `parts()` yields each slab as an ordinary Sample
of (C, k, y, x) probabilities and its (k, y, x) target, whose counts, histograms, confusion matrices and
calibration statistics add up to the case's, so a pass holds the case plus one slab's temporaries, never a
C×z×y×x temporary. A band (--boundary K) is taken in-plane on each axial slice (named by the orientation); voxels outside it count in no
term, as ignore voxels do. `slice(view, index)` gives one slice as a 2-D Sample as the window draws it (the
case's orientation names and draws the planes: core.orientation).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Iterator

import numpy as np
import torch

from .counts import Counts, hard_map_from_labels, prepare_target
from .dataset import Sample
from .errors import LoadError, OverBudget
from .io import Item, check_label_values
from .orientation import ARRAY_ORDER, AXIS_NAMES, Orientation, SliceView
from .probs import activate, outside_unit_range, resolve_activation
from .scoring import Scoring
from .volume_metrics import SliceAxis, mask_slice_counts, slice_counts
from .volumes import Spacing, read_image_volume, read_label_volume, read_mask_volume, read_prediction_slices, \
    read_prediction_volume

SLAB_VOXELS = 1 << 21            # voxels per slab: a slab's int64 labels and masks stay in the tens of MB


def to_probabilities(values: np.ndarray, holds_probabilities: bool, activation: str, device, path: Path) -> torch.Tensor:
    """(C, ...) float32 probabilities on the device from a reader's fresh array (its buffer is reused)."""
    chosen = resolve_activation(activation, holds_probabilities)
    probs = activate(torch.from_numpy(values).to(device), chosen, in_place=True)
    if chosen == "none" and (reason := outside_unit_range(probs)) is not None:
        raise LoadError(path, reason)
    return probs


@contextmanager
def one_thread():
    """torch on one thread in this thread while a slice or a slab is worked on: too small for a second thread to
    pay, and on a busy machine its OpenMP region waits for a core another process holds (measured at a load of 5
    on 2 cores: one 5-class 512×512 slice's overlay and counts 21 ms on 2 threads, 5 ms on 1; a 64×192×192 case's
    soft counts 70-180 ms against 35-70 ms). torch keeps the thread count per thread: the others keep theirs."""
    n = torch.get_num_threads()
    if n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@dataclass
class SlabSource:
    """A prediction too large to hold whole, read a slab of axial slices at a time by offset."""
    path: Path
    gt_shape: tuple[int, int, int]
    num_classes: int
    activation: str
    device: torch.device

    def read(self, start: int, stop: int) -> torch.Tensor:
        volume = read_prediction_slices(self.path, self.gt_shape, self.num_classes, start, stop)
        return to_probabilities(volume.values, volume.kind == "probabilities", self.activation, self.device,
                                self.path)


def slab_source(path: Path, gt_shape: tuple[int, int, int], num_classes: int, activation: str,
                device, gt_orientation=None) -> SlabSource | None:
    """A reader of the prediction's axial slabs by offset, when its file allows one (uncompressed, (z, y, x))."""
    from .volume_files import read_header
    from .volumes import check_orientation, spatial_order
    header = read_header(path)
    check_orientation(header, gt_orientation)
    if not header.seekable or spatial_order(header.path, header.shape[-3:], gt_shape, "prediction") != "zyx":
        return None
    return SlabSource(Path(path), gt_shape, num_classes, activation, torch.device(device))


def read_probabilities(path: Path, gt_shape: tuple[int, int, int], num_classes: int, activation: str,
                       device, gt_orientation=None) -> tuple[torch.Tensor | None, SlabSource | None]:
    """The whole prediction as probabilities, or, when it does not fit the memory budget but its file can be
    read by offset, a SlabSource (the budget's LoadError stands for any other file)."""
    try:
        volume = read_prediction_volume(path, gt_shape, num_classes, gt_orientation)
    except OverBudget:
        source = slab_source(path, gt_shape, num_classes, activation, device, gt_orientation)
        if source is None:
            raise
        return None, source
    return to_probabilities(volume.values, volume.kind == "probabilities", activation, device, volume.path), None


@dataclass(eq=False)
class VolumeSample:
    name: str
    item: Item
    labels: np.ndarray                    # (z, y, x) class ids, ignore id kept (a narrow integer type)
    spacing: Spacing                      # mm along (z, y, x)
    num_classes: int
    ignore_index: int
    device: torch.device
    probs: torch.Tensor | None = None     # (C, z, y, x) float32 probabilities (None: read from `source`)
    source: SlabSource | None = None
    pred_labels: np.ndarray | None = None  # (z, y, x) a hard mask's class ids
    image: np.ndarray | None = None       # (z, y, x) float32 intensities (Hounsfield units for CT)
    image_slices: object = None           # a first look's reader of the image's axial slices (start, stop)
    preview: bool = False                 # a first look: read a slice at a time where the files allow
    orientation: Orientation = ARRAY_ORDER  # where (z, y, x) point in the patient: names and draws the planes
    _band: tuple[int, bool] = (0, False)
    _scored: tuple | None = field(default=None, repr=False)      # (band, its scored labels)
    is_volume: ClassVar[bool] = True

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.labels.shape  # type: ignore[return-value]

    @property
    def hard(self) -> bool:
        return self.pred_labels is not None

    # ---- which voxels are scored ----
    def restrict_to_band(self, width: int, interior: bool = False) -> None:
        """Scores only the voxels within `width` px of a GT boundary in their axial slice (interior: beyond it),
        where no Scoring says otherwise (soft(), parts(): what a pass reduces after restricting it)."""
        self._band = (int(width), bool(interior) if width else False)

    def scored_labels(self, band: tuple[int, bool] | None = None) -> np.ndarray:
        """The labels with every voxel outside the band (width, interior) set to the ignore id (the labels
        themselves without one). Each band is made once (a window's threads may ask for two at a time)."""
        width, interior = self._band if band is None else band
        if not width:
            return self.labels
        kept = self._scored
        if kept is None or kept[0] != (width, interior):
            keep = axial_band(self.labels, width, self.ignore_index, self.orientation.axis(0))
            if interior:
                keep = ~keep
            dtype = np.result_type(self.labels.dtype, np.min_scalar_type(self.ignore_index))
            kept = ((width, interior), np.where(keep, self.labels, np.asarray(self.ignore_index, dtype)))
            self._scored = kept
        return kept[1]

    # ---- slabs ----
    def slab_bounds(self) -> list[tuple[int, int]]:
        z, y, x = self.shape
        step = max(1, SLAB_VOXELS // max(1, y * x))
        return [(start, min(z, start + step)) for start in range(0, z, step)]

    def _slab_probs(self, start: int, stop: int) -> torch.Tensor:
        # a slab of a C-contiguous (C, z, y, x) tensor is a view whose (k, y, x) part is contiguous: reshape(C, -1)
        # stays a view, so no pass copies it
        return self.probs[:, start:stop] if self.probs is not None else self.source.read(start, stop)

    def part(self, start: int, stop: int, band: tuple[int, bool] | None = None) -> Sample:
        """Axial slices start..stop-1 as an ordinary Sample (labels restricted to the band, if one is set)."""
        labels = self.scored_labels(band)[start:stop]
        target = prepare_target(torch.from_numpy(labels).to(self.device), self.num_classes, self.ignore_index)
        sample = Sample(self.name, self.item, labels, target)
        if self.hard:
            sample.pred_map = self._mask_map(self.pred_labels[start:stop])
        else:
            sample.probs = self._slab_probs(start, stop)
        return sample

    def parts(self, band: tuple[int, bool] | None = None) -> Iterator[Sample]:
        for start, stop in self.slab_bounds():
            yield self.part(start, stop, band)

    def _mask_map(self, labels: np.ndarray) -> torch.Tensor:
        return hard_map_from_labels(torch.from_numpy(np.ascontiguousarray(labels)).to(self.device),
                                    self.num_classes, self.ignore_index)

    # ---- what the passes reduce ----
    def slice_counts(self, scoring: Scoring, axis: SliceAxis = 0) -> Counts:
        """[S, C] tp / fp / fn of every slice along axis (0 axial, 1 coronal, 2 sagittal) over the scored voxels."""
        rows, scored = [], self.scored_labels(band_of(scoring))
        for start, stop in self.slab_bounds():
            labels = torch.from_numpy(scored[start:stop]).to(self.device)
            if self.hard:
                pred = torch.from_numpy(self.pred_labels[start:stop]).to(self.device)
                rows.append(mask_slice_counts(pred, labels, self.num_classes, self.ignore_index, axis))
            else:
                rows.append(slice_counts(self._slab_probs(start, stop), labels, self.num_classes, self.ignore_index,
                                         scoring.effective_threshold(), scoring.argmax, axis))
        if axis == 0:
            return Counts(*(torch.cat([getattr(r, k) for r in rows]) for k in ("tp", "fp", "fn")))
        return _sum(rows)

    def counts(self, scoring: Scoring) -> Counts:
        """[C] counts of the case: the sum of its axial slices' (each a 2-D image's count)."""
        per_slice = self.slice_counts(scoring, 0)
        return Counts(per_slice.tp.sum(0), per_slice.fp.sum(0), per_slice.fn.sum(0))

    def soft(self, band: tuple[int, bool] | None = None) -> Counts:
        with one_thread():
            return _sum([part.soft() for part in self.parts(band)])

    def confusion(self, scoring: Scoring) -> torch.Tensor:
        return sum((part.confusion(scoring) for part in self.parts(band_of(scoring))),
                   start=torch.zeros((), dtype=torch.int64))

    def prediction_map(self, scoring: Scoring) -> torch.Tensor:
        """(z, y, x) predicted class, NO_PREDICTION (-1) where a threshold predicts nothing; int16 (int32 for more
        than 32,767 classes): a whole case's map in int64 would be twice its int32 probabilities at 2 classes."""
        dtype = torch.int16 if self.num_classes < 2**15 else torch.int32
        return torch.cat([part.prediction_map(scoring).to(dtype) for part in self.parts()])

    # ---- one slice, for the canvas ----
    def slice(self, view: SliceView, index: int) -> Sample:
        """Slice `index` across view.across as a 2-D Sample drawn as the view says (transposed and flipped for
        display only: its counts are the array slice's); its labels unrestricted (the engine's slice view applies
        the band)."""
        axis = view.across
        if not 0 <= index < self.shape[axis]:
            from .errors import OptionError
            raise OptionError(f"slice {index}: the case has {self.shape[axis]} {AXIS_NAMES[view.plane]} slices "
                              f"(0..{self.shape[axis] - 1})")
        labels = view.apply(np.take(self.labels, index, axis=axis)).astype(np.int64)
        target = prepare_target(torch.from_numpy(labels).to(self.device), self.num_classes, self.ignore_index)
        sample = Sample(self.name, self.item, labels, target)
        if self.hard:
            sample.pred_map = self._mask_map(view.apply(np.take(self.pred_labels, index, axis=axis)))
        else:
            sample.probs = view.apply(self._probs_slice(axis, index))
        return sample

    def _probs_slice(self, axis: int, index: int) -> torch.Tensor:
        if self.probs is not None:
            return self.probs.select(axis + 1, index).contiguous()
        if axis == 0:
            return self.source.read(index, index + 1)[:, 0].contiguous()
        # a coronal or sagittal slice of a case read by offsets: a slab at a time, each kept only for its rows
        return torch.cat([self.source.read(start, stop).select(axis + 1, index)
                          for start, stop in self.slab_bounds()], dim=1).contiguous()

    def image_slice(self, axis: SliceAxis, index: int) -> np.ndarray | None:
        if self.image is not None:
            return np.ascontiguousarray(np.take(self.image, index, axis=axis))
        if self.image_slices is not None and axis == 0:        # a first look: one axial slice of the file
            values = self.image_slices(index, index + 1)
            return None if values is None else values[0]
        return None


def axial_band(labels: np.ndarray, width: int, ignore_index: int, axis: int) -> np.ndarray:
    """The boundary band of every axial slice (across array axis `axis`), in-plane, as a (z, y, x) mask."""
    from .regions import boundary_band
    planes = np.moveaxis(labels, axis, 0)
    return np.moveaxis(np.stack([boundary_band(plane, width, ignore_index) for plane in planes]), 0, axis)


def band_of(scoring: Scoring) -> tuple[int, bool]:
    return (scoring.boundary, scoring.interior if scoring.boundary else False)


def _sum(rows: list[Counts]) -> Counts:
    total = rows[0]
    for r in rows[1:]:
        total = total + r
    return total


# ---- reading a case ----
def load_volume_sample(dataset, item: Item, with_image: bool, current: list, preview: bool = False) -> VolumeSample:
    """A case of a volume dataset (Dataset.load's volume half); `current[0]` names the file being read.
    preview: a first look, whose prediction and image are read a slice at a time where their files allow (the
    ground truth is read whole: the window opens at the slice with the most of it). A pass (with_image False)
    reads the prediction a slab at a time too where it can: it holds one slab of it, never the whole case."""
    classes = dataset.classes
    c, ignore = classes.num_classes, classes.ignore_index
    gt = read_label_volume(item.gt)
    labels = mapped_labels(gt.labels, dataset._label_lut, item.gt)
    check_label_values(labels, c, ignore, item.gt)
    sample = VolumeSample(item.name, item, labels, gt.spacing, c, ignore, dataset.device, orientation=gt.orientation)
    current[0] = item.pred
    if dataset.is_hard:
        mask = mapped_labels(read_mask_volume(item.pred, labels.shape, gt.orientation), dataset._label_lut, item.pred)
        check_label_values(mask, c, ignore, item.pred)
        sample.pred_labels = mask
    else:
        activation = dataset.options.activation
        if preview or not with_image:
            sample.source = slab_source(item.pred, labels.shape, c, activation, dataset.device, gt.orientation)
        if sample.source is None:
            sample.probs, sample.source = read_probabilities(item.pred, labels.shape, c, activation, dataset.device,
                                                             gt.orientation)
    if with_image and item.image is not None:
        current[0] = item.image
        if preview:
            from functools import partial
            from .volumes import read_image_slices
            # its header, spacing and orientation checked now
            read_image_slices(item.image, labels.shape, gt.spacing, 0, 1, gt_orientation=gt.orientation)
            sample.image_slices = partial(read_image_slices, item.image, labels.shape, gt.spacing,
                                          gt_orientation=gt.orientation)
        else:
            sample.image = read_image_volume(item.image, labels.shape, gt.spacing,
                                             gt_orientation=gt.orientation).values
    sample.preview = preview
    return sample


def mapped_labels(labels: np.ndarray, lut: np.ndarray | None, path: Path) -> np.ndarray:
    """Raw label values through a class file's label_map (in a narrow type), else as they are."""
    if lut is None:
        return labels
    if labels.size and (labels.min() < 0 or labels.max() >= len(lut)):
        raise LoadError(path, "label values outside the label map's range")
    mapped = lut[labels]
    return mapped.astype(np.result_type(np.min_scalar_type(int(lut.min())), np.min_scalar_type(int(lut.max()))))
