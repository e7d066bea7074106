"""Volumes: reading and per-case rescoring of 10 nnU-Net cases, against what a MONAI / nnU-Net user runs on the
same files and volumes, in one run.

- read: segviewer's readers (label .nii.gz and `probabilities` .npz: headers checked, bounded, no memory map)
  against nibabel's `nib.load(...).get_fdata()` + `np.load(npz)["probabilities"]` (what nnU-Net's NibabelIO and its
  evaluation do), both ending in (z, y, x) labels and (C, z, y, x) float32 probabilities.
- rescore: per case Dice of every class from the probabilities, argmax and threshold 0.5: segviewer's
  case_counts + scores against MONAI's `DiceMetric(include_background=True, reduction="none")`, which needs one-hot
  masks (their making is timed with it: a user must make them). The Dice values are checked to agree.
- per-slice counts of every case (the worst-slices ranking), no peer: for the figure only.
- export: `segviewer export DIR --per-case` of the 10 cases (read, count, both aggregations, the CSVs) against a
  MONAI user's loop over the same files (nibabel + np.load, the argmax's one-hot masks, DiceMetric), argmax Dice.
- one large case as the window meets it (bench_volume_case.py: case open, slice step, threshold step, memory),
  unless --no-case.

The data is the `segviewer demo --3d` generator at a larger size (default 10 cases of 64×192×192 voxels, 4 classes,
2.5×0.8×0.8 mm). usage: python benchmarks/bench_volume.py [--cases 10] [--shape 64x192x192] [--repeats 3] [--data DIR] [--no-case]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import data_root, machine, setup_worker  # noqa: E402


def cases(root: Path) -> list[tuple[Path, Path]]:
    return [(gt, root / "predictionsTr" / gt.name.replace(".nii.gz", ".npz"))
            for gt in sorted((root / "labelsTr").glob("*.nii.gz"))]


def read_ours(pairs, classes: int):
    from segviewer.core.volumes import read_label_volume, read_prediction_volume
    out = []
    for gt_path, pred_path in pairs:
        gt = read_label_volume(gt_path)
        out.append((gt.labels, read_prediction_volume(pred_path, gt.labels.shape, classes).values))
    return out


def read_peer(pairs):
    import nibabel as nib
    out = []
    for gt_path, pred_path in pairs:
        labels = np.asarray(nib.load(gt_path).get_fdata()).transpose(2, 1, 0).astype(np.uint8)
        with np.load(pred_path) as archive:
            out.append((np.ascontiguousarray(labels), archive["probabilities"]))
    return out


def rescore_ours(volumes, classes: int, argmax: bool) -> torch.Tensor:
    from segviewer.core.scores import fbeta_score
    from segviewer.core.volume_metrics import case_counts
    dice = []
    for labels, probs in volumes:
        counts = case_counts(torch.from_numpy(probs), torch.from_numpy(labels), classes, 255, 0.5, argmax)
        dice.append(fbeta_score(counts, 1.0, 0.0))
    return torch.stack(dice)


def rescore_monai(volumes, classes: int, argmax: bool) -> torch.Tensor:
    from monai.metrics import DiceMetric
    metric = DiceMetric(include_background=True, reduction="none", ignore_empty=False)
    for labels, probs in volumes:
        p = torch.from_numpy(probs)
        pred = torch.nn.functional.one_hot(p.argmax(0), classes).permute(3, 0, 1, 2) if argmax else p > 0.5
        gt = torch.nn.functional.one_hot(torch.from_numpy(labels).long(), classes).permute(3, 0, 1, 2)
        metric(pred[None].float(), gt[None].float())
    return metric.aggregate()


def per_slice_all(volumes, classes: int) -> None:
    from segviewer.core.volume_metrics import slice_counts
    for labels, probs in volumes:
        slice_counts(torch.from_numpy(probs), torch.from_numpy(labels), classes, 255, 0.5)


def export_ours(root: Path, out: Path) -> None:
    from segviewer.cli import main as segviewer_main
    code = segviewer_main(["export", str(root), "--argmax", "--smooth", "0", "--out", str(out / "classes.csv"),
                           "--per-case", str(out / "cases.csv")])
    assert code == 0


def export_monai(pairs, classes: int) -> torch.Tensor:
    """What a MONAI user runs for the same numbers: read each case, one-hot masks, DiceMetric."""
    return rescore_monai(read_peer(pairs), classes, True)


def alternating(ours, peer, repeats: int):
    """Each timed `repeats` times, one after the other in turn (a shared machine's load then falls on both):
    (median, min) of each, and the last results."""
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    results = {}
    for _ in range(repeats):
        for name, fn in (("ours", ours), ("peer", peer)):
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return ({k: (statistics.median(v), min(v)) for k, v in times.items()}, results["ours"], results["peer"])


def timed(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def line(what: str, figures: dict, peer: str) -> str:
    (ours, ours_min), (other, other_min) = figures["ours"], figures["peer"]
    return (f"{what:24s} segviewer {ours:6.2f} s (min {ours_min:.2f})   {peer} {other:6.2f} s (min {other_min:.2f})"
            f"   ratio {ours / other:.2f} (of the minima {ours_min / other_min:.2f})")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--cases", type=int, default=10)
    p.add_argument("--shape", default="64x192x192")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--data", type=Path)
    p.add_argument("--no-case", action="store_true", help="leave out the large case (bench_volume_case.py)")
    args = p.parse_args()
    setup_worker()
    shape = tuple(int(s) for s in args.shape.split("x"))
    from segviewer.core.demo_volume import CLASSES, write_demo_volumes
    root = data_root(args, "volume")
    t0 = time.perf_counter()
    write_demo_volumes(root, n_cases=args.cases, shape=shape)
    pairs, classes = cases(root), len(CLASSES)
    print(f"{machine()}\n{len(pairs)} cases of {args.shape} voxels, {classes} classes (data made in "
          f"{time.perf_counter() - t0:.1f} s, {root})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rescore_monai(read_peer(pairs[:1]), classes, True)          # MONAI's lazy imports, untimed
    figures, volumes, peer_volumes = alternating(lambda: read_ours(pairs, classes), lambda: read_peer(pairs),
                                                 args.repeats)
    for (a_labels, a_probs), (b_labels, b_probs) in zip(volumes, peer_volumes):
        assert np.array_equal(a_labels, b_labels) and np.array_equal(a_probs, b_probs)
    del peer_volumes
    print(line("read", figures, "nibabel + np.load"))
    for mode, argmax in (("argmax", True), ("threshold 0.5", False)):
        figures, dice, reference = alternating(lambda: rescore_ours(volumes, classes, argmax),
                                               lambda: rescore_monai(volumes, classes, argmax), args.repeats)
        present = ~torch.isnan(dice)
        assert torch.allclose(dice[present], reference[present].double(), rtol=1e-5), (dice, reference)
        print(line(f"rescore, {mode}", figures, "MONAI DiceMetric"))
    slices, slices_min = timed(lambda: per_slice_all(volumes, classes), args.repeats)
    print(f"per-slice counts of every case (threshold 0.5): {slices:.2f} s (min {slices_min:.2f}), "
          f"{slices / len(volumes) * 1000:.0f} ms per case")
    del volumes
    import tempfile
    out = Path(tempfile.mkdtemp(prefix="segviewer_volume_export_"))
    figures, _, dice = alternating(lambda: export_ours(root, out), lambda: export_monai(pairs, classes),
                                   args.repeats)
    import csv
    with open(out / "cases.csv", newline="") as fh:
        ours = torch.tensor([float(r["dice"] or "nan") for r in csv.DictReader(fh)], dtype=torch.float64)
    present = ~torch.isnan(ours)
    assert torch.allclose(ours[present], dice.reshape(-1)[present].double(), rtol=1e-5)
    print(line("export, argmax", figures, "MONAI loop"))
    if not args.no_case:
        import subprocess
        subprocess.run([sys.executable, str(Path(__file__).with_name("bench_volume_case.py"))], check=True)

if __name__ == "__main__":
    main()
