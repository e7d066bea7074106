"""Calibration: hand-computed bins, class-wise ECE against a direct computation, top label against torchmetrics."""
import numpy as np
import pytest
import torch

from helpers import make_dataset
from segviewer.core.calibration import (TOP_LABEL, CalibrationStats, bin_edges, dataset_calibration,
                                        image_calibration)
from segviewer.core.counts import prepare_target
from segviewer.core.errors import LoadError


def target_of(labels, c, ignore=255):
    return prepare_target(torch.as_tensor(labels, dtype=torch.int64), c, ignore)


def direct_ece(conf, outcome, bins):
    """ECE and MCE straight from the definition, one bin at a time, in float64."""
    conf = np.asarray(conf, np.float64)
    b = np.minimum(np.floor(conf * bins).astype(int), bins - 1)
    ece, mce = 0.0, 0.0
    for k in range(bins):
        sel = b == k
        if sel.any():
            gap = abs(outcome[sel].mean() - conf[sel].mean())
            ece += sel.sum() / len(conf) * gap
            mce = max(mce, gap)
    return ece, mce


def random_probs(rng, c, h, w, scale=2.0):
    return torch.softmax(torch.from_numpy(rng.normal(size=(c, h, w)).astype(np.float32) * scale), 0)


def test_hand_built_bins_two_classes():
    # 4 pixels, 2 classes, 2 bins [0, .5) [.5, 1]; GT 0, 0, 1, 1
    p1 = np.array([0.1, 0.7, 0.6, 0.9], np.float32)
    probs = torch.from_numpy(np.stack([1 - p1, p1]).reshape(2, 1, 4))
    stats = image_calibration(probs, target_of([[0, 0, 1, 1]], 2), bins=2)
    # class 1: bin 0 holds p=.1 (y=0); bin 1 holds .7 (y=0), .6 (y=1), .9 (y=1)
    assert stats.pixels[1].tolist() == [1, 3]
    assert stats.conf_sum[1] == pytest.approx([0.1, 2.2], rel=1e-6)
    assert stats.positives[1].tolist() == [0, 2]
    assert stats.ece()[1] == pytest.approx((0.1 + abs(2 - 2.2)) / 4, rel=1e-6)
    assert stats.mce()[1] == pytest.approx(0.1, rel=1e-5)
    # top label: conf .9 (argmax 0 = GT), .7 (argmax 1, wrong), .6 (1, right), .9 (1, right)
    rel = stats.reliability(TOP_LABEL)
    assert rel.pixels.tolist() == [0, 4] and np.isnan(rel.mean_confidence[0])
    assert rel.mean_confidence[1] == pytest.approx((0.9 + 0.7 + 0.6 + 0.9) / 4, rel=1e-6)
    assert rel.frequency[1] == pytest.approx(0.75)


def test_probability_one_falls_in_last_bin_and_ties_take_the_lowest_class():
    probs = torch.tensor([[[1.0, 0.5]], [[0.0, 0.5]]])      # pixel 2 ties: argmax is class 0
    stats = image_calibration(probs, target_of([[0, 1]], 2), bins=4)
    assert stats.pixels[0].tolist() == [0, 0, 1, 1]
    top = stats.reliability(TOP_LABEL)
    assert top.pixels.tolist() == [0, 0, 1, 1] and top.frequency[3] == 1.0 and top.frequency[2] == 0.0


def test_bin_edges_are_exact():
    for bins in (3, 7, 10, 15, 100):
        edges = bin_edges(bins)
        for b in range(bins + 1):
            assert float(edges[b]) >= b / bins
            assert b == 0 or float(np.nextafter(edges[b], np.float32(0))) < b / bins


@pytest.mark.parametrize("bins", [1, 7, 15])
def test_class_wise_against_direct_computation(bins):
    rng = np.random.default_rng(bins)
    c, h, w = 5, 30, 40
    probs = random_probs(rng, c, h, w)
    labels = rng.integers(0, c, (h, w))
    labels[rng.random((h, w)) < 0.1] = 255
    stats = image_calibration(probs, target_of(labels, c), bins)
    valid = labels.ravel() != 255
    p = probs.numpy().reshape(c, -1)[:, valid]
    y = labels.ravel()[valid]
    for k in range(c):
        ece, mce = direct_ece(p[k], (y == k).astype(float), bins)
        assert stats.ece()[k] == pytest.approx(ece, rel=1e-6, abs=1e-9)
        assert stats.mce()[k] == pytest.approx(mce, rel=1e-6, abs=1e-9)
    assert stats.total_pixels().tolist() == [int(valid.sum())] * (c + 1)
    ece, mce = direct_ece(p.max(0), (p.argmax(0) == y).astype(float), bins)
    assert stats.ece()[-1] == pytest.approx(ece, rel=1e-9) and stats.mce()[-1] == pytest.approx(mce, rel=1e-9)


def test_top_label_against_torchmetrics_away_from_bin_edges():
    from torchmetrics.classification import MulticlassCalibrationError
    rng = np.random.default_rng(3)
    c, bins = 6, 15
    probs, labels = [], []
    for _ in range(3):
        p = random_probs(rng, c, 24, 32, 1.5)
        conf = p.max(0).values.double()
        # away from bin edges: confidences within 1e-4 of k/15 are nudged off by re-drawing those pixels' logits
        near = (conf * bins - torch.round(conf * bins)).abs() < 1e-3
        p[:, near] = torch.softmax(torch.tensor([3.0] + [0.0] * (c - 1)), 0)[:, None]   # conf 0.8012...
        probs.append(p)
        lab = torch.from_numpy(rng.integers(0, c, (24, 32)))
        lab[:2] = 255
        labels.append(lab)
    metric = MulticlassCalibrationError(num_classes=c, n_bins=bins, norm="l1", ignore_index=255)
    stats = CalibrationStats.empty(c, bins)
    for p, lab in zip(probs, labels):
        metric.update(p[None], lab[None])
        stats = stats + image_calibration(p, target_of(lab.numpy(), c), bins)
    assert stats.ece()[-1] == pytest.approx(float(metric.compute()), abs=1e-6)


def test_dataset_pass_adds_images_and_the_inspector_tables(tmp_path):
    import segviewer
    rng = np.random.default_rng(5)
    c = 4
    logits = [rng.normal(size=(c, 12, 16)).astype(np.float32) * 2 for _ in range(3)]
    gts = [rng.integers(0, c, (12, 16)).astype(np.uint8) for _ in range(3)]
    gts[1][:2] = 255
    root = make_dataset(tmp_path, logits, gts)
    ins = segviewer.open(gt=root / "gt", logits=root / "logits")
    summed = CalibrationStats.empty(c, 15)
    for i in range(3):
        summed = summed + ins.calibration.stats(image=i)
    whole = dataset_calibration(ins.dataset)
    assert np.array_equal(whole.pixels, summed.pixels) and np.array_equal(whole.positives, summed.positives)
    assert np.allclose(whole.conf_sum, summed.conf_sum)
    frame = ins.calibration.table()
    assert list(frame.columns) == ["class_id", "class_name", "pixels", "ece", "mce"]
    assert frame["class_name"].iloc[-1] == "top-label" and frame["class_id"].isna().tolist() == [False] * c + [True]
    assert frame["ece"].to_numpy() == pytest.approx(whole.ece())
    bins = ins.calibration.bins_table(bins=5)
    assert list(bins.columns) == ["class_id", "class_name", "bin", "lower", "upper", "pixels", "mean_confidence",
                                  "frequency"]
    assert len(bins) == (c + 1) * 5 and bins["pixels"].iloc[:5].sum() == 3 * 12 * 16 - 2 * 16
    rel = ins.calibration.reliability(2, bins=5, image=0)
    assert rel.ece == pytest.approx(ins.calibration.table(bins=5, image=0)["ece"][2])


def test_masks_have_no_calibration(demo_dir):
    import segviewer
    ins = segviewer.open(gt=demo_dir / "gt", masks=demo_dir / "masks", classes=demo_dir / "classes.json")
    with pytest.raises(LoadError, match="needs logits"):
        ins.calibration.table()
