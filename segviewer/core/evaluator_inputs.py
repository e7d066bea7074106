"""What the Evaluator accepts: the classes (a count, names, a preset, a class file, a ClassSpec), the device and
each batch (shapes, dtypes, label ids); anything else is an OptionError saying what was given."""
from __future__ import annotations

import os

import numpy as np
import torch

from .classes import DEFAULT_IGNORE_INDEX, ClassSpec, generic_classes, parse_class_document, resolve_classes
from .device import resolve_device
from .errors import LoadError, OptionError
from .io import MAX_CLASSES


def resolve_classes_arg(classes, num_classes, ignore_index) -> ClassSpec | None:
    if isinstance(classes, ClassSpec):
        return classes.with_ignore_index(ignore_index)
    if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool):
        return counted_classes(int(classes), num_classes, ignore_index)
    if isinstance(classes, (list, tuple)):
        return named_classes(classes, ignore_index)
    if classes is not None and not isinstance(classes, (str, os.PathLike)):
        raise OptionError(f"classes={classes!r}: give a class count, a list of names, a preset or a class file")
    return resolve_classes(None if classes is None else str(classes), num_classes, ignore_index)


def counted_classes(count: int, num_classes: int | None, ignore_index: int | None) -> ClassSpec:
    if not 1 <= count <= MAX_CLASSES:
        raise OptionError(f"classes={count}: a class count from 1 to {MAX_CLASSES:,}")
    if num_classes is not None and num_classes != count:
        raise OptionError(f"classes={count} and num_classes={num_classes} disagree")
    return generic_classes(count, ignore_index if ignore_index is not None else DEFAULT_IGNORE_INDEX)


def named_classes(names, ignore_index: int | None) -> ClassSpec:
    """Class names as a class file lists them (the same checks); colours picked as for generic classes."""
    try:
        return parse_class_document({"names": list(names)}, "classes=").with_ignore_index(ignore_index)
    except LoadError as exc:
        raise OptionError(f"classes=: {exc.reason}") from None


def checked_class_keywords(num_classes, ignore_index) -> tuple[int | None, int | None]:
    """num_classes and ignore_index as whole numbers within their bounds (as segviewer.open checks them)."""
    from . import validate
    if num_classes is not None:
        num_classes = validate.whole("num_classes", num_classes, 1, validate.MAX_CLASSES)
    if ignore_index is not None:
        ignore_index = validate.whole("ignore_index", ignore_index, *validate.LABEL_ID_RANGE)
    return num_classes, ignore_index


def folder_arg(name: str, value):
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise OptionError(f"{name}={value!r}: give a folder path")
    from pathlib import Path
    return Path(value)


def check_logit_values(logits: torch.Tensor, names: list[str]) -> None:
    """Every image's logits finite as float32, where they are computed (a float64 1e300 is finite, but inf once
    converted: its softmax would be NaN and score nothing, without a word)."""
    from .io import all_finite
    largest = torch.finfo(torch.float32).max
    for i in range(logits.shape[0]):
        if not all_finite(logits[i]):
            raise OptionError(f"image {names[i]!r}: logits contain NaN or Inf values; nothing of this batch was "
                              "counted")
        if logits.dtype == torch.float64 and float(logits[i].abs().max()) > largest:
            raise OptionError(f"image {names[i]!r}: logits reach {float(logits[i].abs().max()):.3g}, beyond "
                              "float32's range (±3.4e38) in which segviewer computes; nothing of this batch was "
                              "counted")


def resolve_device_arg(device) -> torch.device | None:
    return None if device is None else resolve_device(device)


def batch_shapes(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(logits, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise OptionError("update(logits, target): both must be torch tensors")
    logits, target = logits.detach(), target.detach()
    if logits.ndim == 3 and target.ndim == 2:   # one image
        logits, target = logits[None], target[None]
    volumes = logits.ndim == 5 and target.ndim == 4
    if not (volumes or logits.ndim == 4 and target.ndim == 3) or logits.shape[0] != target.shape[0]:
        raise OptionError(f"update(): logits must be [N,C,h,w] and target [N,H,W] (volumes: [N,C,D,H,W] and "
                          f"[N,D,H,W]), got {tuple(logits.shape)} and {tuple(target.shape)}")
    if volumes and logits.shape[2:] != target.shape[1:]:   # no 3-D resize: a model's volume is at its GT's size
        raise OptionError(f"update(): volume logits {tuple(logits.shape)} and target {tuple(target.shape)} differ "
                          "in size (D, H, W); volumes are not resized, resample the logits to the target first")
    if logits.shape[0] and (0 in logits.shape[1:] or 0 in target.shape[1:]):
        raise OptionError(f"update(): logits {tuple(logits.shape)} and target {tuple(target.shape)} must have at "
                          "least one class and one pixel")
    if not logits.is_floating_point():
        raise OptionError(f"logits must be floating point, got {logits.dtype}")
    if target.is_floating_point() or target.dtype == torch.bool:
        raise OptionError(f"target must hold integer class ids, got {target.dtype}")
    return logits, target


def map_labels(target: torch.Tensor, classes: ClassSpec) -> torch.Tensor:
    """Raw label ids through the class file's label_map (as the dataset loader does), else as they are."""
    target = target.long()
    table = classes.lookup_table()
    if table is None:
        return target
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= len(table)):
        raise OptionError("target values outside the label map's range")
    return torch.from_numpy(table).to(target.device)[target]


def check_target(target: torch.Tensor, classes: ClassSpec) -> None:
    c, ignore = classes.num_classes, classes.ignore_index
    lo, hi = torch.aminmax(torch.where(target == ignore, 0, target))
    if int(lo) >= 0 and int(hi) < c:
        return
    bad = ((target < 0) | (target >= c)) & (target != ignore)
    values = torch.unique(target[bad])[:5].tolist()
    raise OptionError(f"target values {values} are not class ids 0..{c - 1} nor the ignore id {ignore}")
