"""Every command on 3-D cases: export's per-class CSV under both aggregations (named in it), per case, per slice;
nnU-Net's evaluation and MONAI's DiceMetric through the CLI; sweep, compare, calibration, label-issues and index on
the 3-D demo; the Evaluator's saved volumes read back by export."""
import csv
import math

import numpy as np
import pytest
import torch

import segviewer
from helpers import VOLUME_CLASSES as C, VOLUME_IGNORE as IGNORE, VOLUME_LABELS, make_volume_dataset, \
    random_volume_cases, run_cli, write_nifti
from reference import nnunet_compute_metrics, nnunet_summary


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def number(text):
    return math.nan if text == "" else float(text)


@pytest.fixture(scope="module")
def cases():
    return random_volume_cases()


@pytest.fixture(scope="module")
def folder(cases, tmp_path_factory):
    return make_volume_dataset(tmp_path_factory.mktemp("nnunet"), cases, labels=VOLUME_LABELS)


@pytest.fixture(scope="module")
def exported(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    result = run_cli("export", folder, "--argmax", "--smooth", "0", "--out", out / "classes.csv",
                     "--per-case", out / "cases.csv", "--per-slice", out / "slices.csv", "--slice-axis", "coronal")
    assert result.returncode == 0, result.stderr
    return rows(out / "classes.csv"), rows(out / "cases.csv"), rows(out / "slices.csv")


def test_per_case_rows_equal_nnunets_evaluation(exported, cases):
    _, per_case, _ = exported
    for name, (gt, probs) in cases.items():
        ref = nnunet_compute_metrics(gt, probs.argmax(0), range(C), ignore_label=IGNORE)
        mine = [r for r in per_case if r["case"] == name]
        assert [r["class_name"] for r in mine] == ["background", "liver", "kidney", "tumour"]
        for c, r in enumerate(mine):
            assert (int(r["tp"]), int(r["fp"]), int(r["fn"])) == (ref[c]["TP"], ref[c]["FP"], ref[c]["FN"])
            np.testing.assert_allclose(number(r["dice"]), ref[c]["Dice"], rtol=1e-11, equal_nan=True)


def test_the_per_class_csv_names_both_aggregations(exported, cases):
    per_class, _, _ = exported
    assert [r["aggregation"] for r in per_class] == ["case_mean"] * (C + 2) + ["pooled"] * (C + 2)
    refs = [nnunet_compute_metrics(gt, probs.argmax(0), range(C), ignore_label=IGNORE) for gt, probs in cases.values()]
    means, foreground = nnunet_summary(refs, range(C))
    case_mean = per_class[:C]
    np.testing.assert_allclose([number(r["dice"]) for r in case_mean], [means[c]["Dice"] for c in range(C)],
                               rtol=1e-11)
    assert [int(r["cases"]) for r in case_mean] == [4, 4, 3, 3]        # kidney and tumour each absent from one case
    assert per_class[C + 1]["class_name"] == "foreground mean"
    np.testing.assert_allclose(number(per_class[C + 1]["dice"]), foreground["Dice"], rtol=1e-11)
    pooled = per_class[C + 2:2 * C + 2]
    for c, r in enumerate(pooled):
        tp, fp, fn = (sum(ref[c][k] for ref in refs) for k in ("TP", "FP", "FN"))
        assert (int(r["tp"]), int(r["fp"]), int(r["fn"])) == (tp, fp, fn)
        np.testing.assert_allclose(number(r["dice"]), 2 * tp / (2 * tp + fp + fn), rtol=1e-11)
        assert r["tp"] == case_mean[c]["tp"]                             # the same sums in both blocks


def test_per_slice_rows_sum_to_their_case(exported):
    _, per_case, per_slice = exported
    assert {r["axis"] for r in per_slice} == {"coronal"}
    assert len(per_slice) == 4 * 16 * C                                 # 16 coronal slices of 4 cases
    for r in per_case:
        mine = [s for s in per_slice if s["case"] == r["case"] and s["class_id"] == r["class_id"]]
        assert sum(int(s["tp"]) for s in mine) == int(r["tp"]) and sum(int(s["fn"]) for s in mine) == int(r["fn"])
    assert per_slice[C]["slice"] == "1" and float(per_slice[C]["position_mm"]) == 0.8


@pytest.mark.parametrize("threshold", ["0.35", "0.3,0.5,0.4,0.6"])
def test_per_case_dice_equals_monais_dice_metric(folder, cases, tmp_path, threshold):
    from monai.metrics import DiceMetric
    t = torch.tensor([float(v) for v in threshold.split(",")]).expand(C).view(C, 1, 1, 1)
    names = list(cases)
    valid = torch.stack([torch.from_numpy(cases[n][0] != IGNORE) for n in names])[:, None]
    preds = torch.stack([(torch.from_numpy(cases[n][1]) > t).float() for n in names]) * valid
    gts = torch.stack([torch.stack([torch.from_numpy(cases[n][0] == c) for c in range(C)]).float()
                       for n in names]) * valid
    metric = DiceMetric(include_background=True, reduction="none", ignore_empty=True)
    metric(preds, gts)
    monai = metric.aggregate().double().numpy()
    assert run_cli("export", folder, "--threshold", threshold, "--smooth", "0", "--out", tmp_path / "c.csv",
                   "--per-case", tmp_path / "p.csv").returncode == 0
    ours = np.array([number(r["dice"]) for r in rows(tmp_path / "p.csv")]).reshape(len(names), C)
    defined = ~np.isnan(monai)                    # ignore_empty: MONAI leaves out a class with no GT voxel
    np.testing.assert_allclose(ours[defined], monai[defined], rtol=1e-6)


def test_per_slice_needs_volumes_and_slice_axis_needs_per_slice(demo_dir, folder, tmp_path):
    result = run_cli("export", demo_dir, "--out", tmp_path / "a.csv", "--per-slice", tmp_path / "s.csv")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "3-D cases" in result.stderr
    result = run_cli("export", folder, "--out", tmp_path / "a.csv", "--slice-axis", "axial")
    assert result.returncode == 2 and "--slice-axis needs --per-slice" in result.stderr
    assert not (tmp_path / "a.csv").exists()


def test_boundary_metrics_of_cases_are_in_mm(demo3d_dir, tmp_path):
    result = run_cli("export", demo3d_dir, "--argmax", "--out", tmp_path / "c.csv", "--per-case", tmp_path / "p.csv",
                     "--boundary-metrics", "--tolerance", "2.5")
    assert result.returncode == 0, result.stderr
    with segviewer.open(folder=demo3d_dir, scoring=segviewer.Scoring(argmax=True)) as ins:
        metrics = ins.boundary.image("case_000", tolerance=2.5)
    per_case = [r for r in rows(tmp_path / "p.csv") if r["case"] == "case_000"]
    np.testing.assert_allclose([number(r["hd95"]) for r in per_case], metrics.hd95, rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose([number(r["nsd"]) for r in per_case], metrics.nsd, rtol=1e-9, equal_nan=True)
    classes = rows(tmp_path / "c.csv")
    assert {"boundary_iou", "hd95", "nsd"} <= set(classes[0])


def test_every_command_runs_on_the_3d_demo(demo3d_dir, tmp_path):
    for args in (("sweep", demo3d_dir, "--out", tmp_path / "sweep.csv", "--best", tmp_path / "best.csv"),
                 ("calibration", demo3d_dir, "--out", tmp_path / "cal.csv"),
                 ("label-issues", demo3d_dir, "--out", tmp_path / "issues.csv", "--regions", tmp_path / "reg.csv"),
                 ("compare", demo3d_dir, "--compare-masks", demo3d_dir / "predictionsTr", "--out",
                  tmp_path / "cmp.csv"),
                 ("index", demo3d_dir)):
        result = run_cli(*args)
        assert result.returncode == 0, (args[0], result.stderr)
    assert rows(tmp_path / "issues.csv")[0]["image"] == "case_002"       # the case the model fails
    regions = rows(tmp_path / "reg.csv")
    assert regions and {"z0", "z1"} <= set(regions[0]) and all(int(r["z0"]) < int(r["z1"]) for r in regions)
    best = rows(tmp_path / "best.csv")
    assert [r["class_name"] for r in best][:4] == ["background", "liver", "kidney", "tumour"]
    assert len(rows(tmp_path / "cal.csv")) == 5


def test_the_evaluators_saved_volumes_export_to_its_numbers(cases, tmp_path):
    names = list(cases)
    logits = torch.from_numpy(np.log(np.stack([cases[n][1] for n in names]) + 1e-4))
    target = torch.from_numpy(np.stack([cases[n][0] for n in names]).astype(np.int64))
    ev = segviewer.Evaluator(classes=C, ignore_index=IGNORE, save_logits_to=tmp_path / "logits")
    ev.update(logits, target, names=names)
    for n in names:
        write_nifti(tmp_path / "gt" / f"{n}.nii.gz", cases[n][0], (2.5, 0.8, 0.7))
    result = run_cli("export", "--gt", tmp_path / "gt", "--logits", tmp_path / "logits", "--ignore-index",
                     str(IGNORE), "--num-classes", str(C), "--out", tmp_path / "c.csv", "--per-case",
                     tmp_path / "p.csv")
    assert result.returncode == 0, result.stderr
    per_case = rows(tmp_path / "p.csv")
    expected = ev.compute()
    pooled = [r for r in rows(tmp_path / "c.csv") if r["aggregation"] == "pooled"][:C]
    assert [int(r["tp"]) for r in pooled] == expected.tp.tolist()
    assert [int(r["fn"]) for r in pooled] == expected.fn.tolist()
    assert len(per_case) == len(names) * C
