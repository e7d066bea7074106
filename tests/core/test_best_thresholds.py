"""Best thresholds: a class with GT pixels at its maximum F-beta, a class with none where it predicts nothing
(hand-built, and random data against torchmetrics' counts); the API, `sweep --best` and the Evaluator agree, and
applying them gives back the reported scores."""
import numpy as np
import pandas as pd
import pytest
import torch

import segviewer
from helpers import make_dataset, run_cli

# one 1x5 image, GT 0 0 1 1 1; class 2 is in no GT. Probabilities (activation none), none on the 0.1 grid:
#   class 0  .72 .55 .33 .21 .48   F1 by threshold: 0.0-0.2 4/7, 0.3 4/6, 0.4 4/5, 0.5 1 (P 1, R 1), 0.6 2/3
#   class 1  .16 .27 .62 .46 .14   F1: 0.0-0.1 6/8, 0.2 4/6, 0.3-0.4 4/5 (P 1, R 2/3), 0.5 2/4
#   class 2  .12 .18 .05 .33 .38   predicted up to 0.3 (0.3: 2 FP), nothing from 0.4 on: error-free there
PROBS = np.array([[.72, .55, .33, .21, .48], [.16, .27, .62, .46, .14], [.12, .18, .05, .33, .38]],
                 np.float32).reshape(3, 1, 5)
GT = np.array([[0, 0, 1, 1, 1]], np.uint8)


@pytest.fixture()
def hand_built(tmp_path):
    return make_dataset(tmp_path / "d", [PROBS], [GT])


def open_hand_built(root, **kw):
    return segviewer.open(gt=root / "gt", logits=root / "logits", activation="none", num_classes=3, steps=10, **kw)


def test_hand_built_class_without_gt_gets_the_lowest_threshold_that_predicts_nothing(hand_built):
    with open_hand_built(hand_built) as ins:
        best = ins.best_thresholds()
        assert best.threshold == pytest.approx([0.5, 0.3, 0.4])
        assert best.step.tolist() == [5, 3, 4]
        assert best.fbeta[:2] == pytest.approx([1.0, 0.8]) and np.isnan(best.fbeta[2])
        assert best.precision[:2] == pytest.approx([1.0, 1.0]) and np.isnan(best.precision[2])
        assert best.recall[:2] == pytest.approx([1.0, 2 / 3]) and np.isnan(best.recall[2])
        ins.scoring = segviewer.Scoring(threshold=tuple(best.threshold))
        applied = ins.dataset_scores()
        assert applied.loc[2, ["tp", "fp", "fn"]].tolist() == [0, 0, 0]       # nothing predicted, nothing missed
        np.testing.assert_allclose(applied["fbeta"], best.fbeta, equal_nan=True)


def test_sweep_best_csv_and_evaluator_read_the_same_rule(hand_built, tmp_path):
    res = run_cli("sweep", "--gt", hand_built / "gt", "--logits", hand_built / "logits", "--activation", "none",
                  "--steps", "10", "--out", tmp_path / "s.csv", "--best", tmp_path / "b.csv")
    assert res.returncode == 0, res.stderr
    rows = (tmp_path / "b.csv").read_text().splitlines()
    assert rows[0] == "class_id,class_name,threshold,precision,recall,fbeta"
    assert [r.split(",")[2] for r in rows[1:]] == ["0.5", "0.3", "0.4"]
    assert rows[3].split(",")[3:] == ["", "", ""]                          # absent at its best threshold
    best = pd.read_csv(tmp_path / "b.csv")
    assert best["fbeta"][:2].to_numpy() == pytest.approx([1.0, 0.8])
    ev = segviewer.Evaluator(num_classes=3, steps=10, activation="none")
    ev.update(torch.from_numpy(PROBS)[None], torch.from_numpy(GT.astype(np.int64))[None])
    table = ev.best_thresholds()
    assert table["threshold"].to_numpy() == pytest.approx([0.5, 0.3, 0.4])
    np.testing.assert_allclose(table["fbeta"], best["fbeta"], equal_nan=True)


def expected_best(probs: np.ndarray, gts: np.ndarray, steps: int, beta: float, smooth: float):
    """Per class, from torchmetrics' tp / fp / fn at every grid threshold: the lowest grid threshold of maximum
    F-beta, or for a class in no GT the lowest grid threshold with no prediction (scores NaN there)."""
    from torchmetrics.functional.classification import binary_stat_scores
    c = probs.shape[1]
    out = {"threshold": [], "fbeta": [], "precision": [], "recall": []}
    for k in range(c):
        p, t = torch.from_numpy(probs[:, k]).flatten(), torch.from_numpy(gts == k).flatten().long()
        stats = np.array([binary_stat_scores(p, t, threshold=float(np.float32(j / steps)))[:4].tolist()
                          for j in range(steps + 1)], np.float64)                       # tp, fp, tn, fn
        tp, fp, fn = stats[:, 0], stats[:, 1], stats[:, 3]
        if t.sum() == 0:
            j = int(np.flatnonzero(tp + fp == 0)[0])
            values = (np.nan, np.nan, np.nan)
        else:
            b2 = beta ** 2
            f = ((1 + b2) * tp + smooth) / ((1 + b2) * tp + b2 * fn + fp + smooth)
            j = int(np.flatnonzero(f == f.max())[0])
            values = (f[j], tp[j] / max(tp[j] + fp[j], 1), tp[j] / (tp[j] + fn[j]))
        out["threshold"].append(j / steps)
        for key, v in zip(("fbeta", "precision", "recall"), values):
            out[key].append(v)
    return {k: np.array(v) for k, v in out.items()}


def test_random_against_torchmetrics_counts(tmp_path):
    rng = np.random.default_rng(5)
    c, n, steps = 5, 3, 40
    logits = [rng.normal(size=(c, 7, 9)).astype(np.float32) * 2 for _ in range(n)]
    for lg in logits:
        lg[3:] -= 3                                  # rarely confident: their silent threshold is inside the grid
    gts = [rng.integers(0, 3, (7, 9)).astype(np.uint8) for _ in range(n)]   # classes 3 and 4: in no GT
    gts[1][gts[1] == 2] = 0                                                  # class 2: in some images only
    probs = torch.softmax(torch.from_numpy(np.stack(logits)), 1).numpy()
    want = expected_best(probs, np.stack(gts), steps, beta=2.0, smooth=1e-5)
    root = make_dataset(tmp_path / "r", logits, gts)
    with segviewer.open(gt=root / "gt", logits=root / "logits", num_classes=c, steps=steps,
                        scoring=segviewer.Scoring(beta=2.0)) as ins:
        best = ins.best_thresholds()
        assert best.threshold == pytest.approx(want["threshold"])
        assert 0 < best.threshold[3] < 1 and 0 < best.threshold[4] < 1       # a real search, not an end point
        for key in ("fbeta", "precision", "recall"):
            np.testing.assert_allclose(getattr(best, key), want[key], rtol=1e-12, equal_nan=True)
        ins.scoring = segviewer.Scoring(threshold=tuple(best.threshold), beta=2.0)
        np.testing.assert_allclose(ins.dataset_scores()["fbeta"], best.fbeta, rtol=1e-12, equal_nan=True)
        assert ins.dataset_scores().loc[[3, 4], "fp"].tolist() == [0, 0]
