"""`ins.slices`: the slices of a volume dataset's cases — one slice as a loaded 2-D image (what the canvas draws),
every slice's counts and scores across an axis, and a case's worst slices. A slice is counted as the case is
(its counts along an axis sum to the case's)."""
from __future__ import annotations

import numpy as np

from ..counts import Counts
from ..errors import LoadError, OptionError
from ..loaded_volume import LoadedVolume, SliceImage, slice_axis
from ..volumes import plane_axis
from .base import Part, refuse_after_close


@refuse_after_close
class Slices(Part):
    def volume(self, case) -> LoadedVolume:
        """The loaded case (OptionError for a 2-D dataset's image)."""
        loaded = self.engine.load(case)
        if not getattr(loaded, "is_volume", False):
            raise OptionError(f"{loaded.name} is a 2-D image: slices are a volume's (a dataset of 3-D cases)")
        return loaded

    def preview(self, case, plane: int | None = None) -> LoadedVolume:
        """A first look at a case: its ground truth, and its prediction and image a slice at a time where the
        files allow (.npy / .nii by offset; a .nii.gz image decompressed up to the slice): the window shows a
        slice at once and reads the whole case meanwhile (engine.load). The loaded case when there is one.
        plane: the one shown first; a case whose slices of it do not lie across the file's first axis (a
        sagittal-first MRI shown axially) is read whole at once: a slice of it needs every slab of the file."""
        engine = self.engine
        i = engine.position(case)
        found = engine._loaded.get(i)
        if found is not None or not engine.dataset.volumes:
            return found if found is not None else engine.load(i)
        try:
            if plane is not None and plane_axis(engine.dataset.items[i].gt, plane) != 0:
                return engine.load(i)
            sample = engine.dataset.load(i, preview=True)
        except LoadError as exc:
            engine.failures.record_at(i, str(exc))
            raise
        return LoadedVolume(i, sample, engine.classes)

    def image(self, case, axis="axial", index: int = 0) -> SliceImage:
        """One slice as a loaded 2-D image: overlay(), counts(), prediction() ... as for any image."""
        return self.volume(case).slice(slice_axis(axis), int(index))

    def counts(self, case, axis="axial", scoring=None) -> Counts:
        """[S, C] tp / fp / fn of every slice across the axis, at the engine's settings (or the given Scoring)."""
        return self.volume(case).slice_counts(self.engine.effective(scoring), slice_axis(axis))

    def scores(self, case, axis="axial", scoring=None):
        """A row per slice and class: slice, position_mm, class_id, class_name, tp, fp, fn, precision, recall,
        fbeta, dice, iou (a class in neither the slice's GT nor its prediction: NaN scores)."""
        from ..tables import slices_frame
        loaded, a = self.volume(case), slice_axis(axis)
        s = self.engine.effective(scoring)
        return slices_frame(self.engine.classes.names, loaded.slice_counts(s, a), s, loaded.spacing_along(a))

    def worst(self, case, axis="axial", class_id: int | None = None, scoring=None) -> np.ndarray:
        """Slice indices across the axis, worst first, by the class's F-beta or (None) the mean over the classes
        present in each slice; slices where it (every class) is absent are left out."""
        from ..volume_metrics import worst_slices
        s = self.engine.effective(scoring)
        if class_id is not None and not 0 <= int(class_id) < self.engine.classes.num_classes:
            raise OptionError(f"class {class_id}: no such class")
        counts = self.counts(case, axis, s)
        return worst_slices(counts, s.beta, s.smooth, class_id).numpy()
