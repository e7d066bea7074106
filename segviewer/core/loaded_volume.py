"""One loaded 3-D case and what the engine computes on it for a Scoring: the case's counts, every slice's counts
along an axis, and its slices as loaded 2-D images (what the canvas draws, counted exactly as the case is).

A slice is a LoadedImage of its own (core.loaded), so the overlay, the legend, the readout, error regions, the
doubt map and the compare view work on it unchanged; its band (--boundary) is the case's (in-plane on each axial
slice), so a coronal or sagittal slice scores exactly the voxels the case's counts score.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .cache import BoundedCache
from .classes import ClassSpec
from .counts import Counts
from .loaded import LoadedImage
from .scoring import Scoring
from .orientation import AXIS_NAMES, Orientation, SliceView
from .volume_sample import VolumeSample, axial_band, band_of, one_thread

SLICES_KEPT = 6            # the slices around the current one (stepping back and forth is instant)
SLICE_COUNTS_KEPT = 4      # per-slice counts of a few (axis, settings)


def slice_axis(axis) -> int:
    """0 / 'axial', 1 / 'coronal', 2 / 'sagittal' -> the plane's number (each case says which array axis)."""
    from .errors import OptionError
    if isinstance(axis, str) and axis.lower() in AXIS_NAMES:
        return AXIS_NAMES.index(axis.lower())
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) and 0 <= int(axis) <= 2:
        return int(axis)
    raise OptionError(f"axis {axis!r}: use 'axial', 'coronal' or 'sagittal' (or 0, 1, 2)")


def volume_axis(dataset, axis) -> int:
    """slice_axis(axis) of a dataset of 3-D cases (OptionError for a dataset of 2-D images)."""
    from .errors import OptionError
    if not dataset.volumes:
        raise OptionError("per-slice counts need a dataset of 3-D cases (volumes); this one holds 2-D images")
    return slice_axis(axis)


def prepare_loaded(index: int, sample, classes: ClassSpec):
    """What the engine keeps of a loaded sample: a LoadedImage, or for a 3-D case a LoadedVolume."""
    return LoadedVolume(index, sample, classes) if sample.is_volume else LoadedImage.prepare(index, sample, classes)


class SliceImage(LoadedImage):
    """A slice of a case as a loaded 2-D image whose band is the case's."""
    volume: "LoadedVolume"
    axis: int
    at: int

    def overlay(self, *args, **kwargs):
        with one_thread():
            return super().overlay(*args, **kwargs)

    def counts(self, s: Scoring) -> Counts:
        with one_thread():
            return super().counts(s)

    def soft_counts(self, s: Scoring) -> Counts:
        with one_thread():
            return super().soft_counts(s)

    def band(self, width: int) -> torch.Tensor:
        # kept as LoadedImage keeps its own: a step's counts, overlay and soft counts all ask for it
        band = self._bands.get(width)
        if band is None:
            band = self.volume.band_slice(width, self.axis, self.at)
            self._bands = {width: band}
        return band

    @property
    def where(self) -> tuple[int, int]:
        """(plane, slice index) of this slice in its case."""
        return self.axis, self.at


@dataclass(eq=False)
class LoadedVolume:
    index: int
    sample: VolumeSample
    classes: ClassSpec
    _slices: BoundedCache = field(default_factory=lambda: BoundedCache(SLICES_KEPT))
    _intensities: BoundedCache = field(default_factory=lambda: BoundedCache(SLICES_KEPT))
    _slice_counts: BoundedCache = field(default_factory=lambda: BoundedCache(SLICE_COUNTS_KEPT))
    _kept: BoundedCache = field(default_factory=lambda: BoundedCache(4))      # the case's counts and soft counts
    _bands: BoundedCache = field(default_factory=lambda: BoundedCache(1))     # width -> the case's band (z, y, x)
    is_volume = True

    @property
    def name(self) -> str:
        return self.sample.name

    @property
    def hard(self) -> bool:
        return self.sample.hard

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.sample.shape

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self.sample.spacing

    # ---- the planes, named and drawn from the case's orientation ----
    @property
    def orientation(self) -> Orientation:
        return self.sample.orientation

    def view(self, plane: int) -> SliceView:
        """How the plane's slices (0 axial, 1 coronal, 2 sagittal) are taken and drawn in this case."""
        return self.sample.orientation.view(plane)

    def slices_along(self, plane: int) -> int:
        return self.shape[self.sample.orientation.axis(plane)]

    def spacing_along(self, plane: int) -> float:
        """mm between the plane's slices."""
        return float(self.spacing[self.sample.orientation.axis(plane)])

    # ---- the case ----
    def counts(self, s: Scoring) -> Counts:
        """[C] tp / fp / fn of the case over the scored voxels, on the CPU."""
        return self._kept.get_or_compute(("counts", s.count_key()), lambda: self.sample.counts(s).to("cpu"))

    def soft_counts(self, s: Scoring) -> Counts:
        band = band_of(s)
        return self._kept.get_or_compute(("soft", band), lambda: self.sample.soft(band).to("cpu"))

    def prediction(self, s: Scoring) -> torch.Tensor:
        """(z, y, x) predicted class of the case (NO_PREDICTION where none)."""
        return self.sample.prediction_map(s)

    def confusion(self, s: Scoring) -> torch.Tensor:
        return self.sample.confusion(s)

    def slice_counts(self, s: Scoring, plane: int = 0) -> Counts:
        """[S, C] counts of every slice of the plane, by their index in the file's array (they sum to the case's)."""
        axis = self.sample.orientation.axis(plane)
        return self._slice_counts.get_or_compute((axis, s.count_key()), lambda: self.sample.slice_counts(s, axis))

    # ---- one slice ----
    def slice(self, plane: int, index: int) -> SliceImage:
        """Slice `index` (in the file's array) of the plane as a loaded 2-D image, as it is drawn: rows and columns
        in the radiological convention (core.orientation); the last few are kept."""
        def make() -> SliceImage:
            with one_thread():
                sample = self.sample.slice(self.view(plane), index)
                base = LoadedImage.prepare(self.index, sample, self.classes)    # the case's dataset position
            image = SliceImage(**{k: getattr(base, k) for k in ("index", "sample", "maps", "classes")})
            image.volume, image.axis, image.at = self, plane, index
            return image
        return self._slices.get_or_compute((plane, index), make)

    def intensities(self, plane: int, index: int) -> np.ndarray | None:
        """The image's intensities on that slice as drawn (float32, e.g. Hounsfield units), None without one."""
        # the window asks for a slice's twice on arrival and again on every window/level change; a first look's
        # .nii.gz image is decompressed up to the slice on each read
        def read():
            view = self.view(plane)
            return view.apply(self.sample.image_slice(view.across, index))
        return self._intensities.get_or_compute((plane, index), read)

    def band_slice(self, width: int, plane: int, index: int) -> torch.Tensor:
        """The case's band (every axial slice's, in-plane) on one slice, as drawn."""
        from .regions import boundary_band
        ignore, view, axial = self.classes.ignore_index, self.view(plane), self.orientation.axis(0)
        if view.across == axial:
            band = boundary_band(np.take(self.sample.labels, index, axial), width, ignore)
        else:
            whole = self._bands.get_or_compute(width, lambda: axial_band(self.sample.labels, width, ignore, axial))
            band = np.take(whole, index, view.across)
        return torch.from_numpy(view.apply(band)).to(self.sample.device)
