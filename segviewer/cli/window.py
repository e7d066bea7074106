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
        options = None if args.dataset is None and args.gt is None else with_photos(data_options_from_args(args))
    if args.screenshot is not None:
        check_screenshot(args.screenshot, options, session)
    return run_app(Launch(options, args.threshold, args.argmax, args.beta, args.smooth, args.class_name, args.image,
                          session, args.screenshot, engine, args.compare, args.view, args.window_size))


def with_photos(options):
    """The window shows the photos and class names of `--gt G --masks M` when G's parent holds images/ and
    classes.json (and neither --classes nor --num-classes was given), as File ▸ Open does."""
    from dataclasses import replace
    from ..core.options import beside_gt
    images, classes = beside_gt(options.gt_dir)
    if options.images_dir is None and images is not None:
        options = replace(options, images_dir=images)
    if options.classes is None and options.num_classes is None and classes is not None:
        options = replace(options, classes=str(classes))
    return options


def check_screenshot(path, options, session) -> None:
    """--screenshot through the output gate before the window opens: not a file of the dataset (as far as its
    folders and class file tell before they are listed), not the session or a companion of it, a regular file or
    a new one, an image type Qt writes. The window checks it again, with every file, when it saves."""
    from ..core.outputs import SCREENSHOT_EXTS, OutputGuard
    guard = OutputGuard()
    if options is not None and session is None:
        from ..core.session_paths import session_path
        session = session_path(options)
    if options is not None:
        guard.add_options(options)
    guard.add_session(session).check({"--screenshot": path}, formats={"--screenshot": SCREENSHOT_EXTS})
