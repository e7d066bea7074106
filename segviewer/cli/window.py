"""The default command: the inspection window (Qt is imported only here)."""
from __future__ import annotations

import argparse

from .options import data_options_from_args


def open_window(args: argparse.Namespace) -> int:
    from ..core.sessions import session_target
    from ..gui.app import Launch, run_app
    session = session_target(args.session) if args.session else None   # never a folder named 'postgresql:'
    if getattr(args, "demo", False):
        from ..core.demo import write_demo
        from ..core.options import default_demo_dir
        args.dataset = str(write_demo(default_demo_dir()))
    engine = options = None
    if getattr(args, "model", None) is not None:   # the engine runs the model per image, on demand, off the GUI thread
        from .model import model_engine
        engine = model_engine(args)
    else:
        options = None if args.dataset is None and args.gt is None else data_options_from_args(args)
    return run_app(Launch(options, args.threshold, args.argmax, args.beta, args.smooth, args.class_name, args.image,
                          session, args.screenshot, engine, args.compare, args.view))
