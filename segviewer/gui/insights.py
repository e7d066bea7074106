"""The analysis tabs beyond the scores: Compare (model A vs model B), Calibration and Label doubt: their tabs, their
views on the canvas, their rankings of the image list (as signals), model B opened from the menu or the CLI."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog

from ..core.compare_pixels import COMPARE_RGB, COMPARE_WORDS
from .calibration_panel import CalibrationController, CalibrationPanel
from .canvas import swatch
from .compare_panel import CompareController, ComparePanel
from .folders import start_folder
from .guard import guarded
from .image_list_model import DELTA, LABEL
from .label_issues_panel import LabelIssuesController, LabelIssuesPanel
from .state import SCORING_FIELDS
from .viewer import COUNT_KEYS, SCORE_KEYS

# what ΔFβ depends on: both models' counts, beta and smoothing, and the class it is shown for
DELTA_KEYS = COUNT_KEYS | SCORE_KEYS | {"class_id"} | {"compare_" + f for f in SCORING_FIELDS}


class Insights(QObject):
    list_column = Signal(int, object, bool)    # rank the image list: column, values in dataset order, ascending
    list_unranked = Signal(int)                # the analysis of that column is no longer shown
    columns_stale = Signal(bool)               # Δ (and, when True, the pair column) belong to other settings now

    def __init__(self, viewer, services, tabs, review, parent: QObject | None = None):
        super().__init__(parent)
        self.v, self.services, self.tabs, self.review = viewer, services, tabs, review
        self.compare_panel, self.calibration_panel, self.label_panel = (ComparePanel(), CalibrationPanel(),
                                                                        LabelIssuesPanel())
        self.compare = CompareController(viewer, self.compare_panel)
        self.calibration = CalibrationController(viewer, self.calibration_panel)
        self.labels = LabelIssuesController(viewer, services, self.label_panel)
        tabs.addTab(self.compare_panel, "Compare A/B")
        tabs.addTab(self.calibration_panel, "Calibration")
        tabs.addTab(self.label_panel, "Label doubt")
        tabs.currentChanged.connect(lambda _i: self.activate())
        viewer.settings_changed.connect(self._on_settings_changed)
        self.compare.deltas_ready.connect(
            lambda deltas: self.list_column.emit(DELTA, deltas["delta"], self.compare.ranking == "breaks"))
        self.labels.scores_ready.connect(lambda scores: self.list_column.emit(LABEL, scores.label_score, True))
        self.labels.needs_fix.connect(review.mark_needs_fix)
        self.label_panel.region_clicked.connect(lambda r: services.zoom_to(r.bbox, r.z))

    def _on_settings_changed(self, changed: set) -> None:
        if changed & DELTA_KEYS:
            self.columns_stale.emit(bool(changed & (COUNT_KEYS | {"class_id"})))
            self.compare.refresh()
        if "view" not in changed:
            return
        v = self.v
        if v.settings.view == "compare" and not (v.engine is not None and v.engine.compare.attached):
            # a key pressed at the wrong time is no error: a line in the status bar, no dialog to dismiss
            self.services.status("V shows model A → B changes once a model B is open "
                                 "(File ▸ Compare with model B…, or --compare B_DIR)", 8000)
            v.update_settings(view="errors")
            return
        self.activate()

    def activate(self) -> None:
        """Each controller computes only while its tab (or its canvas view) is showing."""
        current, view = self.tabs.currentWidget(), self.v.settings.view
        was = {DELTA: self.compare.active, LABEL: self.labels.active}
        self.compare.active = current is self.compare_panel or view == "compare"
        self.calibration.active = current is self.calibration_panel
        self.labels.active = current is self.label_panel or view == "doubt"
        for column, controller in ((DELTA, self.compare), (LABEL, self.labels)):
            if was[column] and not controller.active:    # its ranking would pass for the errors' worst first
                self.list_unranked.emit(column)
        for controller in (self.compare, self.calibration, self.labels):
            controller.refresh()

    # ---- model B ----
    def open_compare(self, folder: Path, kind: str | None = None) -> bool:
        """Model B (logits or masks) beside the open dataset; the Compare tab and the compare view (V) show it."""
        engine = self.v.engine
        if engine is None:
            self.services.error("Compare failed: open a dataset (model A) first.")
            return False
        if guarded(self.services.error, "Open model B", engine.compare.attach)(folder, kind) is None:
            return False
        self.compare.reset()
        self.tabs.setCurrentWidget(self.compare_panel)
        self.services.status(f"model B: {folder} — press V for the compare view", 10000)
        self.activate()
        return True

    def pick_compare(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.services.dialog_parent,
                                                  "Model B: a logits or masks folder (or a dataset folder)",
                                                  str(start_folder(self.services.qsettings)))
        if folder:
            self.open_compare(Path(folder))

    def toggle_compare_view(self) -> None:
        self.v.update_settings(view="errors" if self.v.settings.view == "compare" else "compare")

    def toggle_doubt_view(self) -> None:
        self.v.update_settings(view="errors" if self.v.settings.view == "doubt" else "doubt")

    def mark_label_doubt(self) -> None:
        """L in review mode: the image's largest (or selected) suspect region, noted with 'needs fix'."""
        if not self.review.mode:
            self.services.status("L marks label doubt in review mode (press R first)", 6000)
            return
        if self.labels.regions_now():
            self.labels.mark_needs_fix()

    # ---- the canvas legend of these views ----
    def legend(self, view: str, overlay) -> str:
        if view == "doubt":
            return ("label doubt: 1 − p(label class) — dark: the model agrees with the label, bright: it is sure "
                    "the label is wrong (Label doubt tab lists the suspect regions)")
        counts = overlay.legend if overlay is not None else {}
        unit = "vx" if self.v.dataset is not None and self.v.dataset.volumes else "px"
        parts = [swatch(COMPARE_RGB[code], f"{word} {counts.get(word, 0):,} {unit}" if counts else word)
                 for code, word in COMPARE_WORDS.items()]
        return "model A → model B: " + "&nbsp;&nbsp;".join(parts)
