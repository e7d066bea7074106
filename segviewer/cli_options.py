"""Dataset options shared by every command (the same words as the window and the CSV headers)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .core.dataset import DataOptions
from .core.device import DEVICE_CHOICES
from .core.errors import LoadError
from .core.io import DEFAULT_STRIP_SUFFIXES
from .core.probs import ACTIVATIONS
from .core.scores import DEFAULT_BETA, DEFAULT_SMOOTH


def add_data_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    g = parser.add_argument_group("dataset")
    g.add_argument("--gt", type=Path, required=required, help="folder of ground-truth label maps (PNG class ids)")
    src = g.add_mutually_exclusive_group(required=required)
    src.add_argument("--logits", type=Path, help="folder of logits (.npy, .npz, .pt, .pth; C×H×W)")
    src.add_argument("--masks", type=Path, help="folder of hard label masks (PNG), e.g. a second annotator")
    g.add_argument("--images", type=Path, help="folder of images (optional)")
    g.add_argument("--classes", help="class preset (voc, cityscapes, cityscapes-labelids) or a JSON/TOML class file")
    g.add_argument("--num-classes", type=int, help="class count when there is no class file")
    g.add_argument("--ignore-index", type=int, help="label id that counts in no term (default: class file's, or 255)")
    g.add_argument("--activation", choices=ACTIVATIONS, default="softmax", help="logits to probabilities")
    g.add_argument("--no-align-corners", dest="align_corners", action="store_false",
                   help="bilinear resize of small logits without align_corners")
    g.add_argument("--strip-suffix", action="append", default=None, metavar="SUFFIX",
                   help="name suffix removed before pairing (repeatable; default: Cityscapes-style suffixes)")
    g.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="torch device (auto: CUDA, MPS, CPU)")


def add_score_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("scores")
    mode = g.add_mutually_exclusive_group()
    mode.add_argument("--threshold", type=str, default="0.5",
                      help="p > threshold counts as predicted; one value or one per class, comma-separated")
    mode.add_argument("--argmax", action="store_true", help="predicted class = argmax of the probabilities")
    g.add_argument("--beta", type=float, default=DEFAULT_BETA, help="F-beta's beta (1 = Dice)")
    g.add_argument("--smooth", type=float, default=DEFAULT_SMOOTH, help="smoothing term of F-beta and IoU")


def parse_threshold(text: str, num_classes: int):
    """'0.5' -> 0.5; '0.4,0.6,...' -> one per class."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise LoadError(None, f"--threshold {text!r}: not a number or comma-separated numbers") from None
    if any(not 0.0 <= v <= 1.0 for v in values):
        raise LoadError(None, f"--threshold {text!r}: thresholds lie in [0, 1]")
    if len(values) == 1:
        return values[0]
    if len(values) != num_classes:
        raise LoadError(None, f"--threshold lists {len(values)} values for {num_classes} classes")
    return values


def data_options_from_args(args: argparse.Namespace) -> DataOptions:
    folder = getattr(args, "dataset", None)
    gt, logits, masks, images, classes = args.gt, args.logits, args.masks, args.images, args.classes
    if folder is not None:
        gt, logits, masks, images, classes = layout_from_folder(Path(folder), classes)
    if gt is None or (logits is None and masks is None):
        raise LoadError(None, "give a dataset: --gt DIR with --logits DIR or --masks DIR, or a dataset folder")
    return DataOptions(
        gt_dir=gt, pred_dir=logits if logits is not None else masks, pred_kind="logits" if logits is not None else "masks",
        images_dir=images, classes=classes, ignore_index=args.ignore_index, num_classes=args.num_classes,
        activation=args.activation, align_corners=args.align_corners, device=args.device,
        strip_suffixes=tuple(args.strip_suffix) if args.strip_suffix else DEFAULT_STRIP_SUFFIXES)


def layout_from_folder(folder: Path, classes: str | None):
    """The demo layout: gt/, logits/ (or masks/), optional images/ and classes.json."""
    if not folder.is_dir():
        raise LoadError(folder, "dataset folder does not exist")
    gt = folder / "gt"
    if not gt.is_dir():
        raise LoadError(folder, "dataset folder has no gt/ subfolder (expected gt/, logits/ or masks/, images/)")
    logits = folder / "logits" if (folder / "logits").is_dir() else None
    masks = folder / "masks" if logits is None and (folder / "masks").is_dir() else None
    if logits is None and masks is None:
        raise LoadError(folder, "dataset folder has neither logits/ nor masks/")
    images = folder / "images" if (folder / "images").is_dir() else None
    if classes is None and (folder / "classes.json").is_file():
        classes = str(folder / "classes.json")
    return gt, logits, masks, images, classes
