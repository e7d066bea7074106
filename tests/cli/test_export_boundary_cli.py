"""`segviewer export --boundary-metrics`: boundary_iou, hd95, nsd appended to both CSVs, equal to the core's."""
import numpy as np
import pandas as pd
import pytest

from helpers import make_dataset, run_cli
from segviewer.core.boundary_metrics import image_boundary_metrics, nanmean_rows

C = 3


@pytest.fixture
def shifted(tmp_path):
    """img0: a 10×10 class-1 square predicted one pixel to the right; img1: a class-2 object the model misses."""
    gt0 = np.zeros((20, 20), np.uint8)
    gt0[5:15, 5:15] = 1
    pred0 = np.roll(gt0, 1, axis=1)
    gt1 = np.zeros((20, 20), np.uint8)
    gt1[2:6, 2:6] = 2
    pred1 = np.zeros_like(gt1)
    logits = [np.eye(C, dtype=np.float32)[p].transpose(2, 0, 1) * 6 for p in (pred0, pred1)]
    return make_dataset(tmp_path / "data", logits, [gt0, gt1]), [(gt0, pred0), (gt1, pred1)]


def test_boundary_columns(shifted, tmp_path):
    root, pairs = shifted
    out, per_image = tmp_path / "pc.csv", tmp_path / "pi.csv"
    res = run_cli("export", "--gt", root / "gt", "--logits", root / "logits", "--num-classes", C, "--argmax",
                  "--boundary-metrics", "--boundary-width", "1", "--tolerance", "0.5", "--out", out,
                  "--per-image", per_image)
    assert res.returncode == 0, res.stderr
    pc, pi = pd.read_csv(out), pd.read_csv(per_image)
    assert list(pc.columns[-3:]) == ["boundary_iou", "hd95", "nsd"] and len(pc.columns) == 17
    assert list(pi.columns[-3:]) == ["boundary_iou", "hd95", "nsd"] and len(pi.columns) == 14
    per = [image_boundary_metrics(g, np.ones(g.shape, bool), p, C, 1, 0.5) for g, p in pairs]
    # class 1: only in img0 (Boundary IoU 18/54, HD95 1, NSD 0.5 at 0.5 px); class 2: missed in img1
    row1 = pi[(pi.image == "img0") & (pi.class_id == 1)].iloc[0]
    assert (row1.boundary_iou, row1.hd95, row1.nsd) == (pytest.approx(1 / 3), 1.0, 0.5)
    row2 = pi[(pi.image == "img1") & (pi.class_id == 2)].iloc[0]
    assert row2.boundary_iou == 0 and np.isnan(row2.hd95) and row2.nsd == 0
    inter = sum(p.intersection for p in per)
    union = sum(p.union for p in per)
    classes = pc.iloc[:C]
    np.testing.assert_allclose(classes["boundary_iou"], inter / union)
    for k in ("hd95", "nsd"):
        want = nanmean_rows(np.stack([getattr(p, k) for p in per]))
        np.testing.assert_allclose(classes[k], want, equal_nan=True)
        assert pc[k].iloc[-1] == pytest.approx(np.nanmean(want))


def test_boundary_options_need_the_flag(shifted, tmp_path):
    root, _ = shifted
    res = run_cli("export", "--gt", root / "gt", "--logits", root / "logits", "--tolerance", "2",
                  "--out", tmp_path / "o.csv")
    assert res.returncode == 2 and "--boundary-metrics" in res.stderr
    res = run_cli("export", "--gt", root / "gt", "--logits", root / "logits", "--boundary-metrics",
                  "--boundary-width", "0", "--out", tmp_path / "o.csv")
    assert res.returncode == 2 and "--boundary-width" in res.stderr


def test_without_the_flag_the_columns_are_unchanged(shifted, tmp_path):
    root, _ = shifted
    res = run_cli("export", "--gt", root / "gt", "--logits", root / "logits", "--out", tmp_path / "o.csv")
    assert res.returncode == 0, res.stderr
    assert "boundary_iou" not in pd.read_csv(tmp_path / "o.csv").columns
