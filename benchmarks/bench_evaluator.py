"""Times segviewer.Evaluator.update per batch against torchmetrics' MulticlassStatScores on the same tensors.

torchmetrics needs the logits at the target's size, so both sides get full-resolution logits; a second figure
gives the Evaluator stride-8 logits (it resizes them itself, as the reference formula does) against torchmetrics
on the same logits upsampled by the caller. The timings alternate between the sides (fair under a shared CPU).
Target: ratio <= 1.0 on CPU.
usage: python benchmarks/bench_evaluator.py [--batch 2] [--classes 19] [--height 512] [--width 1024] [--device cpu]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, setup_worker  # noqa: E402


def batch(n: int, c: int, h: int, w: int, stride: int, device: str):
    import torch
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, c, (n, h, w), generator=g)
    target[torch.rand(n, h, w, generator=g) < 0.01] = 255
    logits = torch.randn(n, c, h // stride, w // stride, generator=g)
    return logits.to(device), target.to(device)


def alternate(sides: dict, repeats: int) -> dict:
    """Median ms per call of each side, the sides taking turns."""
    for fn in sides.values():
        fn()
    times = {k: [] for k in sides}
    for _ in range(repeats):
        for name, fn in sides.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1000)
    return {k: statistics.median(v) for k, v in times.items()}


def sides(args, stride: int) -> dict:
    import torch
    import torch.nn.functional as F
    from torchmetrics.classification import MulticlassStatScores
    import segviewer
    logits, target = batch(args.batch, args.classes, args.height, args.width, stride, args.device)
    metric = MulticlassStatScores(num_classes=args.classes, average=None, ignore_index=255).to(args.device)
    size = tuple(target.shape[-2:])

    def torchmetrics_update():
        full = logits if stride == 1 else F.interpolate(logits, size=size, mode="bilinear", align_corners=True)
        metric.update(full, target)

    def evaluator(**kwargs):
        ev = segviewer.Evaluator(num_classes=args.classes, ignore_index=255, device=args.device, **kwargs)
        return lambda: ev.update(logits, target)

    def synced():
        if args.device == "cuda":
            torch.cuda.synchronize()
    run = {"torchmetrics MulticlassStatScores": torchmetrics_update,
           "Evaluator threshold=0.5": evaluator(threshold=0.5), "Evaluator argmax": evaluator(argmax=True),
           "Evaluator threshold=0.5 keep_index=False": evaluator(threshold=0.5, keep_index=False),
           "Evaluator argmax keep_index=False": evaluator(argmax=True, keep_index=False)}
    return {k: (lambda fn=fn: (fn(), synced())) for k, fn in run.items()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--classes", type=int, default=19)
    p.add_argument("--height", type=int, default=512)
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    setup_worker()
    out = {"machine": machine(), "batch": f"{args.batch} x {args.classes} x {args.height}x{args.width}"}
    for stride in (1, 8):
        ms = alternate(sides(args, stride), args.repeats)
        tm = ms["torchmetrics MulticlassStatScores"]
        out[f"logits stride {stride}"] = {k: {"ms_per_batch": round(v, 1), "ratio_vs_torchmetrics": round(v / tm, 2)}
                                         for k, v in ms.items()}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
