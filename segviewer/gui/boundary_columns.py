"""Boundary IoU, HD95 and NSD in the class table, on request: the engine computes them off the GUI thread (the
image's on the compute worker, the dataset's in one pass on the background worker), kept per setting by the
engine; a result is shown only while its image and prediction settings are still the current ones."""
from __future__ import annotations

from PySide6.QtCore import QObject

from .guard import message


class BoundaryColumns(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.w, self.v, self.table = window, window.viewer, window.class_table
        self._keys: dict[str, tuple] = {}
        self._failed = None
        self.table.boundary_box.toggled.connect(lambda _on: self.refresh())
        v = self.v
        v.sample_loaded.connect(self.refresh)
        v.settings_changed.connect(lambda changed: changed & {"threshold", "class_thresholds", "argmax"}
                                   and self.refresh())
        v.dataset_opened.connect(self._reset)
        v.dataset_scores_ready.connect(self.refresh)

    def _reset(self) -> None:
        self._keys = {}
        self.table.boundary = (None, None)

    def key(self, scope: str) -> tuple:
        v = self.v
        return (v.generation, v.current if scope == "image" else None, v.scoring.prediction_key())

    def refresh(self) -> None:
        v = self.v
        if not self.table.boundary_box.isChecked() or v.engine is None or v.loaded is None:
            return
        image, dataset = self.table.boundary
        shown = (image if self._keys.get("image") == self.key("image") else None,
                 dataset if self._keys.get("dataset") == self.key("dataset") else None)
        if shown != self.table.boundary:
            self.table.boundary = shown      # never a value for other settings, "computing…" instead
            self.w._update_tables()
        engine, i, scoring = v.engine, v.current, v.scoring
        if shown[0] is None:
            self._submit(v.compute, "image", lambda: engine.image_boundary_metrics(i, scoring=scoring).columns())
        if shown[1] is None:
            self._submit(v.background, "dataset",
                         lambda: engine.dataset_boundary_metrics(scoring=scoring).total().columns())

    def _submit(self, worker, scope: str, job) -> None:
        key = self.key(scope)
        if key == self._failed:
            return

        def done(columns):
            if key != self.key(scope):
                return
            self._keys[scope] = key
            image, dataset = self.table.boundary
            self.table.boundary = (columns, dataset) if scope == "image" else (image, columns)
            self.w._update_tables()
        def failed(exc):
            if key == self.key(scope) and self._failed != key:   # once, and only for the current settings
                self._failed = key
                self.v.error.emit(message("Boundary metrics", exc))
        worker.submit(f"boundary_{scope}", job, done, failed)
