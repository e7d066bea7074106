"""Helpers shared by the tests (imported by name; conftest modules are not importable reliably)."""
from pathlib import Path

import numpy as np
from PIL import Image


def save_label(path: Path, labels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(labels.astype(np.uint8)).save(path)
    return path


def make_dataset(root: Path, logits: list[np.ndarray], gts: list[np.ndarray], ext: str = ".npy") -> Path:
    """A tiny dataset folder (gt/, logits/) from arrays; names img0, img1, ..."""
    for i, (lg, gt) in enumerate(zip(logits, gts)):
        save_label(root / "gt" / f"img{i}.png", gt)
        (root / "logits").mkdir(parents=True, exist_ok=True)
        np.save(root / "logits" / f"img{i}{ext}", lg)
    return root


def settle(qtbot, window, timeout=60000):
    """Waits until every load and computation of the window, and every call to its review session, has finished
    and been delivered."""
    review = getattr(window, "review", None)
    qtbot.waitUntil(lambda: window.viewer.is_settled() and (review is None or review.idle()), timeout=timeout)
    qtbot.wait(20)


class CliResult:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_cli(*args) -> CliResult:
    """`segviewer ARGS` in this process (the imports are paid once per test session, not per call)."""
    import contextlib
    import io
    from segviewer.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return CliResult(code, out.getvalue(), err.getvalue())


def run_subprocess(*args, **kwargs):
    """`python -m segviewer ARGS` as a user runs it (for the few smoke tests that need a fresh interpreter)."""
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "segviewer", *map(str, args)], capture_output=True, text=True,
                          **kwargs)


def open_with_tab(qtbot, window, folder, panel_class, controller_class, *controller_args):
    """A panel and its controller beside the window (active), and the dataset folder opened and settled."""
    panel = panel_class()
    qtbot.addWidget(panel)
    controller = controller_class(*controller_args, panel)
    controller.active = True
    assert window.actions_.open_folder(folder)
    settle(qtbot, window)
    return panel, controller
