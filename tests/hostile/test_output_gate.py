"""Every output option of every command walks through the output gate: a symlink to the ground truth, a hard
link to the class file, a name SQLite would take for a session's journal, a FIFO, a symlink to nothing (whose
target and folders would be created elsewhere), a file output named like a folder (`new/`), a dataset.json — each
refused in one line naming the option, nothing changed. The options are enumerated from the parsers: a path option
must say what it is (input_path, output_file, output_folder, session_file), so one added later without the gate
fails here."""
import argparse
import os
from pathlib import Path

import pytest

from hostile_kit import data_args, deadline, make_base, make_session, refused, snapshot, assert_untouched
from helpers import run_cli
from segviewer.cli import build_gui_parser, build_parser
from segviewer.cli.options import PATH_TYPES, output_file, output_folder


def parsers() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {"gui": build_gui_parser(), **sub.choices}


def output_options() -> list[tuple[str, str, object]]:
    """(command, option, type) of every option a command writes."""
    return [(command, (a.option_strings or [a.dest])[0], a.type) for command, p in parsers().items()
            for a in p._actions if a.type in (output_file, output_folder)]


def test_every_path_option_says_what_it_is():
    plain = [(c, a.option_strings or a.dest) for c, p in parsers().items() for a in p._actions
             if a.type is Path or (a.type is not None and a.type not in PATH_TYPES and "path" in str(a.type).lower())]
    assert plain == [], "give these options type=input_path / output_file / output_folder / session_file"


def base_args(command: str, base: dict, tmp: Path) -> list:
    """What each command needs besides the option under test; a command with outputs must be listed here."""
    if command == "compare":
        return [*data_args(base), "--compare", base["pred"]]
    if command == "qa-report":
        return ["--session", base["session"], *data_args(base)]
    if command == "gui":
        return [base["root"]]
    if command in ("export", "sweep", "calibration", "label-issues"):
        return data_args(base)
    raise AssertionError(f"add {command!r} (it has output options) to base_args")


def hostile_target(kind: str, base: dict, tmp: Path, suffix: str) -> Path:
    if kind == "symlink-to-gt":
        (tmp / f"link{suffix}").symlink_to(base["gt0"])
        return tmp / f"link{suffix}"
    if kind == "hardlink-to-class-file":
        os.link(base["classes"], tmp / f"hard{suffix}")
        return tmp / f"hard{suffix}"
    if kind == "journal-of-a-database":        # named like the companion of an SQLite database that exists
        return tmp / f"{base['session'].name}-wal"
    if kind == "dangling-symlink":             # its target's folders do not exist either: nothing may make them
        (tmp / f"dangling{suffix}").symlink_to(tmp / "elsewhere" / "deeper" / f"x{suffix}")
        return tmp / f"dangling{suffix}"
    if kind == "under-a-dangling-folder-link":
        (tmp / "gone").symlink_to(tmp / "elsewhere" / "deeper")
        return tmp / "gone" / "sub" / f"x{suffix}"
    if kind == "trailing-slash":
        return f"{tmp / 'newdir'}{os.sep}"
    if kind == "a-dataset-json":               # nnU-Net's, of a dataset this run does not read
        (tmp / "dataset.json").write_text('{"labels": {"background": 0, "liver": 1}}')
        return tmp / "dataset.json"
    os.mkfifo(tmp / f"pipe{suffix}")
    return tmp / f"pipe{suffix}"


def make_world(tmp: Path) -> dict:
    base = make_base(tmp / "data")
    base["session"] = tmp / "s.sqlite"
    make_session(base["session"])      # a segviewer session (qa-report reads it; others must not touch it)
    return base


# what the line says besides the option (for a CSV option, for an image option), where it matters which check spoke
FILE_KINDS = {"symlink-to-gt": None, "hardlink-to-class-file": None, "journal-of-a-database": None, "fifo": None,
              "dangling-symlink": ("is a symbolic link (to ",) * 2,
              "under-a-dangling-folder-link": ("gone is a symbolic link to ",) * 2,
              "trailing-slash": ("so it names a folder; give a file name",) * 2,
              "a-dataset-json": (".json is another kind of file's extension", "unknown file type '.json'")}


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_every_output_file_option_is_gated(tmp_path, kind):
    options = [(c, o) for c, o, t in output_options() if t is output_file]
    assert len(options) >= 14, options          # all of today's: new ones join the walk by themselves
    for i, (command, option) in enumerate(options):
        tmp = tmp_path / str(i)
        tmp.mkdir()
        base = make_world(tmp)
        suffix = ".png" if option in ("--plot", "--screenshot") else ".csv"
        target = hostile_target(kind, base, tmp, suffix)
        safe_out = [] if option == "--out" or command == "gui" else ["--out", tmp / "o.csv"]
        command_word = [] if command == "gui" else [command]
        line = refused(tmp, [*command_word, *base_args(command, base, tmp), *safe_out, option, target], option)
        if FILE_KINDS[kind] is not None:
            assert FILE_KINDS[kind][suffix == ".png"] in line, line


def test_every_output_folder_option_is_gated_file_by_file(tmp_path):
    """A folder output whose files would be links to inputs: each file is checked, not only the folder."""
    options = [(c, o) for c, o, t in output_options() if t is output_folder]
    assert {o for _, o in options} >= {"--figures", "dir"}, options
    for i, (command, option) in enumerate(options):
        tmp = tmp_path / str(i)
        tmp.mkdir()
        base = make_world(tmp)
        folder = tmp / "out"
        if command == "demo":
            (folder / "gt").mkdir(parents=True)
            (folder / "gt" / "scene_000.png").symlink_to(base["gt0"])
            args = ["demo", folder, "--no-gui"]
        else:
            folder.mkdir()
            (folder / "001-img0.png").symlink_to(base["gt0"])
            os.link(base["classes"], folder / "002-img1.png")
            args = [command, *base_args(command, base, tmp), "--out", tmp / "o.csv", option, folder]
        before = snapshot(tmp)
        with deadline():
            result = run_cli(*args)
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert_untouched(before, snapshot(tmp))


def test_figures_checks_every_file_before_writing_any(tmp_path):
    """The second figure is a hard link to the class file: refused before the first figure or the CSV exists."""
    base = make_base(tmp_path / "data", n=2)
    figs = tmp_path / "figs"
    figs.mkdir()
    names = ["img0", "img1"]
    for rank, name in enumerate(names, 1):          # whichever image ranks second, its figure is the hard link
        os.link(base["classes"], figs / f"002-{name}.png")
    line = refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "o.csv", "--figures", figs,
                              "--worst", "2"], "--figures", "(the class file)")
    assert "would overwrite an input" in line


def test_a_planted_probe_link_in_a_shared_datasets_cache_folder_is_never_written(tmp_path):
    """Opening a dataset checks that .segviewer/ beside it is writable with a probe file. The probe was named
    `.probe-<pid>` and opened without O_EXCL: a dataset shared with such symlinks in its .segviewer/ (one per pid)
    truncated the file they point to."""
    import segviewer
    base = make_base(tmp_path / "data")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    cache = base["root"] / ".segviewer"
    cache.mkdir()
    (cache / f".probe-{os.getpid()}").symlink_to(victim)
    with segviewer.open(gt=base["gt"], logits=base["pred"]) as ins:
        ins.dataset_scores()
    assert victim.read_text() == "precious"


@pytest.mark.parametrize("where", ["is-the-link", "under-the-link"])
def test_no_folder_output_is_made_through_a_link_to_nothing(tmp_path, where):
    """A folder output that is (or lies under) a symlink to a missing folder: mkdir would make that folder, and its
    parents, wherever the link points."""
    options = [(c, o) for c, o, t in output_options() if t is output_folder]
    for i, (command, option) in enumerate(options):
        tmp = tmp_path / str(i)
        tmp.mkdir()
        base = make_world(tmp)
        (tmp / "gone").symlink_to(tmp / "elsewhere" / "deeper")
        folder = tmp / "gone" if where == "is-the-link" else tmp / "gone" / "figs"
        args = (["demo", folder, "--no-gui"] if command == "demo" else
                [command, *base_args(command, base, tmp), "--out", tmp / "o.csv", option, folder, "--worst", "1"])
        refused(tmp, args, "gone is a symbolic link to ", "which does not exist")


def test_a_folder_output_may_end_with_a_slash(tmp_path):
    base = make_base(tmp_path / "data")
    result = run_cli("export", *data_args(base), "--out", tmp_path / "o.csv", "--figures", f"{tmp_path / 'figs'}/",
                     "--worst", "1")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "figs").iterdir()] == ["001-img0.png"]
