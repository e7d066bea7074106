"""Index build vs torchmetrics' MulticlassPrecisionRecallCurve on the same grid and data; rescore time; memory.

torchmetrics counts p >= t; segviewer counts p > t. Giving torchmetrics the next float32 above each grid value
makes the two definitions identical, so the counts must agree exactly. Targets: build ratio <= 0.5; one
dataset-wide rescore <= 1 ms whatever the dataset size; memory bounded by one image plus the index.
usage: python benchmarks/bench_sweep.py [--images 8] [--classes 19] [--height 256] [--width 512] [--steps 1000]
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import (data_parser, data_root, machine, make_synthetic, median_ms, peak_rss_mib,  # noqa: E402
                    run_worker, setup_worker)


def build_ours(root: Path, steps: int) -> dict:
    from segviewer.core.dataset import DataOptions, Dataset
    from segviewer.core.passes import index_pass
    ds = Dataset(DataOptions(gt_dir=root / "gt", pred_dir=root / "logits"))
    t0 = time.perf_counter()
    index = index_pass(ds, None, steps=steps)
    seconds = time.perf_counter() - t0
    thresholds = iter([k / steps for k in range(steps + 1)] * 20)
    rescore = median_ms(lambda: index.dataset_counts(next(thresholds)), repeats=200)
    per_image = median_ms(lambda: index.image_counts(next(thresholds)), repeats=50)
    return {"seconds": seconds, "rescore_ms": rescore, "image_list_ms": per_image,
            "tp": index.curves().tp.tolist(), "fp": index.curves().fp.tolist(), "images": len(index.names)}


def build_torchmetrics(root: Path, steps: int, classes: int) -> dict:
    import numpy as np
    import torch
    from PIL import Image
    from torchmetrics.classification import MulticlassPrecisionRecallCurve
    from segviewer.core.index import grid_values
    from segviewer.core.probs import to_probabilities
    thresholds = torch.nextafter(grid_values(steps), torch.tensor(2.0))   # p >= next(g)  <=>  p > g
    metric = MulticlassPrecisionRecallCurve(num_classes=classes, thresholds=thresholds, ignore_index=255)
    t0 = time.perf_counter()
    for path in sorted((root / "logits").glob("*.npy")):
        gt = torch.from_numpy(np.asarray(Image.open(root / "gt" / f"{path.stem}.png")).astype(np.int64))
        probs = to_probabilities(torch.from_numpy(np.load(path)), tuple(gt.shape))
        metric.update(probs[None], gt[None])
    seconds = time.perf_counter() - t0
    confmat = metric.confmat   # [T, C, 2, 2]: [[tn, fp], [fn, tp]]
    return {"seconds": seconds, "tp": confmat[:, :, 1, 1].T.tolist(), "fp": confmat[:, :, 0, 1].T.tolist()}


def worker(args) -> None:
    setup_worker()
    root = Path(args.root)
    out = build_torchmetrics(root, args.steps, args.classes) if args.worker == "torchmetrics" else \
        build_ours(root, args.steps)
    out["peak_mib"] = peak_rss_mib()
    print(json.dumps(out))


def spawn(kind: str, root: Path, args) -> dict:
    return run_worker(__file__, "--worker", kind, "--root", root, "--steps", args.steps, "--classes", args.classes)


def main() -> None:
    p = data_parser(8, 256, 512)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--data", type=Path)
    p.add_argument("--worker")
    p.add_argument("--root")
    args = p.parse_args()
    if args.worker:
        return worker(args)
    base = data_root(args, "sweep")
    small, large = base / "small", base / "large"
    make_synthetic(small, args.images, args.classes, args.height, args.width)
    make_synthetic(large, args.images * 8, args.classes, args.height, args.width, seed=1)
    print(f"machine: {machine()}")
    print(f"data: {args.images} images, {args.classes}×{args.height}×{args.width}, grid of {args.steps} steps")
    tm = spawn("torchmetrics", small, args)
    ours = spawn("ours", small, args)
    big = spawn("ours", large, args)
    agree = tm["tp"] == ours["tp"] and tm["fp"] == ours["fp"]
    print(f"torchmetrics MulticlassPrecisionRecallCurve: {tm['seconds']:.2f} s, peak {tm['peak_mib']:.0f} MiB")
    print(f"segviewer index build:                       {ours['seconds']:.2f} s, peak {ours['peak_mib']:.0f} MiB, "
          f"ratio {ours['seconds'] / tm['seconds']:.3f}")
    print(f"counts agree at every grid threshold: {'yes' if agree else 'NO'}")
    print(f"dataset-wide rescore: {ours['rescore_ms'] * 1000:.0f} µs with {ours['images']} images, "
          f"{big['rescore_ms'] * 1000:.0f} µs with {big['images']} images")
    print(f"image-list rescore (every image's counts): {ours['image_list_ms']:.2f} ms ({ours['images']} images), "
          f"{big['image_list_ms']:.2f} ms ({big['images']} images)")
    print(f"index build peak memory: {ours['peak_mib']:.0f} MiB ({ours['images']} images), "
          f"{big['peak_mib']:.0f} MiB ({big['images']} images)")
    if not agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
