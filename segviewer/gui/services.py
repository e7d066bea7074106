"""What a window part may ask of the window, and nothing more: messages, navigation in the image list's order,
the canvas (focus, zoom), the output gate around a write, the settings store and a parent for its dialogs. Parts get this and the view-model's
signals; they never reach into another part."""
from __future__ import annotations

from typing import Protocol


class Services(Protocol):
    qsettings: object          # QSettings: the user's choices between runs
    dialog_parent: object      # the QWidget a part's dialogs belong to

    def status(self, text: str, ms: int = 8000) -> None: ...
    def error(self, text: str) -> None: ...               # a message box that does not block, and the status bar
    def report(self, text: str) -> None: ...              # the status bar only (the part shows its own dialog)
    def show_image(self, i: int) -> None: ...             # the user's choice of image (dataset position)
    def step_image(self, delta: int) -> None: ...         # the next / previous image in the list's order
    def visible_order(self) -> list[int]: ...             # the list's order (dataset positions)
    def focus_canvas(self) -> None: ...
    def zoom_to(self, bbox, z=None) -> None: ...          # (x0, y0, x1, y1), exclusive; z: a case's (z0, z1)
    def writing_outputs(self, label: str, path): ...      # a context: the window's output gate around one write


class WindowServices:
    """Services of a MainWindow."""

    def __init__(self, window):
        self._w = window
        self.qsettings = window.qsettings
        self.dialog_parent = window

    def status(self, text: str, ms: int = 8000) -> None:
        self._w.statusBar().showMessage(text, ms)

    def error(self, text: str) -> None:
        self._w.show_error(text)

    def report(self, text: str) -> None:
        self._w.note_error(text)

    def show_image(self, i: int) -> None:
        self._w.show_image(i)

    def step_image(self, delta: int) -> None:
        self._w.image_list.step(delta)

    def visible_order(self) -> list[int]:
        return self._w.image_list.visible_order()

    def focus_canvas(self) -> None:
        self._w.canvas.view_widget.setFocus()

    def zoom_to(self, bbox, z=None) -> None:
        """Zooms to the box; a 3-D region's box (on the array's (y, x) planes, z its range of them) on its middle
        slice, as that plane is drawn."""
        nav = self._w.viewer.slices
        if z is not None and nav.active:
            volume = nav.volume
            middle, plane = (z[0] + z[1] - 1) // 2, volume.orientation.plane_across(0)
            x0, y0, x1, y1 = bbox
            view = volume.view(plane)
            (r0, c0), (r1, c1) = (view.drawn((middle, y, x), volume.shape) for y, x in ((y0, x0), (y1 - 1, x1 - 1)))
            box = (min(c0, c1), min(r0, r1), max(c0, c1) + 1, max(r0, r1) + 1)
            # the slice arrives later, at its plane's aspect: zooming now would be undone by its refit
            nav.go(middle, plane, then=lambda: self._w.canvas.zoom_to(*box))
            return
        self._w.canvas.zoom_to(*bbox)

    def writing_outputs(self, label: str, path):
        return self._w.exports.writing_outputs(label, path)
