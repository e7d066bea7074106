"""`segviewer export`: per-class and per-image CSVs, and figures of the worst images."""
from __future__ import annotations

import argparse
from .common import engine_from_args, progress_bar, progress_of, report_failures, report_problems, scoring_from_args
from .options import (add_pass_options, add_data_options, add_score_options, data_options_from_args, number,
                      positive_int)
from .options import non_negative_float

from .model import model_dataset_from_args
from .options import add_model_options, output_file, output_folder

HELP = "per-class and per-image score CSVs (and figures of the worst images)"


def configure(ex: argparse.ArgumentParser) -> None:
    add_data_options(ex)
    add_model_options(ex)
    add_score_options(ex)
    ex.add_argument("--out", type=output_file, required=True, help="per-class CSV to write")
    ex.add_argument("--per-image", type=output_file, help="per-image (tidy) CSV to write")
    ex.add_argument("--boundary", type=positive_int, metavar="K", help="count only pixels within K px of a GT boundary")
    ex.add_argument("--interior", action="store_true", help="with --boundary: count only the pixels beyond the band")
    ex.add_argument("--boundary-metrics", action="store_true",
                    help="add the columns boundary_iou, hd95, nsd (Boundary IoU, HD95, NSD per class)")
    ex.add_argument("--boundary-width", type=positive_int, metavar="D",
                    help="Boundary IoU's boundary width in px (default: 2%% of the image diagonal, at least 1)")
    ex.add_argument("--tolerance", type=non_negative_float, metavar="T", help="NSD's tolerance in px (default: 2)")
    ex.add_argument("--rank-by", default="mean_fbeta", choices=("mean_fbeta", "mean_iou", "fp", "fn"),
                    help="what makes an image 'worst' for --figures")
    ex.add_argument("--figures", type=output_folder, metavar="DIR", help="write overlay figures of the worst images here")
    ex.add_argument("--worst", type=number(int, 1, 100_000, what="a whole number"), default=None, metavar="N",
                    help="how many worst images get a figure (with --figures; default 10)")
    add_pass_options(ex)


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.worst is not None and args.figures is None:
        parser.error("--worst needs --figures DIR")
    if args.interior and args.boundary is None:
        parser.error("--interior needs --boundary K")
    if args.worst is None:
        args.worst = 10
    if (args.boundary_width is not None or args.tolerance is not None) and not args.boundary_metrics:
        parser.error("--boundary-width and --tolerance need --boundary-metrics")
    if args.tolerance is None:
        args.tolerance = 2.0


def run(args: argparse.Namespace) -> int:
    from ..core.dataset import Dataset
    from ..core.export import write_per_class_csv as per_class, write_per_image_csv as per_image
    from ..core.outputs import OutputGuard
    dataset = model_dataset_from_args(args) if args.model else Dataset(data_options_from_args(args))
    OutputGuard().add_dataset(dataset).check({"--out": args.out, "--per-image": args.per_image},
                                             folders={"--figures": args.figures})
    report_problems(dataset)
    ins = engine_from_args(args, dataset, scoring_from_args(args, dataset))
    with progress_bar(len(dataset), "export") as bar:
        result = ins.dataset_counts(source="pass", strict=args.strict, progress=progress_of(bar))
    report_failures(ins.failures.reasons())
    if args.boundary_metrics:   # the same rows with boundary_iou, hd95 and nsd appended
        per_class, per_image = boundary_writers(ins, args)
    per_class(args.out, dataset.classes, result.total, result.soft, ins.scoring)
    if args.per_image:
        names, rows = result.loaded_rows()
        per_image(args.per_image, names, dataset.classes, rows, ins.scoring)
    if args.figures:
        from ..core.figures import write_worst_figures
        write_worst_figures(dataset, result, args.figures, args.worst, ins.scoring, args.rank_by,
                            on_error=lambda exc: report_failures([exc]))
    return 0


def boundary_writers(ins, args: argparse.Namespace):
    """The two CSV writers with boundary_iou, hd95, nsd appended (one more pass over the dataset for them)."""
    from functools import partial
    from ..core.export import write_per_class_csv_with_boundary, write_per_image_csv_with_boundary
    with progress_bar(len(ins), "boundary metrics") as bar:
        boundary = ins.boundary.dataset(args.boundary_width, args.tolerance, strict=args.strict,
                                        progress=progress_of(bar))
    return (partial(write_per_class_csv_with_boundary, boundary=boundary),
            partial(write_per_image_csv_with_boundary, boundary=boundary))
