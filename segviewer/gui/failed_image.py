"""An image that failed to load still shows what can be shown: its photo and its ground truth (class colours), read
off the GUI thread, under the banner that names the file and the problem; its scores say it could not be loaded,
never "computing…"."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

NOT_LOADED = "not loaded (see the message over the image)"


class FailedImage(QObject):
    preview_ready = Signal(object, object)     # photo (H×W×3 uint8 or None), GT label map (H×W or None)

    def __init__(self, viewer, parent: QObject | None = None):
        super().__init__(parent)
        self.v = viewer
        viewer.image_failed.connect(self._request)

    def showing(self) -> bool:
        """The selected image is one that failed (its numbers cannot come)."""
        v = self.v
        return v.engine is not None and v.current >= 0 and v.current in v.failures and not v.showing_current()

    def _request(self, i: int, _message: str) -> None:
        v = self.v
        if i != v.current:
            return
        engine = v.engine
        v.jobs.forget("preview")
        v.jobs.request("preview", lambda: engine.key("image", image=v.current), lambda: engine.dataset.load_preview(i),
                       lambda parts: self._apply(i, parts), worker=v.compute, what="Drawing the failed image")

    def _apply(self, i: int, parts: tuple[np.ndarray | None, np.ndarray | None]) -> None:
        if i == self.v.current and not self.v.showing_current():
            self.preview_ready.emit(*parts)
