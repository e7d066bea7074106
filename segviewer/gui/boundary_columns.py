"""Boundary IoU, HD95 and NSD in the class table, on request: the engine computes them off the GUI thread (the
image's on the compute worker, the dataset's in one pass on the background worker) and keeps them per setting; a
result is shown only while its key (the image and the prediction settings) is the current one."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

PREDICTION_KEYS = {"threshold", "argmax"}


class BoundaryColumns(QObject):
    changed = Signal()       # the table's boundary columns changed: the tables are drawn again

    def __init__(self, viewer, table, parent: QObject | None = None):
        super().__init__(parent)
        self.v, self.table = viewer, table
        table.boundary_box.toggled.connect(lambda _on: self.refresh())
        viewer.sample_loaded.connect(self.refresh)
        viewer.image_failed.connect(lambda _i, _text: self.refresh())
        viewer.settings_changed.connect(lambda changed: changed & PREDICTION_KEYS and self.refresh())
        viewer.dataset_opened.connect(self._reset)
        viewer.dataset_scores_ready.connect(self.refresh)

    def _reset(self) -> None:
        self.table.boundary = (None, None)

    def _shown(self) -> tuple:
        jobs = self.v.jobs
        return jobs.value("boundary_image"), jobs.value("boundary_dataset")

    def _show(self, _columns=None) -> None:
        shown = self._shown()
        if any(a is not b for a, b in zip(shown, self.table.boundary)):
            self.table.boundary = shown      # never a value for other settings: "computing…" instead
            self.changed.emit()

    def refresh(self) -> None:
        v = self.v
        if not self.table.boundary_box.isChecked() or v.engine is None:
            return
        self._show()           # before anything else: a value of other settings or another image never stays
        engine, i, s = v.engine, v.current, v.scoring
        if v.loaded is not None:   # a failed image has no boundary of its own; the dataset's still follows
            v.jobs.request("boundary_image", lambda: engine.key("boundary", v.scoring, v.current),
                           lambda: engine.boundary.image(i, scoring=s).columns(), self._show, worker=v.compute,
                           what="Boundary metrics")
        v.jobs.request("boundary_dataset", lambda: engine.key("boundary", v.scoring),
                       lambda: engine.boundary.dataset(scoring=s).total().columns(), self._show,
                       worker=v.background, what="Boundary metrics")
