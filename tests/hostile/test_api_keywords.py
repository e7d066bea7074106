"""The API's keywords a careless script passes, found by a review: each is an OptionError at the door (or does what
it says), never a TypeError later, a silently different ignore id, or a saved folder that disagrees with the
Evaluator's numbers."""
import numpy as np
import pytest
import torch

import segviewer
from helpers import run_cli
from hostile_kit import C, H, W, make_base, write_logits
from segviewer.core.errors import OptionError

BATCH = (torch.randn(2, C, 4, 5, generator=torch.Generator().manual_seed(0)),
         torch.randint(0, C, (2, H, W), generator=torch.Generator().manual_seed(1)))


def class_zero_everywhere_but_one_pixel(base):
    """Ground truth of class 0 but for one pixel of class 1; the logits predict class 1 everywhere."""
    from helpers import save_label
    gt = np.zeros((H, W), np.uint8)
    gt[0, 0] = 1
    save_label(base["gt0"], gt)
    logits = np.zeros((C, H, W), np.float32)
    logits[1] = 5.0
    write_logits(base["pred0"], logits)
    return gt, torch.from_numpy(logits)


def test_ignore_index_zero_is_kept_with_a_class_count(tmp_path):
    """ignore_index=0 beside num_classes (no class file) was read as "no ignore id given": 255, and the 63 class-0
    pixels were counted as 63 FP of class 1 instead of being ignored."""
    base = make_base(tmp_path / "data")
    gt, logits = class_zero_everywhere_but_one_pixel(base)
    with segviewer.open(gt=base["gt"], logits=base["pred"], num_classes=C, ignore_index=0) as ins:
        assert ins.classes.ignore_index == 0
        api = ins.dataset_scores()
    assert api[["tp", "fp", "fn"]].values.tolist() == [[0, 0, 0], [1, 0, 0], [0, 0, 0]]
    ev = segviewer.Evaluator(num_classes=C, ignore_index=0)
    ev.update(logits[None], torch.from_numpy(gt)[None].long())
    assert ev.compute()[["tp", "fp", "fn"]].values.tolist() == [[0, 0, 0], [1, 0, 0], [0, 0, 0]]
    out = tmp_path / "o.csv"
    result = run_cli("export", "--gt", base["gt"], "--logits", base["pred"], "--num-classes", C, "--ignore-index", "0",
                     "--out", out)
    assert result.returncode == 0, result.stderr
    import csv
    rows = list(csv.DictReader(open(out)))[:C]
    assert [(int(r["tp"]), int(r["fp"]), int(r["fn"])) for r in rows] == [(0, 0, 0), (1, 0, 0), (0, 0, 0)]


def test_a_whole_float_class_count_is_that_count(tmp_path):
    base = make_base(tmp_path / "data")
    with segviewer.open(gt=base["gt"], logits=base["pred"], num_classes=float(C), ignore_index=255.0) as ins:
        assert ins.classes.num_classes == C and len(ins.dataset_scores()) == C


OPEN_KEYWORDS = {
    "strip_suffixes-None": (dict(strip_suffixes=None), "strip_suffixes"),
    "gt-a-number": (dict(gt=3), "gt=3"),
    "classes-a-count": (dict(classes=5), "num_classes="),
    "classes-a-list": (dict(classes=["a", "b", "c"]), "num_classes="),
    "both-model-bs": (dict(compare="x", compare_masks="y"), "not both"),
}


@pytest.mark.parametrize("keywords,words", OPEN_KEYWORDS.values(), ids=OPEN_KEYWORDS.keys())
def test_open_refuses_keywords_that_broke_later(tmp_path, keywords, words):
    base = make_base(tmp_path / "data")
    with pytest.raises(OptionError, match=words):
        segviewer.open(**{"gt": base["gt"], "logits": base["pred"], **keywords})


EVALUATOR_KEYWORDS = {
    "align_corners-text": dict(align_corners="no"), "align_corners-None": dict(align_corners=None),
    "keep_index-text": dict(keep_index="no"), "per_image_index-3": dict(per_image_index=3),
    "num_classes-3.5": dict(num_classes=3.5), "ignore_index-text": dict(ignore_index="x"),
    "ignore_index-minus-5": dict(ignore_index=-5), "ignore_index-2**40": dict(ignore_index=2**40),
    "save_logits_to-a-number": dict(save_logits_to=3),
}


@pytest.mark.parametrize("keywords", EVALUATOR_KEYWORDS.values(), ids=EVALUATOR_KEYWORDS.keys())
def test_the_evaluator_refuses_at_the_door_what_broke_in_update(keywords):
    with pytest.raises(OptionError, match=next(iter(keywords))):
        segviewer.Evaluator(**keywords).update(*BATCH)


@pytest.mark.parametrize("logits,target", [(torch.zeros(1, C, 0, 5), torch.zeros(1, H, W, dtype=torch.long)),
                                           (torch.zeros(1, C, 4, 5), torch.zeros(1, 0, 0, dtype=torch.long))],
                         ids=["no-logit-pixels", "no-target-pixels"])
def test_a_batch_of_empty_images_is_refused_in_one_line(logits, target):
    with pytest.raises(OptionError, match="at least one class and one pixel"):
        segviewer.Evaluator(num_classes=C).update(logits, target)


def test_float64_logits_beyond_float32_are_refused_not_scored_as_nan():
    """1e300 is finite in float64 but inf in float32, where segviewer computes: its softmax is NaN and scored
    nothing (every class F-beta ~0) without a word."""
    logits = BATCH[0].double()
    logits[1, 0, 0, 0] = 1e300
    ev = segviewer.Evaluator(num_classes=C)
    with pytest.raises(OptionError, match="'000001'.*1e\\+300.*float32.*nothing of this batch"):
        ev.update(logits, BATCH[1])
    with pytest.raises(OptionError, match="no images"):
        ev.compute()


def test_a_name_saved_by_an_earlier_batch_is_refused(tmp_path):
    """The second batch's 'p' would replace the first's file while the Evaluator counted both: `segviewer export`
    over the folder would then differ from the Evaluator's CSV."""
    folder = tmp_path / "val_logits"
    ev = segviewer.Evaluator(num_classes=C, save_logits_to=folder)
    ev.update(*BATCH, names=["p", "q"])
    first = (folder / "p.npy").read_bytes()
    with pytest.raises(OptionError, match="'p' was already saved"):
        ev.update(BATCH[0] * 2, BATCH[1], names=["p", "r"])
    assert (folder / "p.npy").read_bytes() == first and not (folder / "r.npy").exists()
    assert ev.names == ["p", "q"]


SAVE_LOGITS = {
    "name-None": (None, torch.zeros(C, 2, 2)), "name-a-number": (5, torch.zeros(C, 2, 2)),
    "name-with-NUL": ("x\0y", torch.zeros(C, 2, 2)), "name-a-folder": ("sub/", torch.zeros(C, 2, 2)),
    "name-a-dot": (".", torch.zeros(C, 2, 2)), "numpy-array": ("a", np.zeros((C, 2, 2), np.float32)),
    "integer-tensor": ("a", torch.zeros(C, 2, 2, dtype=torch.int64)),
    "complex-tensor": ("a", torch.zeros(C, 2, 2, dtype=torch.complex64)),
}


@pytest.mark.parametrize("name,logits", SAVE_LOGITS.values(), ids=SAVE_LOGITS.keys())
def test_save_logits_refuses_names_and_arrays_it_cannot_save_as_given(tmp_path, name, logits):
    with pytest.raises(OptionError, match="save_logits"):
        segviewer.save_logits(tmp_path / "out", name, logits)
    assert not (tmp_path / "out").exists()


ENGINE_CALLS = {
    "boundary-width-0": (lambda ins: ins.boundary.table(width=0), "width 0"),
    "boundary-width-negative": (lambda ins: ins.boundary.table(image=0, width=-3), "width -3"),
    "boundary-width-text": (lambda ins: ins.boundary.table(width="3"), "width '3'"),
    "boundary-width-half": (lambda ins: ins.boundary.table(width=2.5), "width 2.5"),
    "boundary-tolerance-negative": (lambda ins: ins.boundary.table(tolerance=-1), "tolerance -1"),
    "boundary-tolerance-nan": (lambda ins: ins.boundary.table(image=0, tolerance=float("nan")), "tolerance nan"),
    "boundary-tolerance-None": (lambda ins: ins.boundary.dataset(tolerance=None), "tolerance None"),
    "reliability-class-text": (lambda ins: ins.calibration.reliability("a"), "class_id 'a'"),
    "images-class-out-of-range": (lambda ins: ins.images(class_id=C), f"class_id {C}"),
    "images-class-minus-2": (lambda ins: ins.images(class_id=-2), "class_id -2"),
    "overlay-class-out-of-range": (lambda ins: ins.load(0).overlay(ins.scoring, C), f"class_id {C}"),
    "overlay-unknown-view": (lambda ins: ins.load(0).overlay(ins.scoring, view="bogus"), "view 'bogus'"),
    "best-thresholds-scoring-a-number": (lambda ins: ins.best_thresholds(scoring=3), "scoring 3: must be"),
    "image-counts-scoring-text": (lambda ins: ins.image_counts(0, scoring="a"), "scoring 'a': must be"),
    "dataset-not-a-dataset": (lambda ins: setattr(ins, "dataset", 3), "dataset 3"),
    "compare-overlay-class": (lambda ins: ins.compare.overlay(0, C), f"class_id {C}"),
    "compare-deltas-class": (lambda ins: ins.compare.deltas(class_id=C), f"class_id {C}"),
}


@pytest.mark.parametrize("call,words", ENGINE_CALLS.values(), ids=ENGINE_CALLS.keys())
def test_the_engines_keywords_are_checked_at_the_door(tmp_path, call, words):
    """Each was an IndexError, TypeError, AttributeError or a silent NaN (width 0, a negative tolerance)."""
    base = make_base(tmp_path / "data")
    with segviewer.open(gt=base["gt"], logits=base["pred"], compare=base["pred"]) as ins:
        with pytest.raises(OptionError, match=words):
            call(ins)


def test_a_huge_nsd_tolerance_is_every_edge_pixel_without_warnings(tmp_path, recwarn):
    """1e308 overflowed float32 (a RuntimeWarning per class and image on stderr): past every distance it counts
    every edge pixel as close, NSD 1 wherever both masks have the class."""
    base = make_base(tmp_path / "data")
    with segviewer.open(gt=base["gt"], logits=base["pred"]) as ins:
        table = ins.boundary.table(image=0, tolerance=1e308)
        wide = ins.boundary.table(image=0, tolerance=1e6)
    assert [w for w in recwarn if issubclass(w.category, RuntimeWarning)] == []
    assert table["nsd"].tolist() == wide["nsd"].tolist() and set(table["nsd"].dropna()) <= {0.0, 1.0}
    assert (table["nsd"] == 1.0).any()
