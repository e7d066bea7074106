"""The window's new faces at the door: --window-size, and a desktop whose X11 libraries Qt cannot load (one line,
exit 2, never Qt's abort)."""
import os
import sys

import pytest

from helpers import run_cli, run_subprocess


@pytest.mark.parametrize("value", ["10x10", "1024", "axb", "1024x700x3", "-1024x700", "99999x700", "1024x"])
def test_window_size_out_of_range_or_malformed_is_one_line(demo_dir, value):
    result = run_cli(demo_dir, "--window-size", value, "--screenshot", "/nonexistent/never.png")
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2 and "--window-size" in last and "Traceback" not in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb plugin is Linux's")
def test_xcb_libraries_that_cannot_load_are_one_line_and_exit_2(demo_dir, tmp_path):
    broken = tmp_path / "lib"
    broken.mkdir()
    (broken / "libxcb-cursor.so.0").write_bytes(b"")      # found first by the loader, and no library at all
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":987", LD_LIBRARY_PATH=str(broken))
    result = run_subprocess(demo_dir, env=env, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr                 # not 134 (Qt's abort)
    assert len(lines) == 1 and lines[0].startswith("segviewer: error: the window cannot start: Qt's X11 (xcb)")
    assert "libxcb-cursor.so.0" in lines[0] and "apt install" in lines[0]


def test_a_missing_library_names_its_package():
    from segviewer.gui.platform_check import problem_line
    line = problem_line("libxkbcommon-x11.so.0: cannot open shared object file: No such file or directory")
    assert line.endswith("needs libxkbcommon-x11.so.0, which is not installed "
                         "(on Debian/Ubuntu: sudo apt install libxkbcommon-x11-0)")
    assert problem_line("libxcb-cursor.so.0: cannot open shared object file").endswith("apt install libxcb-cursor0)")
