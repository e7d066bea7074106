"""Reading volumes: (z, y, x) order from NIfTI (nibabel's (x, y, z) transposed), NRRD and .npy; spacing from the
header (or a sidecar); predictions (C, z, y, x) as probabilities or logits, in either spatial order; slabs by offset."""
import gzip

import nibabel as nib
import nrrd
import numpy as np
import pytest

from segviewer import LoadError, OptionError
from segviewer.core.volume_files import read_data, read_header
from segviewer.core.volumes import (label_volume_header, prediction_volume_shape, read_image_volume,
                                    read_label_volume, read_mask_volume, read_prediction_slices,
                                    read_prediction_volume, sidecar_path)

ZYX = (5, 7, 9)
SPACING = (2.5, 0.8, 0.7)       # (z, y, x) mm


def labels_zyx(seed=0, high=4, dtype=np.uint8):
    return np.random.default_rng(seed).integers(0, high, ZYX).astype(dtype)


def save_nifti(path, array_zyx, spacing=SPACING, channels_last=False, **header):
    """As a user of nibabel writes it: the array in (x, y, z[, C]) order, spacing in the affine."""
    data = array_zyx.transpose(3, 2, 1, 0) if channels_last else array_zyx.transpose(2, 1, 0)
    img = nib.Nifti1Image(data, np.diag([spacing[2], spacing[1], spacing[0], 1.0]))
    img.header.set_xyzt_units(header.pop("units", "mm"))
    if "slope" in header:
        img.header.set_slope_inter(header.pop("slope"), header.pop("inter"))
    nib.save(img, path)
    return path


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_nifti_reads_back_in_zyx_order_with_its_spacing(tmp_path, suffix):
    labels = labels_zyx()
    path = save_nifti(tmp_path / f"case{suffix}", labels)
    volume = read_label_volume(path)
    np.testing.assert_array_equal(volume.labels, labels)
    assert volume.labels.dtype == np.uint8 and volume.spacing == SPACING
    # nnU-Net's NibabelIO: get_fdata().transpose((2, 1, 0)) and the zooms reversed
    img = nib.load(path)
    np.testing.assert_array_equal(volume.labels, img.get_fdata().transpose(2, 1, 0))
    assert volume.spacing == pytest.approx(img.header.get_zooms()[::-1])
    assert label_volume_header(path) == (ZYX, SPACING)


def test_spacing_in_microns_is_turned_into_mm(tmp_path):
    path = save_nifti(tmp_path / "um.nii.gz", labels_zyx(), spacing=(2500, 800, 700), units="micron")
    assert read_label_volume(path).spacing == SPACING


def test_big_endian_and_scaled_nifti(tmp_path):
    labels = labels_zyx(high=3).astype(np.int16)
    img = nib.Nifti1Image(labels.transpose(2, 1, 0).astype(">i2"), np.eye(4))
    img.header.set_data_dtype(">i2")
    nib.save(img, tmp_path / "be.nii")
    np.testing.assert_array_equal(read_label_volume(tmp_path / "be.nii").labels, labels)
    ct = np.random.default_rng(1).integers(0, 2000, ZYX).astype(np.int16)
    save_nifti(tmp_path / "ct.nii.gz", ct, slope=1.0, inter=-1024.0)
    image = read_image_volume(tmp_path / "ct.nii.gz", ZYX, SPACING)
    np.testing.assert_array_equal(image.values, ct.astype(np.float32) - 1024)
    np.testing.assert_array_equal(image.values, nib.load(tmp_path / "ct.nii.gz").get_fdata().transpose(2, 1, 0))


@pytest.mark.parametrize("encoding", ["gzip", "raw", "bzip2"])
def test_nrrd_reads_in_zyx_order_with_the_lengths_of_its_space_directions(tmp_path, encoding):
    labels = labels_zyx(3)
    directions = np.array([[0, -0.7, 0], [0.8, 0, 0], [0, 0, 2.5]])      # rotated axes: lengths count
    nrrd.write(str(tmp_path / "case.nrrd"), labels.transpose(2, 1, 0),
               {"encoding": encoding, "space": "left-posterior-superior", "space directions": directions})
    volume = read_label_volume(tmp_path / "case.nrrd")
    np.testing.assert_array_equal(volume.labels, labels)
    np.testing.assert_array_equal(volume.labels, nrrd.read(str(tmp_path / "case.nrrd"), index_order="C")[0])
    assert volume.spacing == pytest.approx(SPACING)


def test_npy_label_spacing_from_its_sidecar_else_one_mm(tmp_path):
    labels = labels_zyx(dtype=np.int64)
    np.save(tmp_path / "case.npy", labels)
    assert read_label_volume(tmp_path / "case.npy").spacing == (1.0, 1.0, 1.0)
    sidecar_path(tmp_path / "case.npy").write_text('{"spacing": [2.5, 0.8, 0.7]}')
    volume = read_label_volume(tmp_path / "case.npy")
    assert volume.spacing == SPACING and volume.labels.dtype == np.uint8
    np.testing.assert_array_equal(volume.labels, labels)
    sidecar_path(tmp_path / "case.npy").write_text('{"spacing": [2.5, 0, 0.7]}')
    with pytest.raises(LoadError, match=r"case\.spacing\.json: spacing .* three positive numbers"):
        read_label_volume(tmp_path / "case.npy")


@pytest.mark.parametrize("stored,expected", [(np.uint16, np.int32), (np.float32, np.uint8), (np.bool_, np.uint8),
                                             (np.int8, np.int16), (np.uint32, np.int64)])
def test_label_types_become_the_narrowest_class_ids_torch_holds(tmp_path, stored, expected):
    labels = labels_zyx(high=2).astype(stored)
    labels[0, 0, 0] = {np.uint16: 40000, np.int8: -1, np.uint32: 2**31}.get(stored, labels[0, 0, 0])
    np.save(tmp_path / "case.npy", labels)
    volume = read_label_volume(tmp_path / "case.npy")
    assert volume.labels.dtype == expected
    np.testing.assert_array_equal(volume.labels, labels.astype(np.int64))


def test_fractional_labels_are_refused(tmp_path):
    np.save(tmp_path / "case.npy", labels_zyx().astype(np.float32) + 0.5)
    with pytest.raises(LoadError, match="not whole numbers"):
        read_label_volume(tmp_path / "case.npy")


# ---- predictions ----
def probabilities(seed=0, c=3):
    p = np.random.default_rng(seed).random((c, *ZYX)).astype(np.float32)
    return p / p.sum(0)


def test_nnunet_npz_holds_probabilities_and_other_members_logits(tmp_path):
    p = probabilities()
    np.savez_compressed(tmp_path / "a.npz", probabilities=p)
    np.savez(tmp_path / "b.npz", logits=p)
    np.save(tmp_path / "c.npy", p.astype(np.float16))
    a, b, c = (read_prediction_volume(tmp_path / n, ZYX, 3) for n in ("a.npz", "b.npz", "c.npy"))
    assert (a.kind, b.kind, c.kind) == ("probabilities", "logits", "logits")
    np.testing.assert_array_equal(a.values, p)
    np.testing.assert_array_equal(b.values, p)
    np.testing.assert_array_equal(c.values, p.astype(np.float16).astype(np.float32))
    assert a.values.dtype == c.values.dtype == np.float32 and c.values.flags.c_contiguous


def test_monai_order_xyz_is_transposed_and_said(tmp_path):
    p = probabilities()
    np.save(tmp_path / "xyz.npy", p.transpose(0, 3, 2, 1))
    np.save(tmp_path / "batch.npy", p[None])              # a leading batch axis of 1
    xyz = read_prediction_volume(tmp_path / "xyz.npy", ZYX, 3)
    assert xyz.order == "xyz" and xyz.values.flags.c_contiguous
    np.testing.assert_array_equal(xyz.values, p)
    assert read_prediction_volume(tmp_path / "batch.npy", ZYX, 3).order == "zyx"
    assert prediction_volume_shape(tmp_path / "xyz.npy") == (3, 9, 7, 5)


def test_a_cube_is_taken_as_zyx(tmp_path):
    cube = np.random.default_rng(0).random((2, 6, 6, 6)).astype(np.float32)
    np.save(tmp_path / "cube.npy", cube)
    volume = read_prediction_volume(tmp_path / "cube.npy", (6, 6, 6), 2)
    assert volume.order == "zyx"
    np.testing.assert_array_equal(volume.values, cube)


def test_4d_and_vector_nifti_predictions(tmp_path):
    p = probabilities()
    save_nifti(tmp_path / "p.nii.gz", p, channels_last=True)
    np.testing.assert_array_equal(read_prediction_volume(tmp_path / "p.nii.gz", ZYX, 3).values, p)
    vector = nib.Nifti1Image(p.transpose(3, 2, 1, 0)[:, :, :, None, :], np.eye(4))   # (x, y, z, 1, C): ITK vectors
    nib.save(vector, tmp_path / "v.nii.gz")
    assert read_header(tmp_path / "v.nii.gz").shape == (3, *ZYX)
    np.testing.assert_array_equal(read_prediction_volume(tmp_path / "v.nii.gz", ZYX, 3).values, p)


def test_masks_in_zyx_and_from_nifti(tmp_path):
    mask = labels_zyx(4)
    save_nifti(tmp_path / "m.nii.gz", mask)
    np.save(tmp_path / "m.npy", mask.transpose(2, 1, 0))
    np.testing.assert_array_equal(read_mask_volume(tmp_path / "m.nii.gz", ZYX), mask)
    np.testing.assert_array_equal(read_mask_volume(tmp_path / "m.npy", ZYX), mask)


@pytest.mark.parametrize("name", ["p.npy", "p.nii"])
def test_slices_by_offset_equal_the_whole_read(tmp_path, name):
    p = probabilities(c=4)
    if name.endswith(".npy"):
        np.save(tmp_path / name, p)
    else:
        save_nifti(tmp_path / name, p, channels_last=True)
    whole = read_prediction_volume(tmp_path / name, ZYX, 4).values
    for start, stop in ((0, 1), (1, 4), (2, 5)):
        slab = read_prediction_slices(tmp_path / name, ZYX, 4, start, stop)
        np.testing.assert_array_equal(slab.values, whole[:, start:stop])


def test_slices_outside_the_case_are_an_option_error(tmp_path):
    np.save(tmp_path / "p.npy", probabilities())
    with pytest.raises(OptionError, match=r"slices 4\.\.5: a case of 5 slices has 0\.\.4"):
        read_prediction_slices(tmp_path / "p.npy", ZYX, 3, 4, 6)


def test_slices_of_a_compressed_file_are_refused(tmp_path):
    np.savez_compressed(tmp_path / "p.npz", probabilities=probabilities())
    with pytest.raises(LoadError, match="read whole"):
        read_prediction_slices(tmp_path / "p.npz", ZYX, 3, 0, 1)


def test_a_file_shortened_underneath_is_a_load_error_not_a_crash(tmp_path):
    path = tmp_path / "p.npy"
    np.save(path, probabilities())
    header = read_header(path)
    with open(path, "r+b") as fh:                          # another process rewrites it after the header was read
        fh.truncate(header.file_offset + 100)
    with pytest.raises(LoadError, match="truncated"):
        read_data(header, 10**6, "test")
    with pytest.raises(LoadError, match="truncated"):
        read_prediction_slices(path, ZYX, 3, 0, 2)


def test_image_spacing_must_be_the_ground_truths(tmp_path):
    save_nifti(tmp_path / "ct.nii.gz", labels_zyx().astype(np.int16), spacing=(3.0, 0.8, 0.7))
    with pytest.raises(LoadError) as err:
        read_image_volume(tmp_path / "ct.nii.gz", ZYX, SPACING)
    assert str(err.value) == (f"{tmp_path / 'ct.nii.gz'}: voxel spacing (z, y, x) = (3, 0.8, 0.7) mm differs from "
                              "its ground truth's (2.5, 0.8, 0.7) mm")
    assert read_image_volume(tmp_path / "ct.nii.gz", ZYX, (3.0, 0.8, 0.7)).values.shape == ZYX


def test_a_4d_image_gives_the_asked_channel(tmp_path):
    channels = np.random.default_rng(2).normal(size=(2, *ZYX)).astype(np.float32)
    save_nifti(tmp_path / "mr.nii.gz", channels, channels_last=True)
    np.testing.assert_array_equal(read_image_volume(tmp_path / "mr.nii.gz", ZYX, SPACING, channel=1).values,
                                  channels[1])
    with pytest.raises(OptionError, match="channel 2: .*mr.nii.gz has 2 channel"):
        read_image_volume(tmp_path / "mr.nii.gz", ZYX, SPACING, channel=2)


def test_gzip_written_nifti_without_nibabel_reads_the_same(tmp_path):
    """A .nii.gz that is one gzip member of header + data, as any writer produces it."""
    labels = labels_zyx(5)
    img = nib.Nifti1Image(labels.transpose(2, 1, 0), np.diag([0.7, 0.8, 2.5, 1]))
    (tmp_path / "c.nii.gz").write_bytes(gzip.compress(img.to_bytes()))
    np.testing.assert_array_equal(read_label_volume(tmp_path / "c.nii.gz").labels, labels)
