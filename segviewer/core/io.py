"""Find and pair dataset files; load images, logits and label maps safely (no unpickling, ever)."""
from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .errors import LoadError

LOGIT_EXTS = (".npy", ".npz", ".pt", ".pth")
LABEL_EXTS = (".png",)
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
from .options import DEFAULT_STRIP_SUFFIXES  # noqa: F401
LABEL_MODES = ("L", "P", "I;16", "I;16B", "I;16L", "I")


@dataclass(frozen=True)
class Item:
    name: str
    gt: Path
    pred: Path
    image: Path | None = None


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


def pair_key(path: Path, strip_suffixes: tuple[str, ...]) -> str:
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    for suffix in strip_suffixes:
        if suffix and stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def find_files(root: Path, exts: tuple[str, ...], strip_suffixes: tuple[str, ...]) -> tuple[dict[str, Path], list[str]]:
    """All files under root with one of exts, keyed by stripped stem; also the keys seen twice."""
    if not root.is_dir():
        raise LoadError(root, "folder does not exist")
    found: dict[str, Path] = {}
    duplicates: list[str] = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in exts or not path.is_file() or path.name.startswith("."):
            continue
        if ".segviewer" in path.relative_to(root).parts:
            continue
        key = pair_key(path, strip_suffixes)
        if key in found:
            duplicates.append(key)
        else:
            found[key] = path
    return found, duplicates


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
        raise LoadError(pred_dir, f"no {'logit files (.npy, .npz, .pt, .pth)' if pred_kind == 'logits' else 'masks (.png)'} found")
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


def _open_pillow(path: Path) -> Image.Image:
    """Opens and fully decodes an image, turning Pillow's bomb warning into an error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
            img.load()
        return img
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LoadError(path, f"image is larger than Pillow's decompression-bomb limit "
                              f"({Image.MAX_IMAGE_PIXELS} pixels); refusing to decode it") from None
    except FileNotFoundError:
        raise LoadError(path, "file does not exist") from None
    except UnidentifiedImageError:
        raise LoadError(path, "not an image Pillow can read (corrupt or wrong format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise LoadError(path, f"corrupt or truncated image ({exc})") from None


def load_label_map(path: Path, label_lut: np.ndarray | None = None) -> np.ndarray:
    """A single-channel PNG of class ids as an int64 H×W array."""
    img = _open_pillow(path)
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


def load_logits(path: Path) -> torch.Tensor:
    """C×H×W float32 logits from .npy/.npz (no pickles) or .pt/.pth (weights_only); checked for shape and finiteness."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        array = _load_npy(path)
    elif suffix == ".npz":
        array = _load_npz(path)
    elif suffix in (".pt", ".pth"):
        array = _load_torch(path)
    else:
        raise LoadError(path, f"unsupported logit format {suffix!r} (use .npy, .npz, .pt or .pth)")
    if not isinstance(array, torch.Tensor):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # read-only memmap: converted to a new float32 copy below
            array = torch.as_tensor(array)
    tensor = array
    if tensor.ndim == 4 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.ndim != 3:
        raise LoadError(path, f"logits must have shape C×H×W, got {tuple(tensor.shape)}")
    if not tensor.is_floating_point():
        raise LoadError(path, f"logits must be float16/float32, got {tensor.dtype}")
    tensor = tensor.float() if tensor.dtype != torch.float32 or not tensor.is_contiguous() else tensor.clone()
    if not all_finite(tensor):
        raise LoadError(path, "logits contain NaN or Inf values")
    return tensor


def all_finite(tensor: torch.Tensor) -> bool:
    # a float32 sum is ~20x cheaper than isfinite() and is finite whenever every value is (bar overflow, rechecked)
    if bool(torch.isfinite(tensor.sum())):
        return True
    return bool(torch.isfinite(tensor).all())


def _load_npy(path: Path) -> np.ndarray:
    try:
        # memory-mapped: the float32 conversion reads the page cache directly instead of a private copy first
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        pickled = "pickle" in str(exc) or "Python objects" in str(exc)
        reason = "holds pickled Python objects (refused)" if pickled else f"corrupt or truncated .npy ({exc})"
        raise LoadError(path, reason) from None
    except (OSError, EOFError) as exc:
        raise LoadError(path, f"corrupt or truncated .npy ({exc})") from None


def _load_npz(path: Path) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if not keys:
                raise LoadError(path, ".npz archive is empty")
            key = "logits" if "logits" in keys else keys[0]
            if len(keys) > 1 and key != "logits":
                raise LoadError(path, f".npz holds several arrays {keys}; name the logits 'logits'")
            return archive[key]
    except LoadError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise LoadError(path, f"corrupt .npz or pickled content ({exc})") from None


def _load_torch(path: Path) -> torch.Tensor:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise LoadError(path, "file does not exist") from None
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError... for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LoadError(path, f"not a plain tensor file (refused to unpickle objects): {first[:160]}") from None
    if isinstance(obj, dict):
        tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        obj = tensors.get("logits", next(iter(tensors.values())) if len(tensors) == 1 else None)
    if not isinstance(obj, torch.Tensor):
        raise LoadError(path, "file holds no single tensor (or a dict with key 'logits')")
    return obj
