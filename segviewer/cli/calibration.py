"""`segviewer calibration`: class-wise and top-label ECE / MCE, the reliability bins, and a diagram."""
from __future__ import annotations

import argparse
from .common import logits_engine, progress_bar, progress_of, report_failures
from .options import add_data_options, add_pass_options, number, output_file

HELP = "per-class and top-label calibration (ECE, MCE) and reliability-diagram bins"


def configure(cal: argparse.ArgumentParser) -> None:
    add_data_options(cal)
    cal.add_argument("--bins", type=number(int, 1, 10_000, what="a whole number"), default=15,
                     help="equal-width confidence bins over [0, 1]")
    cal.add_argument("--out", type=output_file, required=True, help="per-class CSV: class_id, class_name, pixels, ece, mce")
    cal.add_argument("--bins-out", type=output_file, help="per-bin CSV: pixels, mean confidence and frequency per class")
    cal.add_argument("--plot", type=output_file, help="reliability diagram PNG (top label) with the per-class ECE")
    add_pass_options(cal)


def run(args: argparse.Namespace) -> int:
    from ..core.calibration import plot_calibration, write_bins, write_calibration
    from ..core.errors import all_failed
    dataset, ins = logits_engine(args, "calibration needs logits; hard masks have no confidence",
                                 {"--out": args.out, "--bins-out": args.bins_out, "--plot": args.plot}, plot="--plot")
    with progress_bar(len(dataset), "calibration") as bar:
        stats = ins.calibration.stats(args.bins, strict=args.strict, progress=progress_of(bar))
    if len(ins.failures) == len(dataset):   # one line with the first reasons, as every command
        raise all_failed(dataset.options.gt_dir, ins.failures.reasons())
    report_failures(ins.failures.reasons())
    names = dataset.classes.names
    write_calibration(args.out, names, stats)
    if args.bins_out:
        write_bins(args.bins_out, names, stats)
    if args.plot:
        plot_calibration(args.plot, names, stats)
    return 0
