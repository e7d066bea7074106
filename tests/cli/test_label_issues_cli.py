"""`segviewer label-issues` end to end: the two CSVs, their order and values, and one-line errors."""
import numpy as np
import pandas as pd
import pytest
import torch

from helpers import make_dataset, run_cli, save_label
from segviewer.core.counts import prepare_target
from segviewer.core.label_issues import label_score

C = 3


def probs_with(seen: np.ndarray, confidence: float) -> np.ndarray:
    p = np.full((C, *seen.shape), (1 - confidence) / (C - 1), np.float32)
    np.put_along_axis(p, seen[None], confidence, axis=0)
    return p


@pytest.fixture
def flipped(tmp_path):
    """img0: clean; img1: a 2×2 patch labelled 2 inside a class-1 object; img2: a 3-px strip labelled 0 that the
    model calls 1 (p 0.92), and ignore pixels."""
    seen = np.zeros((12, 12), np.int64)
    seen[2:10, 2:10] = 1
    probs = probs_with(seen, 0.95)
    probs[:, 11, 0:3] = np.array([0.05, 0.92, 0.03], np.float32)[:, None]
    clean = seen.copy()
    clean[11, 0:3] = 1
    patch = clean.copy()
    patch[4:6, 5:7] = 2
    strip = seen.copy()
    strip[0, :] = 255
    gts = [clean, patch, strip]
    root = make_dataset(tmp_path / "data", [np.log(probs)] * 3, gts)
    return root, gts, torch.from_numpy(probs)


def test_issues_and_regions(flipped, tmp_path):
    root, gts, probs = flipped
    out, regions = tmp_path / "issues.csv", tmp_path / "regions.csv"
    res = run_cli("label-issues", "--gt", root / "gt", "--logits", root / "logits", "--num-classes", C,
                  "--out", out, "--regions", regions)
    assert res.returncode == 0, res.stderr
    issues = pd.read_csv(out)
    assert list(issues.columns) == ["image", "label_score", "suspect_pixels"]
    assert list(issues["image"]) == ["img1", "img2", "img0"]
    assert list(issues["suspect_pixels"]) == [4, 3, 0]
    for name, score in zip(issues["image"], issues["label_score"]):
        labels = torch.from_numpy(gts[int(name[-1])])
        assert score == pytest.approx(label_score(probs, prepare_target(labels, C, 255), 0.1), rel=1e-6)
    reg = pd.read_csv(regions)
    assert list(reg.columns) == ["image", "region", "gt_class", "predicted_class", "pixels", "mean_confidence",
                                 "x0", "y0", "x1", "y1"]
    assert reg.drop(columns="mean_confidence").values.tolist() == [
        ["img1", 1, 2, 1, 4, 5, 4, 7, 6], ["img2", 1, 0, 1, 3, 0, 11, 3, 12]]
    assert reg["mean_confidence"].tolist() == pytest.approx([0.95, 0.92])


def test_temperature_and_min_confidence(flipped, tmp_path):
    root, gts, probs = flipped
    out = tmp_path / "issues.csv"
    res = run_cli("label-issues", "--gt", root / "gt", "--logits", root / "logits", "--num-classes", C,
                  "--temperature", "0.5", "--min-confidence", "0.93", "--out", out)
    assert res.returncode == 0, res.stderr
    issues = pd.read_csv(out).set_index("image")
    assert issues.loc["img2", "suspect_pixels"] == 0 and issues.loc["img1", "suspect_pixels"] == 4
    want = label_score(probs, prepare_target(torch.from_numpy(gts[1]), C, 255), 0.5)
    assert issues.loc["img1", "label_score"] == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("option", [("--temperature", "0"), ("--temperature", "nan"), ("--min-confidence", "1.5")])
def test_bad_settings_are_usage_errors(flipped, tmp_path, option):
    root, _, _ = flipped
    res = run_cli("label-issues", "--gt", root / "gt", "--logits", root / "logits", *option, "--out", tmp_path / "o.csv")
    assert res.returncode == 2 and option[0] in res.stderr
    assert not (tmp_path / "o.csv").exists()


def test_masks_are_refused_in_one_line(tmp_path):
    save_label(tmp_path / "gt" / "a.png", np.zeros((4, 4)))
    save_label(tmp_path / "masks" / "a.png", np.zeros((4, 4)))
    res = run_cli("label-issues", "--gt", tmp_path / "gt", "--masks", tmp_path / "masks", "--out", tmp_path / "o.csv")
    assert res.returncode == 2
    assert res.stderr.startswith("segviewer: error:") and "need logits" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_a_bad_file_is_skipped_and_reported(flipped, tmp_path):
    root, _, _ = flipped
    (root / "logits" / "img2.npy").write_bytes(b"not a numpy file")
    out = tmp_path / "issues.csv"
    res = run_cli("label-issues", "--gt", root / "gt", "--logits", root / "logits", "--num-classes", C, "--out", out)
    assert res.returncode == 0, res.stderr
    assert "img2" in res.stderr
    assert list(pd.read_csv(out)["image"]) == ["img1", "img0"]


def test_no_loadable_image_writes_nothing(flipped, tmp_path):
    root, _, _ = flipped
    for path in (root / "logits").glob("*.npy"):
        path.write_bytes(b"broken")
    out, regions = tmp_path / "issues.csv", tmp_path / "regions.csv"
    res = run_cli("label-issues", "--gt", root / "gt", "--logits", root / "logits", "--num-classes", C,
                  "--out", out, "--regions", regions)
    assert res.returncode == 2 and "no image could be loaded" in res.stderr
    assert not out.exists() and not regions.exists()
