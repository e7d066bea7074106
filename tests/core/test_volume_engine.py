"""3-D cases through the engine and the API: a volume is one image; its counts equal nnU-Net's evaluation and MONAI's
DiceMetric; the index keeps one histogram per case; slabs, a band, per-slice counts, the activation of nnU-Net's
probabilities, dataset.json's classes and ignore label, calibration, label issues, compare and the Evaluator."""
import numpy as np
import pytest
import torch

import segviewer
from helpers import VOLUME_IGNORE as IGNORE, VOLUME_LABELS as LABELS, VOLUME_SHAPE as SHAPE, \
    make_volume_dataset, random_volume_cases
from reference import nnunet_compute_metrics, nnunet_summary
from segviewer import OptionError, Scoring
from segviewer.core import volume_sample
from segviewer.core.counts import prepare_target, count_threshold
from segviewer.core.regions import boundary_band, restrict_target

C = 4


@pytest.fixture(scope="module")
def cases():
    return random_volume_cases()


@pytest.fixture(scope="module")
def folder(cases, tmp_path_factory):
    return make_volume_dataset(tmp_path_factory.mktemp("nnunet"), cases, labels=LABELS)


def test_open_finds_the_nnunet_folder_its_classes_and_ignore_label(folder):
    with segviewer.open(folder=folder) as ins:
        assert ins.dataset.volumes and ins.names == ["case_a", "case_b", "case_c", "case_d"]
        assert ins.classes.names == ("background", "liver", "kidney", "tumour") and ins.classes.ignore_index == IGNORE
        assert ins.dataset.options.activation == "auto"


def test_cases_score_as_nnunets_evaluation_through_the_api(folder, cases):
    """Per case and class tp/fp/fn and Dice of the argmax equal nnU-Net's compute_metrics (Dice NaN where a class
    is in neither mask); the per-case mean equals its summary, foreground_mean included."""
    per_case = {}
    with segviewer.open(folder=folder, scoring=Scoring(argmax=True, smooth=0.0)) as ins:
        for name, (gt, probs) in cases.items():
            ref = nnunet_compute_metrics(gt, probs.argmax(0), range(C), ignore_label=IGNORE)
            per_case[name] = ref
            table = ins.image_scores(name)
            for c in range(C):
                assert (table.tp[c], table.fp[c], table.fn[c]) == (ref[c]["TP"], ref[c]["FP"], ref[c]["FN"])
                np.testing.assert_allclose(table.dice[c], ref[c]["Dice"], rtol=1e-12, equal_nan=True)
        assert np.isnan(ins.image_scores("case_b").dice[2])         # kidney in neither mask of case_b
        means, foreground = nnunet_summary(list(per_case.values()), range(C))
        case_mean = ins.dataset_scores(aggregation="case_mean")
        np.testing.assert_allclose(case_mean.dice, [means[c]["Dice"] for c in range(C)], rtol=1e-12)
        np.testing.assert_allclose(case_mean.iou, [means[c]["IoU"] for c in range(C)], rtol=1e-12)
        np.testing.assert_allclose(np.mean(case_mean.dice[1:]), foreground["Dice"], rtol=1e-12)
        pooled = ins.dataset_scores(aggregation="pooled")
        tp = np.array([sum(r[c]["TP"] for r in per_case.values()) for c in range(C)])
        fp = np.array([sum(r[c]["FP"] for r in per_case.values()) for c in range(C)])
        fn = np.array([sum(r[c]["FN"] for r in per_case.values()) for c in range(C)])
        np.testing.assert_allclose(pooled.dice, 2 * tp / (2 * tp + fp + fn), rtol=1e-12)
        assert not np.allclose(pooled.dice, case_mean.dice)


@pytest.mark.parametrize("threshold", [0.3, 0.5])
def test_dice_equals_monais_dice_metric_through_the_api(folder, cases, threshold):
    from monai.metrics import DiceMetric
    names = list(cases)
    preds = torch.stack([torch.from_numpy(cases[n][1] > threshold).float() for n in names])
    gts = []
    for n in names:
        gt = torch.from_numpy(cases[n][0].astype(np.int64))
        gts.append(torch.stack([(gt == c) for c in range(C)]).float())
    valid = torch.stack([torch.from_numpy(cases[n][0] != IGNORE) for n in names])[:, None]
    metric = DiceMetric(include_background=True, reduction="none", ignore_empty=False)
    metric(preds * valid, torch.stack(gts) * valid)         # MONAI scores the valid voxels only, as segviewer
    monai = metric.aggregate().double().numpy()
    with segviewer.open(folder=folder, scoring=Scoring(threshold=threshold, smooth=0.0)) as ins:
        ours = np.stack([ins.image_scores(n).dice.to_numpy() for n in names])
    absent = np.isnan(ours)
    np.testing.assert_allclose(ours[~absent], monai[~absent], rtol=1e-6)     # MONAI divides in float32
    assert (monai[absent] == 1).all()            # MONAI (ignore_empty=False) scores a class in neither mask 1


def test_the_index_holds_one_row_per_case_equal_to_a_pass(folder):
    with segviewer.open(folder=folder) as ins:
        index = ins.index()
        assert index.names == ins.names and index.loaded.tolist() == [True] * 4
        for t in (0.25, 0.5, 0.8):
            s = Scoring(threshold=t)
            indexed, passed = ins.dataset_counts(s), ins.dataset_counts(s, source="pass")
            for k in ("tp", "fp", "fn"):
                assert torch.equal(getattr(indexed.per_image, k), getattr(passed.per_image, k))
        for name in ins.names:
            assert torch.equal(ins.image_counts(name, Scoring(argmax=True)).tp,
                               ins.load(name).counts(Scoring(argmax=True)).tp)


def test_slabs_add_up_to_the_whole_case(folder, monkeypatch):
    """A case counted, indexed, calibrated and scanned a few slices at a time equals the whole case at once."""
    with segviewer.open(folder=folder) as ins:
        whole = (ins.dataset_counts(source="pass"), ins.calibration.stats(), ins.label_issues.scores(),
                 ins.dataset_counts(Scoring(argmax=True), source="pass"))
    monkeypatch.setattr(volume_sample, "SLAB_VOXELS", SHAPE[1] * SHAPE[2] * 2)   # 2 slices a slab
    with segviewer.open(folder=folder) as ins:
        assert len(ins.load(0).sample.slab_bounds()) == 4
        parts = (ins.dataset_counts(source="pass"), ins.calibration.stats(), ins.label_issues.scores(),
                 ins.dataset_counts(Scoring(argmax=True), source="pass"))
        index = ins.index(rebuild=True)
    for a, b in ((whole[0], parts[0]), (whole[3], parts[3])):
        for k in ("tp", "fp", "fn"):
            assert torch.equal(getattr(a.per_image, k), getattr(b.per_image, k))
            torch.testing.assert_close(getattr(a.soft_per_image, k), getattr(b.soft_per_image, k))
    assert np.array_equal(whole[1].pixels, parts[1].pixels) and np.array_equal(whole[1].positives, parts[1].positives)
    np.testing.assert_allclose(whole[2].label_score, parts[2].label_score, rtol=1e-6)
    assert np.array_equal(whole[2].suspect_pixels, parts[2].suspect_pixels)
    argmax = whole[3].per_image
    assert np.array_equal(index.argmax_tp, argmax.tp.numpy()) and np.array_equal(index.argmax_fn, argmax.fn.numpy())


def test_a_band_is_taken_in_plane_on_each_axial_slice(folder, cases):
    gt, probs = cases["case_a"]
    expected = torch.zeros(C, dtype=torch.int64)
    for z in range(SHAPE[0]):
        target = prepare_target(torch.from_numpy(gt[z].astype(np.int64)), C, IGNORE)
        band = torch.from_numpy(boundary_band(gt[z], 2, IGNORE))
        expected += count_threshold(torch.from_numpy(probs[:, z].copy()), restrict_target(target, band), 0.5).tp
    with segviewer.open(folder=folder, scoring=Scoring(boundary=2)) as ins:
        assert torch.equal(ins.image_counts("case_a").tp, expected)
        assert torch.equal(ins.dataset_counts(source="pass").per_image.tp[0], expected)
        coronal = ins.slices.counts("case_a", "coronal")
        assert torch.equal(coronal.tp.sum(0), expected)
        one = ins.slices.image("case_a", "coronal", 5).counts(ins.scoring)
        assert torch.equal(one.tp, coronal.tp[5]) and torch.equal(one.fn, coronal.fn[5])


@pytest.mark.parametrize("axis", ["axial", "coronal", "sagittal"])
def test_slice_scores_sum_to_the_case_and_each_slice_is_its_2d_image(folder, cases, axis):
    a = ("axial", "coronal", "sagittal").index(axis)
    gt, probs = cases["case_c"]
    with segviewer.open(folder=folder, scoring=Scoring(threshold=0.4)) as ins:
        table = ins.slices.scores("case_c", axis)
        assert len(table) == SHAPE[a] * C
        sums = table.groupby("class_id")[["tp", "fp", "fn"]].sum()
        case = ins.image_scores("case_c")
        assert (sums.tp.to_numpy() == case.tp.to_numpy()).all() and (sums.fn.to_numpy() == case.fn.to_numpy()).all()
        k = SHAPE[a] // 2
        labels, p = np.take(gt, k, a).astype(np.int64), np.take(probs, k, a + 1)
        direct = count_threshold(torch.from_numpy(np.ascontiguousarray(p)), prepare_target(torch.from_numpy(labels),
                                                                                           C, IGNORE), 0.4)
        row = table[table.slice == k]
        assert row.tp.tolist() == direct.tp.tolist() and row.fp.tolist() == direct.fp.tolist()
        assert (row.position_mm == k * (2.5, 0.8, 0.7)[a]).all()
        image = ins.slices.image("case_c", axis, k)
        assert image.overlay(ins.scoring).codes.shape == labels.shape
        worst = ins.slices.worst("case_c", axis)
        fbeta = table.groupby("slice").fbeta.mean()
        assert fbeta[worst[0]] == fbeta.min() and len(worst) == fbeta.notna().sum()


def test_nnunets_probabilities_get_no_activation_unless_asked(tmp_path, cases):
    gt, probs = cases["case_a"]
    tp = lambda ins: ins.image_scores(0).tp.to_numpy()  # noqa: E731
    make_volume_dataset(tmp_path / "p", {"x": (gt, probs)}, labels=LABELS)
    make_volume_dataset(tmp_path / "l", {"x": (gt, np.log(probs + 1e-6))}, labels=LABELS, member="logits")
    with segviewer.open(folder=tmp_path / "p", scoring=Scoring(threshold=0.3)) as a, \
            segviewer.open(folder=tmp_path / "l", scoring=Scoring(threshold=0.3)) as b, \
            segviewer.open(folder=tmp_path / "p", scoring=Scoring(threshold=0.3), activation="softmax") as c:
        assert (tp(a) == tp(b)).all()            # softmax(log p) = p: the logits member was activated, not p
        softened = torch.softmax(torch.from_numpy(probs), 0).numpy()
        expected = count_threshold(torch.from_numpy(softened), prepare_target(torch.from_numpy(gt.astype(np.int64)),
                                                                              C, IGNORE), 0.3).tp.numpy()
        assert (tp(c) == expected).all() and not (tp(c) == tp(a)).all()


def test_a_case_larger_than_the_budget_is_read_by_slabs(tmp_path, cases, monkeypatch):
    """A .npy prediction the memory budget refuses whole is read a slab at a time by offset: the same numbers."""
    gt, probs = cases["case_d"]
    root = make_volume_dataset(tmp_path, {"x": (gt, probs)}, labels=LABELS)
    (root / "predictionsTr" / "x.npz").unlink()
    np.save(root / "predictionsTr" / "x.npy", np.log(probs + 1e-6))
    with segviewer.open(folder=root) as ins:
        whole = ins.dataset_counts(source="pass").per_image.tp.clone()
        assert ins.load(0).sample.source is None
    from segviewer.core import budgets
    monkeypatch.setattr(budgets, "memory_budget", lambda: probs.nbytes // 2)
    monkeypatch.setattr(volume_sample, "SLAB_VOXELS", SHAPE[1] * SHAPE[2] * 3)
    with segviewer.open(folder=root) as ins:
        sample = ins.load(0).sample
        assert sample.probs is None and sample.source is not None
        assert torch.equal(ins.dataset_counts(source="pass").per_image.tp, whole)
        coronal = ins.slices.image(0, "coronal", 3).sample.probs
        expected = torch.softmax(torch.from_numpy(np.log(probs + 1e-6)), 0)[:, :, 3]
        # a RAS file's coronal slice as drawn: superior (high z) at the top, the patient's right (high x) on the left
        torch.testing.assert_close(coronal, expected.flip(1, 2))


def test_slices_of_a_2d_dataset_and_bad_axes_are_option_errors(demo_dir, folder):
    with segviewer.open(folder=demo_dir) as ins, pytest.raises(OptionError, match="2-D image"):
        ins.slices.image(0, "axial", 0)
    with segviewer.open(folder=folder) as ins:
        with pytest.raises(OptionError, match="axis"):
            ins.slices.counts(0, "oblique")
        with pytest.raises(OptionError, match="slice 99"):
            ins.slices.image(0, "axial", 99)
        with pytest.raises(OptionError, match="class 9"):
            ins.slices.worst(0, class_id=9)


def test_compare_a_model_with_its_own_masks(folder, cases, tmp_path):
    """Model B = the argmax masks of model A: at argmax nothing changes; at a threshold B's counts are the argmax's."""
    from helpers import write_nifti
    for name, (gt, probs) in cases.items():
        write_nifti(tmp_path / "b" / f"{name}.nii.gz", probs.argmax(0).astype(np.uint8), (2.5, 0.8, 0.7))
    with segviewer.open(folder=folder, compare_masks=tmp_path / "b", scoring=Scoring(threshold=0.6)) as ins:
        table = ins.compare.table()
        b = ins.compare.dataset().counts_b
        a_argmax = ins.dataset_counts(Scoring(argmax=True), source="pass").per_image
        assert torch.equal(b.tp, a_argmax.tp) and torch.equal(b.fp, a_argmax.fp)
        assert (table.fixed >= 0).all() and table.fixed.sum() > 0
        # per case, pixels by the all-classes rule: right = the GT class above 0.6 and no other class
        fixed, broken = [], []
        for gt, probs in cases.values():
            above = probs.astype(np.float32) > np.float32(0.6)
            right_a = (above == (np.arange(C).reshape(-1, 1, 1, 1) == gt)).all(0)
            right_b, valid = probs.argmax(0) == gt, gt != IGNORE
            fixed.append(int((~right_a & right_b & valid).sum()))
            broken.append(int((right_a & ~right_b & valid).sum()))
        images = ins.compare.images()
        assert images.fixed.tolist() == fixed and images.broken.tolist() == broken and sum(fixed) > 0


def test_label_issues_of_a_case_have_3d_regions(demo3d_dir):
    with segviewer.open(folder=demo3d_dir) as ins:
        issues = ins.label_issues.table()
        assert issues.image.iloc[0] == "case_002"            # the case where the model misses the tumour
        scan = list(ins.label_issues.scan(with_regions=True))
        worst = next(i for i in scan if i.name == "case_002")
        assert worst.regions and all(r.z is not None and r.z[0] < r.z[1] for r in worst.regions)
        assert sum(r.pixels for r in worst.regions) == worst.suspect_pixels


def test_the_evaluator_takes_volumes_and_equals_the_case_counts(cases):
    names = list(cases)
    logits = torch.from_numpy(np.log(np.stack([cases[n][1] for n in names]) + 1e-6))
    target = torch.from_numpy(np.stack([cases[n][0] for n in names]).astype(np.int64))
    ev = segviewer.Evaluator(classes=C, ignore_index=IGNORE, threshold=0.4)
    ev.update(logits, target, names=names)
    frame = ev.compute()
    expected = sum(count_threshold(torch.softmax(logits[i], 0), prepare_target(target[i], C, IGNORE), 0.4).tp
                   for i in range(len(names)))
    assert frame.tp.tolist() == expected.tolist()
    with pytest.raises(OptionError, match="not resized"):
        ev.update(logits[:, :, :, :8], target, names=[n + "x" for n in names])


def test_a_first_look_reads_a_slice_and_equals_the_whole_case(tmp_path, cases):
    """The window's first look at a case: the prediction by offset (.npy), one axial slice of the .nii.gz image
    decompressed up to it; its slices and counts equal the whole case's."""
    gt, probs = cases["case_a"]
    image = (gt.astype(np.int16) * 40 - 1000)
    root = make_volume_dataset(tmp_path, {"x": (gt, probs)}, labels=LABELS, images={"x": image})
    (root / "predictionsTr" / "x.npz").unlink()
    np.save(root / "predictionsTr" / "x.npy", np.log(probs + 1e-6))
    with segviewer.open(folder=root) as ins:
        first = ins.slices.preview("x")
        assert first.sample.preview and first.sample.probs is None and first.sample.image is None
        whole = ins.load("x")
        assert whole is not first and whole.sample.probs is not None and not whole.sample.preview
        for z in (0, 3, SHAPE[0] - 1):
            assert np.array_equal(first.intensities(0, z), whole.intensities(0, z))
            # a RAS file's axial slice as drawn: anterior (high y) at the top, right (high x) on the left
            assert np.array_equal(first.intensities(0, z), image[z, ::-1, ::-1].astype(np.float32))
            a, b = first.slice(0, z), whole.slice(0, z)
            torch.testing.assert_close(a.sample.probs, b.sample.probs)
            assert torch.equal(a.counts(ins.scoring).tp, b.counts(ins.scoring).tp)
        assert first.intensities(1, 2) is None                      # coronal: only once the case is read whole
        assert torch.equal(first.counts(ins.scoring).fn, whole.counts(ins.scoring).fn)
        assert ins.slices.preview("x") is whole                     # loaded: the first look is the case itself
