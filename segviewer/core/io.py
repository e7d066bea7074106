"""Find and pair dataset files; load images, logits and label maps safely (no unpickling, ever)."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from . import budgets, reads
from .errors import LoadError, plain
from .options import CACHE_DIR_NAME
from .logit_files import DEFAULT_MAX_ELEMENTS, MAX_CLASSES, all_finite, logits_budget, read_logit_array  # noqa: F401

LOGIT_EXTS = (".npy", ".npz", ".pt", ".pth")
LABEL_EXTS = (".png",)
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
from .options import DEFAULT_STRIP_SUFFIXES  # noqa: F401
LABEL_MODES = ("L", "P", "I;16", "I;16B", "I;16L", "I")
PILLOW_FORMATS = ("PNG", "JPEG", "TIFF", "BMP", "WEBP")


class Item:
    """One image's files. Paths given as text become Paths when first asked for: listing 100,000 images makes
    200,000 of them (~0.5-1 s), most never used in a session; `text(field)` is the path as text without that."""
    __slots__ = ("name", "_gt", "_pred", "_image")

    def __init__(self, name: str, gt: Path | str, pred: Path | str, image: Path | str | None = None):
        self.name, self._gt, self._pred, self._image = name, gt, pred, image

    def _path(self, slot: str) -> Path | None:
        value = getattr(self, slot)
        if isinstance(value, str):
            value = Path(value)
            setattr(self, slot, value)
        return value

    gt = property(lambda self: self._path("_gt"))
    pred = property(lambda self: self._path("_pred"))
    image = property(lambda self: self._path("_image"))

    def text(self, field: str) -> str | None:
        value = getattr(self, "_" + field)
        return None if value is None else str(value)

    def replace(self, **changes) -> "Item":
        fields = {"name": self.name, "gt": self._gt, "pred": self._pred, "image": self._image, **changes}
        return Item(**fields)

    def _fields(self) -> tuple:
        return self.name, self.gt, self.pred, self.image

    def __eq__(self, other) -> bool:
        return isinstance(other, Item) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return f"Item(name={self.name!r}, gt={self.gt!r}, pred={self.pred!r}, image={self.image!r})"


@dataclass
class Pairing:
    items: list[Item]
    unpaired: dict[str, list[str]] = field(default_factory=dict)   # source -> names without a partner
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # source -> names found twice

    def problems(self, limit: int = 5) -> list[str]:
        lines = []
        for label, table in (("without a partner", self.unpaired), ("found more than once", self.duplicates)):
            for source, names in table.items():
                if names:
                    shown = ", ".join(names[:limit]) + (" ..." if len(names) > limit else "")
                    lines.append(f"{len(names)} {source} file(s) {label}: {shown}")
        return lines


def _split_suffix(name: str) -> tuple[str, str]:
    """(stem, suffix) as pathlib splits a file name (a name's leading or trailing dot starts no suffix)."""
    i = name.rfind(".")
    return (name[:i], name[i:]) if 0 < i < len(name) - 1 else (name, "")


def pair_key(path: Path | str, strip_suffixes: tuple[str, ...]) -> str:
    stem = _split_suffix(path if isinstance(path, str) else path.name)[0]
    if not stem.endswith(tuple(strip_suffixes)):
        return stem
    for suffix in strip_suffixes:
        if suffix and stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def _files_under(root: str) -> list[os.DirEntry]:
    """Every entry under root that is not a folder (any order), skipping .segviewer/ and not entering linked folders
    (as Path.rglob does): one listing per folder, no stat or Path per file."""
    out, folders = [], [root]
    while folders:
        try:
            with os.scandir(folders.pop()) as listing:
                entries = list(listing)
        except PermissionError:
            continue
        for entry in entries:
            try:
                is_folder = entry.is_dir() and not entry.is_symlink()
            except OSError:
                is_folder = False
            if not is_folder:
                out.append(entry)
            elif entry.name != CACHE_DIR_NAME:
                folders.append(entry.path)
    return out


def find_files(root: Path, exts: tuple[str, ...], strip_suffixes: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """All files under root with one of exts, keyed by stripped stem, as paths in text (an Item makes a Path of
    one when it is asked for); also the keys seen twice, sorted. Of two files with one key, the first in
    sorted(root.rglob("*")) order is kept."""
    if not root.is_dir():
        raise LoadError(root, "is not a folder" if os.path.lexists(root) else "folder does not exist")
    found: dict[str, str] = {}
    duplicates: list[str] = []
    suffixes = tuple(s for s in strip_suffixes if s)
    top = str(root)
    for entry in _files_under(top):
        name = entry.name
        if name.startswith(".") or not name.lower().endswith(exts):
            continue
        try:
            if not entry.is_file():
                continue
        except OSError:
            continue
        key = pair_key(name, strip_suffixes) if name.rpartition(".")[0].endswith(suffixes) else _stem(name)
        kept = found.setdefault(key, entry.path)
        if kept is not entry.path:
            duplicates.append(key)
            if _parts(entry.path, top) < _parts(kept, top):
                found[key] = entry.path
    return found, sorted(duplicates)


def _stem(name: str) -> str:
    i = name.rfind(".")
    return name[:i] if 0 < i < len(name) - 1 else name


def _parts(path: str, root: str) -> tuple[str, ...]:
    """The path's parts under root: the order sorted(rglob) lists files in."""
    return tuple(path[len(root):].lstrip(os.sep).split(os.sep))


def _no_predictions(folder: Path, pred_kind: str, strip_suffixes: tuple[str, ...]) -> str:
    """What a prediction folder lacks, and which kind it holds instead when it holds the other one."""
    logits = pred_kind == "logits"
    said = f"no {'logit files (.npy, .npz, .pt, .pth)' if logits else 'masks (.png)'} found"
    other, _ = find_files(folder, LABEL_EXTS if logits else LOGIT_EXTS, strip_suffixes)
    if other:
        said += (f"; it holds {'masks (.png)' if logits else 'logit files'}: open it as "
                 f"{'masks (--masks)' if logits else 'logits (--logits)'}")
    return said


def pair_dataset(gt_dir: str | Path, pred_dir: str | Path, pred_kind: str = "logits",
                 images_dir: str | Path | None = None,
                 strip_suffixes: tuple[str, ...] = DEFAULT_STRIP_SUFFIXES) -> Pairing:
    """Pairs files by name stem across folders; reports every file left without a partner."""
    gts, gt_dups = find_files(Path(gt_dir), LABEL_EXTS, strip_suffixes)
    preds, pred_dups = find_files(Path(pred_dir), LOGIT_EXTS if pred_kind == "logits" else LABEL_EXTS, strip_suffixes)
    images, image_dups = find_files(Path(images_dir), IMAGE_EXTS, strip_suffixes) if images_dir else ({}, [])
    if not gts:
        raise LoadError(gt_dir, "no ground-truth label maps (.png) found")
    if not preds:
        raise LoadError(pred_dir, _no_predictions(Path(pred_dir), pred_kind, strip_suffixes))
    names = sorted(gts.keys() & preds.keys())
    if not names:
        raise LoadError(pred_dir, f"no file pairs with {gt_dir} by name (e.g. {next(iter(gts))!r} vs {next(iter(preds))!r})")
    items = [Item(n, gts[n], preds[n], images.get(n)) for n in names]
    unpaired = {"ground-truth": sorted(gts.keys() - preds.keys()), "prediction": sorted(preds.keys() - gts.keys())}
    if images_dir:
        unpaired["image"] = sorted(images.keys() - set(names))
        unpaired["pair without image"] = [n for n in names if n not in images]
    dups = {"ground-truth": gt_dups, "prediction": pred_dups, "image": image_dups}
    return Pairing(items, {k: v for k, v in unpaired.items() if v}, {k: v for k, v in dups.items() if v})


def _open_pillow(path: Path, classes: int = 0, what: str = "image file") -> Image.Image:
    """Opens and fully decodes an image through the read gate: a regular file whose content matches its
    extension, read through a file object (Pillow then never memory-maps it), its pixels × `classes` admitted by
    the memory budget before decoding; Pillow's bomb warning is an error."""
    fmt = reads.SIGNATURES.get(path.suffix.lower(), (None,))[0]
    try:
        with reads.open_regular(path, what) as fh:
            reads.check_signature(path, what, fh)
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(fh, formats=[fmt] if fmt in PILLOW_FORMATS else None)
                budgets.admit_decode(path, (img.size[1], img.size[0]), classes=classes,
                                     what="label map" if classes else "image")
                img.load()
        return img
    except LoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LoadError(path, f"image is larger than Pillow's decompression-bomb limit "
                              f"({Image.MAX_IMAGE_PIXELS} pixels); refusing to decode it") from None
    except FileNotFoundError:
        raise LoadError(path, "file does not exist") from None
    except UnidentifiedImageError:
        raise LoadError(path, "not an image Pillow can read (corrupt or wrong format)") from None
    except MemoryError:
        raise LoadError(path, "image is too large to decode in the memory available") from None
    except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError, ValueError, struct.error, ...
        raise LoadError(path, f"corrupt or truncated image ({plain(exc, 160) or type(exc).__name__})") from None


def label_map_size(path: Path) -> tuple[int, int] | None:
    """(H, W) from an image's header without decoding it; None when it cannot be read (it fails later by name)."""
    try:
        with reads.open_regular(path) as fh, Image.open(fh) as img:
            return img.size[1], img.size[0]
    except Exception:  # noqa: BLE001 - any unreadable header: the load of this file reports why
        return None


def load_label_map(path: Path, label_lut: np.ndarray | None = None, classes: int = 1) -> np.ndarray:
    """A single-channel PNG of class ids as an int64 H×W array; classes: what the run builds per pixel (the
    memory budget admits pixels × classes before decoding)."""
    img = _open_pillow(path, max(1, classes), "label map")
    if img.mode not in LABEL_MODES:
        raise LoadError(path, f"label map must be single-channel (L, P or 16-bit), got mode {img.mode}")
    labels = np.asarray(img).astype(np.int64, copy=False)
    if label_lut is not None:
        if labels.min(initial=0) < 0 or labels.max(initial=0) >= len(label_lut):
            raise LoadError(path, "label values outside the label map's range")
        labels = label_lut[labels]
    return labels


def check_label_values(labels: np.ndarray, num_classes: int, ignore_index: int, path: Path) -> None:
    bad = (labels >= num_classes) & (labels != ignore_index) | (labels < 0) & (labels != ignore_index)
    if bad.any():
        values = np.unique(labels[bad])[:5].tolist()
        raise LoadError(path, f"label values {values} are not class ids 0..{num_classes - 1} nor the ignore id {ignore_index}")


def load_image(path: Path) -> np.ndarray:
    """Any Pillow image as H×W×3 uint8 RGB for display (16-bit and float scaled to their range)."""
    img = _open_pillow(path)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = ((arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    return np.asarray(img.convert("RGB"))


def load_logits(path: Path, max_elements: int | None = None) -> torch.Tensor:
    """C×H×W float32 logits from .npy/.npz (no pickles) or .pt/.pth (weights_only); checked for shape and finiteness.

    max_elements bounds what the file may declare before anything is decoded (see logit_files.logits_budget).
    """
    path = Path(path)
    array = read_logit_array(path, max_elements or DEFAULT_MAX_ELEMENTS)
    fresh = isinstance(array, np.ndarray) and array.flags.owndata and array.flags.writeable
    if not isinstance(array, torch.Tensor):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a read-only buffer (.npz): copied below
            array = torch.as_tensor(array)
    source = array[0] if array.ndim == 4 else array
    if fresh and source.dtype == torch.float32 and source.is_contiguous():
        tensor = source      # read into a new array of our own: already the dense float32 copy
    else:
        # a new, dense, contiguous float32 copy: never a view of an expanded storage, of a graph or of a buffer
        tensor = torch.empty(source.shape, dtype=torch.float32).copy_(source)
    if not all_finite(tensor):
        raise LoadError(path, not_finite_reason(source))
    return tensor


def not_finite_reason(values: torch.Tensor) -> str:
    """Why values are not finite float32: NaN or Inf in the file, or finite values beyond float32's range."""
    if values.dtype != torch.float64 or not bool(torch.isfinite(values).all()):
        return "logits contain NaN or Inf values"
    largest = float(values.abs().max())
    return (f"logits reach {largest:.3g}, beyond float32's range (±3.4e38) in which segviewer computes; "
            "scale them (they are finite, but not float32 numbers)")


def logits_shape(path: Path, max_elements: int | None = None) -> tuple[int, int, int]:
    """The C×H×W shape a logit file declares, checked, without decoding its values."""
    shape = read_logit_array(Path(path), max_elements or DEFAULT_MAX_ELEMENTS, decode=False)
    return tuple(int(d) for d in shape[-3:])  # type: ignore[return-value]
