"""The analysis tabs beyond the scores: Compare (model A vs model B), Calibration and Label doubt, wired to the
window: their views on the canvas, their rankings in the image list, model B opened from the menu or the CLI."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ..core.compare_pixels import COMPARE_RGB, COMPARE_WORDS
from .calibration_panel import CalibrationController, CalibrationPanel
from .canvas import swatch
from .compare_panel import CompareController, ComparePanel
from .folders import start_folder
from .guard import guarded
from .image_list_model import DELTA, LABEL
from .viewer import COUNT_KEYS
from .label_issues_panel import LabelIssuesController, LabelIssuesPanel


class Insights:
    def __init__(self, window):
        self.w = window
        v = window.viewer
        self.compare_panel, self.calibration_panel, self.label_panel = (ComparePanel(), CalibrationPanel(),
                                                                        LabelIssuesPanel())
        self.compare = CompareController(v, self.compare_panel)
        self.calibration = CalibrationController(v, self.calibration_panel)
        self.labels = LabelIssuesController(window, self.label_panel)
        tabs = window.bottom_tabs
        tabs.addTab(self.compare_panel, "Compare A/B")
        tabs.addTab(self.calibration_panel, "Calibration")
        tabs.addTab(self.label_panel, "Label doubt")
        tabs.currentChanged.connect(lambda _i: self.activate())
        v.settings_changed.connect(self._on_settings_changed)
        self.compare.deltas_ready.connect(self._show_deltas)
        self.labels.scores_ready.connect(self._show_label_scores)
        self.label_panel.region_clicked.connect(lambda r: window.canvas.zoom_to(*r.bbox))

    def _on_settings_changed(self, changed: set) -> None:
        if changed & COUNT_KEYS or "class_id" in changed:
            self._drop_stale_columns()
        if "view" not in changed:
            return
        v = self.w.viewer
        if v.settings.view == "compare" and not (v.engine is not None and v.engine.has_compare):
            self.w.show_error("Compare view failed: no model B is open (File ▸ Compare with model B…).")
            v.update_settings(view="errors")
            return
        self.activate()

    def activate(self) -> None:
        """Each controller computes only while its tab (or its canvas view) is showing."""
        current, view = self.w.bottom_tabs.currentWidget(), self.w.viewer.settings.view
        self.compare.active = current is self.compare_panel or view == "compare"
        self.calibration.active = current is self.calibration_panel
        self.labels.active = current is self.label_panel or view == "doubt"
        for controller in (self.compare, self.calibration, self.labels):
            controller.refresh()

    # ---- model B ----
    def open_compare(self, folder: Path, kind: str | None = None) -> bool:
        """Model B (logits or masks) beside the open dataset; the Compare tab and the compare view (V) show it."""
        engine = self.w.viewer.engine
        if engine is None:
            self.w.show_error("Compare failed: open a dataset (model A) first.")
            return False
        if guarded(self.w.show_error, "Open model B", engine.attach_compare)(folder, kind) is None:
            return False
        self.compare._reset()
        self.w.bottom_tabs.setCurrentWidget(self.compare_panel)
        self.w.statusBar().showMessage(f"model B: {folder} — press V for the compare view", 10000)
        self.activate()
        return True

    def pick_compare(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Model B: a logits or masks folder (or a dataset folder)",
                                                  str(start_folder(self.w.qsettings)))
        if folder:
            self.open_compare(Path(folder))

    def toggle_compare_view(self) -> None:
        v = self.w.viewer
        v.update_settings(view="errors" if v.settings.view == "compare" else "compare")

    def toggle_doubt_view(self) -> None:
        v = self.w.viewer
        v.update_settings(view="errors" if v.settings.view == "doubt" else "doubt")

    def mark_label_doubt(self) -> None:
        """L in review mode: the image's largest (or selected) suspect region, noted with 'needs fix'."""
        if not self.w.review.mode:
            self.w.statusBar().showMessage("L marks label doubt in review mode (press R first)", 6000)
            return
        labels, v = self.labels, self.w.viewer
        if not labels.current_regions():
            confidence = labels.settings()[1]
            regions = guarded(self.w.show_error, "Suspect regions", v.engine.suspect_regions)(v.current, confidence)
            if regions is None:
                return
            self.label_panel.set_regions(regions, v.classes.names)
            labels._image_key = (v.generation, v.current, confidence)
        labels.mark_needs_fix()

    # ---- the image list ----
    def _drop_stale_columns(self) -> None:
        """Δ (and a confusion cell's pixels) belong to the settings they were computed for: cleared on a change
        until the Compare tab (or the next cell click) computes them again."""
        model = self.w.image_list.model
        if model.extra.pop(DELTA, None) is not None or model.pair_counts is not None:
            model.pair_counts = None
            model.changed()
        self.compare.refresh()
    def _show_deltas(self, deltas) -> None:
        self.w.image_list.show_column(DELTA, deltas["delta"], ascending=self.compare.ranking == "breaks")
        self.w._update_title()     # "n of N in the list" follows the new order

    def _show_label_scores(self, scores) -> None:
        self.w.image_list.show_column(LABEL, scores.label_score, ascending=True)
        self.w._update_title()

    # ---- the canvas legend of these views ----
    def legend(self, view: str, overlay) -> str:
        if view == "doubt":
            return ("label doubt: 1 − p(label class) — dark: the model agrees with the label, bright: it is sure "
                    "the label is wrong (Label doubt tab lists the suspect regions)")
        counts = overlay.legend if overlay is not None else {}
        parts = [swatch(COMPARE_RGB[code], f"{word} {counts.get(word, 0):,} px" if counts else word)
                 for code, word in COMPARE_WORDS.items()]
        return "model A → model B: " + "&nbsp;&nbsp;".join(parts)
