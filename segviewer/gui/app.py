"""Starts the window: from the command line's dataset options, the demo, or empty."""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable
from pathlib import Path

from ..core.options import DataOptions, parse_threshold

SCREENSHOT_TIMEOUT_S = 300


@dataclass
class Launch:
    """What the command line asked the window to start with."""
    options: DataOptions | None = None
    threshold: str = "0.5"
    argmax: bool = False
    beta: float = 1.0
    smooth: float = 1e-5
    class_name: str | None = None
    image: str | None = None
    session: object = None                        # a Path or a PgTarget (core.sessions.session_target)
    screenshot: Path | None = None
    engine: Callable[[], object] | None = None   # builds an Inspector (e.g. a model source) after the first paint
    compare: Path | None = None                   # model B's folder
    view: str | None = None                       # errors, gt, pred, image, doubt, compare
    window_size: tuple[int, int] | None = None    # (width, height); None: the default, fitted to the screen


def headless() -> bool:
    return (sys.platform.startswith("linux") and "QT_QPA_PLATFORM" not in os.environ
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"))


def run_app(args: Launch) -> int:
    if headless():
        if not args.screenshot:
            # Qt would abort with a core dump; say what to do instead
            print("segviewer: error: no display to open the window on (no DISPLAY or WAYLAND_DISPLAY); "
                  "use `segviewer export`, or --screenshot OUT.png, or run it on a desktop", file=sys.stderr)
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"   # a screenshot needs no screen
    from .platform_check import xcb_problem
    problem = xcb_problem()
    if problem is not None:       # Qt would abort (exit 134) with several lines of its own
        print(f"segviewer: error: {problem}", file=sys.stderr)
        return 2
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from ..core.errors import LoadError, OptionError
    options = args.options
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("segviewer")
    app.setOrganizationName("segviewer")
    window = launch_window(args)
    window.show()
    status = {"code": 0}

    def open_dataset():
        # after the first paint: the window is on screen before any file is touched
        try:
            opened = window.viewer.open_engine(args.engine()) if args.engine else window.open_options(options)
            if not opened:
                status["code"] = 2
                # the window showed it; a --screenshot run ends here, so the terminal gets the one line too
                reason = window.last_error.split(" failed: ", 1)[-1] or "the dataset could not be opened"
                print(f"segviewer: error: {reason}", file=sys.stderr)
            else:
                apply_initial_settings(window, args)
                if args.compare is not None and not window.insights.open_compare(args.compare):
                    status["code"] = 2
                if args.view:
                    window.viewer.update_settings(view=args.view)
        except (LoadError, OptionError) as exc:
            window.show_error(f"Open failed: {exc}")
            print(f"segviewer: error: {exc}", file=sys.stderr)
            status["code"] = 2
        if status["code"] and args.screenshot:
            end_refused(app, window)

    if options is not None or args.engine is not None:
        QTimer.singleShot(0, open_dataset)
    if args.screenshot:
        take_screenshot_when_settled(app, window, args.screenshot)
    with offscreen_noise_dropped():
        code = app.exec()
    return code or status["code"] if not args.screenshot else code


@contextmanager
def offscreen_noise_dropped():
    """Qt's offscreen platform warns that it "does not support propagateSizeHints()" on every window: a line on
    stderr that a --screenshot run's one-line error must not carry. Every other message goes on as Qt writes it."""
    from PySide6.QtCore import qInstallMessageHandler
    if os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        yield
        return

    def handler(_mode, _context, message: str) -> None:
        if not message.startswith("This plugin does not support"):
            print(message, file=sys.stderr)
    previous = qInstallMessageHandler(handler)
    try:
        yield
    finally:
        qInstallMessageHandler(previous)


def launch_window(args: Launch, settings=None):
    """The window the command line asked for, before any file or session is touched (--session: a file or a team
    session's URL, opened on the session's own thread once the dataset is)."""
    from .main_window import MainWindow
    window = MainWindow(settings=settings)
    if args.window_size is not None:
        window.resize(*args.window_size)
    if args.session:
        window.review.session_override = args.session
    return window


def apply_initial_settings(window, args) -> None:
    v = window.viewer
    t = parse_threshold(args.threshold, v.classes.num_classes)
    changes = {"beta": args.beta, "smooth": args.smooth, "argmax": bool(args.argmax) or v.is_hard,
               "threshold": tuple(t) if isinstance(t, list) else t}
    if args.class_name:
        changes["class_id"] = resolve_class(v.classes.names, args.class_name)
    v.update_settings(**changes)
    if args.image:
        names = v.dataset.names
        if args.image not in names:
            from ..core.errors import OptionError
            raise OptionError(f"--image {args.image!r}: no such image (e.g. {names[0]!r})")
        window.show_image(names.index(args.image))


def resolve_class(names, text: str) -> int:
    from ..core.errors import OptionError
    from ..core.overlay import ALL_CLASSES
    if text.lower() in ("all", "all classes"):
        return ALL_CLASSES
    if text in names:
        return list(names).index(text)
    if text.isdigit() and int(text) < len(names):
        return int(text)
    shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
    raise OptionError(f"--class {text!r}: no such class (classes: {shown})")


def take_screenshot_when_settled(app, window, path: Path) -> None:
    """Polls until every load and computation has finished, then saves the window and quits with 0."""
    from PySide6.QtCore import QTimer
    started = time.monotonic()
    state = {"settled": 0}

    def poll():
        settled = window.viewer.is_settled() and window.review.idle()
        state["settled"] = state["settled"] + 1 if settled else 0
        if state["settled"] >= 3 or time.monotonic() - started > SCREENSHOT_TIMEOUT_S:
            timer.stop()
            app.processEvents()
            refused = window.viewer.index_refused
            if refused is not None:          # a picture without the dataset's numbers is no answer
                print(f"segviewer: error: {refused}", file=sys.stderr)
                end_refused(app, window)
                return
            app.exit(save_screenshot(window, path))

    timer = QTimer(window)
    timer.timeout.connect(poll)
    timer.start(100)


def end_refused(app, window) -> None:
    """A refused --screenshot run ends with 2. The dataset's jobs are stopped first: a thread still running at exit
    aborts the process."""
    window.review.close(wait_s=0)
    window.viewer.shutdown()
    app.exit(2)


def save_screenshot(window, path: Path) -> int:
    """The window saved through the output gate (the open dataset's files and session are off limits): 0, or 2
    with one line on stderr."""
    from ..core.errors import LoadError
    from .window_exports import save_image
    try:
        save_image(window.grab(), path, "--screenshot", window.exports.output_guard())
    except LoadError as exc:
        print(f"segviewer: error: {exc}", file=sys.stderr)
        return 2
    return 0
