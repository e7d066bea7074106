"""`segviewer export`: per-class and per-image CSVs, and figures of the worst images."""
from __future__ import annotations

import argparse
from .common import (engine_from_args, on_bad_photo, progress_bar, progress_of, report_failures, report_problems,
                     scoring_from_args)
from .options import (add_pass_options, add_data_options, add_score_options, data_options_from_args, number,
                      positive_int)
from .options import non_negative_float, positive_float
from ..core.errors import OptionError

from .model import model_dataset_from_args
from .options import add_model_options, output_file, output_folder

HELP = "per-class and per-image (per-case, per-slice) score CSVs (and figures of the worst images)"
AXES = ("axial", "coronal", "sagittal")


def configure(ex: argparse.ArgumentParser) -> None:
    add_data_options(ex)
    add_model_options(ex)
    add_score_options(ex)
    ex.add_argument("--out", type=output_file, required=True, help="per-class CSV to write")
    ex.add_argument("--per-image", "--per-case", dest="per_image", type=output_file,
                    help="per-image (tidy) CSV to write; for 3-D cases one row per case and class")
    ex.add_argument("--per-slice", type=output_file, metavar="CSV",
                    help="3-D cases: a row per case, slice and class (with --slice-axis)")
    ex.add_argument("--slice-axis", choices=AXES, default=None,
                    help="with --per-slice: the slices across this axis (default: axial)")
    ex.add_argument("--boundary", type=positive_int, metavar="K", help="count only pixels within K px of a GT boundary")
    ex.add_argument("--interior", action="store_true", help="with --boundary: count only the pixels beyond the band")
    ex.add_argument("--boundary-metrics", action="store_true",
                    help="add the columns boundary_iou, hd95, nsd (Boundary IoU, HD95, NSD per class)")
    ex.add_argument("--boundary-width", type=positive_float, metavar="D",
                    help="Boundary IoU's boundary width in px, in mm for 3-D cases (default: 2%% of the image's "
                         "diagonal, at least 1 px / voxel)")
    ex.add_argument("--tolerance", type=non_negative_float, metavar="T",
                    help="NSD's tolerance in px, in mm for 3-D cases (default: 2)")
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
    if args.slice_axis is not None and args.per_slice is None:
        parser.error("--slice-axis needs --per-slice CSV")


def run(args: argparse.Namespace) -> int:
    from ..core.dataset import Dataset
    from ..core.export import write_per_class_csv as per_class, write_per_image_csv as per_image
    from ..core.outputs import OutputGuard
    dataset = model_dataset_from_args(args) if args.model else Dataset(data_options_from_args(args))
    OutputGuard().add_dataset(dataset).check({"--out": args.out, "--per-image": args.per_image,
                                              "--per-slice": args.per_slice}, folders={"--figures": args.figures})
    if args.per_slice is not None and not dataset.volumes:
        raise OptionError("--per-slice needs a dataset of 3-D cases (volumes); this one holds 2-D images")
    if not dataset.volumes and args.boundary_width is not None and args.boundary_width != int(args.boundary_width):
        raise OptionError(f"--boundary-width {args.boundary_width:g}: whole pixels for 2-D images")
    report_problems(dataset)
    ins = engine_from_args(args, dataset, scoring_from_args(args, dataset))
    axis = (args.slice_axis or "axial") if args.per_slice is not None else None
    with progress_bar(len(dataset), "export") as bar:
        result = ins.dataset_counts(source="pass", strict=args.strict, progress=progress_of(bar), slice_axis=axis)
    report_failures(ins.failures.reasons())
    if dataset.volumes:
        from .export_volumes import write_volume_outputs
        return write_volume_outputs(ins, result, args, axis)
    if args.boundary_metrics:   # the same rows with boundary_iou, hd95 and nsd appended
        per_class, per_image = boundary_writers(ins, args)
    per_class(args.out, dataset.classes, result.total, result.soft, ins.scoring)
    if args.per_image:
        names, rows = result.loaded_rows()
        per_image(args.per_image, names, dataset.classes, rows, ins.scoring)
    if args.figures:
        from ..core.figures import write_worst_figures
        write_worst_figures(dataset, result, args.figures, args.worst, ins.scoring, args.rank_by,
                            on_error=on_bad_photo(args.strict))
    return 0


def boundary_result(ins, args: argparse.Namespace):
    """The boundary metrics pass of --boundary-metrics (width in px, or in mm for 3-D cases)."""
    width = args.boundary_width if args.boundary_width is None or ins.dataset.volumes else int(args.boundary_width)
    with progress_bar(len(ins), "boundary metrics") as bar:
        return ins.boundary.dataset(width, args.tolerance, strict=args.strict, progress=progress_of(bar))


def boundary_writers(ins, args: argparse.Namespace):
    """The two CSV writers with boundary_iou, hd95, nsd appended (one more pass over the dataset for them)."""
    from functools import partial
    from ..core.export import write_per_class_csv_with_boundary, write_per_image_csv_with_boundary
    boundary = boundary_result(ins, args)
    return (partial(write_per_class_csv_with_boundary, boundary=boundary),
            partial(write_per_image_csv_with_boundary, boundary=boundary))
