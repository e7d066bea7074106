"""The planes of a 3-D case are named and drawn from its header: one volume saved in four orientations (NIfTI RAS,
LPS, sagittal-first PIL, and an NRRD in LPS space whose slowest axis runs anterior-posterior) draws the same
axial, coronal and sagittal slices, scores the same, and its per-slice CSV holds the same rows up to the index
mapping the README documents (the slice's index in the file's array)."""
import csv
import json

import nibabel as nib
import nrrd
import numpy as np
import pytest

import segviewer
from helpers import run_cli
from segviewer.core.orientation import ARRAY_ORDER
from segviewer.core.volume_files import read_header

RAS_SHAPE = (9, 8, 6)                  # (R-L, A-P, S-I) voxels of the reference volume, x toward R, y toward A
SPACING = (0.7, 0.8, 2.5)              # mm along R, A, S
C = 3
PLANES = ("axial", "coronal", "sagittal")
ACROSS = {"axial": 2, "coronal": 1, "sagittal": 0}     # the reference's (R, A, S) axis a plane's slices cross
NIFTI_CODES = ("RAS", "LPS", "PIL")


def reference_volume():
    """(labels (R, A, S) uint8, probabilities (R, A, S, C) float32) of a lopsided case: no symmetry to hide a flip."""
    rng = np.random.default_rng(7)
    r, a, s = np.meshgrid(*(np.arange(n) for n in RAS_SHAPE), indexing="ij")
    labels = np.zeros(RAS_SHAPE, np.uint8)
    labels[(r - 2) ** 2 + (a - 5) ** 2 + (s - 3) ** 2 <= 5] = 1
    labels[(r > 5) & (a < 3) & (s > 1)] = 2
    logits = 4.0 * (labels[..., None] == np.arange(C)) + rng.normal(0, 1.2, (*RAS_SHAPE, C))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return labels, probs.astype(np.float32)


def ras_image(array):
    return nib.Nifti1Image(array, np.diag([*SPACING, 1.0]))


def file_index(codes: str, plane: str, p: int) -> int:
    """The slice index in a file with these axis codes of the reference's plane position p (by hand: the file's
    axis along that world axis counts from the other end when it grows toward L, P or I)."""
    world = ACROSS[plane]
    axis = next(i for i, c in enumerate(codes) if c in ("RL", "AP", "SI")[world])
    return p if codes[axis] in "RAS" else RAS_SHAPE[world] - 1 - p


def write_case(root, name: str, codes: str, labels, probs) -> None:
    """labelsTr/NAME.nii.gz and predictionsTr/NAME.npz (C, z, y, x) of the reference reoriented to `codes`."""
    ornt = nib.orientations.ornt_transform(nib.orientations.axcodes2ornt("RAS"), nib.orientations.axcodes2ornt(codes))
    img = ras_image(labels).as_reoriented(ornt)
    assert nib.aff2axcodes(img.affine) == tuple(codes)
    img.header.set_xyzt_units("mm")
    nib.save(img, root / "labelsTr" / f"{name}.nii.gz")
    moved = nib.orientations.apply_orientation(probs, ornt)            # (x, y, z, C) in the file's order
    np.savez_compressed(root / "predictionsTr" / f"{name}.npz", probabilities=moved.transpose(3, 2, 1, 0))


def write_nrrd_case(root, name: str, labels, probs) -> None:
    """An LPS-space NRRD whose (x, y, z) axes run toward S, R and A: its slowest array axis is anterior-posterior."""
    data = labels.transpose(2, 0, 1)                                     # (S, R, A) in pynrrd's x-fastest order
    directions = np.array([[0, 0, SPACING[2]], [-SPACING[0], 0, 0], [0, -SPACING[1], 0]])   # LPS coordinates
    nrrd.write(str(root / "labelsTr" / f"{name}.nrrd"), data, {"space": "left-posterior-superior",
                                                            "space directions": directions, "encoding": "gzip"})
    np.savez_compressed(root / "predictionsTr" / f"{name}.npz",
                        probabilities=probs.transpose(3, 1, 0, 2))      # (C, A, R, S): C order of (S, R, A)


@pytest.fixture(scope="module")
def reference():
    return reference_volume()


@pytest.fixture(scope="module")
def folder(reference, tmp_path_factory):
    root = tmp_path_factory.mktemp("orient")
    (root / "labelsTr").mkdir()
    (root / "predictionsTr").mkdir()
    for codes in NIFTI_CODES:
        write_case(root, codes.lower(), codes, *reference)
    write_nrrd_case(root, "sra", *reference)
    (root / "dataset.json").write_text(json.dumps({"labels": {"background": 0, "a": 1, "b": 2}}))
    return root


CASE_CODES = {"las": None, "lps": "LPS", "pil": "PIL", "ras": "RAS", "sra": "SRA"}


def test_the_headers_give_each_file_its_orientation(folder):
    for codes in NIFTI_CODES:
        assert read_header(folder / "labelsTr" / f"{codes.lower()}.nii.gz").orientation.codes == codes
    assert read_header(folder / "labelsTr" / "sra.nrrd").orientation.codes == "SRA"


@pytest.mark.parametrize("plane", PLANES)
def test_every_file_draws_the_same_slice_in_the_radiological_convention(folder, reference, plane):
    """Axial: anterior up, the patient's right on the left; coronal: superior up, right on the left; sagittal:
    superior up, anterior on the left — the reference's plane transposed and flipped both ways, in every file."""
    labels = reference[0]
    p = 2
    expected = np.take(labels, p, ACROSS[plane]).T[::-1, ::-1]
    with segviewer.open(folder=folder) as ins:
        overlays = []
        for name in ("ras", "lps", "pil", "sra"):
            image = ins.slices.image(name, plane, file_index(name.upper(), plane, p))
            np.testing.assert_array_equal(image.sample.labels, expected, err_msg=name)
            overlays.append(image.overlay(ins.scoring).codes)
        for codes in overlays[1:]:
            np.testing.assert_array_equal(codes, overlays[0])


def test_the_per_case_scores_are_the_same_in_every_orientation(folder, reference):
    labels, probs = reference
    hit = (probs.argmax(-1) == labels)
    with segviewer.open(folder=folder, scoring=segviewer.Scoring(argmax=True)) as ins:
        rows = [ins.image_scores(name) for name in ("ras", "lps", "pil", "sra")]
    assert rows[0]["tp"].tolist() == [int((hit & (labels == c)).sum()) for c in range(C)]
    for other in rows[1:]:
        assert other[["tp", "fp", "fn", "dice"]].equals(rows[0][["tp", "fp", "fn", "dice"]])


def test_the_per_slice_csv_numbers_slices_as_each_file_does(folder, tmp_path):
    """--slice-axis axial: every case's rows are the reference's, slice k of a file at its own array index (PIL's
    superior-inferior axis grows toward I, so its slice k is the reference's S_n - 1 - k), its position k × its
    own spacing across that axis."""
    out = tmp_path / "slices.csv"
    result = run_cli("export", folder, "--argmax", "--out", tmp_path / "c.csv", "--per-slice", out,
                     "--slice-axis", "axial")
    assert result.returncode == 0, result.stderr
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    counts = {(r["case"], int(r["slice"]), int(r["class_id"])): (r["tp"], r["fp"], r["fn"]) for r in rows}
    n = RAS_SHAPE[2]
    assert {int(r["slice"]) for r in rows if r["case"] == "pil"} == set(range(n))
    for k in range(n):
        for c in range(C):
            assert counts[("pil", n - 1 - k, c)] == counts[("ras", k, c)]
            assert counts[("lps", k, c)] == counts[("ras", k, c)] == counts[("sra", k, c)]
    assert {r["position_mm"] for r in rows if r["slice"] == "3"} == {"7.5"}


@pytest.mark.parametrize("plane", PLANES)
def test_a_drawn_pixel_names_the_voxel_of_the_file_that_holds_its_label(folder, plane):
    with segviewer.open(folder=folder) as ins:
        for name, suffix in (("pil", ".nii.gz"), ("sra", ".nrrd"), ("lps", ".nii.gz")):
            path = folder / "labelsTr" / f"{name}{suffix}"
            zyx = (np.asarray(nib.load(path).dataobj) if suffix != ".nrrd" else nrrd.read(str(path))[0]).T
            volume = ins.slices.volume(name)
            view, index = volume.view(PLANES.index(plane)), 1
            drawn = ins.slices.image(name, plane, index).sample.labels
            rows, cols = drawn.shape
            named = np.array([[zyx[view.voxel(index, r, c, volume.shape)] for c in range(cols)] for r in range(rows)])
            np.testing.assert_array_equal(named, drawn)


# ---- a hand-made 4×5×6 case with one marked voxel ----
def marked_case():
    zyx = np.zeros((4, 5, 6), np.uint8)
    zyx[1, 3, 0] = 1                   # a RAS file: 1 slice above the bottom, anterior half, the patient's left edge
    return zyx


@pytest.fixture()
def marked_folder(tmp_path):
    zyx = marked_case()
    probs = np.stack([1.0 - zyx, zyx]).astype(np.float32)
    for fmt in ("nifti", "npy"):
        root = tmp_path / fmt
        (root / "gt").mkdir(parents=True)
        (root / "logits").mkdir()
        if fmt == "nifti":
            nib.save(nib.Nifti1Image(zyx.T.copy(), np.diag([0.7, 0.8, 2.5, 1.0])), root / "gt" / "m.nii.gz")
        else:
            np.save(root / "gt" / "m.npy", zyx)
        np.save(root / "logits" / "m.npy", probs)
    return tmp_path


@pytest.mark.parametrize("fmt, where", [
    # RAS: axial z 1 has anterior (high y) up and the patient's left (x 0) on the screen's right
    ("nifti", {"axial": ((5, 6), (1, 5)), "coronal": ((4, 6), (2, 5)), "sagittal": ((4, 5), (2, 1))}),
    # no orientation (array order, taken as LPS): axial as stored, coronal and sagittal head up (z 1 is row 2)
    ("npy", {"axial": ((5, 6), (3, 0)), "coronal": ((4, 6), (2, 0)), "sagittal": ((4, 5), (2, 3))}),
])
def test_the_marked_voxel_appears_where_a_radiologist_expects_it(marked_folder, fmt, where):
    index = {"axial": 1, "coronal": 3, "sagittal": 0}
    with segviewer.open(gt=marked_folder / fmt / "gt", logits=marked_folder / fmt / "logits",
                        activation="none") as ins:
        assert ins.slices.volume("m").orientation.known == (fmt == "nifti")
        for plane, (shape, pixel) in where.items():
            drawn = ins.slices.image("m", plane, index[plane]).sample.labels
            assert drawn.shape == shape
            assert [tuple(p) for p in np.argwhere(drawn == 1)] == [pixel], plane
            volume = ins.slices.volume("m")
            assert volume.view(PLANES.index(plane)).drawn((1, 3, 0), volume.shape) == pixel


def test_an_array_without_orientation_keeps_array_order_named_lps():
    assert not ARRAY_ORDER.known and ARRAY_ORDER.codes == "LPS"
    assert [ARRAY_ORDER.axis(p) for p in range(3)] == [0, 1, 2]
    assert ARRAY_ORDER.describe() == "orientation unknown (array order)"


@pytest.mark.parametrize("degrees, codes", [(30, "RAS"), (60, "PRS"), (-60, "ALS")])
def test_an_oblique_scan_takes_the_patient_axes_its_axes_run_closest_to(tmp_path, degrees, codes):
    """A slice plane turned about S-I: x at 30° from R still runs R-L; at 60° it runs closer to A-P (toward P when
    turned clockwise seen from above, toward A the other way), y then toward R or L."""
    from segviewer.core.orientation import from_matrix
    t = np.radians(degrees)
    rotation = np.array([[np.cos(t), np.sin(t), 0], [-np.sin(t), np.cos(t), 0], [0, 0, 1]])
    orientation = from_matrix(tmp_path / "oblique.nii", rotation @ np.diag([0.7, 0.8, 2.5]), "affine")
    assert orientation.codes == codes and orientation.axis(0) == 0


def test_a_first_look_reads_slices_only_where_the_plane_lies_across_the_files_first_axis(folder):
    """RAS and LPS files keep S-I on their first (z) axis: an axial first look reads a slab at a time; a
    sagittal-first file (PIL, its first axis runs L-R) and any other plane are read whole, as their slices need
    every slab; either way the first look's slice is the whole case's."""
    for name, plane, sliced in (("ras", 0, True), ("lps", 0, True), ("pil", 0, False), ("pil", 2, True),
                                ("ras", 1, False), ("ras", None, True)):
        with segviewer.open(folder=folder) as ins:          # a fresh engine: no case loaded yet
            look = ins.slices.preview(name, plane)
            assert look.sample.preview is sliced, (name, plane)
            p = plane or 0
            first = look.slice(p, 1)
            whole = ins.slices.image(name, ("axial", "coronal", "sagittal")[p], 1)
            np.testing.assert_array_equal(first.sample.labels, whole.sample.labels)
