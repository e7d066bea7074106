"""Folder layouts of volume datasets, found from names alone (no file is opened but dataset.json).

- nnU-Net (v2): `labelsTr/` (or `labelsTs/`) with CASE.nii.gz, `imagesTr/` (`imagesTs/`) with CASE_0000.nii.gz (one
  file per channel; the 4-digit suffix is the channel, and channel 0000 is the image shown), and a predictions
  folder beside them holding CASE.npz (`probabilities`), CASE.pkl (never opened) and CASE.nii.gz (the hard
  segmentation); its class names from dataset.json.
- The Medical Segmentation Decathlon: `imagesTr/` and `labelsTr/` with CASE.nii.gz (images 4-D with several
  modalities), and a predictions folder as above.
- Plain: `gt/` holding volumes, with `logits/` or `masks/`, optionally `images/`.

Importable without torch or nibabel (the CLI's folder detection must stay fast).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

from .errors import LoadError
from .reads import read_bounded
from .options import CACHE_DIR_NAME, FolderLayout, gt_folder_layout

LABEL_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".npy")     # ground truth, hard masks and images
PREDICTION_SUFFIXES = (".npz", ".npy")                     # probabilities or logits
CHANNEL_SUFFIX = re.compile(r"_(\d{4})$")
FIRST_CHANNEL = "0000"
SPLITS = ("Tr", "Ts")
DATASET_JSON_LIMIT = 2**20

LayoutKind = Literal["nnunet", "msd", "plain"]
PredictionSource = Literal["logits", "masks"]


@dataclass(frozen=True)
class VolumeLayout(FolderLayout):
    """A FolderLayout of volumes: which convention, and the class names its dataset.json gives (if any)."""
    kind: LayoutKind = "plain"
    class_names: tuple[str, ...] | None = None
    ignore_index: int | None = None


def volume_key(path: Path) -> str:
    """CASE from CASE.nii.gz, CASE.nii, CASE.nrrd, CASE.npy, CASE.npz."""
    name = path.name
    lower = name.lower()
    for suffix in (*LABEL_SUFFIXES, *PREDICTION_SUFFIXES):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def volume_files(folder: Path, suffixes: tuple[str, ...], recursive: bool = True) -> list[Path]:
    """Regular, non-hidden files under folder whose names end with one of suffixes (outside .segviewer/)."""
    found = []
    for path in sorted(folder.rglob("*") if recursive else folder.iterdir()):
        rel = path.relative_to(folder).parts
        if CACHE_DIR_NAME in rel or any(p.startswith(".") for p in rel) or not path.name.lower().endswith(suffixes):
            continue
        if path.is_file():
            found.append(path)
    return found


def detect_volume_layout(folder: str | Path, classes: str | None = None,
                         prefer: PredictionSource = "logits") -> VolumeLayout | None:
    """The volume layout of folder, or None when it holds none (a 2-D dataset, or nothing known)."""
    folder = Path(folder)
    labels = [folder / f"labels{s}" for s in SPLITS if (folder / f"labels{s}").is_dir()]
    if labels:
        return _nnunet_like(folder, labels, classes, prefer)
    gt = folder / "gt"
    if gt.is_dir() and holds_volumes(gt):
        return _plain(folder, classes, prefer)
    return None


def holds_volumes(gt: Path) -> bool:
    """gt/ of volumes: volume files and no PNG label maps (a 2-D dataset's gt/ holds PNGs: the first one ends
    the walk, so a large 2-D dataset is not listed twice)."""
    seen = False
    for path in gt.rglob("*"):
        name = path.name.lower()
        if name.endswith(".png"):
            return False
        seen = seen or name.endswith(LABEL_SUFFIXES)
    return seen


def _plain(folder: Path, classes: str | None, prefer: PredictionSource) -> VolumeLayout:
    base = gt_folder_layout(folder, classes, prefer)
    return VolumeLayout(**{f.name: getattr(base, f.name) for f in fields(base)}, kind="plain")


def _nnunet_like(folder: Path, labels: list[Path], classes: str | None, prefer: PredictionSource) -> VolumeLayout:
    cases = {d: {volume_key(p) for p in volume_files(d, LABEL_SUFFIXES)} for d in labels}
    candidates = _prediction_folders(folder)
    if not candidates:
        raise LoadError(folder, f"has {labels[0].name}/ but no predictions folder beside it (a folder of CASE.npz "
                                "probabilities or CASE.nii.gz masks, as nnU-Net writes)")

    # the predictions folder and labels folder sharing the most case names (the first in name order on a tie)
    pred_dir, _, gt = max(((pred, names, gt) for pred, names in candidates for gt in labels),
                          key=lambda t: len(t[1] & cases[t[2]]))
    has = {"logits": bool(volume_files(pred_dir, PREDICTION_SUFFIXES)),
           "masks": bool(volume_files(pred_dir, LABEL_SUFFIXES))}
    kind = prefer if has[prefer] else "masks" if has["masks"] else "logits"
    images = folder / f"images{gt.name[-2:]}"
    images = images if images.is_dir() else None
    names, ignore = dataset_json_classes(folder / "dataset.json")
    if classes is None and names is not None:
        classes = str(folder / "dataset.json")      # a class file the class resolver reads (names, ignore)
    style: LayoutKind = "nnunet" if images is None or _channel_files(images) else "msd"
    return VolumeLayout(gt, pred_dir if kind == "logits" else None, pred_dir if kind == "masks" else None, images,
                        classes, kind=style, class_names=names, ignore_index=ignore)


def _prediction_folders(folder: Path) -> list[tuple[Path, set[str]]]:
    """Subfolders (not images*/labels*) holding predictions, with their case names, in name order."""
    out = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if sub.name.startswith(".") or re.fullmatch(r"(images|labels)(Tr|Ts)", sub.name):
            continue
        files = volume_files(sub, PREDICTION_SUFFIXES + LABEL_SUFFIXES, recursive=False)
        if files:
            out.append((sub, {volume_key(p) for p in files}))
    return out


def _channel_files(images: Path) -> bool:
    return any(CHANNEL_SUFFIX.search(volume_key(p)) for p in volume_files(images, LABEL_SUFFIXES))


def dataset_json_classes(path: Path) -> tuple[tuple[str, ...] | None, int | None]:
    """Class names by id and the ignore label from an nnU-Net v2 ({"liver": 1, "ignore": 3}) or Decathlon / v1
    ({"1": "liver"}) dataset.json; (None, None) without one or with region-based labels."""
    from .classes import nnunet_labels
    if not os.path.lexists(path):     # anything else there (a FIFO, a folder, a dangling link) is refused by name
        return None, None
    try:
        labels = json.loads(read_bounded(path, DATASET_JSON_LIMIT, "dataset.json")).get("labels")
    except (ValueError, AttributeError):
        raise LoadError(path, "is not a JSON object with 'labels'") from None
    return nnunet_labels(labels)


def pair_volumes(gt_dir: str | Path, pred_dir: str | Path, pred_kind: PredictionSource = "logits",
                 images_dir: str | Path | None = None):
    """Cases paired by name across folders (io.Pairing); images may carry nnU-Net's channel suffix, of which
    channel 0000 is taken. Files of other suffixes (.pkl, .json) are not looked at."""
    from .io import Item, Pairing
    gts, gt_dups = _by_key(Path(gt_dir), LABEL_SUFFIXES)
    preds, pred_dups = _by_key(Path(pred_dir), PREDICTION_SUFFIXES if pred_kind == "logits" else LABEL_SUFFIXES)
    if not gts:
        raise LoadError(gt_dir, f"no label volumes ({', '.join(LABEL_SUFFIXES)}) found")
    if not preds:
        raise LoadError(pred_dir, "no " + ("probability or logit volumes (.npz, .npy)" if pred_kind == "logits"
                                           else f"mask volumes ({', '.join(LABEL_SUFFIXES)})") + " found")
    names = sorted(gts.keys() & preds.keys())
    if not names:
        raise LoadError(pred_dir, f"no case pairs with {gt_dir} by name (e.g. {next(iter(gts))!r} vs "
                                  f"{next(iter(preds))!r})")
    images, image_dups = _images_by_case(Path(images_dir), set(names)) if images_dir else ({}, [])
    unpaired = {"ground-truth": sorted(gts.keys() - preds.keys()), "prediction": sorted(preds.keys() - gts.keys())}
    if images_dir:
        unpaired["pair without image"] = [n for n in names if n not in images]
    dups = {"ground-truth": gt_dups, "prediction": pred_dups, "image": image_dups}
    return Pairing([Item(n, gts[n], preds[n], images.get(n)) for n in names],
                   {k: v for k, v in unpaired.items() if v}, {k: v for k, v in dups.items() if v})


def _by_key(folder: Path, suffixes: tuple[str, ...]) -> tuple[dict[str, Path], list[str]]:
    if not folder.is_dir():
        raise LoadError(folder, "folder does not exist" if not folder.exists() else "is not a folder")
    found: dict[str, Path] = {}
    duplicates = []
    for path in volume_files(folder, suffixes):
        key = volume_key(path)
        if key in found:
            duplicates.append(key)
        else:
            found[key] = path
    return found, duplicates


def _images_by_case(folder: Path, cases: set[str]) -> tuple[dict[str, Path], list[str]]:
    """CASE.nii.gz or CASE_0000.nii.gz per case (a name that is itself a case wins over a channel suffix)."""
    found: dict[str, Path] = {}
    duplicates = []
    for key, path in _by_key(folder, LABEL_SUFFIXES)[0].items():
        channel = CHANNEL_SUFFIX.search(key)
        if key not in cases and channel is not None:
            if channel.group(1) != FIRST_CHANNEL:
                continue
            key = key[: channel.start()]
        if key in found:
            duplicates.append(key)
        elif key in cases:
            found[key] = path
    return found, duplicates
