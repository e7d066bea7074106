"""The command line end to end: CSVs that pandas reads, exit codes, one-line errors."""

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import run_cli, run_subprocess, make_dataset, save_label
from segviewer.core.counts import count_threshold, prepare_target
from segviewer.core.probs import to_probabilities
from segviewer.core.scores import compute_scores


run = run_cli


def test_export_demo_matches_core(demo_dir, tmp_path):
    out, per_image = tmp_path / "pc.csv", tmp_path / "pi.csv"
    res = run("export", "--gt", demo_dir / "gt", "--logits", demo_dir / "logits", "--classes",
              demo_dir / "classes.json", "--threshold", "0.4", "--beta", "2", "--out", out, "--per-image", per_image)
    assert res.returncode == 0, res.stderr
    pc = pd.read_csv(out)
    assert list(pc.columns[:14]) == ["class_id", "class_name", "gt_pixels", "tp", "fp", "fn", "precision", "recall",
                                     "fbeta", "dice", "iou", "soft_dice", "threshold", "beta"]
    assert len(pc) == 8 and pd.isna(pc["class_id"].iloc[-1])
    pi = pd.read_csv(per_image)
    assert len(pi) == 12 * 7
    # the per-image rows add up to the per-class totals
    sums = pi.groupby("class_id")[["tp", "fp", "fn"]].sum()
    assert sums["tp"].tolist() == pc["tp"].iloc[:-1].astype(int).tolist()
    # one image recomputed independently of the dataset layer
    from PIL import Image
    labels = torch.from_numpy(np.asarray(Image.open(demo_dir / "gt" / "scene_001.png")).astype(np.int64))
    logits = torch.from_numpy(np.load(demo_dir / "logits" / "scene_001.npy"))
    probs = to_probabilities(logits, tuple(labels.shape))
    counts = count_threshold(probs, prepare_target(labels, 7, 255), 0.4)
    row = pi[pi.image == "scene_001"].sort_values("class_id")
    assert row["tp"].tolist() == counts.tp.tolist() and row["fp"].tolist() == counts.fp.tolist()
    f2 = compute_scores(counts, beta=2.0).fbeta
    for got, want in zip(row["fbeta"], f2.tolist()):
        assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want, rel=1e-8)


def test_export_absent_class_cells_are_empty(tmp_path):
    logits = np.zeros((3, 2, 2), np.float32)
    logits[0] = 4
    root = make_dataset(tmp_path, [logits], [np.zeros((2, 2))])
    res = run("export", "--gt", root / "gt", "--logits", root / "logits", "--out", tmp_path / "o.csv")
    assert res.returncode == 0, res.stderr
    lines = (tmp_path / "o.csv").read_text().splitlines()
    assert lines[2] == "1,class 1,0,0,0,0,,,,,,,0.5,1"
    assert pd.read_csv(tmp_path / "o.csv")["fbeta"].iloc[0] == pytest.approx(1.0)


def test_per_class_thresholds_and_argmax(demo_dir, tmp_path):
    res = run("export", "--gt", demo_dir / "gt", "--logits", demo_dir / "logits", "--classes",
              demo_dir / "classes.json", "--threshold", "0.5,0.4,0.3,0.5,0.5,0.5,0.2", "--out", tmp_path / "a.csv")
    assert res.returncode == 0, res.stderr
    assert pd.read_csv(tmp_path / "a.csv")["threshold"].iloc[:7].tolist() == ["0.5", "0.4", "0.3", "0.5", "0.5",
                                                                              "0.5", "0.2"]
    res = run("export", "--gt", demo_dir / "gt", "--logits", demo_dir / "logits", "--argmax", "--out", tmp_path / "b.csv")
    assert res.returncode == 0, res.stderr
    b = pd.read_csv(tmp_path / "b.csv")
    assert (b["threshold"] == "argmax").all() and b["tp"].iloc[-1] + b["fn"].iloc[-1] == b["gt_pixels"].iloc[-1]


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    res = run("export", "--gt", tmp_path / "missing", "--logits", tmp_path, "--out", tmp_path / "o.csv")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "missing: folder does not exist" in res.stderr
    assert "Traceback" not in res.stderr
    res = run("export", "--gt", tmp_path, "--logits", tmp_path, "--threshold", "abc", "--out", tmp_path / "o.csv")
    assert res.returncode == 2


def test_folder_run_skips_bad_files_and_strict_stops(tmp_path):
    rng = np.random.default_rng(0)
    root = make_dataset(tmp_path, [rng.normal(size=(2, 4, 4)).astype(np.float32) for _ in range(3)],
                        [rng.integers(0, 2, (4, 4)) for _ in range(3)])
    (root / "logits" / "img1.npy").write_bytes(b"\x93NUMPY garbage")
    res = run("export", "--gt", root / "gt", "--logits", root / "logits", "--out", tmp_path / "o.csv",
              "--per-image", tmp_path / "i.csv")
    assert res.returncode == 0, res.stderr
    assert "img1.npy" in res.stderr and "skipped" in res.stderr
    assert sorted(pd.read_csv(tmp_path / "i.csv")["image"].unique()) == ["img0", "img2"]
    res = run("export", "--gt", root / "gt", "--logits", root / "logits", "--out", tmp_path / "o.csv", "--strict")
    assert res.returncode == 2 and "img1.npy" in res.stderr


def test_unpaired_files_are_reported(tmp_path):
    root = make_dataset(tmp_path, [np.zeros((2, 4, 4), np.float32)], [np.zeros((4, 4))])
    save_label(root / "gt" / "lonely.png", np.zeros((4, 4)))
    res = run("export", "--gt", root / "gt", "--logits", root / "logits", "--out", tmp_path / "o.csv")
    assert res.returncode == 0 and "1 ground-truth file(s) without a partner: lonely" in res.stderr


def test_demo_command_writes_dataset(tmp_path):
    res = run("demo", tmp_path / "d", "--no-gui")
    assert res.returncode == 0, res.stderr
    for sub in ("gt", "logits", "images", "masks"):
        assert len(list((tmp_path / "d" / sub).iterdir())) == 12
    shapes = {np.load(p).shape[1:] for p in (tmp_path / "d" / "logits").iterdir()}
    assert shapes == {(192, 256), (96, 128)}  # part of the logits at half resolution


def test_module_and_help():
    assert run("export", "--help").returncode == 0


def test_boundary_band_export(demo_dir, tmp_path):
    base = ["export", "--gt", demo_dir / "gt", "--logits", demo_dir / "logits", "--classes", demo_dir / "classes.json"]
    assert run(*base, "--out", tmp_path / "all.csv").returncode == 0
    res = run(*base, "--boundary", "3", "--out", tmp_path / "band.csv")
    assert res.returncode == 0, res.stderr
    whole, band = pd.read_csv(tmp_path / "all.csv"), pd.read_csv(tmp_path / "band.csv")
    assert (band["gt_pixels"] < whole["gt_pixels"]).all()
    # errors concentrate at boundaries in the demo: the band's F1 is lower for most classes (the last row: the mean)
    lower = (band["fbeta"] < whole["fbeta"]).iloc[:-1]
    assert lower.sum() > len(lower) / 2
    assert run(*base, "--boundary", "3", "--interior", "--out", tmp_path / "inner.csv").returncode == 0
    inner = pd.read_csv(tmp_path / "inner.csv")
    for col in ("gt_pixels", "tp", "fp", "fn"):  # band and interior split every pixel
        assert (inner[col] + band[col]).tolist() == whole[col].tolist()


def test_worst_figures(demo_dir, tmp_path):
    res = run("export", "--gt", demo_dir / "gt", "--logits", demo_dir / "logits", "--images", demo_dir / "images",
              "--classes", demo_dir / "classes.json", "--out", tmp_path / "pc.csv", "--per-image", tmp_path / "pi.csv",
              "--figures", tmp_path / "fig", "--worst", "3")
    assert res.returncode == 0, res.stderr
    files = sorted((tmp_path / "fig").iterdir())
    assert len(files) == 3 and files[0].name.startswith("001-")
    pi = pd.read_csv(tmp_path / "pi.csv")
    worst = pi.groupby("image")["fbeta"].mean().sort_values().index[0]
    assert files[0].name == f"001-{worst}.png"
    from PIL import Image
    assert Image.open(files[0]).size[0] >= 900


def test_window_without_display_says_so(demo_dir):
    import os
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    res = run_subprocess(demo_dir, env=env)
    assert res.returncode == 2 and "no display" in res.stderr and res.stderr.count("\n") == 1


@pytest.mark.parametrize("args, line", [
    (["--bogus"], "segviewer: error: unrecognized arguments: --bogus (see segviewer --help)"),
    (["export", "DEMO", "--beta", "0", "--out", "x.csv"],
     "segviewer: error: argument --beta: 0 must be greater than 0.0 (see segviewer export --help)"),
    (["export", "DEMO", "--bogus", "--out", "x.csv"],
     "segviewer: error: unrecognized arguments: --bogus (see segviewer export --help)"),
    (["export", "DEMO", "--worst", "3", "--out", "x.csv"],
     "segviewer: error: --worst needs --figures DIR (see segviewer export --help)"),
    (["sweep", "DEMO", "--steps", "0", "--out", "s.csv"],
     "segviewer: error: argument --steps: 0 must be at least 1 (see segviewer sweep --help)"),
])
def test_a_usage_mistake_is_one_line_naming_the_commands_help(demo_dir, tmp_path, args, line):
    result = run_cli(*[demo_dir if a == "DEMO" else tmp_path / a if a.endswith(".csv") else a for a in args])
    assert result.returncode == 2 and result.stderr.splitlines() == [line]
    assert not list(tmp_path.iterdir())
