"""Hostile volumes: each is refused with one LoadError line naming the file and the problem (never another
exception), before anything large is decoded; nnU-Net's .pkl files are never opened."""
import gzip
import os
import pickle
import shutil
import zipfile

import nibabel as nib
import nrrd
import numpy as np
import pytest

from hostile_kit import C, H, W, data_args, deadline, make_base, refused
from segviewer import LoadError
from segviewer.core.volume_files import read_header
from segviewer.core.volume_layouts import detect_volume_layout, pair_volumes
from segviewer.core.volumes import (read_image_volume, read_label_volume, read_mask_volume, read_prediction_volume)

ZYX = (4, 6, 5)


def nifti_bytes(array_zyx, spacing=(2.5, 0.8, 0.7)) -> bytes:
    img = nib.Nifti1Image(np.ascontiguousarray(array_zyx.T), np.diag([spacing[2], spacing[1], spacing[0], 1.0]))
    return img.to_bytes()


def labels(seed=0):
    return np.random.default_rng(seed).integers(0, C, ZYX).astype(np.uint8)


def one_line_refusal(call, path, *words) -> str:
    with pytest.raises(LoadError) as err:
        call()
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"{path}: "), line
    for word in words:
        assert word in line, (word, line)
    return line


# ---- 2-D against 3-D, 4-D labels ----
def test_a_2d_label_with_a_3d_prediction(tmp_path):
    np.save(tmp_path / "p.npy", np.zeros((C, *ZYX), np.float32))
    one_line_refusal(lambda: read_prediction_volume(tmp_path / "p.npy", (H, W), C), tmp_path / "p.npy",
                     f"is a 3-D prediction (C, z, y, x) = {(C, *ZYX)}", f"2-D label map (H, W) = {(H, W)}")
    np.save(tmp_path / "m.npy", labels())
    one_line_refusal(lambda: read_mask_volume(tmp_path / "m.npy", (H, W)), tmp_path / "m.npy",
                     f"3-D mask {ZYX}", f"2-D label map (H, W) = {(H, W)}")


def test_a_2d_label_with_a_3d_prediction_from_the_command_line(tmp_path):
    base = make_base(tmp_path / "data")
    np.save(base["pred0"], np.zeros((C, 3, H, W), np.float32))
    refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "o.csv"], "img0.npy", "C×H×W")


def test_a_3d_label_with_a_2d_prediction(tmp_path):
    np.save(tmp_path / "p.npy", np.zeros((C, 6, 5), np.float32))
    one_line_refusal(lambda: read_prediction_volume(tmp_path / "p.npy", ZYX, C), tmp_path / "p.npy",
                     "is a 2-D prediction (C, H, W) = (3, 6, 5)", f"its ground truth is a volume (z, y, x) = {ZYX}")
    np.save(tmp_path / "m.npy", labels()[0])
    one_line_refusal(lambda: read_mask_volume(tmp_path / "m.npy", ZYX), tmp_path / "m.npy",
                     "is a 2-D mask map (H, W) = (6, 5), not a volume", f"ground truth is a volume (z, y, x) = {ZYX}")


def test_a_2d_nifti_is_not_a_label_volume(tmp_path):
    nib.save(nib.Nifti1Image(labels()[0].T, np.eye(4)), tmp_path / "flat.nii.gz")
    one_line_refusal(lambda: read_label_volume(tmp_path / "flat.nii.gz"), tmp_path / "flat.nii.gz",
                     "is a 2-D label map (H, W) = (6, 5), not a volume")


def test_a_4d_label(tmp_path):
    four = np.random.default_rng(0).integers(0, C, (*ZYX[::-1], 2)).astype(np.uint8)
    nib.save(nib.Nifti1Image(four, np.eye(4)), tmp_path / "t.nii.gz")
    one_line_refusal(lambda: read_label_volume(tmp_path / "t.nii.gz"), tmp_path / "t.nii.gz",
                     f"is a 4-D label (shape {(2, *ZYX)}); a label volume has 3 axes (z, y, x)")


def test_a_prediction_fitting_neither_order_is_never_guessed(tmp_path):
    np.save(tmp_path / "p.npy", np.zeros((C, 4, 5, 6), np.float32))
    one_line_refusal(lambda: read_prediction_volume(tmp_path / "p.npy", ZYX, C), tmp_path / "p.npy",
                     "spatial shape (4, 5, 6) fits neither its ground truth's (z, y, x) = (4, 6, 5) nor its "
                     "(x, y, z) = (5, 6, 4)")


# ---- spacing ----
def test_image_and_ground_truth_with_different_spacing(tmp_path):
    (tmp_path / "gt.nii.gz").write_bytes(gzip.compress(nifti_bytes(labels(), (2.5, 0.8, 0.7))))
    (tmp_path / "ct.nii.gz").write_bytes(gzip.compress(nifti_bytes(labels().astype(np.int16), (5.0, 0.8, 0.7))))
    gt = read_label_volume(tmp_path / "gt.nii.gz")
    one_line_refusal(lambda: read_image_volume(tmp_path / "ct.nii.gz", gt.labels.shape, gt.spacing),
                     tmp_path / "ct.nii.gz", "(5, 0.8, 0.7) mm differs from its ground truth's (2.5, 0.8, 0.7) mm")


# ---- broken NIfTI headers ----
def patched(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value):]


VALID = nifti_bytes(labels())
BROKEN = {
    "size-field": (patched(VALID, 0, (999).to_bytes(4, "little")), "not a NIfTI-1 or NIfTI-2 header"),
    "datatype-code": (patched(VALID, 70, (77).to_bytes(2, "little")), "data code 77 not recognized"),
    "dim0-9": (patched(VALID, 40, (9).to_bytes(2, "little")), "broken NIfTI header"),
    "dim-zero": (patched(VALID, 42, (0).to_bytes(2, "little")), "dimensions"),
    "dim-negative": (patched(VALID, 44, (-3).to_bytes(2, "little", signed=True)), "dimensions"),
    "spacing-zero": (patched(VALID, 80, np.float32(0).tobytes()), "voxel spacing (2.5, 0.8, 0) is not positive"),
    "spacing-nan": (patched(VALID, 84, np.float32("nan").tobytes()), "is not positive"),
    "magic": (patched(VALID, 344, b"xyz\0"), "magic"),
    "hdr-img-pair": (patched(VALID, 344, b"ni1\0"), "a .hdr/.img pair"),
    "data-offset-1-TB": (patched(VALID, 108, np.float32(2**40).tobytes()), "the data would start at byte"),
    "data-offset-nan": (patched(VALID, 108, np.float32("nan").tobytes()), "the data would start at byte nan"),
    "data-offset-negative": (patched(VALID, 108, np.float32(-352).tobytes()), "vox offset -352 too low"),
    "header-truncated": (VALID[:200], "truncated NIfTI header (200 of 348 bytes)"),
    "empty": (b"", "not a NIfTI file"),
    "data-truncated": (VALID[:400], "truncated"),
    "text": (b"hello, I am not a volume\n" * 40, "not a NIfTI-1 or NIfTI-2 header"),
}


@pytest.mark.parametrize("compress", [False, True], ids=["nii", "nii.gz"])
@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_nifti_header_is_one_line(tmp_path, case, compress):
    data, words = BROKEN[case]
    path = tmp_path / ("case.nii.gz" if compress else "case.nii")
    path.write_bytes(gzip.compress(data) if compress else data)
    one_line_refusal(lambda: read_label_volume(path), path, words)


def test_a_gzip_stream_cut_short(tmp_path):
    path = tmp_path / "cut.nii.gz"
    path.write_bytes(gzip.compress(VALID)[:-30])
    one_line_refusal(lambda: read_label_volume(path), path, "truncated")


def test_random_header_bytes_give_a_volume_or_a_load_error(tmp_path):
    rng = np.random.default_rng(7)
    path = tmp_path / "fuzz.nii"
    outcomes = {"read": 0, "refused": 0}
    for _ in range(300):
        data = bytearray(VALID)
        for position in rng.integers(0, 352, int(rng.integers(1, 4))):
            data[position] = int(rng.integers(0, 256))
        path.write_bytes(bytes(data))
        try:
            volume = read_label_volume(path)
        except LoadError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(path))
            outcomes["refused"] += 1
        else:
            assert volume.labels.ndim == 3 and all(s > 0 for s in volume.spacing)
            outcomes["read"] += 1
    assert outcomes["read"] > 20 and outcomes["refused"] > 20, outcomes


# ---- gzip bombs and lying headers ----
ZEROS_16_MB = gzip.compress(bytes(16 * 2**20), compresslevel=9)     # ~16 KB


def gzip_bomb(path, payload: bytes, gigabytes: int = 1) -> None:
    """A valid gzip member of payload, then gigabytes of zeros in 16 MB members (~1 MB of file per GB), then a
    member whose CRC is wrong: a reader that decompressed everything would stop at that, not before."""
    with open(path, "wb") as fh:
        fh.write(gzip.compress(payload))
        for _ in range(64 * gigabytes):
            fh.write(ZEROS_16_MB)
        fh.write(gzip.compress(b"end")[:-8] + bytes(8))


def test_a_gzip_bomb_behind_a_valid_header_is_refused_without_decompressing_it(tmp_path):
    gzip_bomb(tmp_path / "gt.nii.gz", VALID, gigabytes=2)
    assert (tmp_path / "gt.nii.gz").stat().st_size < 3 * 2**20
    one_line_refusal(lambda: read_label_volume(tmp_path / "gt.nii.gz"), tmp_path / "gt.nii.gz",
                     "holds more data than its header declares", "without decompressing the rest")
    probs = np.full((C, *ZYX), 1 / C, np.float32)
    gzip_bomb(tmp_path / "p.nii.gz", nib.Nifti1Image(probs.T, np.eye(4)).to_bytes())
    one_line_refusal(lambda: read_prediction_volume(tmp_path / "p.nii.gz", ZYX, C), tmp_path / "p.nii.gz",
                     "holds more data than its header declares")


def lying_header(shape_xyz, dtype_code=2) -> bytes:
    """A NIfTI-1 header declaring shape_xyz (uint8) followed by a few bytes of data."""
    data = bytearray(VALID[:352])
    data[40:56] = np.array([len(shape_xyz), *shape_xyz, *[1] * (7 - len(shape_xyz))], "<i2").tobytes()
    data[70:72] = (dtype_code).to_bytes(2, "little")
    return bytes(data) + bytes(64)


def test_a_header_lying_about_a_huge_shape_is_refused_before_decoding(tmp_path):
    path = tmp_path / "gt.nii.gz"
    path.write_bytes(gzip.compress(lying_header((2048, 2048, 2048))))
    one_line_refusal(lambda: read_label_volume(path), path, "declares 8,589,934,592 values", "refused before decoding")
    one_line_refusal(lambda: read_mask_volume(path, ZYX), path, "fits neither")


def test_a_prediction_declaring_thousands_of_classes_is_refused_from_its_header(tmp_path):
    path = tmp_path / "p.nii.gz"
    header = bytearray(lying_header((*ZYX[::-1], 30000)))      # NIfTI-1 dimensions are int16
    header[70:72] = (16).to_bytes(2, "little")             # float32
    path.write_bytes(gzip.compress(bytes(header)))
    one_line_refusal(lambda: read_prediction_volume(path, ZYX, C), path, "holds 30000 channels", "3 classes")


def test_a_header_declaring_more_than_the_file_holds(tmp_path):
    path = tmp_path / "gt.nii.gz"
    path.write_bytes(gzip.compress(lying_header(ZYX[::-1])[:352 + 50]))
    one_line_refusal(lambda: read_label_volume(path), path, "truncated: 50 data bytes, the header declares 120")


def test_an_npz_bomb_and_a_pickled_member(tmp_path):
    path = tmp_path / "p.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z, z.open("probabilities.npy", "w",
                                                                        force_zip64=True) as member:
        import io
        buf = io.BytesIO()
        np.save(buf, np.zeros((C, *ZYX), np.float32))
        member.write(buf.getvalue())
        for _ in range(32):
            member.write(bytes(2**22))
    one_line_refusal(lambda: read_prediction_volume(path, ZYX, C), path, "more data than its header declares")
    np.savez(tmp_path / "o.npz", probabilities=np.array([{"a": 1}], dtype=object))
    one_line_refusal(lambda: read_prediction_volume(tmp_path / "o.npz", ZYX, C), tmp_path / "o.npz",
                     "pickled Python objects (refused; never unpickled)")


@pytest.mark.parametrize("dtype", [[("a", "<f4"), ("b", "<f4")], "<c8", "<M8[s]"])
def test_structured_complex_and_date_arrays_are_not_read(tmp_path, dtype):
    np.save(tmp_path / "gt.npy", np.zeros(ZYX, dtype))
    one_line_refusal(lambda: read_label_volume(tmp_path / "gt.npy"), tmp_path / "gt.npy", "not plain numbers")


def test_nan_in_probabilities(tmp_path):
    probs = np.full((C, *ZYX), 1 / C, np.float32)
    probs[1, 2, 3, 4] = np.nan
    np.savez(tmp_path / "p.npz", probabilities=probs)
    one_line_refusal(lambda: read_prediction_volume(tmp_path / "p.npz", ZYX, C), tmp_path / "p.npz", "NaN or Inf")


# ---- NRRD ----
def test_hostile_nrrd_files(tmp_path):
    nrrd.write(str(tmp_path / "ok.nrrd"), labels().T, {"encoding": "gzip"})
    raw = (tmp_path / "ok.nrrd").read_bytes()
    end = raw.index(b"\n\n") + 2
    cases = {
        "detached.nrrd": (raw[:end - 1].replace(b"encoding: gzip", b"encoding: raw") + b"data file: /etc/passwd\n\n",
                          "keeps its data in a separate file"),
        "ascii.nrrd": (raw[:end].replace(b"encoding: gzip", b"encoding: ascii") + b"1 2 3", "encoding 'ascii'"),
        "endless.nrrd": (b"NRRD0004\n" + b"# " + b"x" * 70000, "no blank line ends it within 64 KiB"),
        "sizes.nrrd": (raw.replace(b"sizes: 5 6 4", b"sizes: 5000 6000 4000"), "refused before decoding"),
        "bomb.nrrd": (raw[:end] + gzip.compress(labels().T.tobytes(order="F")) + ZEROS_16_MB * 8,
                      "more data than its header declares"),
        "type.nrrd": (raw.replace(b"type: uint8", b"type: quaternion"), "broken NRRD header"),
        "magic.nrrd": (b"NRRX0004\n\n", "not an NRRD file"),
    }
    for name, (data, words) in cases.items():
        (tmp_path / name).write_bytes(data)
        one_line_refusal(lambda: read_label_volume(tmp_path / name), tmp_path / name, words)


def test_a_fifo_named_like_a_volume_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "case.nii.gz")
    with deadline(10):
        one_line_refusal(lambda: read_header(tmp_path / "case.nii.gz"), tmp_path / "case.nii.gz",
                         "not a regular file")


# ---- nnU-Net's pickles ----
class Trap:
    """Unpickling this runs open(marker, "w"): the file appears if anything ever unpickles it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_an_nnunet_folder_whose_pkl_would_write_a_file_leaves_none(tmp_path, demo3d_dir):
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(Trap(control))).close()
    assert control.exists()                                # the trap is real: unpickling it writes a file
    root = shutil.copytree(demo3d_dir, tmp_path / "nnunet")
    marker = tmp_path / "unpickled"
    for pkl in (root / "predictionsTr").glob("*.pkl"):
        pkl.write_bytes(pickle.dumps(Trap(marker)))
    layout = detect_volume_layout(root)
    for kind in ("logits", "masks"):
        pairing = pair_volumes(layout.gt, root / "predictionsTr", kind, layout.images)
        assert len(pairing.items) == 4 and not pairing.unpaired
        for item in pairing.items:
            gt = read_label_volume(item.gt)
            if kind == "logits":
                assert read_prediction_volume(item.pred, gt.labels.shape, 4).kind == "probabilities"
            else:
                read_mask_volume(item.pred, gt.labels.shape)
            read_image_volume(item.image, gt.labels.shape, gt.spacing)
    with pytest.raises(LoadError, match="unsupported volume format"):
        read_header(root / "predictionsTr" / "case_000.pkl")
    assert not marker.exists()
