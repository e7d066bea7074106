"""The numbers: hand-computed cases, the reference formula, and torchmetrics as an independent implementation."""
import math

import pytest
import torch
from torchmetrics.classification import (MulticlassFBetaScore, MulticlassJaccardIndex, MulticlassStatScores,
                                         BinaryStatScores)

from reference import reference_dice_loss, reference_f_score, reference_target
from segviewer.core.counts import (Counts, NO_PREDICTION, confusion_matrix, count_hard, count_threshold,
                                   prepare_target, soft_counts, threshold_map)
from segviewer.core.probs import to_probabilities
from segviewer.core.scores import compute_scores, dice_loss, fbeta_score, nanmean


def target_of(labels, c, ignore=255):
    return prepare_target(torch.as_tensor(labels), c, ignore)


def test_hand_computed_threshold_counts():
    # 3 classes, 2x3 pixels; p given directly
    probs = torch.tensor([[[0.7, 0.2, 0.1], [0.6, 0.1, 0.3]],
                          [[0.2, 0.7, 0.3], [0.3, 0.8, 0.3]],
                          [[0.1, 0.1, 0.6], [0.1, 0.1, 0.4]]]).float()
    gt = torch.tensor([[0, 1, 2], [1, 1, 255]])
    counts = count_threshold(probs, target_of(gt, 3), 0.5)
    # class 0: predicted at (0,0),(1,0); gt at (0,0) -> tp1 fp1 fn0
    # class 1: predicted (0,1),(1,1); gt (0,1),(1,0),(1,1) -> tp2 fp0 fn1
    # class 2: predicted (0,2); gt (0,2) -> tp1; (1,2) is ignore and counts nowhere
    assert counts.tp.tolist() == [1, 2, 1]
    assert counts.fp.tolist() == [1, 0, 0]
    assert counts.fn.tolist() == [0, 1, 0]
    scores = compute_scores(counts, beta=1.0, smooth=0.0)
    assert scores.precision.tolist() == pytest.approx([0.5, 1.0, 1.0])
    assert scores.recall.tolist() == pytest.approx([1.0, 2 / 3, 1.0])
    assert scores.dice.tolist() == pytest.approx([2 / 3, 0.8, 1.0])
    assert scores.iou.tolist() == pytest.approx([0.5, 2 / 3, 1.0])


def test_fbeta_formula_and_limits():
    counts = Counts(torch.tensor([30]), torch.tensor([10]), torch.tensor([20]))
    s = 1e-5
    for beta in (0.5, 1.0, 2.0):
        b2 = beta ** 2
        expected = ((1 + b2) * 30 + s) / ((1 + b2) * 30 + b2 * 20 + 10 + s)
        assert float(fbeta_score(counts, beta, s)[0]) == pytest.approx(expected, rel=1e-12)
    assert float(fbeta_score(counts, 1e-4, 0)[0]) == pytest.approx(30 / 40, rel=1e-6)   # beta -> 0: precision
    assert float(fbeta_score(counts, 1e4, 0)[0]) == pytest.approx(30 / 50, rel=1e-6)    # beta -> inf: recall


def test_absent_class_is_nan_and_left_out_of_means():
    counts = Counts(torch.tensor([5, 0, 0]), torch.tensor([1, 0, 3]), torch.tensor([2, 0, 0]))
    scores = compute_scores(counts)
    assert math.isnan(float(scores.fbeta[1])) and math.isnan(float(scores.iou[1]))
    assert float(scores.fbeta[2]) == pytest.approx(1e-5 / (3 + 1e-5))  # predicted but not in GT: ~0, not absent
    assert float(scores.precision[2]) == 0.0 and float(scores.recall[2]) == 0.0
    assert float(nanmean(scores.fbeta)) == pytest.approx((float(scores.fbeta[0]) + float(scores.fbeta[2])) / 2)


def test_missed_class_precision_is_zero_not_one():
    counts = Counts(torch.tensor([0]), torch.tensor([0]), torch.tensor([7]))
    scores = compute_scores(counts)
    assert float(scores.precision[0]) == 0.0 and float(scores.recall[0]) == 0.0
    assert float(scores.fbeta[0]) < 1e-5


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("lowres", [False, True])
def test_equals_reference_without_ignore_or_absent(seed, lowres):
    g = torch.Generator().manual_seed(seed)
    n, c, h, w = 3, 4, 24, 32
    labels = torch.randint(0, c, (n, h, w), generator=g)
    lh, lw = (h // 2, w // 2) if lowres else (h, w)
    logits = torch.randn(n, c, lh, lw, generator=g) * 2
    ref_score, (ref_tp, ref_fp, ref_fn) = reference_f_score(logits, reference_target(labels, c), beta=1.5)
    total = Counts(torch.zeros(c, dtype=torch.long), torch.zeros(c, dtype=torch.long), torch.zeros(c, dtype=torch.long))
    soft_total = Counts(*(torch.zeros(c, dtype=torch.float64) for _ in range(3)))
    for i in range(n):
        probs = to_probabilities(logits[i], (h, w))
        target = target_of(labels[i], c)
        total = total + count_threshold(probs, target, 0.5)
        soft_total = soft_total + soft_counts(probs, target)
    assert total.tp.tolist() == ref_tp.long().tolist()
    assert total.fp.tolist() == ref_fp.long().tolist()
    assert total.fn.tolist() == ref_fn.long().tolist()
    assert float(nanmean(fbeta_score(total, 1.5))) == pytest.approx(float(ref_score), rel=1e-6)
    ref_loss = reference_dice_loss(logits, reference_target(labels, c))
    assert dice_loss(soft_total) == pytest.approx(float(ref_loss), abs=1e-5)


def test_reference_flaws_are_fixed():
    """The reference counts predictions on ignore pixels as FP and scores absent classes 1.0; segviewer does not."""
    c, h, w = 3, 4, 4
    labels = torch.zeros(h, w, dtype=torch.long)
    labels[0] = 255
    logits = torch.zeros(c, h, w)
    logits[0] = 5.0  # class 0 everywhere, class 1 and 2 absent from both
    ref_score, (ref_tp, ref_fp, _) = reference_f_score(logits[None], reference_target(labels[None], c))
    ours = count_threshold(to_probabilities(logits, (h, w)), target_of(labels, c), 0.5)
    assert int(ref_fp[0]) == 4 and int(ours.fp[0]) == 0
    # ignore pixels cost class 0 four FPs, and the two absent classes score 1.0 each
    assert float(ref_score) == pytest.approx((24 / 28 + 1.0 + 1.0) / 3, rel=1e-5)
    scores = compute_scores(ours)
    assert math.isnan(float(scores.fbeta[1])) and math.isnan(float(scores.fbeta[2]))
    assert float(nanmean(scores.fbeta)) == pytest.approx(1.0)


def test_resize_when_only_one_side_differs():
    logits = torch.randn(2, 8, 6)
    probs = to_probabilities(logits, (8, 12))
    assert probs.shape == (2, 8, 12)
    assert torch.allclose(probs.sum(0), torch.ones(8, 12), atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_threshold_counts_match_torchmetrics_multilabel(seed):
    g = torch.Generator().manual_seed(seed)
    c, h, w = 5, 40, 30
    probs = torch.softmax(torch.randn(c, h, w, generator=g) * 2, 0)
    labels = torch.randint(0, c, (h, w), generator=g)
    labels[torch.rand(h, w, generator=g) < 0.1] = 255
    thresholds = torch.tensor([0.1, 0.3, 0.5, 0.2, 0.05])
    ours = count_threshold(probs, target_of(labels, c), thresholds)
    onehot = (labels[None] == torch.arange(c)[:, None, None]).long()
    onehot[:, labels == 255] = -1
    for k in range(c):
        metric = BinaryStatScores(threshold=float(thresholds[k]), ignore_index=-1)
        tp, fp, _, fn, _ = metric(probs[k].flatten(), onehot[k].flatten()).tolist()
        assert (int(ours.tp[k]), int(ours.fp[k]), int(ours.fn[k])) == (tp, fp, fn)


@pytest.mark.parametrize("seed", range(4))
def test_argmax_counts_and_scores_match_torchmetrics(seed):
    g = torch.Generator().manual_seed(seed)
    c, h, w = 6, 50, 40
    probs = torch.softmax(torch.randn(c, h, w, generator=g) * 2, 0)
    labels = torch.randint(0, c, (h, w), generator=g)
    labels[torch.rand(h, w, generator=g) < 0.1] = 255
    target = target_of(labels, c)
    pred = probs.max(0).indices
    ours = count_hard(pred, target)
    stats = MulticlassStatScores(num_classes=c, average=None, ignore_index=255)(pred.flatten(), labels.flatten())
    assert ours.tp.tolist() == stats[:, 0].tolist()
    assert ours.fp.tolist() == stats[:, 1].tolist()
    assert ours.fn.tolist() == stats[:, 3].tolist()
    scores = compute_scores(ours, beta=2.0, smooth=0.0)
    tm_f2 = MulticlassFBetaScore(beta=2.0, num_classes=c, average=None, ignore_index=255)(pred.flatten(), labels.flatten())
    tm_iou = MulticlassJaccardIndex(num_classes=c, average=None, ignore_index=255)(pred.flatten(), labels.flatten())
    assert torch.allclose(scores.fbeta.float(), tm_f2, atol=1e-6)
    assert torch.allclose(scores.iou.float(), tm_iou, atol=1e-6)


def test_confusion_matrix_and_threshold_map():
    probs = torch.tensor([[[0.6, 0.2]], [[0.3, 0.45]], [[0.1, 0.35]]]).float()  # 3 classes, 1x2 pixels
    labels = torch.tensor([[1, 1]])
    pred = threshold_map(probs, 0.5)
    assert pred.tolist() == [[0, NO_PREDICTION]]
    cm = confusion_matrix(pred, target_of(labels, 3))
    assert cm.shape == (3, 4)
    assert cm[1].tolist() == [1, 0, 0, 1]  # one pixel of class 1 read as 0, one predicted as nothing
    assert threshold_map(probs, 0.3).tolist() == [[0, 1]]


def test_soft_counts_hand_computed():
    probs = torch.tensor([[[0.8, 0.4]], [[0.2, 0.6]]]).float()
    labels = torch.tensor([[0, 0]])
    soft = soft_counts(probs, target_of(labels, 2))
    assert soft.tp.tolist() == pytest.approx([1.2, 0.0], abs=1e-6)
    assert soft.fp.tolist() == pytest.approx([0.0, 0.8], abs=1e-6)
    assert soft.fn.tolist() == pytest.approx([0.8, 0.0], abs=1e-6)


def test_counts_on_every_available_device():
    from segviewer.core.device import resolve_device
    device = resolve_device("auto")
    g = torch.Generator().manual_seed(5)
    probs = torch.softmax(torch.randn(4, 16, 16, generator=g), 0)
    labels = torch.randint(0, 4, (16, 16), generator=g)
    cpu = count_threshold(probs, target_of(labels, 4), 0.3)
    dev = count_threshold(probs.to(device), prepare_target(labels.to(device), 4, 255), 0.3)
    assert cpu.tp.tolist() == dev.tp.cpu().tolist() and cpu.fp.tolist() == dev.fp.cpu().tolist()


@pytest.mark.parametrize("smooth", [0.25, 0.0])      # 0: an absent class's 0/0 must not reach the means
def test_image_list_values_are_the_scores_of_every_image_whatever_the_counts_layout(smooth):
    """The list's columns (numpy, on every slider step) against core.scores (torch): each class's F-beta to the last
    bit, the means over present classes to 1e-13; row-major and class-major counts give identical values."""
    import numpy as np
    from segviewer.core.counts import DatasetCounts
    from segviewer.core.scores import compute_scores, nanmean
    from segviewer.core.scoring import Scoring
    from segviewer.core.list_values import ImageListValues, image_list_values
    rng = np.random.default_rng(5)
    tp, fp, fn = (rng.integers(0, 40, (300, 6)) for _ in range(3))
    absent = rng.random((300, 6)) < 0.3
    for a in (tp, fp, fn):
        a[absent] = 0
        a[7] = 0                                   # an image with no class present
    loaded = np.arange(300) != 11
    rows = Counts(*(torch.from_numpy(a) for a in (tp, fp, fn)))
    by_class = Counts(*(torch.from_numpy(np.ascontiguousarray(a.T)).T for a in (tp, fp, fn)))
    scoring = Scoring(beta=0.6, smooth=smooth)
    reference = compute_scores(rows, scoring.beta, scoring.smooth)
    for class_id in (-1, 2):
        got = image_list_values(DatasetCounts([""] * 300, rows, rows, loaded), class_id, scoring)
        same = image_list_values(DatasetCounts([""] * 300, by_class, by_class, loaded), class_id, scoring)
        assert all(np.array_equal(got[k], same[k], equal_nan=True) for k in got)
        mean_f, mean_iou = nanmean(reference.fbeta).numpy(), nanmean(reference.iou).numpy()
        mean_f[11] = mean_iou[11] = np.nan
        np.testing.assert_allclose(got["mean_fbeta"], mean_f, rtol=1e-13)
        np.testing.assert_allclose(got["mean_iou"], mean_iou, rtol=1e-13)
        assert np.isnan(got["mean_fbeta"][7]) and np.isnan(got["mean_fbeta"][11])
        if class_id == 2:
            expected = reference.fbeta[:, 2].numpy().copy()
            expected[11] = np.nan
            assert np.array_equal(got["class_fbeta"], expected, equal_nan=True)
            assert got["fp"].tolist() == fp[:, 2].tolist()
        else:
            assert got["fp"].tolist() == fp.sum(1).tolist() and got["fn"].tolist() == fn.sum(1).tolist()
        assert got["gt_present"].tolist() == ((tp + fn) > 0).tolist()
        assert got["pred_present"].tolist() == ((tp + fp) > 0).tolist()
        lazy = ImageListValues(DatasetCounts([""] * 300, by_class, by_class, loaded), class_id, scoring)
        some = np.array([299, 7, 11, 3, 150])               # a few rows on screen: their values, to the last bit
        few = lazy.rows(some)
        assert all(np.array_equal(few[k], got[k][some], equal_nan=True) for k in got)
        assert lazy.present("pred_present", 4).tolist() == ((tp + fp) > 0)[:, 4].tolist()
        assert np.array_equal(lazy["mean_iou"], got["mean_iou"], equal_nan=True)


def test_the_list_s_means_of_one_image_by_hand_without_smoothing():
    """tp 5, 0, 3 / fp 1, 0, 0 / fn 2, 0, 1, smooth 0: class 1 is absent; F1 = 10/13 and 6/7, IoU = 5/8 and 3/4."""
    import numpy as np
    from segviewer.core.counts import DatasetCounts
    from segviewer.core.list_values import image_list_values
    from segviewer.core.scoring import Scoring
    rows = Counts(*(torch.tensor([v]) for v in ([5, 0, 3], [1, 0, 0], [2, 0, 1])))
    got = image_list_values(DatasetCounts([""], rows, rows, np.array([True])), -1, Scoring(smooth=0.0))
    assert got["mean_fbeta"][0] == pytest.approx((10 / 13 + 6 / 7) / 2, rel=1e-12)
    assert got["mean_iou"][0] == pytest.approx((5 / 8 + 3 / 4) / 2, rel=1e-12)
