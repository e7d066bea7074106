"""3-D cases: label, mask and intensity volumes (z, y, x) and predictions (C, z, y, x), read with bounded memory.

Arrays are held in (z, y, x) order as SimpleITK and nnU-Net write them: NIfTI and NRRD, which store x fastest,
come out in that order (nibabel's (x, y, z) transposed, as nnU-Net's NibabelIO does). A .npy/.npz prediction or
mask may hold its spatial axes in either order, (z, y, x) or MONAI's (x, y, z): its shape says which, and one that
fits neither order of its ground truth's shape is refused naming both shapes (a cube-shaped one is taken as
(z, y, x)). Voxel spacing (mm, z, y, x) comes from the ground truth's header; a .npy ground truth takes it from a
sidecar `CASE.spacing.json` holding {"spacing": [z, y, x]}, else 1 mm. An .npz member named `probabilities`
(nnU-Net's --save_probabilities) holds probabilities: `kind` says so, and no activation is applied to it unless
the user asks. A prediction's declared shape must fit its ground truth (classes × the GT's voxels) before anything
is decoded. Nothing is ever unpickled; nnU-Net's .pkl files are never opened (no reader takes that suffix).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .errors import LoadError, OptionError
from .reads import read_bounded
from .logit_files import _check_dtype, all_finite
from .orientation import ARRAY_ORDER, Orientation
from .volume_files import VolumeHeader, npz_member_name, read_data, read_header, read_slab

MAX_VOLUME_VOXELS = 2**29         # a ground truth of up to ~812³ voxels (whole-body CT); larger ones pass max_voxels
MAX_IMAGE_CHANNELS = 16
SPACING_RTOL = 1e-3
SIDECAR_SUFFIX = ".spacing.json"
UNIT_SPACING = (1.0, 1.0, 1.0)

PredictionKind = Literal["probabilities", "logits"]
SpatialOrder = Literal["zyx", "xyz"]
Spacing = tuple[float, float, float]


@dataclass(frozen=True)
class LabelVolume:
    labels: np.ndarray       # (z, y, x) integer class ids (uint8, int16, int32 or int64, as the file allows)
    spacing: Spacing         # mm along (z, y, x)
    path: Path
    orientation: Orientation = ARRAY_ORDER     # where (z, y, x) point in the patient (ARRAY_ORDER: unknown)


@dataclass(frozen=True)
class PredictionVolume:
    values: np.ndarray       # (C, z, y, x) float32, C-contiguous: probabilities or logits as `kind` says
    kind: PredictionKind
    order: SpatialOrder      # how the file held its spatial axes ("xyz": transposed on reading)
    path: Path


@dataclass(frozen=True)
class ImageVolume:
    values: np.ndarray       # (z, y, x) float32 intensities (Hounsfield units for CT), scaled as the header says
    spacing: Spacing
    path: Path


# ---- ground truth ----
def label_volume_header(path: str | Path) -> tuple[tuple[int, int, int], Spacing]:
    """The (z, y, x) shape and spacing of a label volume, from its header only."""
    header = read_header(path)
    return _volume_shape(header, "label"), _spacing_of(header)


def read_label_volume(path: str | Path, max_voxels: int = MAX_VOLUME_VOXELS) -> LabelVolume:
    """A ground-truth volume: (z, y, x) class ids and the voxel spacing every distance of its case uses."""
    header = read_header(path)
    _volume_shape(header, "label")
    labels = _class_ids(header, read_data(header, max_voxels, "a label volume"))
    return LabelVolume(labels, _spacing_of(header), header.path, header.orientation or ARRAY_ORDER)


def plane_axis(path: str | Path, plane: int) -> int:
    """The array axis a plane's slices (0 axial, 1 coronal, 2 sagittal) are taken across, from the header."""
    return (read_header(path).orientation or ARRAY_ORDER).axis(plane)


def plane_spacing(path: str | Path, plane: int) -> float:
    """A label volume's spacing (mm) across a plane's slices (0 axial, 1 coronal, 2 sagittal), from its header."""
    header = read_header(path)
    return _spacing_of(header)[(header.orientation or ARRAY_ORDER).axis(plane)]


def read_mask_volume(path: str | Path, gt_shape: tuple[int, ...],
                     gt_orientation: Orientation | None = None) -> np.ndarray:
    """A hard prediction (an annotator's or a model's mask) as (z, y, x) class ids, shaped and oriented as its
    ground truth."""
    header = read_header(path)
    check_orientation(header, gt_orientation)
    order = spatial_order(header.path, _volume_shape(header, "mask", gt_shape), gt_shape, "mask")
    labels = _class_ids(header, read_data(header, math.prod(gt_shape), "its ground truth (one value per voxel)"))
    return np.ascontiguousarray(labels.transpose(2, 1, 0)) if order == "xyz" else labels


def read_image_volume(path: str | Path, gt_shape: tuple[int, ...], gt_spacing: Spacing | None,
                      channel: int = 0, gt_orientation: Orientation | None = None) -> ImageVolume:
    """One channel of an intensity image as float32 (z, y, x); its spacing and orientation must be its ground
    truth's."""
    header, order, spacing = _checked_image(path, gt_shape, gt_spacing, channel, gt_orientation)
    raw = read_data(header, MAX_IMAGE_CHANNELS * math.prod(gt_shape),
                    f"its ground truth (at most {MAX_IMAGE_CHANNELS} channels of its voxels)")
    values = _scaled_float32(header, raw.reshape(-1, *header.shape[-3:])[channel])
    if order == "xyz":
        values = np.ascontiguousarray(values.transpose(2, 1, 0))
    return ImageVolume(np.ascontiguousarray(values), gt_spacing or spacing or UNIT_SPACING, header.path)


def read_image_slices(path: str | Path, gt_shape: tuple[int, ...], gt_spacing: Spacing | None, start: int,
                      stop: int, channel: int = 0, gt_orientation: Orientation | None = None) -> np.ndarray | None:
    """Axial slices start..stop-1 of one channel as float32 (stop - start, y, x): by offset, or decompressed up to
    them and no further (a case's first look); None when the file holds (x, y, z) order (then it is read whole)."""
    header, order, _ = _checked_image(path, gt_shape, gt_spacing, channel, gt_orientation)
    if order != "zyx" or header.fortran:
        return None
    slab = read_slab(header, start, stop)
    return np.ascontiguousarray(_scaled_float32(header, slab.reshape(-1, *slab.shape[-3:])[channel]))


def _checked_image(path, gt_shape, gt_spacing, channel: int,
                   gt_orientation: Orientation | None) -> tuple[VolumeHeader, str, Spacing | None]:
    header = read_header(path)
    check_orientation(header, gt_orientation)
    spatial = header.shape[-3:]
    channels = header.count // max(1, math.prod(spatial))
    if len(header.shape) not in (3, 4):
        raise LoadError(header.path, f"an image volume has 3 axes (z, y, x) or 4 (channel, z, y, x), this one has "
                                     f"shape {header.shape}")
    if not 0 <= channel < channels:
        raise OptionError(f"channel {channel}: {header.path} has {channels} channel(s)")
    order = spatial_order(header.path, spatial, gt_shape, "image")
    spacing = _spacing_of(header, default=None)
    if gt_spacing is not None and spacing is not None:
        check_spacing(header.path, spacing if order == "zyx" else spacing[::-1], gt_spacing)
    return header, order, spacing


# ---- predictions ----
def prediction_volume_shape(path: str | Path) -> tuple[int, ...]:
    """(C, a, b, c) as the file declares it (spatial axes in the file's order); nothing decoded."""
    header = read_header(path)
    return _prediction_shape(header, None)


def read_prediction_volume(path: str | Path, gt_shape: tuple[int, ...], num_classes: int,
                           gt_orientation: Orientation | None = None) -> PredictionVolume:
    """Probabilities or logits (C, z, y, x) for a ground truth of gt_shape; C must be num_classes."""
    header, order = _checked_prediction(path, gt_shape, num_classes, gt_orientation)
    raw = read_data(header, num_classes * math.prod(gt_shape), f"its ground truth ({num_classes} classes × its "
                                                               "voxels)")
    values = _scaled_float32(header, raw.reshape(num_classes, *raw.shape[-3:]))
    values = np.ascontiguousarray(values.transpose(0, 3, 2, 1) if order == "xyz" else values)
    _check_finite(header.path, values)
    return PredictionVolume(values, _prediction_kind(header), order, header.path)


def read_prediction_slices(path: str | Path, gt_shape: tuple[int, ...], num_classes: int, start: int,
                           stop: int, gt_orientation: Orientation | None = None) -> PredictionVolume:
    """Axial slices start..stop-1 as (C, stop - start, y, x), read by offset from an uncompressed (z, y, x) file
    (.npy, .nii): a case larger than memory is read a slab at a time."""
    if not 0 <= start < stop <= gt_shape[0]:
        raise OptionError(f"slices {start}..{stop - 1}: a case of {gt_shape[0]} slices has 0..{gt_shape[0] - 1}")
    header, order = _checked_prediction(path, gt_shape, num_classes, gt_orientation)
    if order != "zyx" or not header.seekable:
        raise LoadError(header.path, "slices can be read one by one only from an uncompressed (z, y, x) file "
                                     "(.npy or .nii); this one is read whole")
    values = _scaled_float32(header, read_slab(header, start, stop).reshape(num_classes, stop - start,
                                                                            *gt_shape[1:]))
    values = np.ascontiguousarray(values)
    _check_finite(header.path, values)
    return PredictionVolume(values, _prediction_kind(header), order, header.path)


def _checked_prediction(path: str | Path, gt_shape: tuple[int, ...], num_classes: int,
                        gt_orientation: Orientation | None = None) -> tuple[VolumeHeader, str]:
    header = read_header(path)
    check_orientation(header, gt_orientation)      # else scored and drawn mirrored, as a mask would be
    shape = _prediction_shape(header, gt_shape)
    order = spatial_order(header.path, shape[1:], gt_shape, "prediction")
    if shape[0] != num_classes:
        raise LoadError(header.path, f"holds {shape[0]} channels (shape {shape}), the dataset has {num_classes} "
                                     "classes")
    if header.format in ("npy", "npz"):
        _check_dtype(header.path, header.dtype)
    elif header.dtype.kind != "f":
        raise LoadError(header.path, f"holds {header.dtype} values, not probabilities or logits (a hard mask is "
                                     "read as masks)")
    return header, order


def _prediction_shape(header: VolumeHeader, gt_shape: tuple[int, ...] | None) -> tuple[int, ...]:
    """(C, ...3 spatial) of a prediction: a leading batch axis of 1 is dropped; a 2-D one for a volume (and the
    reverse) is refused naming both shapes."""
    shape = header.shape[1:] if len(header.shape) == 5 and header.shape[0] == 1 else header.shape
    if gt_shape is not None and len(gt_shape) == 2 and len(shape) == 4:
        raise LoadError(header.path, f"is a 3-D prediction (C, z, y, x) = {shape}, but its ground truth is a 2-D "
                                     f"label map (H, W) = {tuple(gt_shape)}")
    if len(shape) == 3:
        raise LoadError(header.path, f"is a 2-D prediction (C, H, W) = {shape}" + (
            f", but its ground truth is a volume (z, y, x) = {tuple(gt_shape)}" if gt_shape else "")
            + "; a volume's prediction has shape (C, z, y, x)")
    if len(shape) != 4:
        raise LoadError(header.path, f"a volume's prediction has shape (C, z, y, x), this one has {header.shape}")
    return shape


def _prediction_kind(header: VolumeHeader) -> PredictionKind:
    return "probabilities" if npz_member_name(header) == "probabilities" else "logits"


# ---- shapes, orders, spacing ----
def _volume_shape(header: VolumeHeader, what: str, gt_shape: tuple[int, ...] | None = None) -> tuple[int, ...]:
    shape = header.shape
    if len(shape) == 3:
        return shape
    if len(shape) == 2:
        other = f", but its ground truth is a volume (z, y, x) = {tuple(gt_shape)}" if gt_shape else ""
        raise LoadError(header.path, f"is a 2-D {what} map (H, W) = {shape}, not a volume{other}")
    raise LoadError(header.path, f"is a {len(shape)}-D {what} (shape {shape}); a {what} volume has 3 axes (z, y, x)")


def spatial_order(path: Path, spatial: tuple[int, ...], gt_shape: tuple[int, ...], what: str) -> SpatialOrder:
    """'zyx' when the shape is the ground truth's, 'xyz' when it is reversed; anything else is refused."""
    spatial, gt = tuple(int(d) for d in spatial), tuple(int(d) for d in gt_shape)
    if len(gt) != len(spatial):
        raise LoadError(path, f"is a {len(spatial)}-D {what} {spatial}, but its ground truth is "
                              + (f"a 2-D label map (H, W) = {gt}" if len(gt) == 2 else f"{len(gt)}-D {gt}"))
    if spatial == gt:
        return "zyx"
    if spatial == gt[::-1]:
        return "xyz"
    raise LoadError(path, f"{what}'s spatial shape {spatial} fits neither its ground truth's (z, y, x) = {gt} nor "
                          f"its (x, y, z) = {gt[::-1]}")


def check_orientation(header: VolumeHeader, gt_orientation: Orientation | None) -> None:
    """A file drawn or scored over its ground truth's voxels must point its axes the same way (where both say)."""
    mine = header.orientation
    if mine is None or gt_orientation is None or not gt_orientation.known:
        return
    if (mine.world, mine.sign) != (gt_orientation.world, gt_orientation.sign):
        raise LoadError(header.path, f"orientation {mine.codes} differs from its ground truth's {gt_orientation.codes}"
                                     " (its voxels would not lie on the ground truth's; resample it first)")


def check_spacing(path: Path, spacing: tuple[float, ...], gt_spacing: tuple[float, ...]) -> None:
    if not np.allclose(spacing, gt_spacing, rtol=SPACING_RTOL, atol=0):
        raise LoadError(path, f"voxel spacing (z, y, x) = {_mm(spacing)} differs from its ground truth's "
                              f"{_mm(gt_spacing)}")


def _mm(spacing: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{s:g}" for s in spacing) + ") mm"


def _spacing_of(header: VolumeHeader, default: Spacing | None = UNIT_SPACING) -> Spacing | None:
    """The header's spacing, else (.npy) the sidecar's, else `default`."""
    if header.spacing is not None:
        return tuple(header.spacing[-3:])  # type: ignore[return-value]
    return read_spacing_sidecar(header.path) or default


def sidecar_path(path: Path) -> Path:
    name = path.name
    stem = name[: -len(path.suffix)] if path.suffix else name
    return path.with_name(stem + SIDECAR_SUFFIX)


def read_spacing_sidecar(path: Path) -> Spacing | None:
    """{"spacing": [z, y, x]} in mm from CASE.spacing.json beside CASE.npy; None when there is none."""
    side = sidecar_path(Path(path))
    if not side.exists():
        return None
    try:
        spacing = json.loads(read_bounded(side, 4096, "spacing file"))["spacing"]
        values = tuple(float(s) for s in spacing)
    except (ValueError, KeyError, TypeError):
        raise LoadError(side, 'is not a spacing file: expected {"spacing": [z, y, x]} in mm') from None
    if len(values) != 3 or not all(math.isfinite(s) and s > 0 for s in values):
        raise LoadError(side, f"spacing {values} must be three positive numbers (z, y, x) in mm")
    return values  # type: ignore[return-value]


# ---- values ----
def _class_ids(header: VolumeHeader, raw: np.ndarray) -> np.ndarray:
    """Integer class ids in the narrowest type torch handles (uint8, int16, int32, int64)."""
    path, kind = header.path, raw.dtype.kind
    if kind == "b":
        return raw.astype(np.uint8)
    if kind not in "uif":
        raise LoadError(path, f"holds {raw.dtype} values, not class ids")
    values = raw * header.scale[0] + header.scale[1] if header.scale else raw
    if values.dtype.kind == "f":
        if not np.isfinite(values).all() or not np.array_equal(values, np.round(values)):
            raise LoadError(path, "holds values that are not whole numbers; label volumes hold class ids")
    low, high = (values.min(), values.max()) if values.size else (0, 0)
    for dtype in (np.uint8, np.int16, np.int32, np.int64):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return values.astype(np.dtype(dtype).newbyteorder("="), copy=False)
    raise LoadError(path, f"holds class ids up to {high}, beyond 64-bit integers")


def _scaled_float32(header: VolumeHeader, raw: np.ndarray) -> np.ndarray:
    values = raw.astype(np.float32, copy=False)   # also native byte order
    if header.scale:
        values = values * np.float32(header.scale[0]) + np.float32(header.scale[1])
    return values


def _check_finite(path: Path, values: np.ndarray) -> None:
    if not all_finite(values):
        raise LoadError(path, "prediction contains NaN or Inf values")
