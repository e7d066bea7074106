"""Boundary metrics in the class table on request: equal to the engine's, never shown for other settings."""
import numpy as np

from helpers import settle

FIRST = 18     # image Boundary IoU, HD95, NSD, then the dataset's


def boundary_column(window, k):
    return np.array([np.nan if r[FIRST + k].value is None else float(r[FIRST + k].value)
                     for r in window.class_table.model.rows])


def test_boundary_columns_equal_the_engine_and_follow_the_threshold(qtbot, window, demo_copy):
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    v = window.viewer
    assert window.class_table.model.headers[FIRST] == "image Boundary IoU"
    assert np.isnan(boundary_column(window, 0)).all()            # off until asked for
    window.class_table.boundary_box.setChecked(True)
    v.update_settings(threshold=0.3)
    qtbot.waitUntil(lambda: all(b is not None for b in window.class_table.boundary), timeout=60000)
    settle(qtbot, window)
    image = v.engine.boundary.image(v.current, scoring=v.scoring).columns()
    dataset = v.engine.boundary.dataset(scoring=v.scoring).total().columns()
    np.testing.assert_allclose(boundary_column(window, 0), image["boundary_iou"], equal_nan=True)
    np.testing.assert_allclose(boundary_column(window, 4), dataset["hd95"], equal_nan=True)
    np.testing.assert_allclose(boundary_column(window, 5), dataset["nsd"], equal_nan=True)


def test_a_failed_image_never_keeps_the_previous_images_boundary_values(qtbot, window, demo_copy):
    """The image's columns are emptied when the shown image fails to load; the dataset's follow the threshold."""
    bad = sorted((demo_copy / "logits").iterdir())[-1]
    bad.write_bytes(b"not an array")
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    v = window.viewer
    window.class_table.boundary_box.setChecked(True)
    qtbot.waitUntil(lambda: all(b is not None for b in window.class_table.boundary), timeout=60000)
    failed = v.engine.names.index(bad.stem)
    v.select_image(failed)
    qtbot.waitUntil(lambda: v.loaded is None, timeout=10000)
    v.update_settings(threshold=0.35)
    settle(qtbot, window)
    qtbot.waitUntil(lambda: window.class_table.boundary[1] is not None, timeout=60000)
    assert window.class_table.boundary[0] is None
    assert np.isnan(boundary_column(window, 0)).all()
    dataset = v.engine.boundary.dataset(scoring=v.scoring).total().columns()
    assert v.scoring.threshold == 0.35
    np.testing.assert_allclose(boundary_column(window, 4), dataset["hd95"], equal_nan=True)
