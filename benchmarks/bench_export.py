"""Times `segviewer export` against torchmetrics' MulticlassStatScores (argmax) on the same files.

Each side runs in its own process so the peak memory figures are its own. Target: ratio <= 1.0.
usage: python benchmarks/bench_export.py [--images 20] [--classes 19] [--height 1024] [--width 2048] [--device cpu]
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import data_root, data_parser, machine, make_synthetic, peak_rss_mib, run_worker, setup_worker  # noqa: E402


def run_ours(root: Path, mode: str, device: str) -> dict:
    """`segviewer export` itself, in this process (imports paid before the clock starts, as before)."""
    from segviewer.cli import main
    import segviewer.core.inspector, segviewer.core.passes, segviewer.core.export, segviewer.cli.export  # noqa: E401,F401
    t0, c0 = time.perf_counter(), cpu_seconds()
    mode_args = ["--argmax"] if mode == "argmax" else ["--threshold", "0.5"]
    code = main(["export", "--gt", str(root / "gt"), "--logits", str(root / "logits"), "--device", device, *mode_args,
                 "--out", str(root / "pc.csv"), "--per-image", str(root / "pi.csv")])
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    assert code == 0, "the export failed"
    tp = [int(v) for v in csv_column(root / "pc.csv", "tp")[:-1]]
    return {"seconds": seconds, "cpu_seconds": cpu, "tp": tp}


def csv_column(path: Path, name: str) -> list:
    import csv
    with open(path, newline="") as fh:
        return [row[name] for row in csv.DictReader(fh)]


def run_torchmetrics(root: Path, c: int, device: str) -> dict:
    import numpy as np
    import torch
    from PIL import Image
    from torchmetrics.classification import MulticlassStatScores
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device))
    t0, c0 = time.perf_counter(), cpu_seconds()
    metric = MulticlassStatScores(num_classes=c, average=None, ignore_index=255, multidim_average="global").to(dev)
    for path in sorted((root / "logits").glob("*.npy")):
        logits = torch.from_numpy(np.load(path)).to(dev).float()
        gt = torch.from_numpy(np.asarray(Image.open(root / "gt" / f"{path.stem}.png")).astype(np.int64)).to(dev)
        metric.update(logits[None], gt[None])
    stats = metric.compute()
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": cpu_seconds() - c0, "tp": stats[:, 0].tolist()}


def worker(args) -> None:
    setup_worker()
    root = Path(args.root)
    out = run_torchmetrics(root, args.classes, args.device) if args.worker == "torchmetrics" else \
        run_ours(root, args.worker, args.device)
    out["peak_mib"] = peak_rss_mib()
    print(json.dumps(out))


def cpu_seconds() -> float:
    """user + system seconds of this process: on a shared machine steadier than the wall clock."""
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def spawn(kind: str, args, root: Path) -> dict:
    return run_worker(__file__, "--worker", kind, "--root", root, "--classes", args.classes, "--device", args.device)


def main() -> None:
    p = data_parser(20, 1024, 2048)
    p.add_argument("--device", default="auto")
    p.add_argument("--data", type=Path, help="where to keep the generated data (default: a temp folder)")
    p.add_argument("--worker")
    p.add_argument("--root")
    args = p.parse_args()
    if args.worker:
        return worker(args)
    root = data_root(args, "bench")
    make_synthetic(root, args.images, args.classes, args.height, args.width)
    print(f"machine: {machine()}")
    print(f"data: {args.images} images, {args.classes}×{args.height}×{args.width} float16 logits")
    tm = spawn("torchmetrics", args, root)
    arg = spawn("argmax", args, root)
    thr = spawn("threshold", args, root)
    assert arg["tp"] == tm["tp"], "argmax counts disagree with torchmetrics"
    print(f"torchmetrics MulticlassStatScores (argmax): {tm['seconds']:.2f} s, peak {tm['peak_mib']:.0f} MiB")
    print(f"segviewer export --argmax:                  {arg['seconds']:.2f} s, peak {arg['peak_mib']:.0f} MiB, "
          f"ratio {arg['seconds'] / tm['seconds']:.2f}")
    print(f"segviewer export --threshold 0.5:           {thr['seconds']:.2f} s, peak {thr['peak_mib']:.0f} MiB, "
          f"ratio {thr['seconds'] / tm['seconds']:.2f}")
    print("counts agree with torchmetrics: yes")


if __name__ == "__main__":
    main()
