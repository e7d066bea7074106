"""`segviewer sweep`: the index over the dataset, written as a tidy sweep CSV, best thresholds and a bar chart."""
from __future__ import annotations

import argparse
import sys

from .common import logits_dataset, progress_bar, report_failures
from .options import (MAX_STEPS, add_cluster_options, add_data_options, beta_value, cluster_from_args, number,
                      smooth_value)
from .options import output_file

HELP = "scores at every threshold of a grid, and the best threshold per class"


def configure(sw: argparse.ArgumentParser) -> None:
    add_data_options(sw)
    sw.add_argument("--beta", type=beta_value, default=1.0, help="F-beta's beta for the best thresholds, > 0")
    sw.add_argument("--smooth", type=smooth_value, default=1e-5, help="smoothing term, >= 0")
    sw.add_argument("--steps", type=number(int, 1, MAX_STEPS, what="a whole number"), default=1000,
                    help=f"grid k/N for k = 0..N (at most {MAX_STEPS})")
    sw.add_argument("--out", type=output_file, required=True, help="tidy sweep CSV")
    sw.add_argument("--best", type=output_file, help="best threshold per class CSV")
    sw.add_argument("--plot", type=output_file, help="bar chart PNG of the per-class scores at the best thresholds")
    sw.add_argument("--strict", action="store_true", help="the first bad file is fatal")
    add_cluster_options(sw)


def run(args: argparse.Namespace) -> int:
    from ..core.errors import all_failed
    from ..core.distributed import build_index
    from ..core.index_cache import load_or_build
    from ..core.sweep import best_thresholds, plot_best, write_best, write_sweep
    dataset = logits_dataset(args, "a sweep needs logits; hard masks have no threshold",
                             {"--out": args.out, "--best": args.best, "--plot": args.plot}, plot="--plot")
    failures = []

    def build():
        built = build_index(dataset, args.steps, progress=lambda d, t: bar.update(1), on_error=failures.append,
                            strict=args.strict, cluster=cluster_from_args(args))
        if not built.names:   # every file failed: one line with the first reasons, and no empty index cached
            raise all_failed(dataset.options.gt_dir, failures)
        return built
    with progress_bar(len(dataset), "index") as bar:
        index, cached = load_or_build(dataset, args.steps, build)
    if not index.names:
        raise all_failed(dataset.options.gt_dir, failures)
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
