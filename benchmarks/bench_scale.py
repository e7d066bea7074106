"""`export` against torchmetrics' MulticlassStatScores over image sizes, class counts and dataset sizes.

For every (size, classes, N): wall and CPU seconds of torchmetrics (argmax), `export --argmax` and
`export --threshold 0.5`, each in its own process (bench_export.py's workers), the ratios against torchmetrics and
each side's peak RSS. Target: ratio <= 1.0 everywhere and peak RSS flat in N.

The full grid is --sizes 256x512,512x1024,1024x2048 --classes 19,150,256 --images 50,200,800 (terabytes of
float16 logits at its far corner: configurations whose data exceed --max-data-gb are listed and skipped).
Data are generated once per (size, classes) at the largest N; smaller N read the first N files.
usage: python benchmarks/bench_scale.py [--sizes 256x512] [--classes 19] [--images 50,200] [--threads N]
                                        [--repeats 1] [--data DIR] [--max-data-gb 8]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import data_root, machine, make_synthetic, run_worker  # noqa: E402

EXPORT_SCRIPT = str(Path(__file__).parent / "bench_export.py")
SIDES = ("torchmetrics", "argmax", "threshold")


def int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def size_list(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in s.lower().split("x")) for s in text.split(",") if s]  # type: ignore[misc]


def data_gb(n: int, c: int, h: int, w: int) -> float:
    return n * c * h * w * 2 / 1e9


def subset(root: Path, n: int) -> Path:
    """A folder of symbolic links to the first n image pairs of root."""
    out = root / f"first_{n}"
    if not (out / ".ok").exists():
        for kind, ext in (("gt", ".png"), ("logits", ".npy")):
            (out / kind).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                link = out / kind / f"img{i:04d}{ext}"
                if not link.exists():
                    link.symlink_to(root / kind / f"img{i:04d}{ext}")
        (out / ".ok").touch()
    return out


def measure(root: Path, c: int, repeats: int, device: str) -> dict:
    """Medians over repeats of each side's figures (the sides take turns, so they share the machine's moods);
    the counts must agree with torchmetrics."""
    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    for _ in range(repeats):
        for side in SIDES:
            runs[side].append(run_worker(EXPORT_SCRIPT, "--worker", side, "--root", root, "--classes", c,
                                         "--device", device))
    assert runs["argmax"][0]["tp"] == runs["torchmetrics"][0]["tp"], "argmax counts disagree with torchmetrics"
    return {side: {k: statistics.median(r[k] for r in rs) for k in ("seconds", "cpu_seconds", "peak_mib")}
            for side, rs in runs.items()}


def row(h: int, w: int, c: int, n: int, m: dict) -> str:
    tm = m["torchmetrics"]
    cells = [f"{w}x{h}", f"{c:>3}", f"{n:>4}", f"{tm['seconds']:7.1f}", f"{tm['peak_mib']:6.0f}"]
    for side in ("argmax", "threshold"):
        s = m[side]
        cells += [f"{s['seconds']:7.1f}", f"{s['seconds'] / tm['seconds']:5.2f}",
                  f"{s['cpu_seconds'] / tm['cpu_seconds']:5.2f}", f"{s['peak_mib']:6.0f}"]
    return " | ".join(cells)


HEADER = ("size     | C   | N    | tm s    | tm MiB | argmax s| ratio | cpu r | MiB    | thr s   | ratio | cpu r | MiB\n"
          "(ratio: wall seconds / torchmetrics'; cpu r: CPU seconds / torchmetrics'; MiB: peak RSS)")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=size_list, default=size_list("256x512"), help="HxW list, e.g. 256x512,512x1024")
    p.add_argument("--classes", type=int_list, default=[19])
    p.add_argument("--images", type=int_list, default=[50, 200])
    p.add_argument("--threads", type=int, help="torch threads of every side (OMP_NUM_THREADS); default torch's")
    p.add_argument("--repeats", type=int, default=1, help="runs per side; the median is shown")
    p.add_argument("--device", default="cpu")
    p.add_argument("--max-data-gb", type=float, default=8.0)
    p.add_argument("--data", type=Path, help="where to keep the generated data (default: a temp folder)")
    args = p.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    base = data_root(args, "scale")
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    print(HEADER)
    for h, w in args.sizes:
        for c in args.classes:
            fits = [n for n in args.images if data_gb(n, c, h, w) <= args.max_data_gb]
            for n in sorted(set(args.images) - set(fits)):
                print(f"{w}x{h} | {c:>3} | {n:>4} | skipped: {data_gb(n, c, h, w):.0f} GB of logits > --max-data-gb")
            if not fits:
                continue
            root = base / f"{h}x{w}_{c}"
            make_synthetic(root, max(fits), c, h, w)
            for n in sorted(fits):
                print(row(h, w, c, n, measure(subset(root, n), c, args.repeats, args.device)), flush=True)


if __name__ == "__main__":
    main()
