"""The built-in 3-D demo (`segviewer demo --3d`): a few small synthetic CT cases in nnU-Net's layout.

    dataset.json                          nnU-Net v2: channel_names, labels, numTraining, file_ending
    imagesTr/case_000_0000.nii.gz         CT-like intensities in Hounsfield units (int16)
    labelsTr/case_000.nii.gz              ground truth: background, liver, kidney, tumour
    predictionsTr/case_000.npz            `probabilities` (C, z, y, x) float32, as nnU-Net's --save_probabilities
    predictionsTr/case_000.pkl            nnU-Net's properties pickle (segviewer never opens it)
    predictionsTr/case_000.nii.gz         the hard segmentation (argmax)

Anisotropic voxels (2.5 mm slices, 0.8 mm in-plane): the anatomy is drawn in millimetres, so it is round in mm,
not in voxels. The model is good but not perfect: soft boundaries, an uncertain liver dome and tip, a tumour
outline a little off; case_001 has no tumour (an absent class), and in case_002 the model fails: it misses the
tumour (reads it as liver) and sees a kidney on the wrong side. Deterministic for a seed; every file is written
through core.outputs.atomic_output (a failed run leaves no half-written file).
"""
from __future__ import annotations

import gzip
import io
import json
import pickle
import re
from pathlib import Path

import numpy as np
from scipy import ndimage

from .demo import DemoFiles, demo_stamp
from .errors import LoadError, os_reason
from .outputs import atomic_output

CLASSES = ("background", "liver", "kidney", "tumour")
SPACING = (2.5, 0.8, 0.8)                 # mm, (z, y, x)
SHAPE = (24, 64, 64)
FAILING_CASE = 2
NO_TUMOUR_CASE = 1
VERSION = 1
HU = {"air": -1000, "fat": -100, "muscle": 45, "liver": 60, "kidney": 150, "tumour": 20, "bone": 700}
DEMO_3D_FILES = DemoFiles(("dataset.json", "demo.json"), {
    "imagesTr": re.compile(r"case_\d{3}_0000\.nii\.gz"), "labelsTr": re.compile(r"case_\d{3}\.nii\.gz"),
    "predictionsTr": re.compile(r"case_\d{3}\.(npz|pkl|nii\.gz)")})


def write_demo_volumes(root: str | Path, n_cases: int = 4, shape: tuple[int, int, int] = SHAPE,
                       spacing: tuple[float, float, float] = SPACING, seed: int = 0) -> Path:
    """Writes the dataset under root (reused if already complete); refuses a folder holding anything else."""
    root = Path(root)
    meta = {"version": VERSION, "kind": "volumes", "n_cases": n_cases, "shape": list(shape),
            "spacing": list(spacing), "seed": seed}
    if demo_stamp(root, DEMO_3D_FILES) == meta:
        return root
    from .output_run import run_scope
    try:
        rng = np.random.default_rng(seed)      # the folders are made by the output gate, after its checks
        with run_scope(own=True):      # renamed into place now, not when a command that opens them ends
            for i in range(n_cases):
                _write_case(root, f"case_{i:03d}", i, shape, spacing, rng)
            _write_bytes(root / "dataset.json", json.dumps(dataset_json(n_cases), indent=1).encode())
            _write_bytes(root / "demo.json", json.dumps(meta).encode())
    except OSError as exc:
        raise LoadError(root, f"cannot write the demo: {os_reason(exc)}") from None
    return root


def dataset_json(n_cases: int) -> dict:
    return {"channel_names": {"0": "CT"}, "labels": {name: i for i, name in enumerate(CLASSES)},
            "numTraining": n_cases, "file_ending": ".nii.gz"}


def _write_case(root: Path, name: str, index: int, shape, spacing, rng: np.random.Generator) -> None:
    coords = _mm_grid(shape, spacing)
    body, labels = _anatomy(coords, rng, tumour=index != NO_TUMOUR_CASE)
    image = _ct_image(coords, body, labels, spacing, rng)
    probs = _model_probabilities(labels, coords, spacing, rng, fails=index == FAILING_CASE)
    _write_nifti(root / "imagesTr" / f"{name}_0000.nii.gz", image, spacing)
    _write_nifti(root / "labelsTr" / f"{name}.nii.gz", labels, spacing)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, probabilities=probs)
    _write_bytes(root / "predictionsTr" / f"{name}.npz", buffer.getvalue())
    properties = {"spacing": list(spacing), "shape_before_cropping": list(shape)}
    _write_bytes(root / "predictionsTr" / f"{name}.pkl", pickle.dumps(properties))
    _write_nifti(root / "predictionsTr" / f"{name}.nii.gz", probs.argmax(0).astype(np.uint8), spacing)


def _mm_grid(shape, spacing) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voxel centres in mm from the volume's centre, (z, y, x), broadcastable."""
    return tuple((np.arange(n, dtype=np.float32) - (n - 1) / 2) * s
                 for n, s in zip(shape, spacing))  # type: ignore[return-value]


def _ellipsoid(coords, centre, radii) -> np.ndarray:
    z, y, x = coords
    return ((z[:, None, None] - centre[0]) / radii[0]) ** 2 + ((y[None, :, None] - centre[1]) / radii[1]) ** 2 \
        + ((x[None, None, :] - centre[2]) / radii[2]) ** 2 <= 1


def _anatomy(coords, rng: np.random.Generator, tumour: bool) -> tuple[np.ndarray, np.ndarray]:
    """The body mask and the labels (z, y, x): a liver on the image's left, a kidney behind on the right, a tumour
    inside the liver. Sizes in mm, jittered per case."""
    z, y, x = coords
    depth, half_y, half_x = float(z[-1]), float(y[-1]), float(x[-1])
    body = _ellipsoid(coords, (0, 0, 0), (depth * 4, half_y * 0.85, half_x * 0.95))
    labels = np.zeros(body.shape, np.uint8)
    liver_centre = (rng.uniform(-4, 4), rng.uniform(-6, -2), -half_x * 0.35)
    liver_radii = (depth * rng.uniform(0.7, 0.85), half_y * rng.uniform(0.45, 0.55), half_x * rng.uniform(0.4, 0.5))
    labels[_ellipsoid(coords, liver_centre, liver_radii) & body] = 1
    kidney = (rng.uniform(-6, 6), half_y * 0.35, half_x * 0.45)
    labels[_ellipsoid(coords, kidney, (depth * 0.35, half_y * 0.2, half_x * 0.15)) & body] = 2
    if tumour:
        radius = rng.uniform(3.5, 6.0)
        centre = (liver_centre[0] + rng.uniform(-5, 5), liver_centre[1] + rng.uniform(-3, 3),
                  liver_centre[2] + rng.uniform(-3, 3))
        labels[_ellipsoid(coords, centre, (radius * 1.3, radius, radius)) & (labels == 1)] = 3
    return body, labels


def _ct_image(coords, body: np.ndarray, labels: np.ndarray, spacing, rng: np.random.Generator) -> np.ndarray:
    """Hounsfield-like int16: air, a fat rim, muscle, organs, a vertebral body; noise smoothed as a scanner's."""
    _, half_y, _ = (float(c[-1]) for c in coords)
    inner = ndimage.binary_erosion(body, structure=np.ones((1, 3, 3), bool), iterations=4)   # a fat rim in-plane
    hu = np.full(body.shape, HU["air"], np.float32)
    hu[body] = HU["fat"]
    hu[inner] = HU["muscle"]
    spine = _ellipsoid(coords, (0, half_y * 0.62, 0), (1e6, 5.0, 6.0)) & inner
    hu[spine] = HU["bone"]
    for class_id, name in enumerate(("liver", "kidney", "tumour"), start=1):
        hu[labels == class_id] = HU[name]
    noise = ndimage.gaussian_filter(rng.normal(0, 30, body.shape).astype(np.float32), _sigma(0.8, spacing))
    blurred = ndimage.gaussian_filter(hu, _sigma(0.6, spacing))
    return np.round(blurred + noise).astype(np.int16)


def _sigma(mm: float, spacing) -> tuple[float, ...]:
    return tuple(mm / s for s in spacing)


def _model_probabilities(labels: np.ndarray, coords, spacing, rng: np.random.Generator,
                         fails: bool) -> np.ndarray:
    """What a decent 3-D model outputs: a belief close to the labels, soft at boundaries (in mm), less sure at
    the liver's top and bottom slices; when it fails, the tumour is missed and a kidney appears on the wrong side."""
    belief = labels.copy()
    if fails:
        belief[labels == 3] = 1
        z, y, x = coords
        belief[_ellipsoid(coords, (0, float(y[-1]) * 0.35, -float(x[-1]) * 0.45), (8, 5, 4)) & (labels == 0)] = 2
    else:
        tumour = labels == 3
        shifted = np.roll(tumour, int(rng.integers(-2, 3)), axis=2)
        belief[tumour & ~shifted] = 1
        belief[shifted & (labels == 1)] = 3
    onehot = (belief[None] == np.arange(len(CLASSES))[:, None, None, None]).astype(np.float32)
    soft = np.stack([ndimage.gaussian_filter(ch, _sigma(1.6, spacing)) for ch in onehot])
    confidence = np.full(labels.shape[0], 7.0, np.float32)
    liver_slices = np.nonzero((labels == 1).any(axis=(1, 2)))[0]
    if liver_slices.size:
        confidence[[liver_slices[0], liver_slices[-1]]] = 2.5   # partial volume at the dome and the tip
    logits = soft * confidence[None, :, None, None] + rng.normal(0, 0.35, soft.shape).astype(np.float32)
    logits -= logits.max(0, keepdims=True)
    probs = np.exp(logits)
    return (probs / probs.sum(0, keepdims=True)).astype(np.float32)


def _write_nifti(path: Path, array_zyx: np.ndarray, spacing) -> None:
    """A NIfTI-1 in nibabel's (x, y, z) order, spacing in mm in pixdim and an LPS affine; gzip without a time stamp
    (the same bytes for the same seed)."""
    import nibabel as nib
    # LPS, as ITK writes a scan whose direction is the identity: x toward the patient's left, y toward the back
    img = nib.Nifti1Image(np.ascontiguousarray(array_zyx.transpose(2, 1, 0)),
                          np.diag([-spacing[2], -spacing[1], spacing[0], 1.0]))
    img.header.set_xyzt_units("mm")
    img.set_qform(img.affine, code=1)
    img.set_sform(img.affine, code=1)
    _write_bytes(path, gzip.compress(img.to_bytes(), compresslevel=6, mtime=0))


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
