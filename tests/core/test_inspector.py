"""The engine: one set of numbers for the API, the CSVs and the window, whatever order the settings change in."""
import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

import segviewer
from helpers import make_dataset, run_cli
from segviewer.core.overlay import ALL_CLASSES, EXTRA, FN, FP, TP
from segviewer.core.scoring import Scoring

MODES = {
    "threshold": (dict(threshold=0.4, beta=2.0), ["--threshold", "0.4", "--beta", "2"]),
    "argmax": (dict(argmax=True), ["--argmax"]),
    "per-class": (dict(threshold=(0.3, 0.5, 0.6, 0.2, 0.45, 0.5, 0.7)), ["--threshold", "0.3,0.5,0.6,0.2,0.45,0.5,0.7"]),
    "boundary": (dict(threshold=0.5, boundary=2), ["--boundary", "2"]),
    "interior": (dict(threshold=0.35, boundary=2, interior=True), ["--threshold", "0.35", "--boundary", "2", "--interior"]),
}


@pytest.fixture
def demo_copy(demo_dir, tmp_path):
    root = tmp_path / "demo"
    shutil.copytree(demo_dir, root, ignore=shutil.ignore_patterns(".segviewer"))
    return root


def export_csvs(root, tmp_path, args, source="logits"):
    out, per_image = tmp_path / "pc.csv", tmp_path / "pi.csv"
    res = run_cli("export", "--gt", root / "gt", f"--{source}", root / source, "--classes", root / "classes.json",
                  *args, "--out", out, "--per-image", per_image)
    assert res.returncode == 0, res.stderr
    return pd.read_csv(out), pd.read_csv(per_image)


@pytest.mark.parametrize("mode", list(MODES))
def test_api_equals_export_to_the_pixel(demo_copy, tmp_path, mode):
    kwargs, args = MODES[mode]
    per_class, per_image = export_csvs(demo_copy, tmp_path, args)
    with segviewer.open(folder=demo_copy) as ins:
        ins.scoring = segviewer.Scoring(**kwargs)
        ds = ins.dataset_scores()
        assert list(ds.columns) == ["class_id", "class_name", "tp", "fp", "fn", "precision", "recall", "fbeta",
                                    "dice", "iou"]
        rows = per_class.iloc[:-1]
        for col in ("tp", "fp", "fn"):
            assert ds[col].tolist() == rows[col].astype(int).tolist()
        for col in ("precision", "recall", "fbeta", "dice", "iou"):
            np.testing.assert_allclose(ds[col].to_numpy(), rows[col].to_numpy(), rtol=1e-9, equal_nan=True)
        name = ins.names[3]
        img = ins.image_scores(name)
        expected = per_image[per_image.image == name]
        assert img["tp"].tolist() == expected["tp"].tolist() and img["fn"].tolist() == expected["fn"].tolist()
        np.testing.assert_allclose(img["fbeta"].to_numpy(), expected["fbeta"].to_numpy(), rtol=1e-9, equal_nan=True)
        listed = ins.images()
        sums = per_image.groupby("image", sort=False)[["fp", "fn"]].sum()
        assert listed["fp"].tolist() == sums.loc[listed["image"], "fp"].tolist()
        assert listed["fn"].tolist() == sums.loc[listed["image"], "fn"].tolist()
        means = per_image.groupby("image", sort=False)["fbeta"].mean()   # pandas skips absent (NaN) classes
        np.testing.assert_allclose(listed["mean_fbeta"].to_numpy(), means.loc[listed["image"]].to_numpy(), rtol=1e-9)


def test_masks_api_equals_export(demo_copy, tmp_path):
    per_class, _ = export_csvs(demo_copy, tmp_path, [], source="masks")
    with segviewer.open(gt=demo_copy / "gt", masks=demo_copy / "masks", classes=demo_copy / "classes.json") as ins:
        ins.scoring = segviewer.Scoring(threshold=0.2, beta=0.5)   # masks predict by themselves: threshold unused
        assert ins.scoring.argmax
        ds = ins.dataset_scores()
        assert ds["tp"].tolist() == per_class.iloc[:-1]["tp"].astype(int).tolist()
        assert "none" not in ins.confusion(image=0).columns     # argmax: every valid pixel predicts a class


def test_every_call_answers_for_the_current_settings(tmp_path):
    """A fixed sequence of fast changes: each answer equals a fresh engine's at the same settings."""
    from segviewer.core.demo import write_demo
    demo_copy = write_demo(tmp_path / "small", n_images=6, size=(64, 96), seed=3)   # 16 opens: small images
    sequence = [Scoring(threshold=0.3), Scoring(argmax=True), Scoring(threshold=0.7, beta=3.0),
                Scoring(threshold=0.5, boundary=3), Scoring(threshold=0.5, boundary=3, beta=0.5),
                Scoring(threshold=0.5), Scoring(argmax=True, boundary=1, interior=True), Scoring(threshold=0.123)]
    ins = segviewer.open(folder=demo_copy)
    for s in sequence:
        ins.scoring = s
        got = (ins.dataset_scores(), ins.image_scores(5), ins.images(), ins.confusion())
        with segviewer.open(folder=demo_copy, scoring=s) as fresh:
            want = (fresh.dataset_scores(), fresh.image_scores(5), fresh.images(), fresh.confusion())
        for a, b in zip(got, want):
            pd.testing.assert_frame_equal(a, b)


def test_confusion_has_a_none_column_only_in_threshold_mode(demo_copy):
    with segviewer.open(folder=demo_copy) as ins:
        assert "none" in ins.confusion().columns
        ins.scoring = Scoring(argmax=True)
        argmax = ins.confusion()
        assert "none" not in argmax.columns
        # in argmax mode every valid pixel is predicted as some class: rows sum to the GT pixels
        assert argmax.sum(axis=1).tolist() == (ins.dataset_scores()["tp"] + ins.dataset_scores()["fn"]).tolist()


def test_keys_name_exactly_what_changes_a_result(demo_copy):
    a, b = Scoring(threshold=0.4), Scoring(threshold=0.4, beta=2.0, smooth=0.1)
    with segviewer.open(folder=demo_copy) as ins:
        key = ins.key
        assert key("dataset_counts", a) == key("dataset_counts", b)    # beta never changes counts
        assert key("dataset_scores", a) != key("dataset_scores", b)
        assert key("dataset_counts", Scoring(threshold=0.4, boundary=3)) != key("dataset_counts", a)
        assert key("confusion", Scoring(argmax=True, threshold=0.1)) == key("confusion", Scoring(argmax=True))
        assert key("overlay", a, 2, (1, "errors")) != key("overlay", a, 2, (2, "errors"))
        assert key("best", a) == key("best", Scoring(threshold=0.9)) != key("best", b)   # the whole grid: no threshold
        assert key("boundary", a) == key("boundary", Scoring(threshold=0.4, boundary=2, beta=3.0))
        assert key("calibration", a, extra=(15,)) == key("calibration", Scoring(argmax=True), extra=(15,))
        assert key("label_scores", a) == key("label_scores", b)
        with pytest.raises(segviewer.OptionError, match="unknown kind"):
            key("nonsense", a)


def test_scoring_refuses_bad_values():
    for bad in (dict(beta=0), dict(beta=-1), dict(smooth=-1e-9), dict(threshold=1.5), dict(threshold=float("nan")),
                dict(boundary=-1), dict(interior=True), dict(beta=float("inf"))):
        with pytest.raises(segviewer.OptionError):
            Scoring(**bad)
    ins_like = Scoring(threshold=[0.1, 0.2])
    with pytest.raises(segviewer.OptionError, match="2 thresholds for 7 classes"):
        ins_like.check_classes(7)


def test_all_classes_categories_by_hand(tmp_path):
    """Probabilities given directly (activation none), so every prediction can be read off by eye."""
    gt = np.array([[0, 1, 2, 1]], np.uint8)
    probs = np.array([[0.7, 0.1, 0.1, 0.2],     # class 0
                      [0.6, 0.8, 0.2, 0.1],     # class 1
                      [0.1, 0.1, 0.7, 0.7]],    # class 2
                     np.float32)[:, None, :]
    make_dataset(tmp_path, [probs], [gt])
    ins = segviewer.open(gt=tmp_path / "gt", logits=tmp_path / "logits", activation="none")
    ins.scoring = Scoring(threshold=0.5)
    # pixel 0: GT 0, predicted {0, 1} -> extra; pixel 1: GT 1, {1} -> correct;
    # pixel 2: GT 2, {2} -> correct; pixel 3: GT 1, {2} -> wrong class
    overlay = ins.load(0).overlay(ins.scoring, ALL_CLASSES)
    assert overlay.codes.tolist() == [[EXTRA, TP, TP, FP]]
    legend = overlay.legend
    counts = ins.image_scores(0)
    assert legend["tp"] + legend["extra"] == counts["tp"].sum() == 3
    assert legend["fp"] + legend["fn"] == counts["fn"].sum() == 1           # wrong class + missed = Σ fn
    assert counts["fp"].sum() == 2                                          # class 1 on pixel 0, class 2 on pixel 3
    assert ins.images()["fp"].tolist() == [2] and ins.images()["fn"].tolist() == [1]
    ins.scoring = Scoring(threshold=0.75)
    # pixel 0 nothing -> missed; pixel 1 {1} correct; pixel 2 nothing (0.7) -> missed; pixel 3 nothing -> missed
    assert ins.load(0).overlay(ins.scoring, ALL_CLASSES).codes.tolist() == [[FN, TP, FN, FN]]
    ins.scoring = Scoring(threshold=0.0)
    legend = ins.load(0).overlay(ins.scoring, ALL_CLASSES).legend
    assert legend["extra"] == 4 and ins.image_scores(0)["fp"].sum() == 8  # every other class predicted everywhere
    one = ins.load(0).overlay(Scoring(threshold=0.0), 1).legend
    assert (one["tp"], one["fp"], one["fn"]) == (2, 2, 0)


def test_band_restricts_overlay_and_legend_as_it_restricts_counts(demo_copy):
    with segviewer.open(folder=demo_copy) as ins:
        for interior in (False, True):
            ins.scoring = Scoring(threshold=0.4, boundary=2, interior=interior)
            for image in range(3):
                for class_id in range(ins.classes.num_classes):
                    legend = ins.load(image).overlay(ins.scoring, class_id).legend
                    row = ins.image_scores(image).iloc[class_id]
                    assert (legend["tp"], legend["fp"], legend["fn"]) == (row.tp, row.fp, row.fn)
                legend = ins.load(image).overlay(ins.scoring, ALL_CLASSES).legend
                assert legend["fp"] + legend["fn"] == ins.image_scores(image)["fn"].sum()
                assert legend["tp"] + legend["extra"] == ins.image_scores(image)["tp"].sum()


def test_edited_label_map_is_not_served_from_the_cache(tmp_path):
    gt = np.array([[10, 10, 20, 20]], np.uint8)
    logits = np.log(np.array([[0.9, 0.9, 0.1, 0.1], [0.1, 0.1, 0.9, 0.9]], np.float32))[:, None, :]
    make_dataset(tmp_path, [logits], [gt])
    cls = tmp_path / "classes.json"
    cls.write_text(json.dumps({"classes": [{"name": "a"}, {"name": "b"}], "label_map": {"10": 0, "20": 1}}))
    first = segviewer.open(gt=tmp_path / "gt", logits=tmp_path / "logits", classes=cls).dataset_scores()
    assert first["tp"].tolist() == [2, 2]
    cls.write_text(json.dumps({"classes": [{"name": "a"}, {"name": "b"}], "label_map": {"10": 1, "20": 0}}))
    second = segviewer.open(gt=tmp_path / "gt", logits=tmp_path / "logits", classes=cls).dataset_scores()
    assert second["tp"].tolist() == [0, 0] and second["fn"].tolist() == [2, 2]


def test_images_keep_dataset_order_and_mark_failures(tmp_path):
    rng = np.random.default_rng(0)
    gts = [rng.integers(0, 3, (4, 5)) for _ in range(3)]
    logits = [rng.normal(size=(3, 4, 5)).astype(np.float32) for _ in range(3)]
    make_dataset(tmp_path, logits, gts)
    np.save(tmp_path / "logits" / "img1.npy", rng.normal(size=(5, 4, 5)).astype(np.float32))  # 5 channels, 3 classes
    ins = segviewer.open(gt=tmp_path / "gt", logits=tmp_path / "logits")
    listed = ins.images()
    assert listed["image"].tolist() == ["img0", "img1", "img2"]
    assert listed["status"].tolist() == ["unreviewed", "failed", "unreviewed"]
    assert math.isnan(listed["mean_fbeta"][1]) and listed["fp"][1] == 0
    assert "wrong number of classes" in ins.failures[1]
    with pytest.raises(segviewer.LoadError, match="img1"):
        ins.image_scores("img1")
    with pytest.raises(segviewer.OptionError, match="no such image"):
        ins.image_scores("nope")


def test_random_counts_match_torchmetrics(tmp_path):
    from torchmetrics.classification import MulticlassStatScores
    rng = np.random.default_rng(1)
    gts = [rng.integers(0, 4, (16, 12)) for _ in range(3)]
    logits = [rng.normal(size=(4, 16, 12)).astype(np.float32) for _ in range(3)]
    make_dataset(tmp_path, logits, gts)
    ins = segviewer.open(gt=tmp_path / "gt", logits=tmp_path / "logits", scoring=Scoring(argmax=True))
    metric = MulticlassStatScores(num_classes=4, average=None)
    for lg, gt in zip(logits, gts):
        metric.update(torch.from_numpy(lg).argmax(0)[None], torch.from_numpy(gt)[None])
    tp, fp, _tn, fn, _ = metric.compute().T
    ds = ins.dataset_scores()
    assert ds["tp"].tolist() == tp.tolist() and ds["fp"].tolist() == fp.tolist() and ds["fn"].tolist() == fn.tolist()


def test_open_refuses_ambiguous_sources(tmp_path):
    with pytest.raises(segviewer.OptionError, match="exactly one prediction source"):
        segviewer.open(gt=tmp_path, logits=tmp_path, masks=tmp_path)
    with pytest.raises(segviewer.OptionError, match="give gt="):
        segviewer.open(logits=tmp_path)


def test_error_regions_and_pair_masks_follow_class_and_band(tmp_path):
    gt = np.zeros((8, 8), np.uint8)
    gt[2:6, 2:6] = 1                                  # a 4x4 square of class 1
    probs = np.zeros((2, 8, 8), np.float32)
    probs[0], probs[1] = 0.9, 0.1
    probs[:, 2:6, 2:4] = [[[0.2]], [[0.8]]]           # left half of the square found
    probs[:, 0:2, 6:8] = [[[0.3]], [[0.7]]]           # a 2x2 false positive in the corner
    make_dataset(tmp_path, [probs], [gt])
    ins = segviewer.open(gt=tmp_path / "gt", logits=tmp_path / "logits", activation="none")
    loaded = ins.load(0)
    regions = loaded.error_regions(Scoring(threshold=0.5), class_id=1)
    assert [(r.kind, r.class_id, r.area, r.bbox) for r in regions] == [
        ("missed", 1, 8, (4, 2, 6, 6)), ("hallucinated", 1, 4, (6, 0, 8, 2))]
    everything = loaded.error_regions(Scoring(threshold=0.5))
    # all classes: a wrong pixel is missed for its GT class and hallucinated for the predicted one
    assert sorted((r.kind, r.class_id, r.area) for r in everything) == [
        ("hallucinated", 0, 8), ("hallucinated", 1, 4), ("missed", 0, 4), ("missed", 1, 8)]
    # a 1 px band around the square's edge: the corner FP lies outside it and is no longer an error region
    banded = loaded.error_regions(Scoring(threshold=0.5, boundary=1), class_id=1)
    assert [r.kind for r in banded] == ["missed"]
    mask = loaded.pair_mask(Scoring(threshold=0.5), 1, 0)    # GT square, predicted background: the right half
    assert mask.sum() == 8 and mask[2:6, 4:6].all()


def test_images_show_the_review_status_of_this_sources_session(demo_copy):
    from segviewer.core.session import ReviewStore
    from segviewer.core.session_paths import session_path
    with segviewer.open(folder=demo_copy) as ins:
        assert set(ins.images()["status"]) == {"unreviewed"}
        store = ReviewStore(session_path(ins.dataset.options))
        store.set_review("scene_002", "needs fix", "a note", "qa")
        store.close()
        listed = ins.images().set_index("image")["status"]
        assert listed["scene_002"] == "needs fix" and listed["scene_003"] == "unreviewed"
    with segviewer.open(gt=demo_copy / "gt", masks=demo_copy / "masks") as masks:   # another source, another session
        assert set(masks.images()["status"]) == {"unreviewed"}
