"""Start-up is part of the product: help, usage errors and QA commands import neither torch, scipy nor Qt."""
import json
import sys

import pytest

from helpers import run_cli, run_subprocess

HEAVY = ("torch", "scipy", "PySide6", "pyqtgraph", "matplotlib")


def imported_after(*args) -> set[str]:
    code = ("import sys, json\nfrom segviewer.cli import main\n"
            "import contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            f"    main({list(map(str, args))!r})\n"
            "print(json.dumps(sorted(m for m in sys.modules if '.' not in m)))")
    import subprocess
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return set(json.loads(res.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [["--help"], ["export", "--help"], ["export", "--beta", "-1"],
                                  ["qa-set", "--session", "{tmp}/s.sqlite", "--image", "a", "--status", "accepted"],
                                  ["qa-report", "--session", "{tmp}/s.sqlite", "--out", "{tmp}/r.csv"]])
def test_light_commands_import_nothing_heavy(args, tmp_path):
    modules = imported_after(*(a.format(tmp=tmp_path) for a in args))
    assert not modules & set(HEAVY), modules & set(HEAVY)


def test_help_lists_every_subcommand_and_defaults():
    res = run_cli("--help")
    assert res.returncode == 0
    for name in ("export", "sweep", "demo", "qa-set", "qa-report"):
        assert f"segviewer {name}" in res.stdout
    assert "(default: 0.5)" in res.stdout and "(default: auto)" in res.stdout


@pytest.mark.parametrize("args,message", [
    (["--beta", "-1"], "--beta: -1 must be greater than 0"),
    (["--beta", "0"], "--beta: 0 must be greater than 0"),
    (["--beta", "nan"], "not a finite number"),
    (["--smooth", "-1"], "--smooth: -1 must be at least 0"),
    (["--figures", "{tmp}/f", "--worst", "-3"], "--worst: -3 must be at least 1"),
    (["--figures", "{tmp}/f", "--worst", "0"], "--worst: 0 must be at least 1"),
    (["--worst", "3"], "--worst needs --figures DIR"),
    (["--interior"], "--interior needs --boundary K"),
    (["--boundary", "0"], "--boundary: 0 must be at least 1"),
    (["--num-classes", "100000000"], "must be at most 65536"),
    (["--ignore-index", "1e20"], "is not a whole number"),
])
def test_bad_numbers_are_refused_with_one_line(args, message, tmp_path):
    res = run_cli("export", "--gt", tmp_path, "--logits", tmp_path, "--out", tmp_path / "o.csv",
                  *(a.format(tmp=tmp_path) for a in args))
    assert res.returncode == 2
    assert message in res.stderr
    assert not (tmp_path / "o.csv").exists()


def test_sweep_steps_are_bounded(tmp_path):
    res = run_cli("sweep", "--gt", tmp_path, "--logits", tmp_path, "--out", tmp_path / "s.csv", "--steps", "1000000000")
    assert res.returncode == 2 and "--steps: 1000000000 must be at most 100000" in res.stderr


def test_module_entry_point_runs(demo_dir, tmp_path):
    res = run_subprocess("export", "--gt", demo_dir / "gt", "--logits", demo_dir / "logits", "--argmax",
                         "--out", tmp_path / "o.csv")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "o.csv").read_text().startswith("class_id,class_name,gt_pixels")
