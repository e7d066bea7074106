"""The engine's new faces against hostile input: every command's --strict and cluster options (compare and
label-issues gained them), the engine's settings, keys and lifetime, the Evaluator's classes=. One line each,
exit 2 in the CLI, nothing written; a plain OptionError (or LoadError naming the file) in the API."""
import numpy as np
import pytest
import torch

import segviewer
from hostile_kit import data_args, make_base, refused
from segviewer.core.errors import ClosedError, OptionError


def test_strict_compare_and_label_issues_stop_at_the_first_bad_file(tmp_path):
    base = make_base(tmp_path / "data", n=3)
    other = make_base(tmp_path / "b", n=3)
    (other["pred"] / "img1.npy").write_bytes(b"not an array")
    refused(tmp_path, ["compare", *data_args(base), "--compare", other["pred"], "--strict",
                       "--out", tmp_path / "c.csv"], "img1.npy")
    (base["pred"] / "img2.npy").write_bytes(b"not an array either")
    refused(tmp_path, ["label-issues", *data_args(base), "--strict", "--out", tmp_path / "l.csv"], "img2.npy")


@pytest.mark.parametrize("command", ["compare", "label-issues"])
def test_a_scheduler_that_is_no_scheduler_is_refused_by_every_command(tmp_path, command):
    import socket
    base = make_base(tmp_path / "data", n=2)
    with socket.socket() as closed:          # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    extra = ["--compare", base["pred"]] if command == "compare" else []
    refused(tmp_path, [command, *data_args(base), *extra, "--scheduler", f"tcp://127.0.0.1:{port}",
                       "--out", tmp_path / "o.csv"], f"127.0.0.1:{port}")


def test_the_engines_settings_keys_and_lifetime_refuse_bad_input(tmp_path):
    base = make_base(tmp_path / "data", n=2)
    ins = segviewer.open(gt=base["gt"], logits=base["pred"], classes=base["classes"])
    for bad in ("0.5", 0.5, None, {"threshold": 0.3}):
        with pytest.raises(OptionError, match="must be a segviewer.Scoring"):
            ins.scoring = bad
    with pytest.raises(OptionError, match="must be a segviewer.Scoring"):
        ins.compare_scoring = "argmax"
    for kind in ("", "overlay ", "Overlay", None):
        with pytest.raises(OptionError, match="unknown kind"):
            ins.key(kind)
    with pytest.raises(OptionError, match="source 'disk'"):
        ins.dataset_counts(source="disk")
    with pytest.raises(OptionError, match="no second model"):
        ins.compare.table()
    ins.scoring = segviewer.Scoring(threshold=(0.2, 0.4, 0.6))
    small = make_base(tmp_path / "two", n=1)
    (small["classes"]).write_text('{"names": ["a", "b"]}')
    np.save(small["pred0"], np.zeros((2, 8, 8), np.float32))
    with segviewer.open(gt=small["gt"], logits=small["pred"], classes=small["classes"]) as two:
        with pytest.raises(OptionError, match="3 thresholds for 2 classes"):
            ins.dataset = two.dataset       # refused before anything changes
    assert len(ins.classes.names) == 3 and ins.scoring.threshold == (0.2, 0.4, 0.6)
    ins.close()
    with pytest.raises(ClosedError) as err:
        ins.image_scores(0)
    assert "\n" not in str(err.value) and isinstance(err.value, ValueError)


def test_the_evaluators_classes_refuse_what_is_no_class_list():
    for bad, match in ((0, "class count"), (-3, "class count"), (70_000, "class count"), (True, "a list"),
                       (2.5, "a list"), ({"a": 1}, "a list"), ([], "no classes"), ([None, "b"], "not text"),
                       ([["a"], "b"], "not text")):
        with pytest.raises(OptionError, match=match):
            segviewer.Evaluator(classes=bad)
    ev = segviewer.Evaluator(classes=["a", "b"])
    with pytest.raises(OptionError, match="wrong number of classes"):
        ev.update(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long))


@pytest.mark.parametrize("masks,wrong_flag,hint", [(True, "--logits", "open it as masks (--masks)"),
                                                   (False, "--masks", "open it as logits (--logits)")])
def test_a_prediction_folder_of_the_other_kind_says_which_flag_reads_it(tmp_path, masks, wrong_flag, hint):
    base = make_base(tmp_path / "data", n=2, masks=masks)
    line = refused(tmp_path, ["export", *data_args(base, wrong_flag), "--out", tmp_path / "o.csv"],
                   str(base["pred"]), hint)
    lacks, holds = ("logit files (.npy, .npz, .pt, .pth)", "masks (.png)") if masks else ("masks (.png)", "logit files")
    assert line == f"segviewer: error: {base['pred']}: no {lacks} found; it holds {holds}: {hint}"
