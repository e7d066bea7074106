"""`segviewer compare`: model A vs model B per class and per image (scores, their difference, pixels fixed/broken)."""
from __future__ import annotations

import argparse

from .common import progress_bar, report_problems
from .options import add_data_options, add_score_options, data_options_from_args
from .options import input_path, output_file

HELP = "model A vs model B: per-class scores, their difference, and the pixels B fixes or breaks"


def configure(cp: argparse.ArgumentParser) -> None:
    add_data_options(cp)
    add_score_options(cp)
    g = cp.add_argument_group("model B")
    source = g.add_mutually_exclusive_group(required=True)
    source.add_argument("--compare", type=input_path, metavar="B_DIR",
                        help="model B's predictions: logits or masks, detected like model A's")
    source.add_argument("--compare-masks", type=input_path, metavar="B_DIR", help="model B's predictions as hard masks")
    mode = g.add_mutually_exclusive_group()
    mode.add_argument("--compare-threshold", metavar="T",
                      help="model B's threshold, one value or one per class (default: model A's)")
    mode.add_argument("--compare-argmax", action="store_true", help="model B predicts the argmax (default: model A's mode)")
    cp.add_argument("--out", type=output_file, required=True, help="per-class CSV to write")
    cp.add_argument("--per-image", type=output_file, help="per-image CSV to write")


def run(args: argparse.Namespace) -> int:
    import sys
    from ..core.compare import (PER_CLASS_COLUMNS, PER_IMAGE_COLUMNS, per_class_rows, per_class_values,
                                per_image_rows, per_image_values)
    from ..core.dataset import Dataset
    from ..core.export import write_rows
    from ..core.inspector import Inspector
    from ..core.scoring import Scoring
    from .options import parse_threshold
    dataset = Dataset(data_options_from_args(args))
    report_problems(dataset)
    n = dataset.classes.num_classes
    scoring = Scoring(threshold=parse_threshold(args.threshold, n), argmax=args.argmax, beta=args.beta,
                      smooth=args.smooth)
    ins = Inspector(dataset, scoring)
    model_b = ins.attach_compare(*((args.compare, None) if args.compare is not None else (args.compare_masks, "masks")))
    report_problems(model_b.dataset)
    from ..core.outputs import OutputGuard
    OutputGuard().add_dataset(dataset).add_dataset(model_b.dataset).check(
        {"--out": args.out, "--per-image": args.per_image})
    if args.compare_threshold is not None or args.compare_argmax:
        threshold = parse_threshold(args.compare_threshold, n) if args.compare_threshold is not None else 0.5
        ins.compare_scoring = Scoring(threshold=threshold, argmax=args.compare_argmax)
    with progress_bar(len(dataset), "compare") as bar:
        comparison = ins.compare_dataset(progress=lambda done, total: bar.update(1))
    for message in comparison.failures.values():
        print(f"segviewer: skipped {message}", file=sys.stderr)
    write_rows(args.out, PER_CLASS_COLUMNS,
               per_class_rows(dataset.classes.names, per_class_values(comparison, args.beta, args.smooth)))
    if args.per_image:
        write_rows(args.per_image, PER_IMAGE_COLUMNS, per_image_rows(per_image_values(comparison, args.beta, args.smooth)))
    return 0
