"""Issue 23's bad inputs inside one nnU-Net folder, through the command line: a 2-D label with a 3-D prediction and
the reverse, a 4-D label, an image whose spacing differs from its ground truth's, a broken NIfTI header and a gzip
bomb each give one line naming the file and the problem, and the rest of the folder goes on."""
import csv

from helpers import make_hostile_volume_folder, run_cli


def test_every_bad_case_is_one_line_and_the_rest_is_exported(tmp_path):
    folder = tmp_path / "data"
    bad = make_hostile_volume_folder(folder)
    result = run_cli("export", folder, "--out", tmp_path / "classes.csv", "--per-case", tmp_path / "cases.csv",
                     "--figures", tmp_path / "figures", "--worst", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    for case, (file, words) in bad.items():
        if case == "spacing":
            continue                     # the export reads no image but for its figures (below)
        mine = [line for line in lines if str(folder / file) in line]
        assert len(mine) == 1 and mine[0].startswith("segviewer: skipped ") and words in mine[0], (case, lines)
    with open(tmp_path / "cases.csv", newline="") as fh:
        assert {row["case"] for row in csv.DictReader(fh)} == {"good_0", "good_1", "spacing"}
    assert len(list((tmp_path / "figures").glob("*.png"))) == 2


def test_an_image_of_other_spacing_is_one_line_where_the_image_is_read(tmp_path):
    folder = tmp_path / "data"
    make_hostile_volume_folder(folder)
    result = run_cli("export", folder, "--out", tmp_path / "classes.csv", "--figures", tmp_path / "figures",
                     "--worst", "3", "--rank-by", "fn")
    assert result.returncode == 0, result.stderr
    spacing = [line for line in result.stderr.splitlines() if "spacing_0000.nii.gz" in line]
    assert len(spacing) == 1 and "voxel spacing (z, y, x) = (3, 0.8, 0.7) mm differs from its ground truth's " \
                                  "(2.5, 0.8, 0.7) mm" in spacing[0]


def test_strict_stops_at_the_first_bad_case(tmp_path):
    folder = tmp_path / "data"
    make_hostile_volume_folder(folder)
    result = run_cli("export", folder, "--strict", "--out", tmp_path / "classes.csv")
    errors = [line for line in result.stderr.splitlines() if not line.startswith("segviewer: warning: ")]
    assert result.returncode == 2 and len(errors) == 1 and "bomb.nii.gz" in errors[0], result.stderr
    assert not (tmp_path / "classes.csv").exists()


def test_a_dataset_json_that_is_no_file_is_refused_not_skipped(tmp_path):
    """A FIFO named dataset.json was skipped, and the classes lost their names without a word."""
    import os
    from hostile_kit import refused
    from segviewer.core.demo_volume import write_demo_volumes
    root = tmp_path / "d3"
    write_demo_volumes(root)
    (root / "dataset.json").unlink()
    os.mkfifo(root / "dataset.json")
    refused(tmp_path, ["export", root, "--out", tmp_path / "o.csv"], str(root / "dataset.json"), "not a regular file")
