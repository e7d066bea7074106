"""`segviewer compare`: model A vs model B per class and per image (scores, their difference, pixels fixed/broken)."""
from __future__ import annotations

import argparse
from .common import engine_from_args, progress_bar, progress_of, report_problems, scoring_from_args
from .options import add_data_options, add_pass_options, add_score_options, data_options_from_args, input_path, output_file

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
    add_pass_options(cp)


def run(args: argparse.Namespace) -> int:
    import sys
    from ..core.compare import (PER_CLASS_COLUMNS, PER_IMAGE_COLUMNS, comparison_class_rows, comparison_image_rows,
                                per_class_values, per_image_values)
    from ..core.dataset import Dataset
    from ..core.export import write_rows
    from ..core.outputs import OutputGuard
    from ..core.scoring import Scoring
    from .options import parse_threshold
    dataset = Dataset(data_options_from_args(args))
    report_problems(dataset)
    ins = engine_from_args(args, dataset, scoring_from_args(args, dataset))
    model_b = ins.compare.attach(*((args.compare, None) if args.compare is not None else (args.compare_masks, "masks")))
    report_problems(model_b.dataset)
    OutputGuard().add_dataset(dataset).add_dataset(model_b.dataset).check(
        {"--out": args.out, "--per-image": args.per_image})
    if args.compare_threshold is not None or args.compare_argmax:
        n = dataset.classes.num_classes
        threshold = parse_threshold(args.compare_threshold, n, "--compare-threshold") if args.compare_threshold is not None else 0.5
        ins.compare_scoring = Scoring(threshold=threshold, argmax=args.compare_argmax)
    with progress_bar(len(dataset), "compare") as bar:
        comparison = ins.compare.dataset(progress=progress_of(bar), strict=args.strict)
    for failure in comparison.failures.values():
        print(f"segviewer: skipped {failure}", file=sys.stderr)
    write_rows(args.out, PER_CLASS_COLUMNS,
               comparison_class_rows(dataset.classes.names, per_class_values(comparison, args.beta, args.smooth)))
    if args.per_image:
        write_rows(args.per_image, PER_IMAGE_COLUMNS,
                   comparison_image_rows(per_image_values(comparison, args.beta, args.smooth)))
    return 0
