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
    """Waits until every load and computation of the window has finished and been delivered."""
    qtbot.waitUntil(window.viewer.is_settled, timeout=timeout)
    qtbot.wait(20)
