import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    from segviewer.core.demo import write_demo
    return write_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def demo3d_dir(tmp_path_factory):
    """The `segviewer demo --3d` dataset (nnU-Net layout), written once per test session."""
    from segviewer.core.demo_volume import write_demo_volumes
    return write_demo_volumes(tmp_path_factory.mktemp("demo3d"))
