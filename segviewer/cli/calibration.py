"""`segviewer calibration`: class-wise and top-label ECE / MCE, the reliability bins, and a diagram."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import logits_engine, progress_bar, progress_of, report_failures
from .options import add_pass_options, add_data_options, number

HELP = "per-class and top-label calibration (ECE, MCE) and reliability-diagram bins"


def configure(cal: argparse.ArgumentParser) -> None:
    add_data_options(cal)
    cal.add_argument("--bins", type=number(int, 1, 10_000, what="a whole number"), default=15,
                     help="equal-width confidence bins over [0, 1]")
    cal.add_argument("--out", type=Path, required=True, help="per-class CSV: class_id, class_name, pixels, ece, mce")
    cal.add_argument("--bins-out", type=Path, help="per-bin CSV: pixels, mean confidence and frequency per class")
    cal.add_argument("--plot", type=Path, help="reliability diagram PNG (top label) with the per-class ECE")
    add_pass_options(cal)


def run(args: argparse.Namespace) -> int:
    from ..core.calibration import plot_calibration, write_bins, write_calibration
    from ..core.errors import all_failed
    from ..core.outputs import atomic_output
    dataset, ins = logits_engine(args, "calibration needs logits; hard masks have no confidence",
                                 {"--out": args.out, "--bins-out": args.bins_out, "--plot": args.plot}, plot="--plot")
    with progress_bar(len(dataset), "calibration") as bar:
        stats = ins.calibration.stats(args.bins, strict=args.strict, progress=progress_of(bar))
    report_failures(ins.failures.reasons())
    if len(ins.failures) == len(dataset):
        raise all_failed(dataset.options.gt_dir, ins.failures.reasons())
    names = dataset.classes.names
    write_calibration(args.out, names, stats)
    if args.bins_out:
        write_bins(args.bins_out, names, stats)
    if args.plot:
        with atomic_output(args.plot) as tmp:
            plot_calibration(tmp, names, stats)
    return 0
