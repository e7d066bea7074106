"""`segviewer index`: builds (or refreshes) the probability index cache the window opens with."""
from __future__ import annotations

import argparse
import sys

from .common import engine_from_args, progress_bar, progress_of, report_failures, report_problems
from .options import DATASET_HELP, MAX_STEPS, add_pass_options, add_data_options, data_options_from_args, number

HELP = "build (or refresh) the index cache the window, sweep and dataset scores read (optionally on Dask)"
WINDOW_STEPS = 1000   # the grid the window reads (core.index.DEFAULT_STEPS); not imported: --help stays torch-free


def configure(ix: argparse.ArgumentParser) -> None:
    ix.add_argument("dataset", nargs="?", help=DATASET_HELP)
    add_data_options(ix, required=False)
    ix.add_argument("--steps", type=number(int, 1, MAX_STEPS, what="a whole number"), default=WINDOW_STEPS,
                    help=f"grid k/N for k = 0..N (the window reads N = {WINDOW_STEPS})")
    ix.add_argument("--force", action="store_true", help="rebuild even when the cached index is up to date")
    add_pass_options(ix)


def run(args: argparse.Namespace) -> int:
    from ..core.dataset import Dataset
    from ..core.index_cache import cache_path
    dataset = Dataset(data_options_from_args(args))
    report_problems(dataset)
    path = cache_path(dataset, args.steps)[0]
    ins = engine_from_args(args, dataset, steps=args.steps)
    with progress_bar(len(dataset), "index") as bar:
        index = ins.index(strict=args.strict, progress=progress_of(bar), rebuild=args.force)
    if ins.index_from_cache:
        print(f"segviewer: the index is up to date: {path}", file=sys.stderr)
        return 0
    report_failures(ins.failures.reasons())
    print(f"indexed {int(index.loaded.sum())} of {len(dataset)} images: {path}")
    return 0
