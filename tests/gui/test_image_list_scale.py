"""The image list at many rows: sorted and filtered with numpy as a Python sort/filter of the same values would,
and only the rows on screen are ever asked for their values."""
import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from segviewer.gui.image_list import ImageListPanel
from segviewer.gui.image_list_model import NAME, STATUS

N, C = 20_000, 5


@pytest.fixture
def panel(qtbot):
    p = ImageListPanel()
    qtbot.addWidget(p)
    p.resize(500, 400)
    p.show()
    return p


def scores(seed):
    rng = np.random.default_rng(seed)
    mean = rng.random(N).round(2)              # ties, so the stable order is tested too
    mean[rng.random(N) < 0.05] = np.nan        # absent
    return {"mean_fbeta": mean, "class_fbeta": mean, "mean_iou": mean * 0.9, "fp": rng.integers(0, 50, N),
            "fn": rng.integers(0, 50, N), "gt_present": rng.random((N, C)) < 0.5,
            "pred_present": rng.random((N, C)) < 0.5}


def python_order(values, images, descending):
    """Present values by value (ties in dataset order), absent ones last: what the list promises."""
    present = sorted((i for i in images if not math.isnan(values[i])), key=lambda i: -values[i] if descending
                     else values[i])
    return present + [i for i in images if math.isnan(values[i])]


def test_sort_and_filters_equal_python_and_touch_only_visible_rows(panel, monkeypatch):
    names = [f"Img{(i * 7919) % N:05d}" for i in range(N)]
    panel.set_dataset(names, [f"c{c}" for c in range(C)], ["unreviewed", "accepted", "needs fix"])
    first = scores(0)
    panel.refresh(first, {})
    model = panel.model
    assert model.order.tolist() == python_order(first["mean_fbeta"], range(N), descending=False)   # worst first

    panel.gt_filter.setCurrentIndex(panel.gt_filter.findData(3))
    panel.refresh(statuses={names[5]: "accepted", names[9]: "needs fix", names[11]: "accepted"})
    keep = [i for i in range(N) if first["gt_present"][i, 3]]
    assert model.order.tolist() == python_order(first["mean_fbeta"], keep, descending=False)
    assert panel.summary.text() == f"{len(keep)} of {N} images"

    calls = []
    value = model.value
    monkeypatch.setattr(model, "value", lambda row, column: calls.append(row) or value(row, column))
    second = scores(1)
    panel.hold_order(True)                     # a drag: the numbers change in place
    panel.refresh(second)
    QApplication.processEvents()
    visible = panel.view.viewport().height() // panel.view.verticalHeader().defaultSectionSize() + 2
    assert 0 < len(set(calls)) <= visible
    calls.clear()
    panel.hold_order(False)                    # release: one re-sort, re-filter of 20,000 rows
    QApplication.processEvents()
    keep = [i for i in range(N) if second["gt_present"][i, 3]]
    assert model.order.tolist() == python_order(second["mean_fbeta"], keep, descending=False)
    assert len(set(calls)) <= visible

    panel.view.sortByColumn(NAME, Qt.DescendingOrder)
    assert model.order.tolist() == sorted(keep, key=lambda i: names[i].lower(), reverse=True)
    panel.gt_filter.setCurrentIndex(0)
    panel.status_filter.setCurrentIndex(panel.status_filter.findData("accepted"))
    assert sorted(model.order.tolist()) == [5, 11] and panel.position_of(5)[1] == 2
    panel.status_filter.setCurrentIndex(0)
    panel.search.setText("IMG0001")
    assert [names[i] for i in model.order] == sorted((n for n in names if "img0001" in n.lower()), reverse=True)
    panel.search.setText("")
    panel.view.sortByColumn(STATUS, Qt.AscendingOrder)
    assert model.order[:3].tolist() == [5, 11, 9] and model.rowCount() == N   # accepted, needs fix, then the rest
    panel.refresh(statuses={names[7]: "needs fix"})     # a new mapping per change: the kept status codes follow
    assert model.order[:1].tolist() == [7] and model.rowCount() == N
    panel.status_filter.setCurrentIndex(panel.status_filter.findData("accepted"))
    assert model.order.tolist() == []
    panel.status_filter.setCurrentIndex(panel.status_filter.findData("needs fix"))
    assert model.order.tolist() == [7]


def test_selection_follows_the_image_through_sorts_and_filters(panel):
    names = [f"n{i}" for i in range(100)]
    panel.set_dataset(names, ["a", "b"], ["unreviewed"])
    s = scores(2)
    s = {k: v[:100] for k, v in s.items()}
    panel.refresh(s, {})
    panel.select(42)
    assert int(panel.view.currentIndex().data(Qt.UserRole + 2)) == 42
    panel.view.sortByColumn(NAME, Qt.DescendingOrder)
    assert int(panel.view.currentIndex().data(Qt.UserRole + 2)) == 42
    panel.search.setText("n4")                 # 42 stays shown: still the current row
    assert int(panel.view.currentIndex().data(Qt.UserRole + 2)) == 42
    assert panel.position_of(42) == (panel.model.row_of(42), 11)
    panel.search.setText("n5")                 # hidden: no row
    assert panel.position_of(42) == (-1, 11)


def test_during_a_drag_only_the_rows_on_screen_are_scored(panel, monkeypatch):
    """The list's columns come from the engine as ImageListValues: while a slider is held a step computes the rows
    the view paints (one block around them), never all 20,000; the release sorts by every image's value."""
    import torch
    from segviewer.core import list_values
    from segviewer.core.counts import Counts, DatasetCounts
    from segviewer.core.scoring import Scoring
    rng = np.random.default_rng(3)
    names = [f"img{i:05d}" for i in range(N)]
    panel.set_dataset(names, [f"c{c}" for c in range(C)], ["unreviewed"])

    def values(seed):
        counts = Counts(*(torch.from_numpy(rng.integers(0, 30, (N, C))) for _ in range(3)))
        return list_values.ImageListValues(DatasetCounts(names, counts, counts, np.ones(N, bool)), -1, Scoring())
    panel.refresh(values(0), {})
    computed = []
    real = list_values.image_list_values
    monkeypatch.setattr(list_values, "image_list_values",
                        lambda *a, **k: computed.append(N if len(a) < 4 and k.get("images") is None else len(a[3]))
                        or real(*a, **k))
    panel.hold_order(True)
    step = values(1)
    panel.refresh(step)
    QApplication.processEvents()
    assert step._all is None and 0 < sum(computed) <= list_values.BLOCK
    shown = [panel.model.value(int(panel.model.order[r]), 1) for r in range(5)]
    every = real(step.counts, -1, Scoring())["mean_fbeta"]
    assert shown == [float(every[i]) for i in panel.model.order[:5]]          # the block's values are every image's
    computed.clear()
    panel.hold_order(False)
    assert computed == [N]                                       # one full column, for the sort on release
    assert panel.model.order.tolist() == python_order(step["mean_fbeta"], range(N), descending=False)


def test_a_first_click_on_fp_or_fn_puts_the_most_at_the_top_and_a_second_reverses(panel, qtbot):
    names = [f"Img{i:05d}" for i in range(N)]
    panel.set_dataset(names, [f"c{c}" for c in range(C)], ["unreviewed"])
    s = scores(2)
    panel.refresh(s, {})
    header = panel.view.horizontalHeader()

    def click(column):
        x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
        qtbot.mouseClick(header.viewport(), Qt.LeftButton, pos=QPoint(x, header.height() // 2))
    for column, key in ((4, "fp"), (5, "fn")):
        click(column)
        values = s[key].astype(float)
        assert panel.model.order.tolist() == python_order(values, range(N), descending=True), key
        click(column)
        assert panel.model.order.tolist() == python_order(values, range(N), descending=False), key


def test_names_and_marks_stay_while_the_numbers_scroll_sideways(panel, qtbot):
    """On a laptop a chosen class brings its F-beta, IoU, FP and FN columns: scrolled to them, the rows kept no
    name or review mark."""
    names = [f"Img{i:05d}" for i in range(N)]
    panel.set_dataset(names, [f"c{c}" for c in range(C)], ["unreviewed", "accepted"])
    panel.refresh(scores(3), {})
    panel.refresh(statuses={names[panel.model.order[0]]: "accepted"})
    panel.model.set_class(2, "c2")
    panel.resize(260, 400)
    QApplication.processEvents()
    bar, frozen = panel.view.horizontalScrollBar(), panel.frozen.overlay
    assert bar.maximum() > 0 and not frozen.isVisible()          # unscrolled: the table's own columns show
    bar.setValue(bar.maximum())
    QApplication.processEvents()
    header = panel.view.horizontalHeader()
    assert frozen.isVisible() and frozen.width() == header.sectionSize(STATUS) + header.sectionSize(NAME)
    row = frozen.rowHeight(0) // 2
    x_name = frozen.columnViewportPosition(NAME) + 5
    assert frozen.indexAt(QPoint(x_name, row)).data() == names[panel.model.order[0]]
    assert frozen.indexAt(QPoint(frozen.columnViewportPosition(STATUS) + 5, row)).data() == "✓"
    panel.view.verticalScrollBar().setValue(40)                  # the rows scroll together
    assert frozen.verticalScrollBar().value() == 40
    panel.step(+1)                                               # another row keeps the columns scrolled to
    panel.select(int(panel.model.order[500]))
    assert bar.value() == bar.maximum() and frozen.isVisible()
    frozen_header = frozen.horizontalHeader()
    qtbot.mouseClick(frozen_header.viewport(), Qt.LeftButton,
                     pos=QPoint(frozen_header.sectionViewportPosition(NAME) + 10, frozen_header.height() // 2))
    assert panel.model.sort_column == NAME and panel.model.sort_order == Qt.AscendingOrder   # as the table's header
    assert [names[i] for i in panel.model.order[:3]] == names[:3]
    bar.setValue(0)
    QApplication.processEvents()
    assert not frozen.isVisible()
