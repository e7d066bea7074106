"""What one interaction costs on a 1024×2048 image with 19 classes (medians, not a timed test).

Targets on the 2-core CPU: slider step <= 16 ms (one class and all classes), image switch <= 300 ms, window shown
<= 3 s, confusion-matrix click and error-region listing <= 100 ms each. The peer is the naive step that a viewer
without these fast paths does: softmax again, compare every class, build an RGBA image.
usage: python benchmarks/bench_interactive.py [--height 1024] [--width 2048] [--classes 19]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import data_root, machine, make_synthetic, median_ms, setup_worker  # noqa: E402

from segviewer.core.counts import count_threshold, confusion_matrix  # noqa: E402
from segviewer.core.dataset import DataOptions, Dataset  # noqa: E402
from segviewer.core.index_build import IndexBuilder  # noqa: E402
from segviewer.core.overlay import ALL_CLASSES, error_lut, prepare_maps, threshold_codes  # noqa: E402
from segviewer.core.regions import error_regions  # noqa: E402


def naive_step(logits: torch.Tensor, labels: torch.Tensor, c: int, t: float, lut: np.ndarray) -> np.ndarray:
    probs = torch.softmax(logits.float(), 0)
    pred = probs > t
    codes = (pred[c].to(torch.uint8) + (labels == c).to(torch.uint8) * 2).numpy()
    count_threshold(probs, prepare(labels, logits.shape[0]), t)
    return lut[codes]


def prepare(labels, c):
    from segviewer.core.counts import prepare_target
    return prepare_target(labels, c, 255)


def window_startup_s(root: Path) -> float:
    """Process start until the window has been shown and the event loop turns, opening the dataset as the app
    does (right after the first paint)."""
    code = ("import sys, time; from PySide6.QtWidgets import QApplication; from PySide6.QtCore import QTimer;"
            "app = QApplication([]); from segviewer.gui.main_window import MainWindow;"
            "w = MainWindow(); w.show();"
            "QTimer.singleShot(0, lambda: (print(time.time(), flush=True),"
            " w.actions_.open_folder(__import__('pathlib').Path(sys.argv[1])), w.close(), app.quit())); app.exec()")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", code, str(root)], check=True, capture_output=True, text=True, env=env)
    return float(out.stdout.strip().splitlines()[0]) - t0


def main() -> None:
    setup_worker()
    p = argparse.ArgumentParser()
    p.add_argument("--height", type=int, default=1024)
    p.add_argument("--width", type=int, default=2048)
    p.add_argument("--classes", type=int, default=19)
    p.add_argument("--data", type=Path)
    args = p.parse_args()
    root = data_root(args, "interactive")
    make_synthetic(root, 3, args.classes, args.height, args.width)
    print(f"machine: {machine()}")
    print(f"image: {args.classes}×{args.height}×{args.width}")
    ds = Dataset(DataOptions(gt_dir=root / "gt", pred_dir=root / "logits"))
    sample = ds.load(0)
    labels = torch.from_numpy(sample.labels)
    maps = prepare_maps(labels, 255, sample.probs, None)
    builder = IndexBuilder(args.classes, 1000, keep_image_counts=True)
    builder.add(sample.name, sample.target, sample.probs)
    index = builder.finish()
    lut = error_lut()
    logits = torch.from_numpy(np.load(ds.items[0].pred))
    thresholds = iter(np.tile(np.arange(300, 700) / 1000, 50))

    def step(class_id):
        t = float(next(thresholds))
        threshold_codes(maps, sample.probs, class_id, t)
        index.image_counts(t)

    one = median_ms(lambda: step(3), repeats=25)
    every = median_ms(lambda: step(ALL_CLASSES), repeats=25)
    direct = median_ms(lambda: count_threshold(sample.probs, sample.target, float(next(thresholds))), repeats=7)
    naive = median_ms(lambda: naive_step(logits, labels, 3, float(next(thresholds)), lut), repeats=5)

    def switch(i=[0]):
        i[0] = (i[0] + 1) % 3
        s = ds.load(i[0])
        prepare_maps(torch.from_numpy(s.labels), 255, s.probs, None)
        return s
    switching = median_ms(switch, repeats=5, warmup=1)
    after = median_ms(lambda: sample.soft(), repeats=5)

    pred = maps.pred_argmax

    def confusion_click():
        mask = ((labels == 1) & (pred == 2)).numpy()      # the highlight of cell (1, 2)
        confusion_matrix(pred, sample.target)              # the current image's matrix
        pair = np.zeros(5000)                              # list order by that pair over 5000 images
        np.argsort(-pair)
        return mask
    click = median_ms(confusion_click, repeats=9)
    codes = threshold_codes(maps, sample.probs, 3, 0.5)
    class_map = np.where(sample.labels == 255, 0, sample.labels)
    regions_one = median_ms(lambda: error_regions(codes == 1, class_map, "hallucinated", 20)
                            + error_regions(codes == 2, class_map, "missed", 20), repeats=5)
    codes_all = threshold_codes(maps, sample.probs, ALL_CLASSES, 0.5)
    regions_all = median_ms(lambda: error_regions(codes_all == 1, pred.numpy(), "hallucinated", 20)
                            + error_regions(codes_all == 2, class_map, "missed", 20), repeats=5)
    startup = min(window_startup_s(root) for _ in range(2))

    print(f"slider step, one class:    {one:7.1f} ms   (naive peer {naive:.0f} ms, ratio {one / naive:.3f})")
    print(f"slider step, all classes:  {every:7.1f} ms   (ratio {every / naive:.3f})")
    print(f"  direct recount of the image's counts (before its histograms exist): {direct:.1f} ms")
    print(f"image switch (load, softmax, overlay maps; what comes before the image shows): {switching:7.1f} ms")
    print(f"  then, off screen, soft counts for the table: {after:.1f} ms")
    print(f"window shown after launch (process start to first event loop turn): {startup:5.2f} s")
    print(f"confusion-matrix click (highlight + matrix + list order): {click:7.1f} ms")
    print(f"error regions, one class: {regions_one:7.1f} ms; all classes: {regions_all:7.1f} ms")


if __name__ == "__main__":
    main()
