"""`segviewer`: the window (default) and the subcommands. Imports nothing heavy until a command runs."""
from __future__ import annotations

import argparse
import sys

from ..core.errors import LoadError, OptionError
from .options import DATASET_HELP, HelpFormatter, add_data_options, add_score_options
from .options import add_model_options
from .options import input_path, output_file, session_file, window_size

# one module per subcommand: HELP, configure(parser), run(args); none imports torch at module level
COMMAND_MODULES = {"export": "export", "sweep": "sweep", "index": "index", "demo": "demo", "qa-set": "qa_set", "qa-report": "qa_report",
                   "qa-merge": "qa_merge",
                   "label-issues": "label_issues",
                   "compare": "compare", "calibration": "calibration"}
COMMANDS = (*COMMAND_MODULES, "gui")


def command_module(name: str):
    from importlib import import_module
    return import_module(f".{COMMAND_MODULES[name]}", __name__)


def subcommand_list() -> str:
    width = max(map(len, COMMAND_MODULES))
    lines = [f"  segviewer {name:<{width}}  {command_module(name).HELP}" for name in COMMAND_MODULES]
    return "commands (segviewer COMMAND --help for each):\n" + "\n".join(lines)


class Parser(argparse.ArgumentParser):
    """A usage mistake is one line on stderr, `segviewer: error: ...`, naming where the options are listed (not
    argparse's usage block, which for a subcommand's mistake was often the top-level one), and exit code 2."""

    def error(self, message: str):
        from ..core.errors import one_line
        print(f"segviewer: error: {one_line(message)} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def build_gui_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="segviewer", formatter_class=HelpFormatter,
        description="Inspect semantic-segmentation models: TP/FP/FN overlays and live F-beta, Dice, IoU.\n"
                    "Without a command, opens the inspection window.",
        epilog=subcommand_list())
    p.add_argument("dataset", nargs="?", help=DATASET_HELP)
    p.add_argument("--demo", action="store_true", help="generate (or reuse) the demo dataset and open it")
    add_data_options(p, required=False)
    add_model_options(p)
    add_score_options(p)
    p.add_argument("--session", type=session_file,
                   help="QA session: a file (default: .segviewer/session-*.sqlite beside the data) or a "
                        "team session on PostgreSQL (postgresql://USER@HOST/DB or service=NAME)")
    p.add_argument("--compare", type=input_path, metavar="B_DIR",
                   help="model B beside the dataset's model A: a logits or masks folder (Compare tab, V view)")
    p.add_argument("--view", choices=("errors", "gt", "pred", "image", "doubt", "compare"),
                   help="what the canvas shows first (doubt: label-doubt heatmap; compare: model A → B, with --compare)")
    p.add_argument("--screenshot", type=output_file, help="render the window once loaded, save this PNG and exit")
    p.add_argument("--window-size", type=window_size, metavar="WxH",
                   help="the window's size, e.g. 1024x700 (default: 1500x920, or the screen when it is smaller)")
    p.add_argument("--image", help="image to show first (name)")
    p.add_argument("--class", dest="class_name", help="class to show first (name or 'all')")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="segviewer", formatter_class=HelpFormatter, description="Inspect semantic-segmentation models.")
    sub = parser.add_subparsers(dest="command")
    for name in COMMAND_MODULES:
        module = command_module(name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP, formatter_class=HelpFormatter)
        module.configure(p)
        p.set_defaults(run=module.run)
    return parser


def check_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Rules that span options (a module's optional check(parser, args)), said as that command's mistakes."""
    check = getattr(command_module(args.command), "check", None)
    if check is not None:
        check(Parser(prog=f"{parser.prog} {args.command}"), args)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS and argv[0] != "gui":
            parser = build_parser()
            args, extra = parser.parse_known_args(argv)
            if extra:     # the command's mistake, said with its own --help
                Parser(prog=f"segviewer {args.command}").error(f"unrecognized arguments: {' '.join(extra)}")
            check_combinations(parser, args)
            _bound_heap()
            return run_command(args)
        args = build_gui_parser().parse_args(argv[1:] if argv and argv[0] == "gui" else argv)
        from .window import open_window
        with budget_of(args):
            return open_window(args)
    except SystemExit as exc:   # argparse: --help (0) and usage errors (2), returned so in-process callers see it
        return exc.code if isinstance(exc.code, int) else 2
    except (LoadError, OptionError) as exc:
        print(f"segviewer: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:   # the file system said no (read-only, full, missing folder ...): the user's to fix
        from ..core.errors import one_line, os_reason
        where = f"{one_line(exc.filename)}: " if exc.filename else ""
        print(f"segviewer: error: {where}{os_reason(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run_command(args: argparse.Namespace) -> int:
    """A command's outputs are all or nothing: written to temporary files, renamed together when it succeeds."""
    from ..core.output_run import run_scope
    from .common import close_engines
    try:
        with budget_of(args), run_scope(commit=False) as outputs:
            code = args.run(args)
            if code == 0:
                outputs.commit()
        return code
    finally:
        close_engines()     # a local Dask cluster the command started stops here


def budget_of(args: argparse.Namespace):
    """--memory-budget, in force while the command runs."""
    from ..core.budgets import memory_budget_set
    return memory_budget_set(getattr(args, "memory_budget", None))


def _bound_heap() -> None:
    from ..core.memory import bound_heap_growth
    bound_heap_growth()


if __name__ == "__main__":
    sys.exit(main())
