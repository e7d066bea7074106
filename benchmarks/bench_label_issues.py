"""Times label-issue scoring (`ins.label_issues.table()`) against cleanlab's segmentation
`get_label_quality_scores(method="softmin")` on the same files, and checks that the scores agree.

Both sides read the same float16 logits and PNG label maps (no ignore pixels: cleanlab has no ignore label) and
apply the same softmax; the data is a confident model's logits with a wrongly labelled rectangle in every other image. cleanlab needs every image's probabilities in one [N, C, H, W] array;
segviewer streams one image at a time, so its peak memory should stay flat when the image count doubles.
Each side runs in its own process so the peak memory figures are its own. "Scoring alone" is the best of three runs
on probabilities already in memory (cleanlab's function's part of the work). Target: time ratio <= 0.5.
usage: python benchmarks/bench_label_issues.py [--images 6] [--classes 19] [--height 512] [--width 1024] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import already_made, data_parser, machine, peak_rss_mib, run_worker, setup_worker  # noqa: E402

REPEATS = 3


def prepare(root: Path, n: int, c: int, h: int, w: int, seed: int = 0) -> Path:
    """n images of blocky regions of c classes, logits of a confident model (+6 on the true class, N(0, 1) noise,
    float16) and label maps where every other image has a rectangle labelled with a wrong class (reused if present)."""
    from PIL import Image
    stamp = already_made(root, f"labels_{n}_{c}_{h}_{w}_{seed}.ok", "gt_full", "logits")
    if stamp is None:
        return root
    rng = np.random.default_rng(seed)
    for i in range(n):
        coarse = rng.integers(0, c, (h // 32 + 1, w // 32 + 1))
        truth = np.repeat(np.repeat(coarse, 32, 0), 32, 1)[:h, :w].astype(np.uint8)
        logits = rng.standard_normal((c, h, w), dtype=np.float32)
        logits[truth, np.arange(h)[:, None], np.arange(w)[None, :]] += 6.0
        labels = truth.copy()
        if i % 2:
            y, x = rng.integers(0, h - h // 8), rng.integers(0, w - w // 8)
            labels[y:y + h // 8, x:x + w // 8] = (labels[y:y + h // 8, x:x + w // 8] + 1) % c
        Image.fromarray(labels).save(root / "gt_full" / f"img{i:04d}.png")
        np.save(root / "logits" / f"img{i:04d}.npy", logits.astype(np.float16))
    stamp.touch()
    return root


def files(root: Path, n: int) -> list[tuple[Path, Path]]:
    logits = sorted((root / "logits").glob("*.npy"))[:n]
    return [(root / "gt_full" / f"{p.stem}.png", p) for p in logits]


def run_ours(root: Path, n: int) -> dict:
    import segviewer
    import segviewer.core.inspector  # noqa: F401  (imports outside the timing, as cleanlab's side)
    t0 = time.perf_counter()
    ins = segviewer.open(gt=root / "gt_full", logits=root / "logits", device="cpu")
    scores = ins.label_issues.scores()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "score_seconds": score_alone(ins.dataset),
            "with_suspects_seconds": scoring_alone(ins.dataset), "scores": scores.label_score[:n].tolist()}


def best_of(fn, repeats: int = REPEATS) -> float:
    """The shortest of a few runs: the figure least disturbed by other work on a shared machine."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def score_alone(dataset) -> float:
    """The label score alone of images already loaded as probabilities: exactly cleanlab's part of the work."""
    from segviewer.core.label_issues import label_score
    return sum(best_of(lambda: label_score(sample.probs, sample.target)) for _index, sample in dataset.iter_samples())


def scoring_alone(dataset) -> float:
    """The label score and suspect pixels of images already loaded as probabilities (cleanlab's part of the work)."""
    from segviewer.core.label_issues import image_issues
    return sum(best_of(lambda: image_issues(index, sample, sums_to_one=True))
               for index, sample in dataset.iter_samples())


def run_cleanlab(root: Path, n: int) -> dict:
    import torch
    from PIL import Image
    from cleanlab.segmentation.rank import get_label_quality_scores
    pairs = files(root, n)
    t0 = time.perf_counter()
    first = np.load(pairs[0][1])
    probs = np.empty((len(pairs), *first.shape), np.float32)
    labels = np.empty((len(pairs), *first.shape[1:]), np.int64)
    for i, (gt, logits) in enumerate(pairs):
        probs[i] = torch.softmax(torch.from_numpy(np.load(logits)).float(), 0).numpy()
        labels[i] = np.asarray(Image.open(gt))
    scores, _ = get_label_quality_scores(labels, probs, method="softmin", verbose=False)
    seconds = time.perf_counter() - t0
    alone = best_of(lambda: get_label_quality_scores(labels, probs, method="softmin", verbose=False))
    return {"seconds": seconds, "score_seconds": alone, "scores": scores.tolist()}


def worker(args) -> None:
    setup_worker()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    root = Path(args.root)
    out = run_cleanlab(root, args.images) if args.worker == "cleanlab" else run_ours(root, args.images)
    out["peak_mib"] = peak_rss_mib()
    print(json.dumps(out))


def spawn(kind: str, root: Path, n: int, threads: int) -> dict:
    return run_worker(__file__, "--worker", kind, "--root", root, "--images", n, "--threads", threads)


def main() -> None:
    p = data_parser(6, 512, 1024)
    p.add_argument("--threads", type=int, default=0, help="torch threads in both workers (0: torch's default)")
    p.add_argument("--root", type=Path, help="keep the synthetic data here (default: a temporary folder)")
    p.add_argument("--worker", choices=("ours", "cleanlab"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    n = args.images
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for images in (n, 2 * n):
            root = prepare((args.root or Path(tmp)) / f"li_{images}", images, args.classes, args.height, args.width)
            results[images] = (spawn("ours", root, images, args.threads), spawn("cleanlab", root, images, args.threads))
    ours, clean = results[n]
    ours2, clean2 = results[2 * n]
    diff = float(np.max(np.abs(np.array(ours["scores"]) - np.array(clean["scores"]))))
    print(f"machine: {machine()}" + (f"; workers on {args.threads} torch thread(s)" if args.threads else ""))
    print(f"data: {n} and {2 * n} images, {args.classes}x{args.height}x{args.width} float16 logits")
    print(f"segviewer label_issues: {ours['seconds'] / n * 1000:.0f} ms/image (load, softmax, score, suspect "
          f"pixels; {ours['score_seconds'] / n * 1000:.1f} ms/image for the score alone, "
          f"{ours['with_suspects_seconds'] / n * 1000:.1f} with the suspect pixels), peak {ours['peak_mib']:.0f} MiB "
          f"({n} images) / {ours2['peak_mib']:.0f} MiB ({2 * n} images)")
    print(f"cleanlab get_label_quality_scores: {clean['seconds'] / n * 1000:.0f} ms/image with the same loading "
          f"({clean['score_seconds'] / n * 1000:.0f} ms/image scoring alone), peak {clean['peak_mib']:.0f} MiB "
          f"({n} images) / {clean2['peak_mib']:.0f} MiB ({2 * n} images)")
    print(f"ratio segviewer / cleanlab, the label score alone (the same work): "
          f"{ours['score_seconds'] / clean['score_seconds']:.2f} (target <= 0.5); "
          f"{2 * n} images: {ours2['score_seconds'] / clean2['score_seconds']:.2f}")
    print(f"ratio with segviewer's suspect pixels as well (work cleanlab does not do): "
          f"{ours['with_suspects_seconds'] / clean['score_seconds']:.2f}; "
          f"{2 * n} images: {ours2['with_suspects_seconds'] / clean2['score_seconds']:.2f}")
    print(f"ratio segviewer / cleanlab, end to end from the files: {ours['seconds'] / clean['seconds']:.2f}; "
          f"{2 * n} images: {ours2['seconds'] / clean2['seconds']:.2f}")
    print(f"largest score difference: {diff:.2e}")


if __name__ == "__main__":
    main()
