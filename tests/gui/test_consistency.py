"""The window, the API and the CSVs end at the same numbers, however fast the settings change (issue #9)."""
import numpy as np
import pytest

import segviewer
from helpers import settle
from segviewer.core.overlay import ALL_CLASSES

IMAGE_FBETA, DATASET_FBETA, IMAGE_GT, DATASET_GT = 5, 12, 2, 9
LIST_MEAN_FBETA, LIST_FP, LIST_FN = 1, 4, 5

BURSTS = {
    "threshold": [dict(threshold=0.3), dict(argmax=True), dict(argmax=False, threshold=0.42), dict(beta=2.0)],
    "argmax after threshold": [dict(threshold=0.2), dict(beta=3.0), dict(argmax=True)],
    "per-class": [dict(threshold=0.6), dict(threshold=(0.3, 0.5, 0.6, 0.2, 0.45, 0.5, 0.7)), dict(beta=0.5)],
    "band then beta": [dict(boundary=3), dict(beta=2.0), dict(smooth=0.01)],
    "interior": [dict(boundary=2), dict(interior=True), dict(threshold=0.35), dict(class_id=2)],
    "off-grid": [dict(threshold=0.1234), dict(class_id=3), dict(beta=1.5)],
    "no smoothing": [dict(threshold=0.45), dict(smooth=0.0), dict(beta=2.0)],
}


def table_column(window, column):
    return np.array([np.nan if row[column].value is None else float(row[column].value)
                     for row in window.class_table.model.rows])


def list_column(window, column):
    return np.array([float(row[column].value) if row[column].value is not None else np.nan
                     for row in window.image_list.model.rows])


@pytest.mark.parametrize("burst", list(BURSTS))
def test_window_shows_the_answer_for_the_final_settings(qtbot, window, demo_copy, burst):
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    window.bottom_tabs.setCurrentWidget(window.confusion)
    v = window.viewer
    v.select_image(4)
    for changes in BURSTS[burst]:          # no waiting: jobs for earlier settings are still running
        v.update_settings(**changes)
    settle(qtbot, window)
    qtbot.waitUntil(lambda: window.analysis.dataset_confusion is not None, timeout=30000)
    settle(qtbot, window)
    window._refresh_list()
    with segviewer.open(folder=demo_copy, scoring=v.scoring) as ins:
        image, dataset = ins.image_scores(4), ins.dataset_scores()
        np.testing.assert_allclose(table_column(window, IMAGE_FBETA), image["fbeta"], rtol=1e-9, equal_nan=True)
        np.testing.assert_allclose(table_column(window, DATASET_FBETA), dataset["fbeta"], rtol=1e-9, equal_nan=True)
        assert table_column(window, IMAGE_GT).tolist() == (image["tp"] + image["fn"]).tolist()
        assert table_column(window, DATASET_GT).tolist() == (dataset["tp"] + dataset["fn"]).tolist()
        listed = ins.images(v.settings.class_id)
        np.testing.assert_allclose(list_column(window, LIST_MEAN_FBETA), listed["mean_fbeta"], rtol=1e-9)
        assert list_column(window, LIST_FP).tolist() == listed["fp"].tolist()
        assert list_column(window, LIST_FN).tolist() == listed["fn"].tolist()
        for i in (0, 4):          # another path: the image's own per-class table, its present classes' mean
            row = ins.image_scores(i)
            present = (row["tp"] + row["fp"] + row["fn"]) > 0
            assert list_column(window, LIST_MEAN_FBETA)[i] == pytest.approx(row["fbeta"][present].mean(), rel=1e-9)
        confusion = ins.confusion().to_numpy()
        shown = window.analysis.dataset_confusion
        assert np.array_equal(shown[:, :confusion.shape[1]], confusion)
        if v.scoring.argmax:
            assert shown[:, -1].sum() == 0        # nothing is "not predicted" in argmax mode
        legend = v.overlay.legend
        if v.settings.class_id == ALL_CLASSES:
            assert legend["fp"] + legend["fn"] == image["fn"].sum()
            assert legend["tp"] + legend["extra"] == image["tp"].sum()
        else:
            row = image.iloc[v.settings.class_id]
            assert (legend["tp"], legend["fp"], legend["fn"]) == (row.tp, row.fp, row.fn)


def test_masks_window_equals_api(qtbot, window, demo_copy):
    from segviewer.core.options import layout_from_folder
    layout = layout_from_folder(demo_copy, prefer="masks")
    assert window.open_options(layout.options())
    settle(qtbot, window)
    v = window.viewer
    v.update_settings(beta=2.0)
    v.update_settings(boundary=2)
    settle(qtbot, window)
    with segviewer.open(gt=layout.gt, masks=layout.masks, classes=layout.classes, scoring=v.scoring) as ins:
        np.testing.assert_allclose(table_column(window, DATASET_FBETA), ins.dataset_scores()["fbeta"], rtol=1e-9,
                                   equal_nan=True)
        np.testing.assert_allclose(table_column(window, IMAGE_FBETA), ins.image_scores(v.current)["fbeta"],
                                   rtol=1e-9, equal_nan=True)


def cli_args(scoring):
    args = ["--argmax"] if scoring.argmax else ["--threshold", ",".join(map(str, scoring.threshold))
                                                if scoring.per_class else str(scoring.threshold)]
    args += ["--beta", str(scoring.beta), "--smooth", str(scoring.smooth)]
    if scoring.boundary:
        args += ["--boundary", str(scoring.boundary)] + (["--interior"] if scoring.interior else [])
    return args


@pytest.mark.parametrize("burst", ["per-class", "band then beta", "argmax after threshold"])
def test_window_export_api_and_cli_end_at_the_same_numbers(qtbot, window, demo_copy, tmp_path, burst):
    import pandas as pd
    from helpers import run_cli
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    v = window.viewer
    for changes in BURSTS[burst]:
        v.update_settings(**changes)
    settle(qtbot, window)
    assert window.exports.export_per_class(str(tmp_path / "window.csv"))
    res = run_cli("export", "--gt", demo_copy / "gt", "--logits", demo_copy / "logits", "--classes",
                  demo_copy / "classes.json", *cli_args(v.scoring), "--out", tmp_path / "cli.csv")
    assert res.returncode == 0, res.stderr
    from_window, from_cli = pd.read_csv(tmp_path / "window.csv"), pd.read_csv(tmp_path / "cli.csv")
    pd.testing.assert_frame_equal(from_window, from_cli)
    with segviewer.open(folder=demo_copy, scoring=v.scoring) as ins:
        api = ins.dataset_scores()
        assert api["tp"].tolist() == from_cli["tp"].iloc[:-1].astype(int).tolist()
        np.testing.assert_allclose(api["fbeta"], from_cli["fbeta"].iloc[:-1], rtol=1e-9, equal_nan=True)
