"""The window names and draws a case's planes from its header: the same marked voxel of a RAS and a sagittal-first
(PIL) NIfTI is drawn at the same pixel of each plane, hovering it names the voxel of each file, the title says the
orientation, and an .npy case (no orientation) is drawn in array order and said to be of unknown orientation."""
import nibabel as nib
import numpy as np
import pytest

from helpers import settle
from segviewer.gui.readout import hover_text

PIXEL = {0: (1, 5), 1: (2, 5), 2: (2, 1)}       # (row, col) of the marked voxel in axial, coronal, sagittal


@pytest.fixture
def folder(tmp_path):
    zyx = np.zeros((4, 5, 6), np.uint8)
    zyx[1, 3, 0] = 1
    ras = nib.Nifti1Image(zyx.T.copy(), np.diag([0.7, 0.8, 2.5, 1.0]))
    ornt = nib.orientations.ornt_transform(nib.orientations.axcodes2ornt("RAS"), nib.orientations.axcodes2ornt("PIL"))
    (tmp_path / "gt").mkdir()
    (tmp_path / "logits").mkdir()
    for name, img in (("ras", ras), ("pil", ras.as_reoriented(ornt))):
        nib.save(img, tmp_path / "gt" / f"{name}.nii.gz")
        labels = np.asarray(img.dataobj).T
        np.save(tmp_path / "logits" / f"{name}.npy", np.stack([1.0 - labels, labels]).astype(np.float32))
    np.save(tmp_path / "gt" / "raw.npy", zyx)
    np.save(tmp_path / "logits" / "raw.npy", np.stack([1.0 - zyx, zyx]).astype(np.float32))
    return tmp_path


def test_hovering_the_marked_voxel_names_it_in_each_file(qtbot, window, folder):
    assert window.actions_.open_folder(folder)
    settle(qtbot, window)
    v = window.viewer
    for name, codes in (("ras", "RAS"), ("pil", "PIL")):
        window.show_image(v.dataset.names.index(name))
        settle(qtbot, window)
        nav = v.slices
        marked = tuple(int(i) for i in np.argwhere(nav.volume.sample.labels == 1)[0])
        for plane, (row, col) in PIXEL.items():
            nav.go(marked[nav.volume.view(plane).across], plane)
            settle(qtbot, window)
            assert np.argwhere(v.loaded.sample.labels == 1).tolist() == [[row, col]], (name, plane)
            assert hover_text(v, col, row).startswith(f"voxel {marked} · "), (name, plane)
            assert f"of 0–{nav.count - 1} · {codes}" in window.canvas.title.text()
    window.show_image(v.dataset.names.index("raw"))
    settle(qtbot, window)
    assert "sagittal x 0 (0.0 mm) of 0–5 · orientation unknown (array order)" in window.canvas.title.text()
    assert np.argwhere(v.loaded.sample.labels == 1).tolist() == [[2, 3]]      # array order: z 1 drawn head up


def test_a_3d_region_click_zooms_to_where_its_box_is_drawn(qtbot, window, folder):
    """A region's box comes in the array's (x, y) on its z range; on a RAS case it is drawn mirrored both ways."""
    from PySide6.QtCore import QPointF
    assert window.actions_.open_folder(folder)
    settle(qtbot, window)
    v = window.viewer
    window.show_image(v.dataset.names.index("ras"))
    settle(qtbot, window)
    v.slices.go(0, 0)                                           # axial, away from the region's slice
    settle(qtbot, window)
    window.services.zoom_to((0, 3, 1, 4), (1, 2))               # the marked voxel: x 0, y 3 on z 1
    settle(qtbot, window)
    assert (v.slices.axis, v.slices.index) == (0, 1)
    corner = window.canvas._transform.map(QPointF(5, 1))        # drawn at row 1, column 5 (PIXEL[0])
    assert (window.canvas.box_item.pos().x(), window.canvas.box_item.pos().y()) == (corner.x(), corner.y())


def test_a_3d_region_click_from_another_plane_zooms_once_its_slice_is_drawn(qtbot, window, folder):
    """From the sagittal plane the click goes to the axial slice, which arrives later at its own aspect: the box and
    the zoom are those of the axial drawing, not undone by the new slice's refit."""
    from PySide6.QtCore import QPointF, QRectF
    assert window.actions_.open_folder(folder)
    settle(qtbot, window)
    v = window.viewer
    window.show_image(v.dataset.names.index("ras"))
    settle(qtbot, window)
    v.slices.go(0, 2)                                           # sagittal (x spacing 0.7 against z 2.5)
    settle(qtbot, window)
    window.services.zoom_to((0, 3, 1, 4), (1, 2))
    settle(qtbot, window)
    canvas = window.canvas
    assert (v.slices.axis, v.slices.index) == (0, 1)
    box = canvas._transform.mapRect(QRectF(5, 1, 1, 1))         # the axial drawing: row 1, column 5
    assert canvas.box_item.isVisible() and canvas._region_zoom
    assert (canvas.box_item.pos().x(), canvas.box_item.pos().y()) == (box.x(), box.y())
    assert (canvas.box_item.size().x(), canvas.box_item.size().y()) == (box.width(), box.height())
    shown = canvas.viewbox.viewRect()
    assert (round(shown.center().x(), 6), round(shown.center().y(), 6)) == (round(box.center().x(), 6), round(box.center().y(), 6))
