"""`segviewer demo`: write the built-in demo dataset, and open it unless --no-gui (--3d: the volume demo)."""
from __future__ import annotations

import argparse

from .options import output_folder

HELP = "write the built-in demo dataset (and open it)"


def configure(de: argparse.ArgumentParser) -> None:
    de.add_argument("dir", nargs="?", type=output_folder, help="where to write it (default: the user cache folder)")
    de.add_argument("--no-gui", action="store_true", help="only write the dataset")
    de.add_argument("--3d", dest="volumes", action="store_true",
                    help="the 3-D demo: small CT-like volumes with 2.5 mm slices in nnU-Net's layout")


def run(args: argparse.Namespace) -> int:
    from ..core.errors import printable
    from ..core.options import default_demo_dir
    if args.volumes:
        from ..core.demo_volume import write_demo_volumes
        root = write_demo_volumes(args.dir or default_demo_dir().with_name("demo-3d"))
    else:
        from ..core.demo import write_demo
        root = write_demo(args.dir or default_demo_dir())
    print(printable(root))
    if args.no_gui:
        return 0
    from . import build_gui_parser
    from .window import open_window
    return open_window(build_gui_parser().parse_args([str(root)]))
