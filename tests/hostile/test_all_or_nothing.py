"""All or nothing: a run's outputs are renamed together once every one is written; a failure anywhere leaves every
old file and no temporary file; a killed run's temporary files are removed by the next run; names too long for a
file system are shortened before anything is written; session companions that do not exist yet are off limits."""
import builtins
import csv
import errno
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from helpers import run_cli
from hostile_kit import H, W, data_args, make_base, make_session, refused, snapshot, assert_untouched
from segviewer.core import output_run
from segviewer.core.output_run import TEMP_PREFIX, atomic_output, clean_stale, run_scope, temp_path


def temporaries(root):
    return [p for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX)]


def fail_nth(monkeypatch, module, name, n, code=errno.ENOSPC):
    """module.name raises OSError(code) at its n-th call (1-based), works otherwise."""
    real, calls = getattr(module, name, None) or getattr(builtins, name), {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise OSError(code, os.strerror(code))
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, flaky, raising=False)


def test_full_disk_on_the_second_csv_leaves_the_first_as_it_was(tmp_path, monkeypatch):
    import segviewer.core.csv_text as csv_text
    base = make_base(tmp_path / "data", n=2)
    out, per_image = tmp_path / "o.csv", tmp_path / "pi.csv"
    out.write_text("class_id,yesterday\n")
    fail_nth(monkeypatch, csv_text, "open", 2)          # the per-image CSV's file: the disk is full
    line = refused(tmp_path, ["export", *data_args(base), "--out", out, "--per-image", per_image],
                   "pi.csv", "the disk is full")
    assert out.read_text() == "class_id,yesterday\n" and not per_image.exists() and temporaries(tmp_path) == []
    assert "unchanged" in line


def test_a_failed_rename_puts_back_the_outputs_already_renamed(tmp_path, monkeypatch):
    base = make_base(tmp_path / "data", n=2)
    out, per_image = tmp_path / "o.csv", tmp_path / "pi.csv"
    out.write_text("class_id,old per-class\n")
    per_image.write_text("image,old per-image\n")
    fail_nth(monkeypatch, output_run.os, "replace", 2, errno.EIO)
    refused(tmp_path, ["export", *data_args(base), "--out", out, "--per-image", per_image], "input/output error")
    assert out.read_text() == "class_id,old per-class\n" and per_image.read_text() == "image,old per-image\n"


def test_a_computation_that_fails_after_a_write_leaves_nothing(tmp_path):
    """Inside one run: the first file is written, then the run fails: neither file nor temporary appears."""
    with pytest.raises(RuntimeError), run_scope():
        with atomic_output(tmp_path / "a.csv") as tmp:
            tmp.write_text("a")
        raise RuntimeError("the second output's computation broke")
    assert os.listdir(tmp_path) == []


def test_a_killed_run_leaves_a_temporary_that_the_next_run_removes(tmp_path):
    base = make_base(tmp_path / "data")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / temp_path(tmp_path / "o.csv").name.replace(f"-{os.getpid()}-", f"-{dead.stdout.strip()}-")
    stale.write_text("half a CSV from a run killed with -9")
    alive = temp_path(tmp_path / "p.csv")     # this process's own: a run in progress, never removed
    alive.write_text("being written")
    assert run_cli("export", *data_args(base), "--out", tmp_path / "o.csv").returncode == 0
    assert not stale.exists() and alive.exists()
    assert clean_stale(tmp_path) == []


def test_a_temporary_of_another_host_is_removed_only_when_old(tmp_path):
    other = tmp_path / f"{TEMP_PREFIX}00000000-1-abcd-new-x.csv"
    other.write_text("maybe in use over NFS")
    assert clean_stale(tmp_path) == [] and other.exists()
    os.utime(other, (0, 0))
    assert clean_stale(tmp_path) == [other]


def test_a_full_disk_while_writing_the_index_stops_with_one_line_and_no_temporary(tmp_path, monkeypatch):
    """The index lives on disk (every image's counts at every threshold beside it): a disk that fills up while it
    is written stops the run with one line and no temporary file; the next run builds it and writes the sweep."""
    import segviewer.core.index_cache as index_cache
    base = make_base(tmp_path / "data", n=2)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(index_cache.np, "savez", full)
    result = run_cli("sweep", *data_args(base), "--out", tmp_path / "s.csv", "--steps", "10")
    assert result.returncode == 2 and "the disk is full" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "s.csv").exists()
    assert temporaries(tmp_path) == []
    monkeypatch.undo()
    result = run_cli("sweep", *data_args(base), "--out", tmp_path / "s.csv", "--steps", "10")
    assert result.returncode == 0 and (tmp_path / "s.csv").is_file(), result.stderr


@pytest.mark.parametrize("length", [200, 251, 400])
def test_a_long_image_name_gets_a_shortened_figure_and_every_output(tmp_path, length):
    base = make_base(tmp_path / "data", n=2)
    long = "x" * (length - 1) + "0"
    for kind in ("gt", "pred"):
        src = base[f"{kind}0"]
        name = long[:250] if length > 251 else long
        src.rename(src.with_name(name + src.suffix))
    figs = tmp_path / "figs"
    result = run_cli("export", *data_args(base), "--out", tmp_path / "o.csv", "--per-image", tmp_path / "pi.csv",
                     "--figures", figs, "--worst", "2")
    assert result.returncode == 0, result.stderr
    names = sorted(os.listdir(figs))
    assert len(names) == 2 and all(len(n.encode()) <= 255 and n.endswith(".png") for n in names)
    assert (tmp_path / "o.csv").is_file() and (tmp_path / "pi.csv").is_file()


def test_an_output_name_longer_than_a_file_name_may_be_is_refused_before_work(tmp_path):
    base = make_base(tmp_path / "data")
    refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / ("o" * 300 + ".csv")], "--out", "255 bytes")


def test_an_output_named_like_segviewers_temporaries_is_refused(tmp_path):
    base = make_base(tmp_path / "data")
    refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / f"{TEMP_PREFIX}mine.csv"], "--out",
            "temporary files")


@pytest.mark.parametrize("companion", ["-shm", "-journal"])
def test_qa_report_into_a_companion_the_session_does_not_have_yet(tmp_path, companion):
    session = tmp_path / "qa.sqlite"
    make_session(session)
    refused(tmp_path, ["qa-report", "--session", session, "--out", f"{session}{companion}"], "--out",
            "QA session")


def test_an_output_named_like_the_journal_of_another_database(tmp_path):
    """Not this run's session, but SQLite would take the file for that database's hot journal."""
    base = make_base(tmp_path / "data")
    other = tmp_path / "other-team.sqlite"
    make_session(other)
    refused(tmp_path, ["export", *data_args(base), "--out", f"{other}-journal"], "--out", "other-team.sqlite")


def test_a_report_never_replaces_an_array_or_an_image(tmp_path):
    """qa-report without a dataset does not know the data's files: a CSV still never replaces a .npy or a PNG."""
    session = tmp_path / "qa.sqlite"
    make_session(session)
    array = tmp_path / "keep.csv"
    np.save(tmp_path / "a.npy", np.zeros(3))
    os.replace(tmp_path / "a.npy", array)          # an array under a CSV's name
    refused(tmp_path, ["qa-report", "--session", session, "--out", array], "--out", "NumPy array")


def test_save_logits_over_a_fifo_counts_nothing(tmp_path):
    import torch
    import segviewer
    os.mkfifo(tmp_path / "b.npy")
    ev = segviewer.Evaluator(num_classes=3, save_logits_to=tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(segviewer.LoadError, match="not a regular file"):
        ev.update(torch.zeros(2, 3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long), names=["a", "b"])
    assert_untouched(before, snapshot(tmp_path))
    assert ev._names == []


def test_evaluator_to_csv_writes_both_files_or_neither(tmp_path):
    import torch
    import segviewer
    ev = segviewer.Evaluator(num_classes=3)
    ev.update(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long))
    (tmp_path / "pc.csv").write_text("class_id,old\n")
    with pytest.raises(segviewer.LoadError, match="per_image"):
        ev.to_csv(tmp_path / "pc.csv", per_image=tmp_path)          # a folder: refused before either is written
    assert (tmp_path / "pc.csv").read_text() == "class_id,old\n"
    ev.to_csv(tmp_path / "pc.csv", per_image=tmp_path / "pi.csv")
    assert next(csv.reader(open(tmp_path / "pi.csv")))[0] == "image"


def test_strict_makes_a_bad_photo_end_the_run_as_any_bad_file_does(tmp_path):
    """A photo read only for --figures was 'skipped' under --strict, and the run exited 0."""
    base = make_base(tmp_path / "data", n=2)
    photos = tmp_path / "data" / "images"
    photos.mkdir()
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(photos / "img0.png")
    (photos / "img1.png").write_bytes(b"junk")
    args = ["export", *data_args(base), "--images", photos, "--out", tmp_path / "o.csv", "--figures",
            tmp_path / "figs", "--worst", "2"]
    refused(tmp_path, [*args, "--strict"], str(photos / "img1.png"))
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "figs").exists()
    result = run_cli(*args)                          # without --strict: said, and its figure drawn without it
    assert result.returncode == 0 and result.stderr.startswith(f"segviewer: skipped {photos / 'img1.png'}: ")
    assert len(list((tmp_path / "figs").glob("*.png"))) == 2
