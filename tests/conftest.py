import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    from segviewer.core.demo import write_demo
    return write_demo(tmp_path_factory.mktemp("demo"))


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
