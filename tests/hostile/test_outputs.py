"""Output paths: never over an input or another output, never into a device, FIFO or folder; a failed write leaves
the old file. Also `demo DIR` on a folder that is not an earlier demo, and out-of-range numbers."""
import errno
import os

import pytest
from PIL import Image

from hostile_kit import data_args, make_base, refused, snapshot
from helpers import run_cli


def with_images(base):
    (base["root"] / "images").mkdir()
    Image.new("RGB", (8, 8)).save(base["root"] / "images" / "img0.png")
    return ["--images", base["root"] / "images"]


def setup_link(base, tmp_path, kind):
    link = tmp_path / "link.csv"
    if kind == "symlink":
        link.symlink_to(base["gt0"])
    else:
        os.link(base["pred0"], link)
    return link


OUTPUTS = {
    # name: (command, extra args builder(base, tmp) -> list, reason, name in the message)
    "export-out-is-gt": ("export", lambda b, t: ["--out", b["gt0"]], "(ground truth)"),
    "export-out-is-logits": ("export", lambda b, t: ["--out", b["pred0"]], "would overwrite an input"),
    "export-out-is-class-file": ("export", lambda b, t: ["--out", b["classes"]], "(the class file)"),
    "export-per-image-is-class-file": ("export", lambda b, t: ["--out", t / "o.csv", "--per-image", b["classes"]],
                                       "--per-image would overwrite an input"),
    "export-per-image-equals-out": ("export", lambda b, t: ["--out", t / "o.csv", "--per-image", t / "o.csv"],
                                    "are the same file"),
    "export-out-symlink-to-gt": ("export", lambda b, t: ["--out", setup_link(b, t, "symlink")], "(ground truth)"),
    "export-out-hardlink-to-logits": ("export", lambda b, t: ["--out", setup_link(b, t, "hardlink")], "(predictions)"),
    "export-out-is-image": ("export", lambda b, t: [*with_images(b), "--out", b["root"] / "images" / "img0.png"],
                            "(images)"),
    "export-out-is-a-folder": ("export", lambda b, t: ["--out", t], "is a folder"),
    "export-out-dev-full": ("export", lambda b, t: ["--out", "/dev/full"], "not a regular file"),
    "export-out-dev-null": ("export", lambda b, t: ["--out", "/dev/null"], "not a regular file"),
    "export-out-fifo": ("export", lambda b, t: (os.mkfifo(t / "pipe.csv"), ["--out", t / "pipe.csv"])[1],
                        "not a regular file"),
    "export-out-under-a-file": ("export", lambda b, t: ["--out", b["classes"] / "o.csv"], "is a file"),
    "export-out-new-png-in-gt": ("export", lambda b, t: ["--out", b["gt"] / "new.png"], "read as part of the dataset"),
    "export-out-in-cache-folder": ("export", lambda b, t: ["--out", b["root"] / ".segviewer" / "o.csv"],
                                   "cache folder"),
    "export-figures-in-gt": ("export", lambda b, t: ["--out", t / "o.csv", "--figures", b["gt"]],
                             "ground truth folder"),
    "export-figures-is-a-file": ("export", lambda b, t: ["--out", t / "o.csv", "--figures", b["classes"]],
                                 "must be a folder"),
    "sweep-out-is-logits": ("sweep", lambda b, t: ["--out", b["pred0"]], "would overwrite an input"),
    "sweep-best-equals-out": ("sweep", lambda b, t: ["--out", t / "s.csv", "--best", t / "s.csv"], "same file"),
    "sweep-plot-bad-extension": ("sweep", lambda b, t: ["--out", t / "s.csv", "--plot", t / "p.xyz"],
                                 "unknown file type '.xyz'"),
    "sweep-plot-no-extension": ("sweep", lambda b, t: ["--out", t / "s.csv", "--plot", t / "plot"], "unknown file type"),
    "sweep-plot-is-gt": ("sweep", lambda b, t: ["--out", t / "s.csv", "--plot", b["gt0"]], "ground truth"),
    "sweep-best-is-class-file": ("sweep", lambda b, t: ["--out", t / "s.csv", "--best", b["classes"]], "class file"),
}


@pytest.mark.parametrize("command,extra,reason", OUTPUTS.values(), ids=OUTPUTS.keys())
def test_unsafe_output_is_refused_before_any_work(tmp_path, command, extra, reason):
    base = make_base(tmp_path / "data")
    args = [command, *data_args(base), *extra(base, tmp_path)]
    refused(tmp_path, args, reason)


@pytest.mark.parametrize("code,words", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only"),
                                        (errno.EACCES, "permission denied"), (errno.EIO, "input/output error")])
def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch, code, words):
    base = make_base(tmp_path / "data")
    out = tmp_path / "o.csv"
    out.write_text("class_id,old results\n")
    import segviewer.core.output_run as outputs

    def fail(*_):
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(outputs.os, "replace", fail)
    line = refused(tmp_path, ["export", *data_args(base), "--out", out], "o.csv", words)
    assert "unchanged" in line and out.read_text() == "class_id,old results\n"


def test_write_into_a_missing_folder_works_and_is_atomic(tmp_path):
    base = make_base(tmp_path / "data")
    out = tmp_path / "new" / "deeper" / "o.csv"
    assert run_cli("export", *data_args(base), "--out", out).returncode == 0
    assert out.read_text().startswith("class_id,") and os.listdir(out.parent) == ["o.csv"]


def user_dataset(root):
    make_base(root)


DEMO_DIRS = {
    "a-user-dataset": (user_dataset, "not segviewer's demo"),
    "one-stray-file": (lambda r: (r.mkdir(), (r / "notes.txt").write_text("mine")), "not segviewer's demo"),
    "garbage-stamp": (lambda r: (r.mkdir(), (r / "demo.json").write_text("{nope")), "not segviewer's"),
    "user-file-in-gt": (lambda r: ((r / "gt").mkdir(parents=True), (r / "gt" / "mine.png").write_bytes(b"x")),
                        "gt/mine.png"),
    "is-a-file": (lambda r: r.write_text("x"), "is a file"),
    "under-a-file": (lambda r: r.parent.joinpath("f").write_text("x"), "is a file"),
}


@pytest.mark.parametrize("make,reason", DEMO_DIRS.values(), ids=DEMO_DIRS.keys())
def test_demo_refuses_a_folder_that_is_not_an_earlier_demo(tmp_path, make, reason):
    target = tmp_path / "d"
    make(target)
    if not target.parent.joinpath("f").exists():
        arg = target
    else:
        arg = tmp_path / "f" / "d"
    refused(tmp_path, ["demo", arg, "--no-gui"], reason)


def test_demo_reuses_its_own_folder(tmp_path):
    from segviewer.core.demo import write_demo
    write_demo(tmp_path / "d", n_images=2, size=(16, 16))
    (tmp_path / "d" / ".segviewer").mkdir()   # the cache of a window that opened it
    before = snapshot(tmp_path)
    write_demo(tmp_path / "d", n_images=2, size=(16, 16))
    assert snapshot(tmp_path) == before
    (tmp_path / "d" / "demo.json").unlink()   # an interrupted demo is written again
    write_demo(tmp_path / "d", n_images=2, size=(16, 16))
    assert snapshot(tmp_path) == before


NUMBERS = {
    "steps-1e9": ("sweep", ["--steps", "1000000000", "--out", "s.csv"], "--steps"),
    "num-classes-1e8": ("export", ["--num-classes", "100000000", "--out", "o.csv"], "--num-classes"),
    "ignore-index-1e20": ("export", ["--ignore-index", "1e20", "--out", "o.csv"], "--ignore-index"),
    "ignore-index-70000": ("export", ["--ignore-index", "70000", "--out", "o.csv"], "--ignore-index"),
    "beta-negative": ("export", ["--beta", "-1", "--out", "o.csv"], "--beta"),
    "smooth-negative": ("export", ["--smooth", "-1", "--out", "o.csv"], "--smooth"),
    "worst-zero": ("export", ["--worst", "0", "--figures", "f", "--out", "o.csv"], "--worst"),
    "threshold-nan": ("export", ["--threshold", "nan", "--out", "o.csv"], "--threshold"),
    "threshold-1.5": ("export", ["--threshold", "1.5", "--out", "o.csv"], "--threshold"),
    "threshold-count": ("export", ["--threshold", "0.5,0.5", "--out", "o.csv"], "--threshold"),
}


@pytest.mark.parametrize("command,extra,option", NUMBERS.values(), ids=NUMBERS.keys())
def test_out_of_range_numbers_are_refused(tmp_path, command, extra, option):
    base = make_base(tmp_path / "data")
    before = snapshot(tmp_path)
    result = run_cli(command, *data_args(base), *[tmp_path / a if a.endswith(".csv") else a for a in extra])
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]   # argparse puts its usage above the one error line
    assert "error:" in last and option in last and "Traceback" not in result.stderr
    assert snapshot(tmp_path) == before


def test_a_writer_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path):
    from segviewer.core.csv_text import write_rows
    out = tmp_path / "o.csv"
    out.write_text("h,old\n")
    os.chmod(out, 0o640)

    def rows():
        yield ["a"]
        raise RuntimeError("the computation broke")
    with pytest.raises(RuntimeError):
        write_rows(out, ["h"], rows())
    assert out.read_text() == "h,old\n" and os.listdir(tmp_path) == ["o.csv"]
    write_rows(out, ["h"], [["=1+1"], ["caf\udce9"]])
    assert out.read_text(encoding="utf-8").splitlines() == ["h", "=1+1", "caf\ufffd"]
    assert os.stat(out).st_mode & 0o777 == 0o640   # the old file's permissions are kept


@pytest.mark.parametrize("name", ["classes.json", "classes.toml", "demo.json", "dataset.json"])
def test_a_csv_never_takes_a_dataset_files_name(tmp_path, name):
    """Without --classes the run does not read the folder's class file, so only its kind protects it: a CSV is
    never named like a JSON or TOML file, existing or not (the folder would no longer open)."""
    base = make_base(tmp_path / "data")
    target = base["root"] / name
    if name != "classes.json":
        target.write_text('{"labels": {"background": 0}}' if name.endswith(".json") else 'names = ["a", "b"]\n')
    (base["root"] / "new").mkdir()
    for out in (target, base["root"] / "new" / name):      # an existing one, and a new one
        refused(tmp_path, ["export", "--gt", base["gt"], "--logits", base["pred"], "--out", out],
                str(out), f"--out writes a CSV table, and {out.suffix} is another kind of file's extension")


@pytest.mark.parametrize("content", ['{"ignore_index": 255, "names": ["a", "b"]}\n', "names:\n  - road\n",
                                     "Notes, to keep\n", "class_id\n", "\x00\x01binary", "caf\xe9,x\n"])
def test_a_csv_replaces_only_a_csv_segviewer_could_have_written(tmp_path, content):
    """An existing file whose name says nothing (`results`) is replaced only when it reads as one of segviewer's
    tables: a header of two columns or more, the first a lower-case name."""
    base = make_base(tmp_path / "data")
    out = tmp_path / "results"
    out.write_bytes(content.encode("latin-1"))
    refused(tmp_path, ["export", *data_args(base), "--out", out], "results",
            "--out is not a CSV table segviewer writes")


def test_a_csv_replaces_the_one_an_earlier_run_wrote(tmp_path):
    base = make_base(tmp_path / "data")
    out = tmp_path / "results"
    (tmp_path / "empty.csv").touch()
    for target in (out, out, tmp_path / "empty.csv"):
        result = run_cli("export", *data_args(base), "--out", target, "--threshold", "0.3")
        assert result.returncode == 0, result.stderr
        assert target.read_text().startswith("class_id,class_name,gt_pixels,")


def test_every_header_segviewer_writes_reads_as_one_of_its_tables(tmp_path):
    """The rule above must let every CSV segviewer writes be written again: each module's *_COLUMNS header (and
    the reviewer table, whose columns after the first three are the session's statuses)."""
    import importlib
    import pkgutil
    import segviewer.core
    from segviewer.core.output_kinds import reads_as_table
    from segviewer.core.csv_text import write_rows
    headers = []
    for info in pkgutil.iter_modules(segviewer.core.__path__):
        module = importlib.import_module(f"segviewer.core.{info.name}")
        headers += [v for k, v in vars(module).items() if k.endswith("COLUMNS") and isinstance(v, tuple)
                    and all(isinstance(c, str) for c in v)]
    from segviewer.core.qa_report import REVIEWER_COLUMNS
    headers.append((*REVIEWER_COLUMNS, "needs fix", "=odd, \"status\""))
    assert len(headers) >= 20, headers
    for i, header in enumerate(headers):
        path = tmp_path / f"{i}.csv"
        write_rows(path, header, [["x"] * len(header)])
        assert reads_as_table(path), header


@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_a_demo_into_a_link_to_nothing_names_the_link(tmp_path, kind):
    """The 3-D demo made its folders before the gate saw the path, and said 'already exists'."""
    (tmp_path / "link").symlink_to(tmp_path / "nowhere" / "x")
    refused(tmp_path, ["demo", tmp_path / "link", "--no-gui", *(["--3d"] if kind == "3d" else [])],
            f"{tmp_path / 'link'} is a symbolic link to {tmp_path / 'nowhere' / 'x'}, which does not exist")
    assert not (tmp_path / "nowhere").exists()
