"""`segviewer.show(...)` / `ins.show()`: the window on an Inspector, from a script or a notebook.

In a script the call blocks until the window is closed (QApplication.exec()). In IPython or Jupyter with a running
Qt event loop (`%gui qt`), it returns the window at once and the notebook stays usable.

The window reads the same Inspector (its dataset, index and evented Scoring), so both show the same numbers and
the same settings.
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


def window_on(inspector):
    """A shown MainWindow on this very Inspector (call with a QApplication and in its thread): the window and the
    script share one engine, its settings (both ways: the window follows `ins.scoring = ...`, and `ins.scoring` is
    what the window's controls set), its index and its caches; a model source runs per image on demand."""
    from .main_window import MainWindow
    window = MainWindow()
    window.show()
    window.viewer.open_engine(inspector)
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
    window = window_on(inspector)
    if not block:
        _OPEN_WINDOWS[:] = [w for w in _OPEN_WINDOWS if _alive(w)] + [window]
        return window
    return app.exec()


def _alive(window) -> bool:
    """Still on screen: a window Qt has deleted (its owner closed it with WA_DeleteOnClose, or a test's qtbot did)
    has no C++ object left to ask."""
    from shiboken6 import isValid
    return isValid(window) and window.isVisible()
