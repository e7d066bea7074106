"""Before Qt starts on an X11 desktop: can its xcb platform plugin load? Without a system library it needs (e.g.
libxcb-cursor0 since Qt 6.5) Qt prints several lines and aborts the process (exit 134); segviewer says instead, in
one line, which library is missing and which package brings it. Imports no Qt (it runs before Qt loads)."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

MISSING = re.compile(r"(lib[\w.+-]+?)\.so(?:\.(\d+))?: cannot open shared object file")


def uses_xcb(environ=os.environ, platform: str = sys.platform) -> bool:
    """Qt will take its xcb plugin: Linux with an X display, no Wayland session, no other platform asked for."""
    if not platform.startswith("linux"):
        return False
    asked = environ.get("QT_QPA_PLATFORM", "")
    if asked:
        return asked.startswith("xcb")
    return bool(environ.get("DISPLAY")) and not environ.get("WAYLAND_DISPLAY")


def xcb_plugin() -> Path | None:
    try:
        import PySide6
    except ImportError:
        return None
    path = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return path if path.is_file() else None


def debian_package(library: str, version: str | None) -> str:
    """The Debian/Ubuntu package of a shared library, by the distributions' naming rule: libxcb-cursor.so.0 ->
    libxcb-cursor0, libxkbcommon-x11.so.0 -> libxkbcommon-x11-0."""
    if version is None:
        return library
    return f"{library}{'-' if library[-1].isdigit() else ''}{version}"


def load_problem(plugin: Path) -> str | None:
    """Why the plugin cannot be loaded (one line), or None when it loads."""
    import ctypes
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        return problem_line(str(exc))
    return None


def problem_line(loader_message: str) -> str:
    """The one line segviewer prints for the dynamic loader's message about Qt's xcb plugin."""
    found = MISSING.search(loader_message)
    if found is None:
        reason = loader_message.strip().splitlines()[0] if loader_message.strip() else "it cannot be loaded"
        return (f"the window cannot start: Qt's X11 (xcb) platform plugin cannot be loaded ({reason}); "
                "install the X11 libraries Qt needs (e.g. on Debian/Ubuntu: sudo apt install libxcb-cursor0 "
                "libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-render-util0)")
    library, version = found.group(1), found.group(2)
    name = f"{library}.so" + (f".{version}" if version else "")
    return (f"the window cannot start: Qt's X11 (xcb) platform plugin needs {name}, which is not installed "
            f"(on Debian/Ubuntu: sudo apt install {debian_package(library, version)})")


def xcb_problem() -> str | None:
    """The one line to print when the window is about to open on X11 and Qt's xcb plugin cannot load, else None."""
    if not uses_xcb():
        return None
    plugin = xcb_plugin()
    return load_problem(plugin) if plugin is not None else None
