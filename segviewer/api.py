"""`segviewer.open` and `segviewer.show`: the engine for scripts and notebooks, with the CLI's words."""
from __future__ import annotations

import os
from pathlib import Path

from .core import validate
from .core.errors import OptionError
from .core.scoring import Scoring
from .core.options import DEFAULT_STRIP_SUFFIXES, DataOptions


def open(gt=None, logits=None, masks=None, images=None, classes=None, *, folder=None, ignore_index=None,
         num_classes=None, activation="auto", align_corners=True, device="auto",
         strip_suffixes=DEFAULT_STRIP_SUFFIXES, scoring=None, steps=None, compare=None, compare_masks=None,
         model=None, transform=None, session=None):
    """An Inspector over a dataset: the same engine the window and the CLI read.

    gt + (logits | masks) folders, or folder= a dataset folder (gt/, logits/ or masks/, images/, classes.json);
    model= a callable [1,3,H,W] -> [1,C,h,w] logits, run per image instead of a logits folder (needs images=).
    compare= a second prediction folder (logits or masks) for model A vs model B.
    session= the QA session whose statuses `images()` shows: a session file or a team session's postgresql:// URL
    (default: the window's session of this GT + prediction source).
    """
    from .core.inspector import Inspector
    from .core.options import layout_from_folder
    if steps is not None:
        validate.steps(steps)   # at the door, before any folder is listed
    if isinstance(strip_suffixes, str) or not isinstance(strip_suffixes, (list, tuple)):
        raise OptionError(f"strip_suffixes {strip_suffixes!r}: a list of suffixes, e.g. ['_gtFine_labelIds']")
    for name, value in (("gt", gt), ("logits", logits), ("masks", masks), ("images", images), ("folder", folder),
                        ("compare", compare), ("compare_masks", compare_masks)):
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise OptionError(f"{name}={value!r}: give a folder path")
    if compare is not None and compare_masks is not None:
        raise OptionError("give one model B: compare= (logits or masks, detected) or compare_masks=, not both")
    if scoring is not None and not isinstance(scoring, Scoring):
        raise OptionError(f"scoring {scoring!r}: give a segviewer.Scoring")
    target = None
    if session is not None:   # checked before any work: a URL never becomes a folder named 'postgresql:'
        from .core.sessions import checked_target
        target = checked_target(session)
    if folder is not None:
        layout = layout_from_folder(Path(folder), classes)
        gt, logits, masks = layout.gt, layout.logits, layout.masks
        images, classes = images or layout.images, layout.classes
    if gt is None:
        raise OptionError("give gt= (a folder of label maps) or folder= (a dataset folder)")
    common = dict(images_dir=Path(images) if images is not None else None, classes=_class_arg(classes),
                  ignore_index=ignore_index, num_classes=num_classes, activation=activation,
                  align_corners=align_corners, device=device, strip_suffixes=tuple(strip_suffixes))
    if model is not None:
        from .core.model_source import open_model_dataset
        dataset = open_model_dataset(Path(gt), model, transform=transform, **common)
    else:
        if (logits is None) == (masks is None):
            raise OptionError("give exactly one prediction source: logits= or masks= (or model=)")
        pred, kind = (logits, "logits") if logits is not None else (masks, "masks")
        from .core.dataset import Dataset
        dataset = Dataset(DataOptions(gt_dir=Path(gt), pred_dir=Path(pred), pred_kind=kind, **common))
    ins = Inspector(dataset, scoring=scoring, **({"steps": steps} if steps is not None else {}))
    ins.session = target
    if compare is not None or compare_masks is not None:
        ins.compare.attach(compare if compare is not None else compare_masks,
                           kind=None if compare is not None else "masks")
    return ins


def _class_arg(classes):
    if classes is None or isinstance(classes, (str, os.PathLike)):
        return None if classes is None else str(classes)
    raise OptionError(f"classes={classes!r}: give a preset name or a class file (.json/.toml); a class count is "
                      "num_classes=")


def show(inspector=None, block: bool | None = None, **open_kwargs):
    """The window on an Inspector (or on segviewer.open(**open_kwargs)): blocking in a script, non-blocking in
    IPython/Jupyter with a running Qt event loop (%gui qt)."""
    from .gui.show import show_inspector
    return show_inspector(inspector if inspector is not None else open(**open_kwargs), block=block)
