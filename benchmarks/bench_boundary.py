"""Times boundary metrics per image (Boundary IoU, HD95, NSD for every class) against MONAI's
`compute_hausdorff_distance(percentile=95)` + `compute_surface_dice` and a per-class Boundary IoU reference
(the mask minus its erosion by a 3×3 square `width` times, zero padding) on the same label maps, and checks that
the values agree.

The maps are smooth blobs of 19 classes; the prediction is the GT's blobs perturbed by smooth noise (a plausible
model), 1024×2048 by default, Boundary IoU width round(0.02 × diagonal) = 46, NSD tolerance 2 px.
usage: python benchmarks/bench_boundary.py [--images 2] [--classes 19] [--height 1024] [--width 2048]
"""
from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).parent))
from common import data_parser, machine, setup_worker  # noqa: E402


def make_pair(c: int, h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    coarse = rng.random((c, h // 64 + 2, w // 64 + 2)).astype(np.float32)
    field = ndimage.zoom(coarse, (1, 64, 64), order=1)[:, :h, :w]
    noise = ndimage.zoom(rng.random((c, h // 32 + 2, w // 32 + 2)).astype(np.float32), (1, 32, 32), order=1)
    return field.argmax(0), (field + 0.15 * noise[:, :h, :w]).argmax(0)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_ours(gt, pred, c, width, tolerance):
    from segviewer.core.boundary_metrics import image_boundary_metrics
    return timed(lambda: image_boundary_metrics(gt, np.ones(gt.shape, bool), pred, c, width, tolerance))


def run_parts(gt, pred, c, width):
    from segviewer.core import boundary_metrics as bm
    g, p = bm.class_maps(gt, np.ones(gt.shape, bool), pred)
    _, biou = timed(lambda: bm.boundary_iou_counts(g, p, c, width))
    return biou


def run_monai(gt, pred, c, tolerance):
    import torch
    from monai.metrics import compute_hausdorff_distance, compute_surface_dice

    def one_hot(a):
        return torch.nn.functional.one_hot(torch.from_numpy(a)[None].long(), c).permute(0, 3, 1, 2).float()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = one_hot(gt[:32, :32])
        compute_hausdorff_distance(small, small, include_background=True, percentile=95)   # lazy imports, untimed
        compute_surface_dice(small, small, [tolerance] * c, include_background=True)
        yp, y = one_hot(pred), one_hot(gt)
        t0 = time.perf_counter()
        hd = compute_hausdorff_distance(yp, y, include_background=True, percentile=95)[0].numpy()
        nsd = compute_surface_dice(yp, y, [tolerance] * c, include_background=True)[0].numpy()
        return (hd, nsd), time.perf_counter() - t0


def run_reference_biou(gt, pred, c, width):
    def boundary(mask):
        return mask & ~ndimage.binary_erosion(mask, np.ones((3, 3), bool), iterations=width, border_value=0)

    def per_class():
        out = np.zeros((2, c), np.int64)
        for k in range(c):
            bg, bp = boundary(gt == k), boundary(pred == k)
            out[:, k] = (bg & bp).sum(), (bg | bp).sum()
        return out
    return timed(per_class)


def main() -> None:
    p = data_parser(2, 1024, 2048)
    p.add_argument("--tolerance", type=float, default=2.0)
    args = p.parse_args()
    setup_worker()
    from segviewer.core.boundary_metrics import default_width
    c, width = args.classes, default_width((args.height, args.width))
    ours_t, biou_t, monai_t, ref_t, worst = [], [], [], [], 0.0
    for seed in range(args.images):
        gt, pred = make_pair(c, args.height, args.width, seed)
        ours, t = run_ours(gt, pred, c, width, args.tolerance)
        ours_t.append(t)
        biou_t.append(run_parts(gt, pred, c, width))
        (hd, nsd), t = run_monai(gt, pred, c, args.tolerance)
        monai_t.append(t)
        ref, t = run_reference_biou(gt, pred, c, width)
        ref_t.append(t)
        assert (ref[0] == ours.intersection).all() and (ref[1] == ours.union).all(), "Boundary IoU differs"
        worst = max(worst, float(np.nanmax(np.abs(ours.hd95 - hd))), float(np.nanmax(np.abs(ours.nsd - nsd))))
    n = args.images
    print(f"machine: {machine()}")
    print(f"data: {n} images {args.height}x{args.width}, {c} classes, Boundary IoU width {width}, "
          f"NSD tolerance {args.tolerance:g}")
    print(f"segviewer, all three metrics for every class: {np.mean(ours_t) * 1000:.0f} ms/image "
          f"(Boundary IoU {np.mean(biou_t) * 1000:.0f} ms, HD95 + NSD the rest)")
    print(f"MONAI compute_hausdorff_distance(percentile=95) + compute_surface_dice: {np.mean(monai_t) * 1000:.0f} "
          f"ms/image; ratio {np.mean(ours_t) / np.mean(monai_t):.2f}")
    print(f"Boundary IoU reference, class by class: {np.mean(ref_t) * 1000:.0f} ms/image; "
          f"ratio (Boundary IoU part) {np.mean(biou_t) / np.mean(ref_t):.2f}")
    print(f"agreement: Boundary IoU counts identical; largest HD95 / NSD difference to MONAI {worst:.1e}")


if __name__ == "__main__":
    main()
