"""Options shared by every command (the same words as the window and the CSV headers); no torch at import."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..core.errors import OptionError
from ..core.options import (ACTIVATIONS, DEFAULT_BETA, DEFAULT_SMOOTH, DEFAULT_STRIP_SUFFIXES, DEVICE_CHOICES,
                            DataOptions, layout_from_folder, parse_threshold)  # noqa: F401

from ..core.validate import LABEL_ID_RANGE, MAX_BETA, MAX_CLASSES, MAX_SMOOTH, MAX_STEPS  # noqa: F401


# argparse types of every path option: each says what the command does with the path, so a test can walk every
# option a command writes through the output gate (tests/hostile/test_output_gate.py); plain `type=Path` is refused
def input_path(text: str) -> Path:
    """A file or folder the command reads."""
    return Path(text)


def output_file(text: str) -> str:
    """A file the command writes (through core.outputs' gate). Kept as text: a Path would drop the trailing '/' by
    which the gate tells that `--out results/` names a folder."""
    return text


def output_folder(text: str) -> Path:
    """A folder the command writes files into (each file through core.outputs' gate)."""
    return Path(text)


def session_file(text: str) -> str:
    """A QA session: a file, read and written in place by SQLite (its companions are off limits to every output), or
    a team session's postgresql:// URL. Kept as text: a Path would fold a URL's '//' into a folder name."""
    return text


PATH_TYPES = (input_path, output_file, output_folder, session_file)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows a default only where there is one worth showing."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


def number(kind, low=None, high=None, low_open=False, what="a number"):
    """An argparse type: kind(text) within [low, high] (low excluded when low_open), finite."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if low is not None and (value <= low if low_open else value < low):
            raise argparse.ArgumentTypeError(f"{text} must be {'greater than' if low_open else 'at least'} {low}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{text} must be at most {high}")
        return value
    return parse


positive_float = number(float, 0.0, low_open=True)
non_negative_float = number(float, 0.0)
beta_value = number(float, 0.0, MAX_BETA, low_open=True)      # the bounds of core.validate, as argparse types
smooth_value = number(float, 0.0, MAX_SMOOTH)
positive_int = number(int, 1, what="a whole number")


DATASET_HELP = ("a dataset folder: gt/ with logits/ (or masks/) and images/, of PNG label maps or of volumes; or "
                "nnU-Net's / the Decathlon's labelsTr/ (labelsTs/), imagesTr/ and a predictions folder")


def add_data_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """required: a command that needs a dataset, given as a folder (positional) or as --gt with --logits/--masks."""
    if required:
        parser.add_argument("dataset", nargs="?", help=DATASET_HELP)
    g = parser.add_argument_group("dataset")
    g.add_argument("--gt", type=input_path,
                   help="folder of ground-truth label maps (PNG class ids) or label volumes (.nii.gz, .nii, .nrrd, .npy)")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--logits", type=input_path,
                     help="folder of logits or probabilities (.npy, .npz, .pt, .pth; C×H×W, volumes C×z×y×x)")
    src.add_argument("--masks", type=input_path,
                     help="folder of hard label masks (PNG, or volumes), e.g. a second annotator")
    g.add_argument("--images", type=input_path, help="folder of images (optional)")
    g.add_argument("--classes", help="class preset (voc, cityscapes, cityscapes-labelids) or a JSON/TOML class file")
    g.add_argument("--num-classes", type=number(int, 1, MAX_CLASSES, what="a whole number"),
                   help="class count when there is no class file")
    g.add_argument("--ignore-index", type=number(int, *LABEL_ID_RANGE, what="a whole number"),
                   help="label id that counts in no term (default: the class file's, or 255)")
    g.add_argument("--activation", choices=ACTIVATIONS, default="auto",
                   help="logits to probabilities; auto: softmax, except none on an array that holds probabilities "
                        "(an nnU-Net .npz member named 'probabilities')")
    g.add_argument("--no-align-corners", dest="align_corners", action="store_false",
                   help="bilinear resize of small logits without align_corners")
    g.add_argument("--strip-suffix", action="append", default=None, metavar="SUFFIX",
                   help="name suffix removed before pairing (repeatable; default: Cityscapes-style suffixes)")
    g.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="torch device (auto: CUDA, MPS, CPU)")
    g.add_argument("--memory-budget", metavar="SIZE",
                   help="memory one image and the run's state may take, e.g. 6G (default: an eighth of this machine's "
                        "memory, or $SEGVIEWER_MEMORY_BUDGET); larger files and settings are refused before decoding")


def add_score_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("scores")
    mode = g.add_mutually_exclusive_group()
    mode.add_argument("--threshold", type=str, default="0.5",
                      help="p > threshold counts as predicted; one value or one per class, comma-separated")
    mode.add_argument("--argmax", action="store_true", help="predicted class = argmax of the probabilities")
    g.add_argument("--beta", type=beta_value, default=DEFAULT_BETA, help=f"F-beta's beta, > 0 and <= {MAX_BETA:g} (1 = Dice)")
    g.add_argument("--smooth", type=smooth_value, default=DEFAULT_SMOOTH,
                   help=f"smoothing term of F-beta and IoU, >= 0 and <= {MAX_SMOOTH:g}")


def data_options_from_args(args: argparse.Namespace) -> DataOptions:
    folder = getattr(args, "dataset", None)
    gt, logits, masks, images, classes = args.gt, args.logits, args.masks, args.images, args.classes
    if folder is not None:
        layout = layout_from_folder(Path(folder), classes, prefer="masks" if masks else "logits")
        gt, logits, masks, images, classes = (layout.gt, layout.logits, layout.masks, layout.images or images,
                                              layout.classes)
    if gt is None or (logits is None and masks is None):
        raise OptionError("give a dataset: --gt DIR with --logits DIR or --masks DIR, or a dataset folder")
    return DataOptions(
        gt_dir=gt, pred_dir=logits if logits is not None else masks, pred_kind="logits" if logits is not None else "masks",
        images_dir=images, classes=classes, ignore_index=args.ignore_index, num_classes=args.num_classes,
        activation=args.activation, align_corners=args.align_corners, device=args.device,
        strip_suffixes=tuple(args.strip_suffix) if args.strip_suffix else DEFAULT_STRIP_SUFFIXES)


def add_pass_options(parser: argparse.ArgumentParser) -> None:
    """How every command runs its passes over the dataset: --strict, and where (--workers / --scheduler)."""
    parser.add_argument("--strict", action="store_true", help="the first bad file is fatal")
    g = parser.add_argument_group('on a Dask cluster (optional: pip install "segviewer[dask]")')
    where = g.add_mutually_exclusive_group()
    where.add_argument("--workers", type=number(int, 1, 4096, what="a whole number"), metavar="N",
                       help="run on a local Dask cluster of N single-threaded worker processes")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on a running Dask scheduler (e.g. tcp://host:8786) whose workers see the same files")


def cluster_from_args(args: argparse.Namespace):
    """A core.distributed.Cluster for --workers / --scheduler, or None: today's single process."""
    workers, scheduler = getattr(args, "workers", None), getattr(args, "scheduler", None)
    if workers is None and scheduler is None:
        return None
    from ..core.distributed import Cluster
    return Cluster(workers, scheduler)


def two_sizes(text: str, form: str, example: str, lows: tuple[int, int], high: int) -> tuple[int, int]:
    """'AxB' -> (A, B), whole numbers within lows[i]..high, for an argparse type."""
    try:
        a, b = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {form} (e.g. {example})") from None
    if not (lows[0] <= a <= high and lows[1] <= b <= high):
        raise argparse.ArgumentTypeError(f"{text!r}: {form} lies in {lows[0]}x{lows[1]}..{high}x{high}")
    return a, b


def input_size(text: str) -> tuple[int, int]:
    """An argparse type: 'HxW' -> (H, W), both whole numbers >= 1."""
    return two_sizes(text, "HxW", "512x1024", (1, 1), 65_535)


def window_size(text: str) -> tuple[int, int]:
    """An argparse type: 'WxH' -> (W, H), the window's size in pixels (at least its minimum, 800x560)."""
    return two_sizes(text, "WxH", "1024x700", (800, 560), 16_384)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model as a third prediction source beside --logits / --masks (call after add_data_options)."""
    # argparse has no public handle on a group once made; this one holds --logits
    sources = next(g for g in parser._mutually_exclusive_groups if any(a.dest == "logits" for a in g._group_actions))
    sources.add_argument("--model", type=input_path, help="run this model on --images instead of reading logits: "
                         "TorchScript (.pt/.ts, torch.jit.load: it runs the code it contains) or .onnx "
                         '(pip install "segviewer[onnx]"); its logits are cached as float16 under .segviewer/')
    g = parser.add_argument_group("model (with --model)")
    g.add_argument("--normalize", choices=("imagenet", "none"), default="imagenet",
                   help="input normalisation: RGB in [0, 1], minus the ImageNet mean, over its std; or none")
    g.add_argument("--input-size", type=input_size, metavar="HxW",
                   help="resize each image to HxW before the model (default: as it is)")
