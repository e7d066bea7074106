"""`segviewer label-issues`: images ranked by how likely their labels are wrong, and the suspect regions."""
from __future__ import annotations

import argparse
import math
from .options import add_data_options, add_pass_options, data_options_from_args, number, output_file

HELP = "rank images by likely label errors (softmin label score) and list suspect regions"


def configure(li: argparse.ArgumentParser) -> None:
    add_data_options(li)
    g = li.add_argument_group("label issues")
    g.add_argument("--temperature", type=number(float, 1e-9, 1e9), default=0.1, metavar="T",
                   help="softmin temperature of the label score (lower: closer to the worst pixel)")
    g.add_argument("--min-confidence", type=number(float, 0.0, 1.0), default=0.9, metavar="C",
                   help="a pixel is suspect where another class than its label is predicted with p >= C")
    li.add_argument("--out", type=output_file, required=True, metavar="ISSUES.csv",
                    help="CSV image,label_score,suspect_pixels sorted by label_score (worst first)")
    li.add_argument("--regions", type=output_file, metavar="REGIONS.csv",
                    help="CSV of suspect regions: image,region,gt_class,predicted_class,pixels,mean_confidence,"
                         "x0,y0,x1,y1 (3-D cases: also z0,z1)")
    add_pass_options(li)


def run(args: argparse.Namespace) -> int:
    from ..core.dataset import Dataset
    from ..core.errors import LoadError
    from ..core.export import fmt_number, safe_text, write_rows
    from ..core.label_issues import (ISSUES_COLUMNS, REGION_COLUMNS, VOLUME_REGION_COLUMNS, region_row,
                                     require_probabilities)
    from ..core.outputs import OutputGuard
    from .common import engine_from_args, progress_bar, progress_of, report_failures, report_problems
    dataset = Dataset(data_options_from_args(args))
    require_probabilities(dataset)
    OutputGuard().add_dataset(dataset).check({"--out": args.out, "--regions": args.regions})
    report_problems(dataset)
    ins = engine_from_args(args, dataset)
    issues = []
    CONFIDENCE = REGION_COLUMNS.index("mean_confidence")

    def region_rows():
        with progress_bar(len(dataset), "label-issues") as bar:
            for issue in ins.label_issues.scan(args.temperature, args.min_confidence,
                                               with_regions=args.regions is not None, strict=args.strict,
                                               progress=progress_of(bar)):
                issues.append((issue.label_score, issue.index, issue.name, issue.suspect_pixels))
                for k, region in enumerate(issue.regions or (), start=1):
                    row = region_row(safe_text(issue.name), k, region)
                    row[CONFIDENCE] = fmt_number(row[CONFIDENCE])
                    yield row
        if not issues:   # raised while writing, so no output file is left behind
            report_failures(ins.failures.reasons())
            raise LoadError(dataset.options.gt_dir, f"no image could be loaded ({len(ins.failures)} failed)")

    if args.regions is not None:
        write_rows(args.regions, VOLUME_REGION_COLUMNS if dataset.volumes else REGION_COLUMNS, region_rows())
    else:
        for _ in region_rows():
            pass
    report_failures(ins.failures.reasons())
    issues.sort(key=lambda t: (math.isnan(t[0]), 0.0 if math.isnan(t[0]) else t[0], t[1]))   # NaN: no valid pixel
    write_rows(args.out, ISSUES_COLUMNS, ([safe_text(name), fmt_number(score), pixels]
                                          for score, _, name, pixels in issues))
    return 0
