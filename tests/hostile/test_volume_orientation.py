"""Hostile orientations: a header whose voxel-to-world matrix maps no volume (non-finite, a zero column, two axes
the same way) is one LoadError line naming the file; in a folder the case is skipped and the others go on."""
import gzip
import json

import nibabel as nib
import nrrd
import numpy as np
import pytest

from helpers import run_cli
from segviewer import LoadError
from segviewer.core.volume_files import read_header
from segviewer.core.volumes import read_image_volume, read_mask_volume, read_prediction_volume

ZYX = (4, 6, 5)
GOOD = np.diag([0.7, 0.8, 2.5, 1.0])


def nifti_with_sform(path, matrix) -> None:
    """A NIfTI whose sform (the affine nibabel and ITK use first) is `matrix`, written as raw header bytes."""
    img = nib.Nifti1Image(np.zeros(ZYX[::-1], np.uint8), GOOD)
    hdr = img.header
    hdr["sform_code"], hdr["qform_code"] = 1, 0
    hdr["srow_x"], hdr["srow_y"], hdr["srow_z"] = matrix[0], matrix[1], matrix[2]
    path.write_bytes(gzip.compress(hdr.binaryblock + b"\0" * 4 + img.get_fdata().astype(np.uint8).tobytes()))


def refused(path, words: str) -> None:
    with pytest.raises(LoadError) as err:
        read_header(path)
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"{path}: ") and words in line, line


@pytest.mark.parametrize("matrix, words", [
    (np.array([[0.7, 0, 0, 0], [0, np.nan, 0, 0], [0, 0, 2.5, 0]]), "its affine is not finite"),
    (np.array([[0.7, 0, 0, 0], [0, np.inf, 0, 0], [0, 0, 2.5, 0]]), "its affine is not finite"),
    (np.array([[0.7, 0, 0, 0], [0, 0, 0, 0], [0, 0, 2.5, 0]]), "gives axis y no direction"),
    (np.array([[0.7, 0.8, 0, 0], [0, 0, 0, 0], [0, 0, 2.5, 0]]), "is singular"),
    (np.array([[0.7, 0.7, 0, 0], [0.1, 0.1, 0, 0], [0, 0, 2.5, 0]]), "is singular"),
])
def test_a_nifti_whose_affine_maps_no_volume(tmp_path, matrix, words):
    path = tmp_path / "bad.nii.gz"
    nifti_with_sform(path, matrix)
    refused(path, words)


@pytest.mark.parametrize("directions, words", [
    ([[0.7, 0, 0], [0.7, 0, 0], [0, 0, 2.5]], "its space directions matrix is singular"),
    ([[0.7, 0, 0], [0, 0.8, np.nan], [0, 0, 2.5]], "its space directions matrix is not finite"),
])
def test_an_nrrd_whose_space_directions_map_no_volume(tmp_path, directions, words):
    path = tmp_path / "bad.nrrd"
    nrrd.write(str(path), np.zeros(ZYX[::-1], np.uint8), {"space": "left-posterior-superior",
                                                         "space directions": np.array(directions, float)})
    refused(path, words)


def test_a_case_with_a_broken_affine_is_skipped_and_the_folder_goes_on(tmp_path):
    root = tmp_path / "data"
    (root / "labelsTr").mkdir(parents=True)
    (root / "predictionsTr").mkdir()
    for name in ("good", "bad"):
        probs = np.full((2, *ZYX), 0.5, np.float32)
        np.savez_compressed(root / "predictionsTr" / f"{name}.npz", probabilities=probs)
    nib.save(nib.Nifti1Image(np.zeros(ZYX[::-1], np.uint8), GOOD), root / "labelsTr" / "good.nii.gz")
    nifti_with_sform(root / "labelsTr" / "bad.nii.gz", np.array([[0.7, 0, 0, 0], [0, 0, 0, 0], [0, 0, 2.5, 0]]))
    (root / "dataset.json").write_text(json.dumps({"labels": {"background": 0, "a": 1}}))
    result = run_cli("export", root, "--out", tmp_path / "c.csv", "--per-case", tmp_path / "cases.csv")
    assert result.returncode == 0, result.stderr
    bad = root / "labelsTr" / "bad.nii.gz"
    assert f"segviewer: skipped {bad}: broken header: its affine gives axis y no direction" in result.stderr
    assert "good" in (tmp_path / "cases.csv").read_text() and "bad" not in (tmp_path / "cases.csv").read_text()


def test_an_image_or_mask_oriented_unlike_its_ground_truth(tmp_path):
    """An LPS image or mask over a RAS ground truth of the same grid would be drawn and scored mirrored."""
    nib.save(nib.Nifti1Image(np.zeros(ZYX[::-1], np.uint8), GOOD), tmp_path / "gt.nii.gz")
    lps = np.diag([-0.7, -0.8, 2.5, 1.0])
    nib.save(nib.Nifti1Image(np.zeros(ZYX[::-1], np.int16), lps), tmp_path / "image.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros(ZYX[::-1], np.uint8), lps), tmp_path / "mask.nii.gz")
    gt = read_header(tmp_path / "gt.nii.gz").orientation
    for path, read in ((tmp_path / "image.nii.gz", lambda p: read_image_volume(p, ZYX, (2.5, 0.8, 0.7),
                                                                                gt_orientation=gt)),
                       (tmp_path / "mask.nii.gz", lambda p: read_mask_volume(p, ZYX, gt))):
        with pytest.raises(LoadError) as err:
            read(path)
        assert str(err.value) == (f"{path}: orientation LPS differs from its ground truth's RAS (its voxels would "
                                  "not lie on the ground truth's; resample it first)")


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])      # read by slabs (by offset) or whole
def test_logits_oriented_unlike_their_ground_truth_are_refused(tmp_path, suffix):
    """A 4-D NIfTI of logits in LPS over a RAS ground truth of the same grid is refused as a mask is, never scored or
    drawn mirrored (the folder layouts take predictions from .npz / .npy, which say nothing of orientation; this is
    the reader every prediction file goes through)."""
    from segviewer.core.volume_sample import slab_source
    logits = np.random.default_rng(0).normal(size=(*ZYX[::-1], 2)).astype(np.float32)     # (x, y, z, C)
    nib.save(nib.Nifti1Image(np.zeros(ZYX[::-1], np.uint8), GOOD), tmp_path / "gt.nii.gz")
    nib.save(nib.Nifti1Image(logits, np.diag([-0.7, -0.8, 2.5, 1.0])), tmp_path / f"bad{suffix}")
    nib.save(nib.Nifti1Image(logits, GOOD), tmp_path / f"good{suffix}")
    gt = read_header(tmp_path / "gt.nii.gz").orientation
    bad = tmp_path / f"bad{suffix}"
    for read in (lambda p: read_prediction_volume(p, ZYX, 2, gt),
                 lambda p: slab_source(p, ZYX, 2, "softmax", "cpu", gt)):
        with pytest.raises(LoadError) as err:
            read(bad)
        assert str(err.value).startswith(f"{bad}: orientation LPS differs from its ground truth's RAS")
    assert read_prediction_volume(tmp_path / f"good{suffix}", ZYX, 2, gt).values.shape == (2, *ZYX)
