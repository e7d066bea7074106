"""`segviewer` entry point: the window (default), export, sweep, demo, qa-set, qa-report."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_options import add_data_options, add_score_options, data_options_from_args, parse_threshold
from .core.errors import LoadError

COMMANDS = ("export", "sweep", "demo", "qa-set", "qa-report", "gui")


def default_demo_dir() -> Path:
    from platformdirs import user_cache_dir
    return Path(user_cache_dir("segviewer")) / "demo"


def progress_bar(total: int, desc: str):
    """A tqdm bar on stderr when it is a terminal; silent otherwise."""
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)


def report_problems(dataset) -> None:
    for line in dataset.pairing.problems():
        print(f"segviewer: warning: {line}", file=sys.stderr)


def report_failures(failures) -> None:
    for exc in failures:
        print(f"segviewer: skipped {exc}", file=sys.stderr)


def cmd_export(args: argparse.Namespace) -> int:
    from .core.dataset import Dataset, evaluate
    from .core.export import write_per_class_csv, write_per_image_csv
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
        from .core.figures import write_worst_figures
        write_worst_figures(dataset, result, args.figures, args.worst, threshold, args.beta, args.smooth, args.rank_by)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .core.demo import write_demo
    root = write_demo(args.dir or default_demo_dir())
    print(root)
    if args.no_gui:
        return 0
    return open_window(argparse.Namespace(dataset=str(root), **_empty_gui_args()))


def cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep_cli import run_sweep
    return run_sweep(args)


def cmd_qa_set(args: argparse.Namespace) -> int:
    from .qa_cli import run_qa_set
    return run_qa_set(args)


def cmd_qa_report(args: argparse.Namespace) -> int:
    from .qa_cli import run_qa_report
    return run_qa_report(args)


def open_window(args: argparse.Namespace) -> int:
    from .gui.app import run_app
    return run_app(args)


def _empty_gui_args() -> dict:
    parser = build_gui_parser()
    return {k: v for k, v in vars(parser.parse_args([])).items() if k != "dataset"}


def build_gui_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="segviewer", description="Open the inspection window.")
    p.add_argument("dataset", nargs="?", help="a folder holding gt/, logits/ (or masks/), images/")
    p.add_argument("--demo", action="store_true", help="generate (or reuse) the demo dataset and open it")
    add_data_options(p, required=False)
    add_score_options(p)
    p.add_argument("--session", type=Path, help="QA session file (default: .segviewer/session.sqlite beside the data)")
    p.add_argument("--screenshot", type=Path, help="render the window once loaded, save this PNG and exit")
    p.add_argument("--image", help="image to show first (name)")
    p.add_argument("--class", dest="class_name", help="class to show first (name or 'all')")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segviewer", description="Inspect semantic-segmentation models.")
    sub = parser.add_subparsers(dest="command")
    ex = sub.add_parser("export", help="per-class and per-image score CSVs")
    add_data_options(ex)
    add_score_options(ex)
    ex.add_argument("--out", type=Path, required=True, help="per-class CSV to write")
    ex.add_argument("--per-image", type=Path, help="per-image (tidy) CSV to write")
    ex.add_argument("--strict", action="store_true", help="the first bad file is fatal")
    ex.add_argument("--boundary", type=int, metavar="K", help="count only pixels within K px of a GT boundary")
    ex.add_argument("--interior", action="store_true", help="with --boundary: count only the pixels beyond the band")
    ex.add_argument("--rank-by", default="mean_fbeta", choices=("mean_fbeta", "mean_iou", "fp", "fn"),
                    help="what makes an image 'worst' for --figures")
    ex.add_argument("--figures", type=Path, metavar="DIR", help="write overlay figures of the worst images here")
    ex.add_argument("--worst", type=int, default=10, metavar="N", help="how many worst images get a figure")
    ex.set_defaults(run=cmd_export)
    sw = sub.add_parser("sweep", help="scores at every threshold of a grid, and the best threshold per class")
    add_data_options(sw)
    sw.add_argument("--beta", type=float, default=1.0, help="F-beta's beta for the best thresholds")
    sw.add_argument("--smooth", type=float, default=1e-5)
    sw.add_argument("--steps", type=int, default=1000, help="grid k/N for k = 0..N")
    sw.add_argument("--out", type=Path, required=True, help="tidy sweep CSV")
    sw.add_argument("--best", type=Path, help="best threshold per class CSV")
    sw.add_argument("--plot", type=Path, help="bar chart PNG of the per-class scores at the best thresholds")
    sw.add_argument("--strict", action="store_true")
    sw.set_defaults(run=cmd_sweep)
    de = sub.add_parser("demo", help="write the demo dataset and open it")
    de.add_argument("dir", nargs="?", type=Path, help="where to write it (default: the user cache folder)")
    de.add_argument("--no-gui", action="store_true", help="only write the dataset")
    de.set_defaults(run=cmd_demo)
    qs = sub.add_parser("qa-set", help="record one review in a QA session file")
    qs.add_argument("--session", type=Path, required=True)
    qs.add_argument("--image", required=True)
    qs.add_argument("--status", required=True)
    qs.add_argument("--note", default=None)
    qs.add_argument("--reviewer", default=None)
    qs.add_argument("--statuses", help="comma-separated status names for a new session file (first = unreviewed)")
    qs.set_defaults(run=cmd_qa_set)
    qr = sub.add_parser("qa-report", help="write the QA report CSV of a session")
    qr.add_argument("--session", type=Path, required=True)
    qr.add_argument("--out", type=Path, required=True)
    add_data_options(qr, required=False)
    add_score_options(qr)
    qr.set_defaults(run=cmd_qa_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .core.memory import bound_heap_growth
    bound_heap_growth()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS and argv[0] != "gui":
            args = build_parser().parse_args(argv)
            return args.run(args)
        args = build_gui_parser().parse_args(argv[1:] if argv and argv[0] == "gui" else argv)
        return open_window(args)
    except LoadError as exc:
        print(f"segviewer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
