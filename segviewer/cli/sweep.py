"""`segviewer sweep`: the index over the dataset, written as a tidy sweep CSV, best thresholds and a bar chart."""
from __future__ import annotations

import argparse
import sys

from .common import progress_bar, report_failures, report_problems
from .options import data_options_from_args


def run(args: argparse.Namespace) -> int:
    from ..core.dataset import Dataset
    from ..core.errors import LoadError
    from ..core.index import build_index
    from ..core.index_cache import load_or_build
    from ..core.sweep import best_thresholds, plot_best, write_best, write_sweep
    dataset = Dataset(data_options_from_args(args))
    if dataset.is_hard:
        raise LoadError(dataset.options.pred_dir, "a sweep needs logits; hard masks have no threshold")
    report_problems(dataset)
    failures = []
    with progress_bar(len(dataset), "index") as bar:
        index, cached = load_or_build(dataset, args.steps, lambda: build_index(
            dataset, args.steps, progress=lambda d, t: bar.update(1), on_error=failures.append, strict=args.strict))
    report_failures(failures)
    if cached:
        print("segviewer: using the cached index", file=sys.stderr)
    write_sweep(args.out, dataset.classes, index, args.beta, args.smooth)
    best = best_thresholds(index.curves(), index.steps, args.beta, args.smooth)
    if args.best:
        write_best(args.best, dataset.classes, best)
    if args.plot:
        plot_best(args.plot, dataset.classes, best, args.beta)
    return 0
