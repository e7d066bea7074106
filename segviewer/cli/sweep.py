"""`segviewer sweep`: the index over the dataset, written as a tidy sweep CSV, best thresholds and a bar chart."""
from __future__ import annotations

import argparse
import sys


from .common import logits_engine, progress_bar, progress_of, report_failures
from .options import (MAX_STEPS, add_data_options, add_pass_options, beta_value, number, output_file,
                      smooth_value)

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
    add_pass_options(sw)


def run(args: argparse.Namespace) -> int:
    from ..core.errors import all_failed
    from ..core.scoring import Scoring
    from ..core.sweep import plot_best, write_best, write_sweep
    scoring = Scoring(beta=args.beta, smooth=args.smooth)      # the best thresholds' beta; the index needs none
    dataset, ins = logits_engine(args, "a sweep needs logits; hard masks have no threshold",
                                 {"--out": args.out, "--best": args.best, "--plot": args.plot}, plot="--plot",
                                 scoring=scoring, steps=args.steps)
    with progress_bar(len(dataset), "index") as bar:
        index = ins.index(strict=args.strict, progress=progress_of(bar))
    if not index.loaded.any():   # every file failed: one line with the first reasons (and no empty index is cached)
        raise all_failed(dataset.options.gt_dir, ins.failures.reasons())
    if ins.index_from_cache:
        print("segviewer: using the cached index", file=sys.stderr)
    else:
        report_failures(ins.failures.reasons())
    write_sweep(args.out, dataset.classes, index, args.beta, args.smooth)
    best = ins.best_thresholds()
    if args.best:
        write_best(args.best, dataset.classes, best)
    if args.plot:
        plot_best(args.plot, dataset.classes, best, args.beta)
    return 0
