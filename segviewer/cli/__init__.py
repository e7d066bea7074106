"""`segviewer`: the window (default) and the subcommands. Imports nothing heavy until a command runs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import LoadError
from .options import (HelpFormatter, add_data_options, add_score_options, number, positive_int)

SUBCOMMANDS = {
    "export": "per-class and per-image score CSVs (and figures of the worst images)",
    "sweep": "scores at every threshold of a grid, and the best threshold per class",
    "demo": "write the built-in demo dataset (and open it)",
    "qa-set": "record one review in a QA session file",
    "qa-report": "write the QA report CSV of a session",
}
COMMANDS = (*SUBCOMMANDS, "gui")


def subcommand_list() -> str:
    width = max(map(len, SUBCOMMANDS))
    lines = [f"  segviewer {name:<{width}}  {text}" for name, text in SUBCOMMANDS.items()]
    return "commands (segviewer COMMAND --help for each):\n" + "\n".join(lines)


def build_gui_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="segviewer", formatter_class=HelpFormatter,
        description="Inspect semantic-segmentation models: TP/FP/FN overlays and live F-beta, Dice, IoU.\n"
                    "Without a command, opens the inspection window.",
        epilog=subcommand_list())
    p.add_argument("dataset", nargs="?", help="a folder holding gt/, logits/ (or masks/), images/")
    p.add_argument("--demo", action="store_true", help="generate (or reuse) the demo dataset and open it")
    add_data_options(p, required=False)
    add_score_options(p)
    p.add_argument("--session", type=Path, help="QA session file (default: .segviewer/session-*.sqlite beside the data)")
    p.add_argument("--screenshot", type=Path, help="render the window once loaded, save this PNG and exit")
    p.add_argument("--image", help="image to show first (name)")
    p.add_argument("--class", dest="class_name", help="class to show first (name or 'all')")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segviewer", formatter_class=HelpFormatter,
                                     description="Inspect semantic-segmentation models.")
    sub = parser.add_subparsers(dest="command")

    def command(name: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=SUBCOMMANDS[name], description=SUBCOMMANDS[name],
                              formatter_class=HelpFormatter)

    ex = command("export")
    add_data_options(ex)
    add_score_options(ex)
    ex.add_argument("--out", type=Path, required=True, help="per-class CSV to write")
    ex.add_argument("--per-image", type=Path, help="per-image (tidy) CSV to write")
    ex.add_argument("--strict", action="store_true", help="the first bad file is fatal")
    ex.add_argument("--boundary", type=positive_int, metavar="K", help="count only pixels within K px of a GT boundary")
    ex.add_argument("--interior", action="store_true", help="with --boundary: count only the pixels beyond the band")
    ex.add_argument("--rank-by", default="mean_fbeta", choices=("mean_fbeta", "mean_iou", "fp", "fn"),
                    help="what makes an image 'worst' for --figures")
    ex.add_argument("--figures", type=Path, metavar="DIR", help="write overlay figures of the worst images here")
    ex.add_argument("--worst", type=number(int, 1, 100_000, what="a whole number"), default=None, metavar="N",
                    help="how many worst images get a figure (with --figures; default 10)")
    ex.set_defaults(run=lambda args: _run("export", args))
    sw = command("sweep")
    add_data_options(sw)
    sw.add_argument("--beta", type=number(float, 0.0, low_open=True), default=1.0,
                    help="F-beta's beta for the best thresholds, > 0")
    sw.add_argument("--smooth", type=number(float, 0.0), default=1e-5, help="smoothing term, >= 0")
    sw.add_argument("--steps", type=number(int, 1, 100_000, what="a whole number"), default=1000,
                    help="grid k/N for k = 0..N (at most 100000)")
    sw.add_argument("--out", type=Path, required=True, help="tidy sweep CSV")
    sw.add_argument("--best", type=Path, help="best threshold per class CSV")
    sw.add_argument("--plot", type=Path, help="bar chart PNG of the per-class scores at the best thresholds")
    sw.add_argument("--strict", action="store_true", help="the first bad file is fatal")
    sw.set_defaults(run=lambda args: _run("sweep", args))
    de = command("demo")
    de.add_argument("dir", nargs="?", type=Path, help="where to write it (default: the user cache folder)")
    de.add_argument("--no-gui", action="store_true", help="only write the dataset")
    de.set_defaults(run=lambda args: _run("demo", args))
    qs = command("qa-set")
    qs.add_argument("--session", type=Path, required=True, help="the session file (created if missing)")
    qs.add_argument("--image", required=True, help="image name")
    qs.add_argument("--status", required=True, help="e.g. accepted, needs-fix, model-error, ambiguous")
    qs.add_argument("--note", default=None, help="free text")
    qs.add_argument("--reviewer", default=None, help="who reviewed (default: the user name)")
    qs.add_argument("--statuses", help="comma-separated status names for a new session file (first = unreviewed)")
    qs.set_defaults(run=lambda args: _run("qa_set", args))
    qr = command("qa-report")
    qr.add_argument("--session", type=Path, required=True, help="the session file")
    qr.add_argument("--out", type=Path, required=True, help="report CSV to write")
    add_data_options(qr, required=False)
    add_score_options(qr)
    qr.set_defaults(run=lambda args: _run("qa_report", args))
    return parser


def _run(name: str, args: argparse.Namespace) -> int:
    """Imports the command's module only now, so --help and usage errors stay instant."""
    from importlib import import_module
    module = import_module(f".{'qa' if name.startswith('qa') else name}", __name__)
    return getattr(module, f"run_{name}" if name.startswith("qa") else "run")(args)


def check_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if getattr(args, "command", None) == "export":
        if args.worst is not None and args.figures is None:
            parser.error("--worst needs --figures DIR")
        if args.interior and args.boundary is None:
            parser.error("--interior needs --boundary K")
        if args.worst is None:
            args.worst = 10


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS and argv[0] != "gui":
            parser = build_parser()
            args = parser.parse_args(argv)
            check_combinations(parser, args)
            _bound_heap()
            return args.run(args)
        args = build_gui_parser().parse_args(argv[1:] if argv and argv[0] == "gui" else argv)
        from .window import open_window
        return open_window(args)
    except SystemExit as exc:   # argparse: --help (0) and usage errors (2), returned so in-process callers see it
        return exc.code if isinstance(exc.code, int) else 2
    except LoadError as exc:
        print(f"segviewer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _bound_heap() -> None:
    from ..core.memory import bound_heap_growth
    bound_heap_growth()


if __name__ == "__main__":
    sys.exit(main())
