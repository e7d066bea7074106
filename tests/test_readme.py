"""The README's Python API examples run as written, against a demo dataset: the documented API cannot rot."""
import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def python_blocks(title: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", section(title), flags=re.DOTALL)


def test_the_python_api_section_has_examples():
    blocks = python_blocks("Python API")
    assert len(blocks) >= 3 and all("segviewer." in b for b in blocks)


def test_the_python_api_examples_run(demo_dir, tmp_path, monkeypatch):
    import shutil
    shutil.copytree(demo_dir, tmp_path / "demo", ignore=shutil.ignore_patterns(".segviewer"))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for k, block in enumerate(python_blocks("Python API")):
        try:
            exec(compile(block, f"README.md, Python API example {k + 1}", "exec"), namespace)
        except Exception as exc:   # noqa: BLE001 - which example failed, with the README's own traceback
            pytest.fail(f"README Python API example {k + 1} failed: {type(exc).__name__}: {exc}")


def test_the_3d_examples_run(demo3d_dir, tmp_path, monkeypatch):
    import shutil
    shutil.copytree(demo3d_dir, tmp_path / "demo3d", ignore=shutil.ignore_patterns(".segviewer"))
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks("3-D volumes: nnU-Net, the Decathlon and MONAI")
    assert blocks
    namespace: dict = {}
    for k, block in enumerate(blocks):
        try:
            exec(compile(block, f"README.md, 3-D example {k + 1}", "exec"), namespace)
        except Exception as exc:   # noqa: BLE001
            pytest.fail(f"README 3-D example {k + 1} failed: {type(exc).__name__}: {exc}")
    from segviewer import Scoring
    assert namespace["image"].overlay(Scoring()).codes.shape == (24, 64)      # a coronal slice: (z, x)
