"""The window on the 3-D demo: a case opens to a slice, PgDn / Ctrl+wheel step, Ctrl+2 shows coronal slices at their
true aspect, the worst-slices tab ranks and a click goes there, the intensity window follows presets and right-drag,
the tables equal the engine's (slice, case, dataset pooled and per case mean), the readout names the voxel, a note
names the slice, label doubt and compare work on slices, and bad cases are one message each."""
import os

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

import segviewer
from segviewer.gui.table_model import KEY_ROLE
from helpers import make_hostile_volume_folder, run_subprocess, settle
from segviewer.core.scores import compute_scores
from segviewer.core.session import ReviewStore
from segviewer.gui.readout import hover_text


@pytest.fixture
def demo3d_copy(demo3d_dir, tmp_path):
    import shutil
    root = tmp_path / "demo3d"
    shutil.copytree(demo3d_dir, root, ignore=shutil.ignore_patterns(".segviewer"))
    return root


def opened(qtbot, window, folder):
    assert window.actions_.open_folder(folder)
    settle(qtbot, window)
    return window.viewer


def column(window, header: str) -> list:
    model = window.class_table.model
    at = model.headers.index(header)
    return [row[at].value for row in model.rows]


def test_a_case_opens_to_its_slice_and_the_tables_equal_the_engine(qtbot, window, demo3d_copy):
    v = opened(qtbot, window, demo3d_copy)
    nav = v.slices
    assert nav.active and v.dataset.names[v.current] == "case_002"       # worst first: the failing case
    assert window.image_list.summary.text().startswith("4 cases")        # as the status bar calls them
    fn = v.overlay.legend["fn"]
    assert f"&nbsp;{fn:,}&nbsp;vx" in window.canvas.legend.text() and "&nbsp;px" not in window.canvas.legend.text()
    assert all(window.actions_.entries[name].isEnabled() for name in ("axial", "coronal", "cycle_window"))
    labels = nav.volume.sample.labels
    assert nav.axis == 0 and nav.index == int(np.argmax((labels != 0).sum((1, 2))))   # most foreground
    assert window.volume_view.bar.isVisible() and f"axial z {nav.index}" in window.canvas.title.text()
    with segviewer.open(folder=demo3d_copy) as ins:
        sl = ins.slices.image("case_002", "axial", nav.index).counts(ins.scoring)
        case = ins.image_scores("case_002")
        pooled, case_mean = ins.dataset_scores(), ins.dataset_scores(aggregation="case_mean")
        assert column(window, "slice GT vx") == (sl.tp + sl.fn).tolist()
        np.testing.assert_allclose(column(window, "slice Fβ"), compute_scores(sl).fbeta.numpy(), equal_nan=True)
        np.testing.assert_allclose(column(window, "case Fβ"), case.fbeta, equal_nan=True)
        np.testing.assert_allclose(column(window, "dataset pooled Dice"), pooled.dice)
        np.testing.assert_allclose(column(window, "dataset case mean Dice"), case_mean.dice)
    assert "dataset case mean F1" in window.class_table.summary.text()


def test_slice_steps_orientation_and_true_aspect(qtbot, window, demo3d_copy):
    v = opened(qtbot, window, demo3d_copy)
    nav, start = v.slices, v.slices.index
    qtbot.keyClick(window.canvas.view_widget, Qt.Key_PageDown)
    settle(qtbot, window)
    assert nav.index == start + 1 and v.loaded.where == (0, start + 1)
    viewport = window.canvas.view_widget.viewport()
    centre = QPointF(viewport.width() / 2, viewport.height() / 2)
    for _ in range(3):
        event = QWheelEvent(centre, viewport.mapToGlobal(centre), QPoint(), QPoint(0, -120), Qt.NoButton,
                            Qt.ControlModifier, Qt.NoScrollPhase, False)
        QApplication.sendEvent(viewport, event)
    settle(qtbot, window)
    assert nav.index == start + 4
    qtbot.keyClick(window.canvas.view_widget, Qt.Key_2, Qt.ControlModifier)      # coronal
    settle(qtbot, window)
    assert nav.axis == 1 and v.loaded.sample.shape == (24, 64)
    assert window.canvas._geometry == pytest.approx(2.5 / 0.8)   # z rows at 2.5 mm, drawn head up already
    with segviewer.open(folder=demo3d_copy) as ins:
        expected = ins.slices.image(v.current, "coronal", nav.index).counts(ins.scoring)
    assert v.image_counts.tp.tolist() == expected.tp.tolist()
    qtbot.keyClick(window.canvas.view_widget, Qt.Key_P)                           # cycles to sagittal
    settle(qtbot, window)
    assert nav.axis == 2 and "sagittal" in window.canvas.title.text()


def test_worst_slices_are_ranked_and_a_click_goes_there(qtbot, window, demo3d_copy, monkeypatch):
    from segviewer.core.loaded_volume import LoadedVolume
    passes = []
    slice_counts = LoadedVolume.slice_counts
    monkeypatch.setattr(LoadedVolume, "slice_counts", lambda self, *a: passes.append(a) or slice_counts(self, *a))
    v = opened(qtbot, window, demo3d_copy)
    panel = window.volume_view.worst
    for threshold in (0.4, 0.6):                       # the tab hidden: no pass over the case per step
        v.update_settings(threshold=threshold)
        settle(qtbot, window)
    assert passes == [] and panel.model.rows == []
    v.update_settings(threshold=0.5)
    with segviewer.open(folder=demo3d_copy) as ins:
        worst = ins.slices.worst(v.current, "axial")
    passes.clear()                                     # the engine's own, above
    shown = v.slices.index
    after = worst[(worst.tolist().index(shown) + 1) % len(worst)] if shown in worst else worst[0]
    qtbot.keyClick(window.canvas.view_widget, "}")     # the slice after the shown one in the ranking, once ranked
    qtbot.waitUntil(lambda: v.slices.index == int(after), timeout=30000)
    window.bottom_tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: bool(panel.model.rows), timeout=30000)
    assert len(passes) == 1
    assert [row[0].value for row in panel.model.rows] == worst.tolist()
    target = int(worst[3])
    index = panel.proxy.index(3, 0)
    panel.view.clicked.emit(index)
    settle(qtbot, window)
    assert v.slices.index == target and v.loaded.where == (0, target)
    v.slices.go(int(worst[0]))                                       # reached without the table (a key, the bar)
    settle(qtbot, window)
    selected = panel.view.selectionModel().selectedRows()
    assert [int(i.data(KEY_ROLE)) for i in selected] == [int(worst[0])]
    v.update_settings(threshold=0.3)                                 # a new ranking for the new threshold
    settle(qtbot, window)
    with segviewer.open(folder=demo3d_copy, scoring=segviewer.Scoring(threshold=0.3)) as ins:
        assert [row[0].value for row in panel.model.rows] == ins.slices.worst(v.current, "axial").tolist()


def test_intensity_window_presets_and_right_drag(qtbot, window, demo3d_copy):
    from segviewer.core.intensity import to_gray
    v = opened(qtbot, window, demo3d_copy)
    level = window.volume_view.level
    assert level.preset == "CT soft tissue" and (level.window.width, level.window.level) == (400, 40)
    slider = window.volume_view.bar.slider
    width = slider.width()
    qtbot.keyClick(window.canvas.view_widget, Qt.Key_W)
    assert level.preset == "CT lung" and level.window.level == -600
    qtbot.keyClick(window.canvas.view_widget, Qt.Key_PageDown)
    settle(qtbot, window)
    assert slider.width() == width > 0                   # a longer window or slice text does not squeeze it
    values = v.slices.volume.intensities(*v.loaded.where)
    shown = window.canvas.image_item.image[..., 0]
    assert np.array_equal(shown, to_gray(values, level.window))
    viewport = window.canvas.view_widget.viewport()
    before = level.window
    qtbot.mousePress(viewport, Qt.RightButton, pos=QPoint(100, 100))
    qtbot.mouseMove(viewport, QPoint(160, 80))
    qtbot.mouseRelease(viewport, Qt.RightButton, pos=QPoint(160, 80))
    assert level.window.width > before.width and level.window.level < before.level and level.preset.startswith(
        "custom")


def test_readout_names_the_voxel_and_a_note_names_the_slice(qtbot, window, demo3d_copy):
    v = opened(qtbot, window, demo3d_copy)
    nav = v.slices
    text = hover_text(v, 30, 20)
    z = nav.index
    image = nav.volume.sample.image[z, 20, 30]
    assert text.startswith(f"voxel ({z}, 20, 30) · ({z * 2.5:.1f}, 16.0, 24.0) mm · intensity {image:.0f} · GT ")
    listed = ", ".join(f"{n} {float(v.loaded.sample.probs[c, 20, 30]):.3f}" for c, n in enumerate(v.classes.names))
    assert text.endswith(f" · p {listed}")                           # every class, as precise as p= before it
    window.resize(1024, 700)                                        # a laptop: the readout wraps inside the view
    settle(qtbot, window)
    readout, view = window.canvas.readout, window.canvas.view_widget
    readout.setText(text)
    assert readout.isVisible() and readout.width() <= view.width() and readout.y() + readout.height() == view.height()
    assert readout.fontMetrics().horizontalAdvance(text) > view.width() and readout.height() > readout.fontMetrics(
        ).height() * 2
    window.review.edit_note()
    assert window.review.note_box.toPlainText() == f"axial z {z} ({z * 2.5:.1f} mm): "
    window.review.note_box.insertPlainText("tumour missed")
    window.review.edit_note(window.review.note_box.toPlainText())
    settle(qtbot, window)                                           # saved on the session's thread
    from segviewer.core.session_paths import session_path
    note = ReviewStore(session_path(v.dataset.options)).review("case_002").note
    assert note == f"axial z {z} ({z * 2.5:.1f} mm): tumour missed"


def test_label_doubt_and_compare_on_slices(qtbot, window, demo3d_copy):
    v = opened(qtbot, window, demo3d_copy)
    v.update_settings(view="doubt")
    settle(qtbot, window)
    with segviewer.open(folder=demo3d_copy) as ins:
        expected = ins.slices.image(v.current, "axial", v.slices.index).overlay(ins.scoring, view="doubt").codes
    assert np.array_equal(v.overlay.codes, expected)
    assert window.insights.open_compare(demo3d_copy / "predictionsTr")        # model B: the argmax masks (.nii.gz)?
    v.update_settings(view="compare")
    settle(qtbot, window)
    assert v.overlay.codes.shape == v.loaded.sample.shape and not window.last_error


def test_bad_cases_are_one_message_each_and_the_window_goes_on(qtbot, window, tmp_path):
    folder = tmp_path / "data"
    bad = make_hostile_volume_folder(folder)
    v = opened(qtbot, window, folder)
    names = v.dataset.names
    for case, (file, words) in bad.items():
        if case == "spacing":
            continue
        reason = v.failures[names.index(case)]
        assert file.split("/")[-1] in reason and words in reason, (case, reason)
    window.show_image(names.index("spacing"))                     # its image is read only here
    settle(qtbot, window)
    assert "spacing_0000.nii.gz" in str(v.failures[names.index("spacing")])
    window.show_image(names.index("good_1"))
    settle(qtbot, window)
    assert v.slices.active and v.loaded is not None and window.isVisible()


def test_a_screenshot_of_a_folder_that_fails_to_open_is_one_line(tmp_path):
    from helpers import write_nifti
    write_nifti(tmp_path / "d" / "labelsTr" / "a.nii.gz", np.zeros((2, 3, 4), np.uint8))
    (tmp_path / "d" / "preds").mkdir()
    np.save(tmp_path / "d" / "preds" / "b.npy", np.zeros((2, 2, 3, 4), np.float32))
    result = run_subprocess(tmp_path / "d", "--screenshot", tmp_path / "shot.png", timeout=120,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    lines = [line for line in result.stderr.splitlines() if line.startswith("segviewer")]   # not Qt's own notes
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("segviewer: error: ")
    assert "no case pairs" in lines[0] and not (tmp_path / "shot.png").exists()


def test_save_view_of_a_coronal_slice_keeps_its_voxels_aspect(qtbot, window, demo3d_copy, tmp_path):
    """24 slices of 2.5 mm over 64 columns of 0.8 mm: drawn (and saved) 75 rows tall, not squashed to 24."""
    from segviewer.gui.view_image import compose_panes, stretched
    v = opened(qtbot, window, demo3d_copy)
    v.slices.set_axis(1)
    settle(qtbot, window)
    assert window.canvas.image_shape == (24, 64) and window.canvas.aspect == pytest.approx(2.5 / 0.8)
    assert compose_panes(window.canvas, 1).shape == (75, 64, 3)
    assert compose_panes(window.canvas, 2).shape == (150, 128, 3)
    assert window.exports.save_view(str(tmp_path / "coronal.png"), scale=1)
    from PIL import Image
    assert Image.open(tmp_path / "coronal.png").size[0] == 64
    rows = np.arange(3)[:, None, None] * np.ones((1, 2, 3), np.uint8)          # nearest neighbour, by hand
    assert stretched(rows, 1, 2.5)[:, 0, 0].tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
    assert stretched(rows, 2, 1.0)[:, :, 0].tolist() == [[0] * 4, [0] * 4, [1] * 4, [1] * 4, [2] * 4, [2] * 4]


def test_a_cases_suspect_regions_stay_listed_while_its_slices_change(qtbot, window, demo3d_copy):
    """The Label doubt tab lists the case's 3-D regions; PgDn (another slice of the same case) keeps them, as the
    engine's answer for the case has not changed; another case lists its own."""
    from segviewer.gui.label_issues_panel import LabelIssuesController, LabelIssuesPanel
    panel = LabelIssuesPanel()
    qtbot.addWidget(panel)
    controller = LabelIssuesController(window.viewer, window.services, panel)
    controller.active = True
    v = opened(qtbot, window, demo3d_copy)
    controller.refresh()
    qtbot.waitUntil(controller.current_regions, timeout=30000)
    want = v.engine.label_issues.regions(v.current)
    assert want and panel.regions.keys == want
    v.slices.step(1)
    settle(qtbot, window)
    assert panel.regions.keys == want and panel.summary.text() == f"{len(want)} suspect regions in this image"
    other = next(i for i in range(len(v.dataset.names)) if i != v.current)
    v.select_image(other)
    settle(qtbot, window)
    qtbot.waitUntil(lambda: controller.current_regions() and v.current == other, timeout=30000)
    assert panel.regions.keys == v.engine.label_issues.regions(other)
