"""What the read gate costs: loading a logit file through `load_logits` (read into memory, signature and budget
checks) against the way it was loaded before the gate (`np.memmap` of the file, then a float32 copy), and the
output gate's cost per CSV (temporary file, checks, rename at the end of the run) against a plain `open(path, "w")`.

Both loaders read the same .npy files (page cache warm: each file is read once before timing); medians over the
files of the best of three passes. Target: ratio <= 1.1 (the gate must not slow loading down).
usage: python benchmarks/bench_reads.py [--images 6] [--classes 19] [--height 1024] [--width 2048]
"""
from __future__ import annotations

import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import data_parser, data_root, machine  # noqa: E402


def memmap_then_copy(path: Path) -> torch.Tensor:
    """The loader before the read gate: a read-only mapping, converted into a new float32 tensor."""
    with open(path, "rb") as fh:
        np.lib.format.read_magic(fh)
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        offset = fh.tell()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # a read-only mapping: copied at once below
        array = torch.as_tensor(np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape))
    return torch.empty(array.shape, dtype=torch.float32).copy_(array)


def best_of(fn, paths, repeats: int = 3) -> float:
    times = []
    for path in paths:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            fn(path)
            best = min(best, time.perf_counter() - start)
        times.append(best)
    return statistics.median(times)


def csv_costs(root: Path, n: int = 200) -> tuple[float, float]:
    from segviewer.core.csv_text import write_rows
    from segviewer.core.output_run import run_scope
    rows = [[i, "road", 0.5] for i in range(100)]
    start = time.perf_counter()
    for i in range(n):
        with open(root / f"plain{i}.csv", "w") as fh:
            fh.write("\n".join(",".join(map(str, r)) for r in rows))
    plain = (time.perf_counter() - start) / n
    start = time.perf_counter()
    with run_scope():
        for i in range(n):
            write_rows(root / f"gated{i}.csv", ["a", "b", "c"], rows)
    return plain, (time.perf_counter() - start) / n


def main() -> None:
    parser = data_parser(images=6, height=1024, width=2048)
    parser.add_argument("--data", type=Path, help="where to keep the generated data (default: a temp folder)")
    args = parser.parse_args()
    from segviewer.core.io import load_logits
    root = data_root(args, "reads")
    rng = np.random.default_rng(0)
    print(machine())
    for dtype in (np.float16, np.float32):
        paths = []
        for i in range(args.images):
            path = root / f"l{i}_{np.dtype(dtype).name}.npy"
            np.save(path, rng.standard_normal((args.classes, args.height, args.width), dtype=np.float32).astype(dtype))
            paths.append(path)
        for path in paths:     # page cache warm for both
            load_logits(path, 2**40)
        gate = best_of(lambda p: load_logits(p, 2**40), paths)
        before = best_of(memmap_then_copy, paths)
        assert torch.equal(load_logits(paths[0], 2**40), memmap_then_copy(paths[0]))
        print(f"{np.dtype(dtype).name} {args.classes}x{args.height}x{args.width}: read gate {gate * 1e3:.1f} ms, "
              f"memmap + copy {before * 1e3:.1f} ms, ratio {gate / before:.2f}")
    plain, gated = csv_costs(root)
    print(f"CSV of 100 rows: plain open {plain * 1e3:.2f} ms, through the output gate {gated * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
