"""`segviewer.show(...)` / `ins.show()`: the window on an Inspector, from a script or a notebook.

In a script the call blocks until the window is closed (QApplication.exec()). In IPython or Jupyter with a running
Qt event loop (`%gui qt`), it returns the window at once and the notebook stays usable.

The window reads the same Inspector (its dataset, index and Scoring), so both show the same numbers.
"""
from __future__ import annotations

import sys

from ..core.errors import OptionError

_OPEN_WINDOWS: list = []   # windows shown into a running loop: kept, or Python's collector would close them


def qt_loop_running() -> bool:
    """True inside IPython / Jupyter after `%gui qt` (the kernel runs Qt's event loop between cells)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if get is not None else None
    return str(getattr(shell, "active_eventloop", None) or "").startswith("qt")


def apply_scoring(viewer, scoring) -> None:
    """The Inspector's threshold(s), mode, beta, smooth and boundary band as the window's settings."""
    changes = {"beta": scoring.beta, "smooth": scoring.smooth, "argmax": scoring.argmax and not viewer.is_hard,
               "boundary": scoring.boundary, "interior": scoring.interior}
    if scoring.per_class:
        changes["class_thresholds"] = tuple(scoring.threshold)
    else:
        changes["threshold"] = scoring.threshold
    viewer.update_settings(**changes)


def open_window(inspector):
    """A shown MainWindow reading this very Inspector (call with a QApplication and in its thread): the window
    and the script share one engine, its index and its caches; a model source runs per image on demand."""
    from .main_window import MainWindow
    window = MainWindow()
    window.show()
    if window.viewer.open_engine(inspector):
        apply_scoring(window.viewer, inspector.scoring)
    return window


def show_inspector(inspector, block: bool | None = None):
    """The window on an Inspector. block=None: block in a script (returns the exit code when the window closes),
    return the window at once where a Qt event loop already runs (IPython %gui qt)."""
    from .app import headless
    if block is None:
        block = not qt_loop_running()
    if headless():
        raise OptionError("no display to open the window on (no DISPLAY or WAYLAND_DISPLAY); use the "
                          "Inspector's tables, or run on a desktop")
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("segviewer")
    window = open_window(inspector)
    if not block:
        _OPEN_WINDOWS[:] = [w for w in _OPEN_WINDOWS if w.isVisible()] + [window]
        return window
    return app.exec()
