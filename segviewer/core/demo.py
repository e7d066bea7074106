"""The built-in demo dataset: deterministic, generated, small, and with realistic model failures.

Shapes of six classes on textured backgrounds; logits that are right in the middle of objects, uncertain at
boundaries, confuse discs with ellipses, miss small dots, hallucinate a little; ignore bands around some objects;
classes absent from some images; half of the logits at half resolution.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from .errors import LoadError, file_in_the_way, os_reason
from .reads import read_bounded
from .options import CACHE_DIR_NAME

DEMO_CLASSES = [
    ("background", (60, 60, 60)), ("disc", (230, 159, 0)), ("ellipse", (86, 180, 233)),
    ("square", (0, 158, 115)), ("triangle", (240, 228, 66)), ("bar", (0, 114, 178)), ("dot", (204, 121, 167)),
]
IGNORE = 255
DEMO_VERSION = 4


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0:h, 0:w].astype(np.float32)


def _shape_mask(kind: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = _grid(h, w)
    cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
    r = rng.uniform(0.08, 0.16) * min(h, w)
    if kind == 1:
        return (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
    if kind == 2:
        return ((yy - cy) / (0.6 * r)) ** 2 + ((xx - cx) / (1.5 * r)) ** 2 < 1
    if kind == 3:
        return (abs(yy - cy) < r) & (abs(xx - cx) < r)
    if kind == 4:
        return (yy > cy - r) & (yy < cy + r) & (abs(xx - cx) < (yy - (cy - r)) * 0.6)
    if kind == 5:
        return (abs(yy - cy) < 0.25 * r) & (abs(xx - cx) < 2.5 * r)
    return (yy - cy) ** 2 + (xx - cx) ** 2 < (0.25 * r) ** 2


def _scene(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A GT map: a random subset of classes drawn over background, later shapes on top."""
    gt = np.zeros((h, w), np.uint8)
    kinds = [k for k in range(1, 6) if rng.random() < 0.6] or [int(rng.integers(1, 6))]
    for kind in kinds + [6] * int(rng.integers(0, 4)):
        gt[_shape_mask(kind, h, w, rng)] = kind
    return gt


def _texture_image(gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = gt.shape
    # near-grey, photo-like tones: the objects differ in brightness and only faintly in hue, so no object of the
    # photo passes for an overlay colour (a teal square read as TP, a blue-grey bar as FN)
    colors = np.array([c for _, c in DEMO_CLASSES], np.float32)
    tones = colors.mean(axis=1, keepdims=True) * 0.94 + colors * 0.06 + 30
    noise = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)).astype(np.float32), 3) * 45
    yy, xx = _grid(h, w)
    shade = (np.sin(xx / 17.0) * np.cos(yy / 23.0) * 14)[..., None]
    img = tones[gt] + noise[..., None] + shade
    return np.clip(img, 0, 255).astype(np.uint8)


def _model_belief(gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What the model thinks is there: GT with confusions, misses and hallucinations."""
    belief = gt.copy()
    h, w = gt.shape
    if rng.random() < 0.6:
        belief[gt == 1] = 2  # discs read as ellipses in part of the set
    labelled, n = ndimage.label(gt == 6)
    for blob in range(1, n + 1):
        if rng.random() < 0.6:
            belief[labelled == blob] = 0  # small dots missed
    if rng.random() < 0.5:
        belief[_shape_mask(int(rng.integers(3, 6)), h, w, rng) & (gt == 0)] = int(rng.integers(3, 6))
    return belief


def _logits(belief: np.ndarray, rng: np.random.Generator, num_classes: int, half_res: bool) -> np.ndarray:
    onehot = (belief[None] == np.arange(num_classes)[:, None, None]).astype(np.float32)
    soft = np.stack([ndimage.gaussian_filter(ch, 2.5) for ch in onehot])
    logits = soft * rng.uniform(5, 9) + rng.normal(0, 0.6, soft.shape).astype(np.float32)
    if half_res:
        c, h, w = logits.shape
        logits = logits.reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    return logits.astype(np.float16)


def _ignore_band(gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """VOC-style ignore band on the boundary of some objects."""
    out = gt.copy()
    if rng.random() < 0.5:
        edge = ndimage.binary_dilation(gt > 0, iterations=2) & ~ndimage.binary_erosion(gt > 0, iterations=1)
        out[edge] = IGNORE
    return out


def _annotator_mask(gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A second annotator: slightly fatter or thinner objects, now and then a wrong class."""
    mask = gt.copy()
    mask[mask == IGNORE] = 0
    grow = ndimage.grey_dilation(mask, size=3) if rng.random() < 0.5 else ndimage.grey_erosion(mask, size=3)
    mask = np.where(rng.random(gt.shape) < 0.5, grow, mask).astype(np.uint8)
    if rng.random() < 0.3:
        mask[mask == 3] = 4
    return mask


@dataclass(frozen=True)
class DemoFiles:
    """What a demo writes: its top-level files and, per subfolder, the pattern of the file names in it."""
    files: tuple[str, ...]
    folders: dict[str, re.Pattern]


DEMO_FILES = DemoFiles(("classes.json", "demo.json"), {
    sub: re.compile(rf"scene_\d{{3}}\{ext}") for sub, ext in
    {"images": ".png", "logits": ".npy", "gt": ".png", "masks": ".png"}.items()})


def demo_stamp(root: Path, expected: DemoFiles = DEMO_FILES) -> dict | None:
    """The stamp of an earlier demo in root; None for an empty (or missing) folder; LoadError for anything else."""
    if not root.exists():
        blocker = file_in_the_way(root)
        if blocker is not None:
            raise LoadError(root, f"cannot make the demo folder: {blocker} is a file")
        return None
    if not root.is_dir():
        raise LoadError(root, "demo folder is a file, not a folder")
    entries = {p.name: p for p in root.iterdir()}
    if not entries:
        return None
    foreign = _foreign_entries(entries, expected)
    if foreign:
        raise LoadError(root, f"folder holds files that are not segviewer's demo ({', '.join(sorted(foreign)[:3])}); "
                              "choose an empty or new folder")
    if "demo.json" not in entries:
        return None   # an earlier demo that was interrupted: only demo files, written again
    try:
        stamp = json.loads(read_bounded(entries["demo.json"], 4096, "demo stamp"))
    except (ValueError, LoadError):
        stamp = None
    if not isinstance(stamp, dict) or "version" not in stamp:
        raise LoadError(root, "folder holds a demo.json that is not segviewer's; choose an empty or new folder")
    return stamp


def _foreign_entries(entries: dict[str, Path], expected: DemoFiles) -> list[str]:
    """Names in root (and its demo subfolders) that an earlier demo did not write."""
    foreign = []
    for name, path in entries.items():
        if name in expected.files and path.is_file() and not path.is_symlink() \
                or name == CACHE_DIR_NAME and path.is_dir():
            continue
        pattern = expected.folders.get(name)
        if pattern is None or path.is_symlink() or not path.is_dir():
            foreign.append(name)
            continue
        foreign += [f"{name}/{f.name}" for f in path.iterdir()
                    if not pattern.fullmatch(f.name) or f.is_symlink() or not f.is_file()]
    return foreign


def write_demo(root: str | Path, n_images: int = 12, size: tuple[int, int] = (192, 256), seed: int = 0) -> Path:
    """Writes images/, logits/, gt/, masks/ and classes.json under root (reused if already complete).

    Refuses (LoadError) a folder that holds anything but an earlier demo, so no user data is ever overwritten."""
    root = Path(root)
    meta = {"version": DEMO_VERSION, "n_images": n_images, "size": list(size), "seed": seed}
    if demo_stamp(root) == meta:
        return root
    try:
        _write_files(root, meta, n_images, size, seed)
    except OSError as exc:
        raise LoadError(root, f"cannot write the demo: {os_reason(exc)}") from None
    return root


def _write_files(root: Path, meta: dict, n_images: int, size: tuple[int, int], seed: int) -> None:
    """Every file through the output gate, renamed together at the end (the stamp last): all or nothing."""
    from .output_run import atomic_output, run_scope

    def save_png(path: Path, array: np.ndarray) -> None:
        with atomic_output(path, "the demo") as tmp:
            Image.fromarray(array).save(tmp, format="PNG")

    def save_text(path: Path, text: str) -> None:
        with atomic_output(path, "the demo") as tmp:
            tmp.write_text(text)

    rng = np.random.default_rng(seed)
    h, w = size
    with run_scope(own=True):
        for i in range(n_images):
            name = f"scene_{i:03d}"
            gt = _scene(h, w, rng)
            save_png(root / "images" / f"{name}.png", _texture_image(gt, rng))
            with atomic_output(root / "logits" / f"{name}.npy", "the demo") as tmp, open(tmp, "wb") as fh:
                np.save(fh, _logits(_model_belief(gt, rng), rng, len(DEMO_CLASSES), i % 2 == 1))
            labelled = _ignore_band(gt, rng)
            save_png(root / "gt" / f"{name}.png", labelled)
            save_png(root / "masks" / f"{name}.png", _annotator_mask(labelled, rng))
        classes = {"ignore_index": IGNORE, "classes": [{"name": n, "color": list(c)} for n, c in DEMO_CLASSES]}
        save_text(root / "classes.json", json.dumps(classes, indent=1))
        save_text(root / "demo.json", json.dumps(meta))
