"""The compare view's slider step: new change codes for one class and for all classes after a threshold move, on
one 1024×2048, 19-class image (probabilities in memory, as the window holds them). Target: <= 16 ms a step.
Also the per-image changes table (fixed / broken / both wrong for every class) and the image's pixel counts by the
all-classes rule (what the compare pass adds per image for the per-image CSV).
usage: python benchmarks/bench_compare.py [--classes 19] [--height 1024] [--width 2048]
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, median_ms, setup_worker  # noqa: E402


def synthetic_image(c: int, h: int, w: int):
    import torch
    g = torch.Generator().manual_seed(0)
    labels = ((torch.arange(w)[None, :] * c // w + torch.arange(h)[:, None] * 3 // h) % c).long()
    labels[torch.rand(h, w, generator=g) < 0.01] = 255
    safe = torch.where(labels == 255, 0, labels)
    probs = []
    for boost in (2.5, 3.0):
        logits = torch.randn(c, h, w, generator=g)
        logits.scatter_add_(0, safe[None], torch.full((1, h, w), boost))
        probs.append(torch.softmax(logits, 0).contiguous())
    return labels, probs


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--classes", type=int, default=19)
    p.add_argument("--height", type=int, default=1024)
    p.add_argument("--width", type=int, default=2048)
    args = p.parse_args()
    setup_worker()
    from segviewer.core.compare_pixels import compare_codes, image_changes, pixel_changes, prediction_of
    from segviewer.core.counts import prepare_target
    from segviewer.core.overlay import ALL_CLASSES, prepare_maps
    from segviewer.core.scoring import Scoring
    c = args.classes
    labels, (probs_a, probs_b) = synthetic_image(c, args.height, args.width)
    maps_a, maps_b = prepare_maps(labels, 255, probs_a, None), prepare_maps(labels, 255, probs_b, None)
    target = prepare_target(labels, c, 255)
    b = prediction_of(probs_b, None, Scoring(threshold=0.5), maps_b)
    thresholds = itertools.cycle([k / 100 for k in range(20, 80)])

    def step(class_id: int, argmax: bool = False) -> None:
        s = Scoring(argmax=True) if argmax else Scoring(threshold=next(thresholds))
        compare_codes(prediction_of(probs_a, None, s, maps_a), b, maps_a, class_id)

    print(f"machine: {machine()}")
    print(f"image: {c} classes, {args.height}×{args.width}")
    one = median_ms(lambda: step(3))
    every = median_ms(lambda: step(ALL_CLASSES))
    arg_one = median_ms(lambda: step(3, True))
    arg_all = median_ms(lambda: step(ALL_CLASSES, True))
    a = prediction_of(probs_a, None, Scoring(threshold=0.5), maps_a)
    table = median_ms(lambda: image_changes(a, b, target), repeats=5)
    pixels = median_ms(lambda: pixel_changes(a, b, target), repeats=5)
    print(f"slider step, one class: {one:.1f} ms; all classes: {every:.1f} ms (target <= 16 ms)")
    print(f"argmax, one class: {arg_one:.1f} ms; all classes: {arg_all:.1f} ms")
    print(f"per-class changes table of the image (both thresholded): {table:.1f} ms")
    print(f"pixels by the all-classes rule (both thresholded): {pixels:.1f} ms ({pixels / table:.2f}x the table)")


if __name__ == "__main__":
    main()
