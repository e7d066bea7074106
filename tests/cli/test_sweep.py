
import numpy as np
import pandas as pd

from helpers import run_cli
import pytest


run = run_cli


def test_sweep_csv_best_and_plot(demo_dir, tmp_path):
    res = run("sweep", "--gt", demo_dir / "gt", "--logits", demo_dir / "logits", "--classes", demo_dir / "classes.json",
              "--steps", "20", "--beta", "0.5", "--out", tmp_path / "s.csv", "--best", tmp_path / "b.csv",
              "--plot", tmp_path / "p.png")
    assert res.returncode == 0, res.stderr
    sweep = pd.read_csv(tmp_path / "s.csv")
    assert list(sweep.columns) == ["class_id", "class_name", "threshold", "tp", "fp", "fn", "precision", "recall", "fbeta"]
    assert len(sweep) == 7 * 21 and sweep["threshold"].iloc[:21].tolist() == pytest.approx([k / 20 for k in range(21)])
    # a sweep row equals `export` at that threshold
    res = run("export", "--gt", demo_dir / "gt", "--logits", demo_dir / "logits", "--threshold", "0.35",
              "--beta", "0.5", "--out", tmp_path / "e.csv")
    export = pd.read_csv(tmp_path / "e.csv").iloc[:-1]
    at = sweep[np.isclose(sweep["threshold"], 0.35)].reset_index()
    assert at["tp"].tolist() == export["tp"].astype(int).tolist()
    assert at["fp"].tolist() == export["fp"].astype(int).tolist()
    best = pd.read_csv(tmp_path / "b.csv")
    for c in range(7):
        rows = sweep[sweep.class_id == c]
        assert best["fbeta"][c] == pytest.approx(rows["fbeta"].max())
        assert best["threshold"][c] == pytest.approx(rows.loc[rows["fbeta"].idxmax(), "threshold"])
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_sweep_refuses_masks(demo_dir, tmp_path):
    res = run("sweep", "--gt", demo_dir / "gt", "--masks", demo_dir / "masks", "--out", tmp_path / "s.csv")
    assert res.returncode == 2 and "needs logits" in res.stderr
