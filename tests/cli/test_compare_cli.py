"""`segviewer compare` and `segviewer calibration`: exact columns, values equal to the API's, bad input."""
import numpy as np
import pandas as pd
import pytest

from helpers import run_cli


def demo_args(demo_dir):
    return ["--gt", demo_dir / "gt", "--logits", demo_dir / "logits", "--classes", demo_dir / "classes.json"]


def test_compare_csvs_equal_the_api(demo_dir, tmp_path):
    import segviewer
    res = run_cli("compare", *demo_args(demo_dir), "--threshold", "0.4", "--compare-masks", demo_dir / "masks",
                  "--beta", "0.5", "--out", tmp_path / "c.csv", "--per-image", tmp_path / "i.csv")
    assert res.returncode == 0, res.stderr
    per_class = pd.read_csv(tmp_path / "c.csv")
    assert list(per_class.columns) == ["class_id", "class_name", "gt_pixels", "fbeta_a", "fbeta_b", "delta_fbeta",
                                       "iou_a", "iou_b", "delta_iou", "fixed", "broken", "both_wrong"]
    per_image = pd.read_csv(tmp_path / "i.csv")
    assert list(per_image.columns) == ["image", "mean_fbeta_a", "mean_fbeta_b", "delta_mean_fbeta", "fixed",
                                       "broken"]
    ins = segviewer.open(folder=demo_dir, compare_masks=demo_dir / "masks",
                         scoring=segviewer.Scoring(threshold=0.4, beta=0.5))
    api = ins.compare.table()
    assert per_class["fbeta_a"].to_numpy() == pytest.approx(api["fbeta_a"].to_numpy(), rel=1e-9)
    assert per_class["fixed"].tolist() == api["fixed"].tolist()
    assert per_class["both_wrong"].tolist() == api["both_wrong"].tolist()
    assert per_image["broken"].tolist() == ins.compare.images()["broken"].tolist()
    assert per_class["fbeta_a"].to_numpy() == pytest.approx(ins.dataset_scores()["fbeta"].to_numpy(), rel=1e-9)


def test_per_image_fixed_and_broken_count_pixels_by_the_all_classes_rule(tmp_path):
    import segviewer
    from helpers import make_dataset, save_label
    rng = np.random.default_rng(8)
    c, n = 4, 3
    gts = [rng.integers(0, c, (8, 10)).astype(np.uint8) for _ in range(n)]
    for gt in gts:
        gt[rng.random(gt.shape) < 0.1] = 255
    logits = [rng.normal(size=(c, 8, 10)).astype(np.float32) * 2 for _ in range(n)]
    masks = [rng.integers(0, c, (8, 10)).astype(np.uint8) for _ in range(n)]
    root = make_dataset(tmp_path / "a", logits, gts)
    for i, m in enumerate(masks):
        save_label(tmp_path / "bm" / f"img{i}.png", m)
    res = run_cli("compare", "--gt", root / "gt", "--logits", root / "logits", "--threshold", "0.25",
                  "--compare-masks", tmp_path / "bm", "--out", tmp_path / "c.csv", "--per-image", tmp_path / "i.csv")
    assert res.returncode == 0, res.stderr
    per_image = pd.read_csv(tmp_path / "i.csv")
    assert list(per_image.columns) == ["image", "mean_fbeta_a", "mean_fbeta_b", "delta_mean_fbeta", "fixed",
                                       "broken"]
    # numpy, pixel by pixel: right = the GT class predicted and no other (A: p > 0.25, several at once possible)
    fixed, broken = [], []
    for gt, lg, m in zip(gts, logits, masks):
        a = np.exp(lg) / np.exp(lg).sum(0) > 0.25
        ids = np.arange(c)[:, None, None]
        right_a = (a == (ids == gt)).all(0)
        right_b = m == gt
        valid = gt != 255
        fixed.append(int((~right_a & right_b & valid).sum()))
        broken.append(int((right_a & ~right_b & valid).sum()))
    assert per_image["fixed"].tolist() == fixed and per_image["broken"].tolist() == broken
    with segviewer.open(gt=root / "gt", logits=root / "logits", compare_masks=tmp_path / "bm",
                        scoring=segviewer.Scoring(threshold=0.25)) as ins:
        api = ins.compare.images()
        assert api["fixed"].tolist() == fixed and api["broken"].tolist() == broken
        per_class_sums = [int(ins.compare.image(i).changes.fixed.sum()) for i in range(n)]
        assert per_class_sums != fixed                     # a pixel wrong for two classes counts once here
        assert ins.compare.table()["fixed"].sum() == sum(per_class_sums)     # the per-class table stays per class


def test_compare_own_modes_and_empty_cells(tmp_path):
    from helpers import make_dataset
    rng = np.random.default_rng(2)
    gts = [np.zeros((6, 8), np.uint8) for _ in range(2)]        # class 2 absent from GT
    logits = [np.stack([np.full((6, 8), 4.0), np.zeros((6, 8)), np.full((6, 8), -9.0)]).astype(np.float32)
              for _ in range(2)]
    root = make_dataset(tmp_path / "a", logits, gts)
    make_dataset(tmp_path / "b", [rng.normal(size=(3, 6, 8)).astype(np.float32) for _ in range(2)], gts)
    res = run_cli("compare", "--gt", root / "gt", "--logits", root / "logits", "--argmax", "--compare",
                  tmp_path / "b" / "logits", "--compare-threshold", "0.99", "--out", tmp_path / "c.csv")
    assert res.returncode == 0, res.stderr
    rows = (tmp_path / "c.csv").read_text().splitlines()
    # A (argmax) is all right; B at 0.99 predicts nothing: class 0 all broken, class 2 absent under both -> empty
    assert rows[1].split(",")[2] == "96" and rows[1].split(",")[-3:] == ["0", "96", "0"]
    assert rows[3].split(",")[3:9] == [""] * 6


def test_compare_bad_input(demo_dir, tmp_path):
    res = run_cli("compare", *demo_args(demo_dir), "--compare", tmp_path / "nowhere", "--out", tmp_path / "c.csv")
    assert res.returncode == 2 and res.stderr.startswith("segviewer: error:") and "does not exist" in res.stderr
    res = run_cli("compare", *demo_args(demo_dir), "--out", tmp_path / "c.csv")
    assert res.returncode == 2 and "--compare" in res.stderr
    res = run_cli("compare", *demo_args(demo_dir), "--compare", demo_dir / "masks", "--compare-threshold", "2",
                  "--out", tmp_path / "c.csv")
    assert res.returncode == 2 and "[0, 1]" in res.stderr


def test_calibration_csvs_plot_and_api(demo_dir, tmp_path):
    import segviewer
    res = run_cli("calibration", *demo_args(demo_dir), "--bins", "10", "--out", tmp_path / "cal.csv",
                  "--bins-out", tmp_path / "bins.csv", "--plot", tmp_path / "cal.png")
    assert res.returncode == 0, res.stderr
    cal = pd.read_csv(tmp_path / "cal.csv", keep_default_na=False)
    assert list(cal.columns) == ["class_id", "class_name", "pixels", "ece", "mce"]
    assert cal["class_name"].iloc[-1] == "top-label" and cal["class_id"].iloc[-1] == ""
    bins = pd.read_csv(tmp_path / "bins.csv")
    assert list(bins.columns) == ["class_id", "class_name", "bin", "lower", "upper", "pixels", "mean_confidence",
                                  "frequency"]
    assert len(bins) == 8 * 10
    api = segviewer.open(folder=demo_dir).calibration.table(bins=10)
    assert cal["ece"].astype(float).to_numpy() == pytest.approx(api["ece"].to_numpy(), rel=1e-9)
    # ECE from the bins file: Σ pixels · |frequency − mean confidence| / pixels
    top = bins[bins["class_name"] == "top-label"].fillna(0)
    ece = (top["pixels"] * (top["frequency"] - top["mean_confidence"]).abs()).sum() / top["pixels"].sum()
    assert ece == pytest.approx(float(cal["ece"].iloc[-1]), rel=1e-6)
    assert (tmp_path / "cal.png").stat().st_size > 10_000


def test_calibration_refuses_masks(demo_dir, tmp_path):
    res = run_cli("calibration", "--gt", demo_dir / "gt", "--masks", demo_dir / "masks", "--out", tmp_path / "c.csv")
    assert res.returncode == 2 and "needs logits" in res.stderr
    res = run_cli("calibration", *demo_args(demo_dir), "--bins", "0", "--out", tmp_path / "c.csv")
    assert res.returncode == 2


def test_compare_and_calibration_never_write_over_an_input(demo_dir, tmp_path):
    import hashlib
    gt_file = sorted((demo_dir / "gt").iterdir())[0]
    before = hashlib.sha256(gt_file.read_bytes()).hexdigest()
    runs = [("compare", "--gt", demo_dir / "gt", "--logits", demo_dir / "logits", "--compare-masks",
             demo_dir / "masks", "--out", gt_file),
            ("calibration", "--gt", demo_dir / "gt", "--logits", demo_dir / "logits", "--out", gt_file),
            ("calibration", "--gt", demo_dir / "gt", "--logits", demo_dir / "logits", "--out", tmp_path / "c.csv",
             "--plot", tmp_path / "plot.xyz")]
    for args in runs:
        res = run_cli(*args)
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert hashlib.sha256(gt_file.read_bytes()).hexdigest() == before
    assert not (tmp_path / "c.csv").exists()
