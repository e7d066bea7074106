"""The index build (or the export counts) in one process against a local Dask cluster of --workers processes.

Each side runs in its own process, so the client's peak memory is its own: it holds the merged index, never the
dataset. The cluster's start-up is timed apart from the work. Results are checked identical.
usage: python benchmarks/bench_cluster.py [--images 200] [--classes 19] [--height 256] [--width 512] [--workers 2]
                                          [--what index|export] [--data DIR]
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import data_root, data_parser, machine, make_synthetic, peak_rss_mib, run_worker, setup_worker  # noqa: E402


def digest(arrays: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(arrays):
        h.update(key.encode())
        h.update(arrays[key].tobytes())
    return h.hexdigest()[:16]


def run_side(root: Path, what: str, workers: int) -> dict:
    from segviewer.core.dataset import DataOptions, Dataset
    from segviewer.core import distributed as dist
    from segviewer.core.passes import counts_pass, index_pass
    from segviewer.core.scoring import Scoring
    ds = Dataset(DataOptions(gt_dir=root / "gt", pred_dir=root / "logits", device="cpu"))
    with dist.connected(dist.Cluster(workers=workers)) if workers else _nothing() as client:
        t_start = time.perf_counter()
        if client is not None:
            client.wait_for_workers(workers)
            client.run(_import_worker_modules)   # what every run pays once per worker, timed with the start-up
        t0 = time.perf_counter()
        if what == "index":
            index = index_pass(ds, None, client)
            arrays = index.to_arrays()
            size = sum(a.nbytes for a in arrays.values())
        else:
            result = counts_pass(ds, Scoring(argmax=True), client)
            arrays = {k: getattr(result.per_image, k).numpy() for k in ("tp", "fp", "fn")}
            arrays.update({f"soft_{k}": getattr(result.soft_per_image, k).numpy() for k in ("tp", "fp", "fn")})
            size = sum(a.nbytes for a in arrays.values())
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "startup": t0 - t_start, "digest": digest(arrays), "result_mib": size / 2**20}


def _import_worker_modules() -> None:
    import segviewer.core.dataset  # noqa: F401
    import segviewer.core.index  # noqa: F401


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def worker(args) -> None:
    setup_worker()
    out = run_side(Path(args.root), args.what, args.worker_count)
    out["peak_mib"] = peak_rss_mib()
    print(json.dumps(out))


def main() -> None:
    p = data_parser(200, 256, 512)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--what", choices=("index", "export"), default="index")
    p.add_argument("--data", type=Path, help="where to keep the generated data (default: a temp folder)")
    p.add_argument("--worker", action="store_true")
    p.add_argument("--worker-count", type=int, default=0)
    p.add_argument("--root")
    args = p.parse_args()
    if args.worker:
        return worker(args)
    root = data_root(args, "cluster")
    make_synthetic(root, args.images, args.classes, args.height, args.width)
    print(f"machine: {machine()}")
    print(f"data: {args.images} images, {args.classes}×{args.height}×{args.width} float16 logits; {args.what}")
    base = ["--worker", "--root", root, "--what", args.what]
    one = run_worker(__file__, *base, "--worker-count", 0)
    many = run_worker(__file__, *base, "--worker-count", args.workers)
    assert one["digest"] == many["digest"], "the cluster's result differs from one process"
    n = args.images
    print(f"1 process:           {one['seconds']:.2f} s ({one['seconds'] / n * 1000:.1f} ms/image), "
          f"peak {one['peak_mib']:.0f} MiB")
    print(f"--workers {args.workers} (Dask):    {many['seconds']:.2f} s ({many['seconds'] / n * 1000:.1f} ms/image), "
          f"speed-up {one['seconds'] / many['seconds']:.2f}x; cluster start-up {many['startup']:.1f} s; "
          f"client peak {many['peak_mib']:.0f} MiB (result {many['result_mib']:.1f} MiB)")
    print("results identical: yes")


if __name__ == "__main__":
    main()
