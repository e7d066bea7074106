"""Dataset options and their vocabulary, importable without torch (the CLI's --help must stay fast)."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import LoadError, OptionError
from . import validate
from .validate import ACTIVATIONS, DEVICE_NAMES as DEVICE_CHOICES  # noqa: F401 (one vocabulary)

# Cityscapes-style names pair once these are stripped from the stem
DEFAULT_STRIP_SUFFIXES = ("_leftImg8bit", "_gtFine_labelIds", "_gtFine_labelTrainIds", "_gtFine_trainIds",
                          "_gtCoarse_labelIds", "_gtCoarse_labelTrainIds", "_logits", "_pred", "_mask", "_gt")
DEFAULT_BETA = 1.0
DEFAULT_SMOOTH = 1e-5
CACHE_DIR_NAME = ".segviewer"


@dataclass(frozen=True)
class DataOptions:
    """Everything that decides which files pair and how they turn into probabilities."""
    gt_dir: Path
    pred_dir: Path
    pred_kind: str = "logits"            # "logits" or "masks"
    images_dir: Path | None = None
    classes: str | None = None           # preset name or class file
    ignore_index: int | None = None      # overrides the class file's
    num_classes: int | None = None
    activation: str = "auto"            # see validate.ACTIVATIONS
    align_corners: bool = True
    device: str = "auto"
    strip_suffixes: tuple[str, ...] = DEFAULT_STRIP_SUFFIXES

    def __post_init__(self):
        """Checked at the door (OptionError naming the keyword), whoever builds it: the CLI, segviewer.open, ..."""
        validate.choice("pred_kind", self.pred_kind, validate.PRED_KINDS)
        validate.activation(self.activation)
        validate.device_name(self.device)
        if self.num_classes is not None:    # kept as int: 3.0 is 3 (a float breaks every range() later)
            object.__setattr__(self, "num_classes", validate.whole("num_classes", self.num_classes, 1,
                                                                   validate.MAX_CLASSES))
        if self.ignore_index is not None:
            object.__setattr__(self, "ignore_index", validate.whole("ignore_index", self.ignore_index,
                                                                    *validate.LABEL_ID_RANGE))
        validate.flag("align_corners", self.align_corners)
        if isinstance(self.strip_suffixes, str) or not isinstance(self.strip_suffixes, (tuple, list)) \
                or not all(isinstance(x, str) for x in self.strip_suffixes):
            raise OptionError(f"strip_suffixes {self.strip_suffixes!r}: a sequence of name suffixes (text)")

    def probability_key(self) -> dict:
        """Settings that change probabilities; part of every cache key (the classes' content is added by it)."""
        return {"activation": self.activation, "align_corners": self.align_corners,
                "ignore_index": self.ignore_index, "pred_kind": self.pred_kind}


@dataclass(frozen=True)
class FolderLayout:
    gt: Path
    logits: Path | None
    masks: Path | None
    images: Path | None
    classes: str | None

    def options(self, **overrides) -> DataOptions:
        return DataOptions(gt_dir=self.gt, pred_dir=self.logits or self.masks,
                           pred_kind="logits" if self.logits else "masks", images_dir=self.images,
                           classes=self.classes, **overrides)


def layout_from_folder(folder: Path, classes: str | None = None, prefer: str = "logits") -> FolderLayout:
    """The demo layout: gt/, logits/ (or masks/), optional images/ and classes.json; or a volume layout
    (nnU-Net, the Decathlon, gt/ of volumes: volume_layouts.VolumeLayout)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LoadError(folder, "dataset folder does not exist")
    from .volume_layouts import detect_volume_layout
    volumes = detect_volume_layout(folder, classes, prefer)
    if volumes is not None:
        return volumes
    if not (folder / "gt").is_dir():
        raise LoadError(folder, "dataset folder has no gt/ subfolder (expected gt/, logits/ or masks/, images/)")
    return gt_folder_layout(folder, classes, prefer)


def gt_folder_layout(folder: Path, classes: str | None = None, prefer: str = "logits") -> FolderLayout:
    """gt/ beside logits/ (or masks/), optional images/ and classes.json."""
    gt = folder / "gt"
    found = {kind: folder / kind for kind in ("logits", "masks") if (folder / kind).is_dir()}
    if not found:
        raise LoadError(folder, "dataset folder has neither logits/ nor masks/")
    kind = prefer if prefer in found else next(iter(found))
    images = folder / "images" if (folder / "images").is_dir() else None
    beside = class_file_beside(folder)
    if classes is None and beside is not None:
        classes = str(beside)
    return FolderLayout(gt, found.get("logits") if kind == "logits" else None,
                        found.get("masks") if kind == "masks" else None, images, classes)


def parse_threshold(text: str, num_classes: int, option: str = "--threshold"):
    """'0.5' -> 0.5; '0.4,0.6,...' -> one per class."""
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise OptionError(f"{option} {text!r}: not a number or comma-separated numbers") from None
    if any(not 0.0 <= v <= 1.0 for v in values):   # also refuses NaN
        raise OptionError(f"{option} {text!r}: thresholds lie in [0, 1]")
    if len(values) == 1:
        return values[0]
    if len(values) != num_classes:
        raise OptionError(f"{option} lists {len(values)} values for {num_classes} classes")
    return values


def beside_gt(gt: Path) -> tuple[Path | None, Path | None]:
    """images/ and classes.json in the GT folder's parent (the dataset-folder layout), when they are there: what
    the window picks up when they are not given (the Open dialog's empty fields, `segviewer --gt ... --masks ...`)."""
    root = Path(gt).parent
    images = root / "images" if (root / "images").is_dir() else None
    return images, class_file_beside(root)


def class_file_beside(folder: Path) -> Path | None:
    """The folder's classes.json whatever it is (a FIFO, a folder, a dangling link): the class file's reader
    refuses what is no regular file in one line, where skipping it would lose the class names without a word."""
    path = Path(folder) / "classes.json"
    return path if os.path.lexists(path) else None


def beside_dataset_folder(gt_dir: str | Path) -> Path:
    return Path(gt_dir).resolve().parent / CACHE_DIR_NAME


def writable_folder(folder: Path) -> bool:
    """Whether a file can be made in folder: a fresh, randomly named one made exclusively (a name planted in a
    shared dataset's .segviewer/, e.g. a symlink to the user's file, is never opened, let alone truncated)."""
    import tempfile
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
        return True
    except OSError:
        return False


def state_folder(gt_dir: str | Path, kind: str) -> Path:
    """.segviewer/ beside the dataset, or a per-dataset folder in the user's cache/data folder when read-only."""
    beside = beside_dataset_folder(gt_dir)
    if writable_folder(beside):
        return beside
    from platformdirs import user_cache_dir, user_data_dir
    root = user_data_dir("segviewer") if kind == "sessions" else user_cache_dir("segviewer")
    digest = hashlib.sha1(str(beside).encode()).hexdigest()[:12]
    return Path(root) / kind / digest


def default_demo_dir() -> Path:
    from platformdirs import user_cache_dir
    return Path(user_cache_dir("segviewer")) / "demo"
