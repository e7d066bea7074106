"""Folder layouts of volume datasets (nnU-Net, the Decathlon, plain gt/ + logits/), the pairing of cases, and the
`segviewer demo --3d` dataset."""
import hashlib
import json
import math

import numpy as np
import pytest
import torch

from helpers import run_cli
from segviewer import LoadError
from segviewer.core.demo_volume import CLASSES, FAILING_CASE, NO_TUMOUR_CASE, SPACING, write_demo_volumes
from segviewer.core.options import FolderLayout, layout_from_folder
from segviewer.core.volume_layouts import VolumeLayout, dataset_json_classes, detect_volume_layout, pair_volumes
from segviewer.core.volume_metrics import case_counts, case_mean_scores, stack_counts
from segviewer.core.volumes import read_image_volume, read_label_volume, read_mask_volume, read_prediction_volume


def touch(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return folder


# ---- layouts ----
def test_the_3d_demo_is_an_nnunet_layout(demo3d_dir):
    layout = layout_from_folder(demo3d_dir)
    assert isinstance(layout, VolumeLayout)
    assert (layout.kind, layout.gt, layout.logits, layout.masks, layout.images) == (
        "nnunet", demo3d_dir / "labelsTr", demo3d_dir / "predictionsTr", None, demo3d_dir / "imagesTr")
    assert layout.class_names == CLASSES and layout.ignore_index is None
    masks = layout_from_folder(demo3d_dir, prefer="masks")
    assert (masks.logits, masks.masks) == (None, demo3d_dir / "predictionsTr")
    assert layout.options().gt_dir == demo3d_dir / "labelsTr"


def test_a_2d_dataset_keeps_its_layout(demo_dir):
    layout = layout_from_folder(demo_dir)
    assert type(layout) is FolderLayout and layout.gt == demo_dir / "gt"
    assert detect_volume_layout(demo_dir) is None


def test_the_decathlon_layout_and_its_dataset_json(tmp_path):
    touch(tmp_path / "imagesTr", "la_003.nii.gz", "la_004.nii.gz")
    touch(tmp_path / "labelsTr", "la_003.nii.gz", "la_004.nii.gz")
    touch(tmp_path / "inference", "la_003.nii.gz", "la_004.nii.gz")
    (tmp_path / "dataset.json").write_text(json.dumps({"modality": {"0": "MRI"},
                                                       "labels": {"0": "background", "1": "left atrium"}}))
    layout = detect_volume_layout(tmp_path)
    assert (layout.kind, layout.masks, layout.logits) == ("msd", tmp_path / "inference", None)
    assert layout.class_names == ("background", "left atrium")


def test_labels_ts_is_chosen_when_the_predictions_are_its_cases(tmp_path):
    touch(tmp_path / "labelsTr", "a.nii.gz", "b.nii.gz")
    touch(tmp_path / "labelsTs", "t1.nii.gz", "t2.nii.gz")
    touch(tmp_path / "imagesTs", "t1_0000.nii.gz", "t2_0000.nii.gz")
    touch(tmp_path / "pred_test", "t1.npz", "t2.npz", "t1.pkl", "plans.json")
    layout = detect_volume_layout(tmp_path)
    assert (layout.gt, layout.logits, layout.images, layout.kind) == (
        tmp_path / "labelsTs", tmp_path / "pred_test", tmp_path / "imagesTs", "nnunet")


def test_plain_gt_and_logits_of_volumes(tmp_path):
    touch(tmp_path / "gt", "c1.nrrd", "c2.npy")
    touch(tmp_path / "logits", "c1.npz", "c2.npz")
    layout = layout_from_folder(tmp_path)
    assert (layout.kind, layout.gt, layout.logits) == ("plain", tmp_path / "gt", tmp_path / "logits")


def test_labels_without_predictions_is_one_line(tmp_path):
    touch(tmp_path / "labelsTr", "a.nii.gz")
    touch(tmp_path / "imagesTr", "a_0000.nii.gz")
    with pytest.raises(LoadError) as err:
        layout_from_folder(tmp_path)
    assert str(err.value).startswith(f"{tmp_path}: has labelsTr/ but no predictions folder")


@pytest.mark.parametrize("labels,names,ignore", [
    ({"background": 0, "liver": 1, "ignore": 2}, ("background", "liver"), 2),
    ({"0": "background", "2": "b", "1": "a"}, ("background", "a", "b"), None),
    ({"background": 0, "whole tumour": [1, 2, 3]}, None, None),           # regions: generic names
    ({"background": 0, "b": 2}, None, None),                               # not 0..n-1
])
def test_dataset_json_class_names(tmp_path, labels, names, ignore):
    (tmp_path / "dataset.json").write_text(json.dumps({"labels": labels}))
    assert dataset_json_classes(tmp_path / "dataset.json") == (names, ignore)


# ---- pairing ----
def test_pairing_strips_channel_0000_and_skips_other_channels_and_pickles(tmp_path):
    gt = touch(tmp_path / "labelsTr", "liver_1.nii.gz", "liver_2.nii.gz", "case_0001.nii.gz")
    pred = touch(tmp_path / "pred", "liver_1.npz", "liver_1.pkl", "liver_2.npz", "liver_2.pkl", "case_0001.npz",
                 "extra.npz", "liver_1.nii.gz")
    images = touch(tmp_path / "imagesTr", "liver_1_0000.nii.gz", "liver_1_0001.nii.gz", "case_0001.nii.gz")
    pairing = pair_volumes(gt, pred, "logits", images)
    assert [(i.name, i.pred.name, i.image.name if i.image else None) for i in pairing.items] == [
        ("case_0001", "case_0001.npz", "case_0001.nii.gz"),      # a case name ending in 4 digits is a whole name
        ("liver_1", "liver_1.npz", "liver_1_0000.nii.gz"), ("liver_2", "liver_2.npz", None)]
    assert pairing.unpaired == {"prediction": ["extra"], "pair without image": ["liver_2"]}
    masks = pair_volumes(gt, pred, "masks")
    assert [i.pred.name for i in masks.items] == ["liver_1.nii.gz"]


def test_pairing_without_pairs_names_both_folders(tmp_path):
    gt = touch(tmp_path / "gt", "a.nii.gz")
    pred = touch(tmp_path / "logits", "b.npz")
    with pytest.raises(LoadError, match=r"no case pairs with .*gt by name \(e\.g\. 'a' vs 'b'\)"):
        pair_volumes(gt, pred)


# ---- the 3-D demo ----
def read_case(root, name):
    gt = read_label_volume(root / "labelsTr" / f"{name}.nii.gz")
    probs = read_prediction_volume(root / "predictionsTr" / f"{name}.npz", gt.labels.shape, len(CLASSES))
    image = read_image_volume(root / "imagesTr" / f"{name}_0000.nii.gz", gt.labels.shape, gt.spacing)
    mask = read_mask_volume(root / "predictionsTr" / f"{name}.nii.gz", gt.labels.shape)
    return gt, probs, image, mask


def test_demo_cases_are_anisotropic_ct_with_nnunet_probabilities(demo3d_dir):
    pairing = pair_volumes(demo3d_dir / "labelsTr", demo3d_dir / "predictionsTr", "logits", demo3d_dir / "imagesTr")
    assert [i.name for i in pairing.items] == ["case_000", "case_001", "case_002", "case_003"]
    assert not pairing.unpaired and not pairing.duplicates
    dice = []
    for item in pairing.items:
        gt, probs, image, mask = read_case(demo3d_dir, item.name)
        assert gt.spacing == SPACING and gt.labels.shape == (24, 64, 64) and probs.kind == "probabilities"
        np.testing.assert_allclose(probs.values.sum(0), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(mask, probs.values.argmax(0))     # the hard segmentation is the argmax
        assert image.values.min() < -900 and image.values.max() > 500   # air and bone in Hounsfield units
        liver = image.values[gt.labels == 1]
        assert 30 < np.median(liver) < 90
        counts = case_counts(torch.from_numpy(probs.values), torch.from_numpy(gt.labels), 4, 255, argmax=True)
        dice.append(case_mean_scores(stack_counts([counts])).dice)
    dice = torch.stack(dice)
    assert math.isnan(dice[NO_TUMOUR_CASE, 3])                       # no tumour in GT nor prediction: absent
    assert dice[FAILING_CASE, 3] == pytest.approx(0.0, abs=1e-6)     # the failing model misses the tumour
    others = [i for i in range(4) if i not in (FAILING_CASE, NO_TUMOUR_CASE)]
    assert (dice[others, 3] > 0.6).all() and (dice[:, 1] > 0.9).all()
    assert dice[FAILING_CASE, 2] < dice[others, 2].min()               # and sees a kidney on the wrong side


def digest(root):
    """The demo's files (the index cache other tests leave in .segviewer/ is not the demo's)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".segviewer" not in p.relative_to(root).parts}


def test_demo_command_writes_the_same_dataset_and_reuses_it(tmp_path, demo3d_dir):
    result = run_cli("demo", tmp_path / "d3", "--3d", "--no-gui")
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, str(tmp_path / "d3"), "")
    assert digest(tmp_path / "d3") == digest(demo3d_dir)             # the same bytes for the same seed
    assert isinstance(layout_from_folder(tmp_path / "d3"), VolumeLayout)
    stamp = (tmp_path / "d3" / "demo.json").stat().st_mtime_ns
    assert run_cli("demo", tmp_path / "d3", "--3d", "--no-gui").returncode == 0
    assert (tmp_path / "d3" / "demo.json").stat().st_mtime_ns == stamp


def test_demo_never_writes_into_a_foreign_folder(tmp_path):
    touch(tmp_path / "mine", "notes.txt")
    with pytest.raises(LoadError, match="not segviewer's demo"):
        write_demo_volumes(tmp_path / "mine")
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_classes_without_colours_paint_background_grey_and_the_rest_distinct(tmp_path):
    """nnU-Net's dataset.json names no colours: the background class is context (grey, as the 2-D demo's class
    file has it), not the palette's first hue (red, over a whole CT slice)."""
    from segviewer.core.classes import BACKGROUND_COLOR, distinct_palette, load_class_file
    (tmp_path / "dataset.json").write_text(json.dumps({"labels": {"background": 0, "liver": 1, "kidney": 2}}))
    spec = load_class_file(tmp_path / "dataset.json")
    assert spec.colors == (BACKGROUND_COLOR, *distinct_palette(2)) and BACKGROUND_COLOR == (60, 60, 60)
    (tmp_path / "c.json").write_text(json.dumps({"names": ["road", "bg", "car"]}))
    assert load_class_file(tmp_path / "c.json").colors == (distinct_palette(2)[0], (60, 60, 60), distinct_palette(2)[1])
