"""The layers of pyproject.toml's import-linter contracts hold."""
import os
from pathlib import Path


def test_import_contracts_hold(capsys):
    from importlinter.cli import lint_imports
    root = Path(__file__).resolve().parents[1]
    cwd = os.getcwd()
    os.chdir(root)
    try:
        code = lint_imports(config_filename=str(root / "pyproject.toml"))
    finally:
        os.chdir(cwd)
    assert code == 0, capsys.readouterr().out
