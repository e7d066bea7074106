"""`segviewer export`: per-class and per-image CSVs, and figures of the worst images."""
from __future__ import annotations

import argparse

from .common import progress_bar, report_failures, report_problems
from .options import data_options_from_args, parse_threshold


def run(args: argparse.Namespace) -> int:
    from ..core.dataset import Dataset, evaluate
    from ..core.export import write_per_class_csv, write_per_image_csv
    dataset = Dataset(data_options_from_args(args))
    report_problems(dataset)
    threshold = None if args.argmax or dataset.is_hard else parse_threshold(args.threshold, dataset.classes.num_classes)
    with progress_bar(len(dataset), "export") as bar:
        result = evaluate(dataset, threshold if threshold is not None else 0.5, threshold is None, args.strict,
                          progress=lambda done, total: bar.update(1), boundary=args.boundary, interior=args.interior)
    report_failures(result.failures)
    write_per_class_csv(args.out, dataset.classes, result.total(), result.soft_total(), threshold, args.beta, args.smooth)
    if args.per_image:
        write_per_image_csv(args.per_image, result.names, dataset.classes, result.counts, args.beta, args.smooth)
    if args.figures:
        from ..core.figures import write_worst_figures
        write_worst_figures(dataset, result, args.figures, args.worst, threshold, args.beta, args.smooth, args.rank_by)
    return 0
