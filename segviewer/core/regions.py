"""Where errors are: connected error regions, and the band around GT boundaries (scipy.ndimage)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from .counts import Target


def boundary_band(labels: np.ndarray, width: int, ignore_index: int) -> np.ndarray:
    """Pixels within `width` px (chessboard distance) of a GT edge: a labelled pixel next to a pixel of another
    label. Ignore pixels count as another label (VOC-style data outlines every object with ignore, so the object's
    edge is there), but are never edge pixels themselves (they are never scored)."""
    edge = np.zeros(labels.shape, bool)
    scored = labels != ignore_index
    for axis in (0, 1):
        a = np.swapaxes(labels, 0, axis)
        e = np.swapaxes(edge, 0, axis)
        s = np.swapaxes(scored, 0, axis)
        differs = a[1:] != a[:-1]
        e[1:] |= differs & s[1:]
        e[:-1] |= differs & s[:-1]
    if width <= 1:
        return edge
    # past the image's longest side the band covers all it ever will: a huge width costs no more than that
    width = min(int(width), max(labels.shape))
    return ndimage.binary_dilation(edge, structure=np.ones((3, 3), bool), iterations=width - 1)


def restrict_target(target: Target, keep: torch.Tensor) -> Target:
    """The same target with only `keep` pixels valid (e.g. a boundary band or its interior)."""
    valid = target.valid & keep
    labels = target.labels
    gt_count = torch.bincount(labels[valid], minlength=target.num_classes)[: target.num_classes]
    return Target(labels, valid, bool(valid.all()), gt_count, target.num_classes)


@dataclass(frozen=True)
class ErrorRegion:
    kind: str            # "missed" (FN) or "hallucinated" (FP)
    class_id: int
    area: int
    bbox: tuple[int, int, int, int]   # x0, y0, x1, y1 (exclusive)


EIGHT = np.ones((3, 3), bool)


def error_regions(error_mask: np.ndarray, class_map: np.ndarray, kind: str, min_area: int = 1) -> list[ErrorRegion]:
    """Connected components (8-connected) of one kind of error, one per class they belong to, largest first.

    One labelling of the whole mask; only a component that spans several classes is split, inside its box.
    """
    labelled, n = ndimage.label(error_mask, structure=EIGHT)
    if n == 0:
        return []
    areas = np.bincount(labelled.ravel(), minlength=n + 1)
    regions = []
    for comp, sl in enumerate(ndimage.find_objects(labelled), start=1):
        if sl is None or areas[comp] < min_area:
            continue
        inside = labelled[sl] == comp
        classes = np.flatnonzero(np.bincount(class_map[sl][inside]))  # bincount: no sort, unlike np.unique
        if len(classes) == 1:
            regions.append(ErrorRegion(kind, int(classes[0]), int(areas[comp]), _box(sl)))
        else:
            regions += _split_by_class(inside, class_map[sl], sl, kind, min_area)
    return sorted(regions, key=lambda r: -r.area)


def _split_by_class(inside: np.ndarray, class_map: np.ndarray, sl, kind: str, min_area: int) -> list[ErrorRegion]:
    """Components of one class each inside a multi-class component; each class is labelled only inside its own box."""
    by_class = np.where(inside, class_map + 1, 0)
    out = []
    for value, class_sl in enumerate(ndimage.find_objects(by_class), start=1):
        if class_sl is None:
            continue
        sub, m = ndimage.label(by_class[class_sl] == value, structure=EIGHT)
        sub_areas = np.bincount(sub.ravel(), minlength=m + 1)
        for k, sub_sl in enumerate(ndimage.find_objects(sub), start=1):
            if sub_sl is not None and sub_areas[k] >= min_area:
                box = tuple(slice(o.start + c.start + s_.start, o.start + c.start + s_.stop)
                            for o, c, s_ in zip(sl, class_sl, sub_sl))
                out.append(ErrorRegion(kind, value - 1, int(sub_areas[k]), _box(box)))
    return out


def _box(sl) -> tuple[int, int, int, int]:
    return (sl[1].start, sl[0].start, sl[1].stop, sl[0].stop)
