"""Calibration (class-wise for every class + top label) vs torchmetrics' MulticlassCalibrationError (top label only)
on the same probabilities; cost of the calibration work itself (loading and softmax are shared and timed apart),
the state each keeps, and peak memory at two dataset sizes. Targets: ratio <= 0.5; memory flat in the images.
usage: python benchmarks/bench_calibration.py [--images 8] [--classes 19] [--height 256] [--width 512] [--bins 15]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import data_root, machine, make_synthetic, peak_rss_mib, run_worker, setup_worker  # noqa: E402


def samples(root: Path):
    from segviewer.core.dataset import DataOptions, Dataset
    ds = Dataset(DataOptions(gt_dir=root / "gt", pred_dir=root / "logits", device="cpu"))
    load_seconds = 0.0
    for i in range(len(ds)):
        t0 = time.perf_counter()
        sample = ds.load(i, with_image=False)
        load_seconds += time.perf_counter() - t0
        yield sample, load_seconds


def run_ours(root: Path, bins: int) -> dict:
    from segviewer.core.calibration import CalibrationStats, image_calibration
    stats, seconds, load = None, 0.0, 0.0
    for sample, load in samples(root):
        t0 = time.perf_counter()
        part = image_calibration(sample.probs, sample.target, bins)
        stats = part if stats is None else stats + part
        seconds += time.perf_counter() - t0
    assert isinstance(stats, CalibrationStats)
    state = stats.pixels.nbytes + stats.conf_sum.nbytes + stats.positives.nbytes
    return {"seconds": seconds, "load_seconds": load, "ece": float(stats.ece()[-1]), "state_bytes": state}


def run_torchmetrics(root: Path, bins: int, classes: int) -> dict:
    import torch
    from torchmetrics.classification import MulticlassCalibrationError
    metric = MulticlassCalibrationError(num_classes=classes, n_bins=bins, norm="l1", ignore_index=255)
    seconds, load = 0.0, 0.0
    for sample, load in samples(root):
        labels = torch.from_numpy(sample.labels)
        t0 = time.perf_counter()
        metric.update(sample.probs[None], labels[None])
        seconds += time.perf_counter() - t0
    t0 = time.perf_counter()
    ece = float(metric.compute())
    seconds += time.perf_counter() - t0
    state = sum(t.numel() * t.element_size() for name in ("confidences", "accuracies") for t in getattr(metric, name))
    return {"seconds": seconds, "load_seconds": load, "ece": ece, "state_bytes": state}


def worker(args) -> None:
    setup_worker()
    root = Path(args.root)
    out = run_torchmetrics(root, args.bins, args.classes) if args.worker == "torchmetrics" else run_ours(root, args.bins)
    print(json.dumps({**out, "peak_mib": peak_rss_mib()}))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    for name, default in (("images", 8), ("classes", 19), ("height", 256), ("width", 512), ("bins", 15)):
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--data", type=Path)
    p.add_argument("--worker")
    p.add_argument("--root")
    return p.parse_args()


def synthetic_sets(args) -> dict[int, Path]:
    """Two datasets, n and 4n images, to show what grows with the images."""
    base = data_root(args, "calibration")
    sets = {args.images: base / "small", args.images * 4: base / "large"}
    for seed, (n, root) in enumerate(sets.items()):
        make_synthetic(root, n, args.classes, args.height, args.width, seed=seed)
    return sets


def main() -> None:
    args = parse_args()
    if args.worker:
        return worker(args)
    sets = synthetic_sets(args)
    print(f"machine: {machine()}")
    print(f"data: {' and '.join(map(str, sets))} images, {args.classes}×{args.height}×{args.width}, {args.bins} bins")
    results = {(kind, n): run_worker(__file__, "--worker", kind, "--root", root, "--bins", args.bins,
                                     "--classes", args.classes) for kind in ("torchmetrics", "ours")
               for n, root in sets.items()}
    for n in sets:
        tm, ours = results[("torchmetrics", n)], results[("ours", n)]
        print(f"{n} images: torchmetrics (top label only) {tm['seconds']:.2f} s, state {tm['state_bytes'] / 2**20:.1f} MiB, "
              f"peak {tm['peak_mib']:.0f} MiB | segviewer ({args.classes} classes + top label) {ours['seconds']:.2f} s, "
              f"state {ours['state_bytes'] / 1024:.1f} KiB, peak {ours['peak_mib']:.0f} MiB | "
              f"ratio {ours['seconds'] / tm['seconds']:.3f} | loading (shared, not counted) {ours['load_seconds']:.2f} s")
        print(f"  top-label ECE: torchmetrics {tm['ece']:.6f}, segviewer {ours['ece']:.6f}")


if __name__ == "__main__":
    main()
