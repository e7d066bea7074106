"""Likely label errors: the softmin label score, the doubt map and suspect regions, by hand, against cleanlab and
against a direct implementation; and the Inspector's API."""
import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from helpers import make_dataset
from segviewer.core.counts import prepare_target
from segviewer.core.errors import LoadError
from segviewer.core.label_issues import label_doubt_map, label_score, softmin_score, suspect_regions

IGNORE = 255


def target(labels, c):
    return prepare_target(torch.as_tensor(np.asarray(labels, np.int64)), c, IGNORE)


def probs_with(labels_pred: np.ndarray, confidence: float, c: int) -> torch.Tensor:
    """C×H×W probabilities: `confidence` on each pixel's given class, the rest spread evenly."""
    p = np.full((c, *labels_pred.shape), (1 - confidence) / (c - 1), np.float32)
    np.put_along_axis(p, labels_pred[None], confidence, axis=0)
    return torch.from_numpy(p)


def direct_score(s: np.ndarray, temperature: float) -> float:
    """The issue's formula, literally: Σ s_i·w_i with w_i = exp((1 − s_i)/T) / Σ_j exp((1 − s_j)/T)."""
    w = np.exp((1 - s.astype(np.float64)) / temperature)
    return float((s * w).sum() / w.sum())


# ---- hand-built ----
def test_score_by_hand_and_ignore_pixels_excluded():
    s = torch.tensor([1.0, 1.0, 1.0, 0.5], dtype=torch.float64)
    e5 = math.exp(5)
    assert softmin_score(s, 0.1) == pytest.approx((3 + 0.5 * e5) / (3 + e5), rel=1e-12)
    labels = np.array([[0, 1], [1, IGNORE]])
    probs = torch.tensor([[[0.9, 0.2], [0.4, 0.99]], [[0.1, 0.8], [0.6, 0.01]]])
    got = label_score(probs, target(labels, 2), 0.1)
    assert got == pytest.approx(direct_score(np.array([0.9, 0.8, 0.6]), 0.1), rel=1e-6)


def test_tiny_temperature_tends_to_the_worst_pixel_without_overflow():
    s = torch.tensor([0.99, 0.97, 0.2, 0.95])
    assert softmin_score(s, 1e-4) == pytest.approx(0.2, rel=1e-5)
    assert softmin_score(s, 1e6) == pytest.approx(float(s.double().mean()), rel=1e-5)


def test_an_image_of_ignore_only_has_no_score():
    labels = np.full((3, 3), IGNORE)
    assert math.isnan(label_score(probs_with(np.zeros((3, 3), np.int64), 0.9, 3), target(labels, 3)))


def flipped_object():
    """A 10×10 class-1 object on background 0 whose 2×2 patch is labelled 2 (the model sees class 1 there), and a
    3-px strip labelled 0 that the model calls class 1 with less confidence."""
    gt = np.zeros((16, 16), np.int64)
    gt[3:13, 3:13] = 1
    gt[6:8, 7:9] = 2
    seen = np.where(gt == 2, 1, gt)
    probs = probs_with(seen, 0.95, 3)
    gt[14, 0:3] = 0
    probs[:, 14, 0:3] = torch.tensor([0.05, 0.92, 0.03])[:, None]
    return gt, probs


def test_label_flipped_inside_an_object():
    gt, probs = flipped_object()
    regions = suspect_regions(probs, target(gt, 3), 0.9)
    assert [(r.gt_class, r.predicted_class, r.pixels, r.bbox) for r in regions] == [
        (2, 1, 4, (7, 6, 9, 8)), (0, 1, 3, (0, 14, 3, 15))]
    assert regions[0].mean_confidence == pytest.approx(0.95)
    assert regions[1].mean_confidence == pytest.approx(0.92)
    assert [r.pixels for r in suspect_regions(probs, target(gt, 3), 0.93)] == [4]
    clean = np.where(gt == 2, 1, gt)
    clean[14, 0:3] = 1
    assert label_score(probs, target(gt, 3)) < label_score(probs, target(clean, 3))


def test_one_component_of_two_label_pairs_is_split():
    gt = np.zeros((4, 6), np.int64)
    gt[1, 1:3], gt[1, 3:5] = 1, 2
    probs = probs_with(np.zeros((4, 6), np.int64), 0.97, 3)
    regions = suspect_regions(probs, target(gt, 3), 0.9)
    assert sorted((r.gt_class, r.bbox) for r in regions) == [(1, (1, 1, 3, 2)), (2, (3, 1, 5, 2))]


def test_doubt_map():
    labels = np.array([[0, 1], [1, IGNORE]])
    probs = torch.tensor([[[0.9, 0.2], [0.4, 0.99]], [[0.1, 0.8], [0.6, 0.01]]])
    doubt = label_doubt_map(probs, target(labels, 2))
    assert doubt.dtype == np.uint8
    np.testing.assert_array_equal(doubt, [[round(0.1 * 255), round(0.2 * 255)], [round(0.4 * 255), 0]])


# ---- random, against independent implementations ----
def random_case(seed, n=3, c=5, shape=(17, 23)):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((n, c, *shape)) * 3).astype(np.float32)
    probs = torch.softmax(torch.from_numpy(logits), 1)
    labels = rng.integers(0, c, (n, *shape))
    return probs, labels


@pytest.mark.parametrize("temperature", [0.1, 0.02, 1.0])
def test_score_matches_cleanlab_softmin(temperature):
    rank = pytest.importorskip("cleanlab.segmentation.rank")
    probs, labels = random_case(7)
    ref, _ = rank.get_label_quality_scores(labels, probs.numpy(), method="softmin", temperature=temperature,
                                           verbose=False)
    ours = [label_score(probs[i], target(labels[i], 5), temperature) for i in range(len(labels))]
    np.testing.assert_allclose(ours, ref, rtol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_score_with_ignore_matches_the_formula(seed):
    probs, labels = random_case(seed)
    rng = np.random.default_rng(100 + seed)
    for i in range(len(labels)):
        lab = labels[i].copy()
        lab[rng.random(lab.shape) < 0.2] = IGNORE
        valid = lab != IGNORE
        s = np.take_along_axis(probs[i].numpy(), np.where(valid, lab, 0)[None], 0)[0][valid]
        assert label_score(probs[i], target(lab, 5), 0.1) == pytest.approx(direct_score(s, 0.1), rel=1e-6)


def direct_regions(probs: np.ndarray, labels: np.ndarray, min_confidence: float) -> list[tuple]:
    """Per (GT, predicted) pair, 8-connected components of that pair's suspect pixels over the whole image."""
    conf, pred = probs.max(0), probs.argmax(0)
    suspect = (pred != labels) & (conf >= min_confidence) & (labels != IGNORE)
    out = []
    for g, p in {(int(g), int(p)) for g, p in zip(labels[suspect], pred[suspect])}:
        comp, n = ndimage.label(suspect & (labels == g) & (pred == p), structure=np.ones((3, 3)))
        for k in range(1, n + 1):
            ys, xs = np.nonzero(comp == k)
            out.append((g, p, len(ys), (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1),
                        float(conf[ys, xs].astype(np.float64).mean())))
    return sorted(out)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("min_confidence", [0.6, 0.4])
@pytest.mark.parametrize("softmax_shortcut", [False, True])
def test_regions_match_a_direct_labelling(seed, min_confidence, softmax_shortcut):
    probs, labels = random_case(seed, n=1, c=3, shape=(30, 40))
    lab = labels[0].copy()
    lab[np.random.default_rng(seed).random(lab.shape) < 0.1] = IGNORE
    got = suspect_regions(probs[0], target(lab, 3), min_confidence, sums_to_one=softmax_shortcut)
    assert [r.pixels for r in got] == sorted((r.pixels for r in got), reverse=True)
    mine = sorted((r.gt_class, r.predicted_class, r.pixels, r.bbox, r.mean_confidence) for r in got)
    want = direct_regions(probs[0].numpy(), lab, min_confidence)
    assert [m[:4] for m in mine] == [w[:4] for w in want]
    np.testing.assert_allclose([m[4] for m in mine], [w[4] for w in want], rtol=1e-6)


# ---- the engine ----
def test_inspector_label_issues(tmp_path):
    import segviewer
    gt, probs = flipped_object()
    clean = np.where(gt == 2, 1, gt)
    clean[14, 0:3] = 1
    logits = [np.log(probs.numpy()), np.log(probs.numpy())]
    gt_ignored = clean.copy()
    gt_ignored[0, :] = IGNORE
    root = make_dataset(tmp_path, logits, [gt, gt_ignored])
    ins = segviewer.open(gt=root / "gt", logits=root / "logits", num_classes=3)
    frame = ins.label_issues.table()
    assert list(frame.columns) == ["image", "label_score", "suspect_pixels"]
    assert list(frame["image"]) == ["img0", "img1"]          # the flipped labels rank first
    assert list(frame["suspect_pixels"]) == [7, 0]
    scores = ins.label_issues.scores()
    for i, labels in enumerate((gt, gt_ignored)):
        assert scores.label_score[i] == pytest.approx(label_score(probs, target(labels, 3)), rel=1e-6)
    assert frame["label_score"].is_monotonic_increasing
    assert [(r.gt_class, r.pixels) for r in ins.label_issues.regions("img0")] == [(2, 4), (0, 3)]
    assert list(ins.label_issues.regions_table("img0")["region"]) == [1, 2]
    doubt = ins.label_issues.doubt("img1")
    assert doubt.shape == (16, 16) and doubt.dtype == np.uint8 and (doubt[0] == 0).all()


def test_label_issues_need_logits(tmp_path):
    import segviewer
    from helpers import save_label
    save_label(tmp_path / "gt" / "a.png", np.zeros((4, 4)))
    save_label(tmp_path / "masks" / "a.png", np.zeros((4, 4)))
    ins = segviewer.open(gt=tmp_path / "gt", masks=tmp_path / "masks", num_classes=2)
    with pytest.raises(LoadError, match="need logits"):
        ins.label_issues.table()
    with pytest.raises(ValueError, match="temperature"):
        segviewer.open(gt=tmp_path / "gt", masks=tmp_path / "masks", num_classes=2).label_issues.scores(temperature=0)
