"""Helpers shared by the tests (imported by name; conftest modules are not importable reliably)."""
from pathlib import Path

import numpy as np
from PIL import Image


def save_label(path: Path, labels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(labels.astype(np.uint8)).save(path)
    return path


def make_dataset(root: Path, logits: list[np.ndarray], gts: list[np.ndarray], ext: str = ".npy") -> Path:
    """A tiny dataset folder (gt/, logits/) from arrays; names img0, img1, ..."""
    for i, (lg, gt) in enumerate(zip(logits, gts)):
        save_label(root / "gt" / f"img{i}.png", gt)
        (root / "logits").mkdir(parents=True, exist_ok=True)
        np.save(root / "logits" / f"img{i}{ext}", lg)
    return root


def settle(qtbot, window, timeout=60000):
    """Waits until every load and computation of the window, and every call to its review session, has finished
    and been delivered."""
    review = getattr(window, "review", None)
    qtbot.waitUntil(lambda: window.viewer.is_settled() and (review is None or review.idle()), timeout=timeout)
    qtbot.wait(20)


def open_at(qtbot, window, folder, size):
    """The window at `size` with the dataset folder open and its layout settled."""
    window.resize(*size)
    assert window.actions_.open_folder(folder)
    settle(qtbot, window)
    qtbot.wait(150)           # the layout settles (docks take their sizes for the window's)


class CliResult:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_cli(*args) -> CliResult:
    """`segviewer ARGS` in this process (the imports are paid once per test session, not per call)."""
    import contextlib
    import io
    from segviewer.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return CliResult(code, out.getvalue(), err.getvalue())


def run_subprocess(*args, **kwargs):
    """`python -m segviewer ARGS` as a user runs it (for the few smoke tests that need a fresh interpreter)."""
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "segviewer", *map(str, args)], capture_output=True, text=True,
                          **kwargs)


def open_with_tab(qtbot, window, folder, panel_class, controller_class, *controller_args):
    """A panel and its controller beside the window (active), and the dataset folder opened and settled."""
    panel = panel_class()
    qtbot.addWidget(panel)
    controller = controller_class(*controller_args, panel)
    controller.active = True
    assert window.actions_.open_folder(folder)
    settle(qtbot, window)
    return panel, controller


# ---- volumes ----
def write_nifti(path: Path, array_zyx: np.ndarray, spacing=(1.0, 1.0, 1.0), compress: bool = True) -> Path:
    """A NIfTI-1 file of a (z, y, x) array (stored as nibabel's (x, y, z)), spacing in mm."""
    import gzip
    import nibabel as nib
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(np.ascontiguousarray(np.asarray(array_zyx).transpose(2, 1, 0)),
                          np.diag([spacing[2], spacing[1], spacing[0], 1.0]))
    img.header.set_xyzt_units("mm")
    data = img.to_bytes()
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def make_volume_dataset(root: Path, cases: dict, spacing=(2.5, 0.8, 0.7), labels: dict | None = None,
                        member: str = "probabilities", images: dict | None = None) -> Path:
    """An nnU-Net folder: labelsTr/CASE.nii.gz, predictionsTr/CASE.npz (member (C, z, y, x) float32),
    imagesTr/CASE_0000.nii.gz, dataset.json with `labels` ({"background": 0, ...}). cases: name -> (gt, values)."""
    import json
    for name, (gt, values) in cases.items():
        write_nifti(root / "labelsTr" / f"{name}.nii.gz", np.asarray(gt).astype(np.uint8), spacing)
        (root / "predictionsTr").mkdir(parents=True, exist_ok=True)
        np.savez_compressed(root / "predictionsTr" / f"{name}.npz", **{member: np.asarray(values, np.float32)})
    for name, image in (images or {}).items():
        write_nifti(root / "imagesTr" / f"{name}_0000.nii.gz", np.asarray(image, np.int16), spacing)
    if labels is not None:
        (root / "dataset.json").write_text(json.dumps({"channel_names": {"0": "CT"}, "labels": labels,
                                                       "file_ending": ".nii.gz"}))
    return root


VOLUME_CLASSES, VOLUME_IGNORE, VOLUME_SHAPE = 4, 4, (7, 16, 13)
VOLUME_LABELS = {"background": 0, "liver": 1, "kidney": 2, "tumour": 3, "ignore": VOLUME_IGNORE}


def random_volume_case(seed, drop_class=None, ignore=True, shape=None):
    """(gt uint8 (z, y, x) with a few VOLUME_IGNORE voxels, probabilities (C, z, y, x) float32): smooth blobs of
    VOLUME_CLASSES classes and a model that mostly agrees; drop_class: in neither mask."""
    import torch
    from scipy import ndimage
    C, IGNORE, SHAPE = VOLUME_CLASSES, VOLUME_IGNORE, shape or VOLUME_SHAPE
    rng = np.random.default_rng(seed)
    coarse = [ndimage.zoom(rng.random((C, 4, 5, 5)), (1, -(-SHAPE[0] // 4), -(-SHAPE[1] // 5), -(-SHAPE[2] // 5)),
                          order=1)[:, :SHAPE[0], :SHAPE[1], :SHAPE[2]]
              for _ in range(2)]
    gt = coarse[0].argmax(0).astype(np.uint8)
    if drop_class is not None:
        gt[gt == drop_class] = 0
    if ignore:
        gt[rng.random(SHAPE) < 0.03] = IGNORE
    logits = 6 * coarse[0] + 3 * coarse[1] + rng.normal(0, 0.3, coarse[0].shape)
    probs = torch.softmax(torch.from_numpy(logits), 0).float().numpy()
    if drop_class is not None:       # in neither mask: the model never sees it either
        probs[drop_class] = 0
        probs /= probs.sum(0, keepdims=True)
    return gt, probs


def random_volume_cases() -> dict:
    """Four cases: kidney in neither mask of case_b, tumour in neither of case_c, no ignore voxel in case_d."""
    return {"case_a": random_volume_case(0), "case_b": random_volume_case(1, drop_class=2),
            "case_c": random_volume_case(2, drop_class=3), "case_d": random_volume_case(3, ignore=False)}


def make_hostile_volume_folder(root: Path) -> dict[str, str]:
    """An nnU-Net folder whose cases good_0 and good_1 are fine and every other case holds one of issue 23's bad
    inputs; returns case -> the file (relative to root) and the words its one-line refusal must hold."""
    import gzip
    gt0, probs0 = random_volume_case(10)
    gt1, probs1 = random_volume_case(11)
    cases = {"good_0": (gt0, probs0), "good_1": (gt1, probs1), "two_d_label": (gt0, probs0),
             "two_d_pred": (gt0, probs0), "four_d_label": (gt0, probs0), "spacing": (gt1, probs1),
             "broken_header": (gt0, probs0), "bomb": (gt0, probs0)}
    make_volume_dataset(root, cases, labels=VOLUME_LABELS,
                        images={"good_0": gt0 * 40, "good_1": gt1 * 40, "spacing": gt1 * 40})
    labels, preds = root / "labelsTr", root / "predictionsTr"
    import nibabel as nib
    two_d = nib.Nifti1Image(np.ascontiguousarray(gt0[0].T), np.eye(4))
    (labels / "two_d_label.nii.gz").write_bytes(gzip.compress(two_d.to_bytes()))
    np.savez_compressed(preds / "two_d_pred.npz", probabilities=probs0[:, 0])
    four_d = nib.Nifti1Image(np.ascontiguousarray(np.stack([gt0, gt0], -1).transpose(2, 1, 0, 3)), np.eye(4))
    (labels / "four_d_label.nii.gz").write_bytes(gzip.compress(four_d.to_bytes()))
    write_nifti(root / "imagesTr" / "spacing_0000.nii.gz", (gt1 * 40).astype(np.int16), (3.0, 0.8, 0.7))
    header = bytearray(gzip.decompress((labels / "broken_header.nii.gz").read_bytes()))
    header[40:56] = (7).to_bytes(2, "little") + bytes(14)           # dim[0] = 7 and every dimension 0
    (labels / "broken_header.nii.gz").write_bytes(gzip.compress(bytes(header)))
    zeros = gzip.compress(bytes(16 * 2**20), compresslevel=9)
    with open(labels / "bomb.nii.gz", "wb") as fh:                   # a valid case, then 1 GB of zeros
        fh.write(gzip.compress(nib.Nifti1Image(np.ascontiguousarray(gt0.T), np.eye(4)).to_bytes()))
        for _ in range(64):
            fh.write(zeros)
    return {"two_d_label": ("labelsTr/two_d_label.nii.gz", "2-D label map"),
            "two_d_pred": ("predictionsTr/two_d_pred.npz", "2-D prediction"),
            "four_d_label": ("labelsTr/four_d_label.nii.gz", "4-D label"),
            "spacing": ("imagesTr/spacing_0000.nii.gz", "differs from its ground truth"),
            "broken_header": ("labelsTr/broken_header.nii.gz", "broken NIfTI header"),
            "bomb": ("labelsTr/bomb.nii.gz", "more data than its header declares")}
