"""`segviewer demo`: write the built-in demo dataset, and open it unless --no-gui."""
from __future__ import annotations

import argparse
from .options import output_folder

HELP = "write the built-in demo dataset (and open it)"


def configure(de: argparse.ArgumentParser) -> None:
    de.add_argument("dir", nargs="?", type=output_folder, help="where to write it (default: the user cache folder)")
    de.add_argument("--no-gui", action="store_true", help="only write the dataset")


def run(args: argparse.Namespace) -> int:
    from ..core.demo import write_demo
    from ..core.errors import printable
    from ..core.options import default_demo_dir
    root = write_demo(args.dir or default_demo_dir())
    print(printable(root))
    if args.no_gui:
        return 0
    from . import build_gui_parser
    from .window import open_window
    return open_window(build_gui_parser().parse_args([str(root)]))
