"""The main window: canvas in the middle, image list left, controls right, tables and curves below."""
from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QStyle, QTabWidget

from ..core.dataset import DataOptions
from ..core.overlay import ALL_CLASSES
from .canvas import CanvasPanel
from .canvas_view import CanvasView
from .analysis import FailureTabs
from .class_table import ClassTablePanel
from .confusion_panel import ConfusionPanel
from .regions_panel import RegionsPanel
from .controls import ControlsPanel
from .curves import CurvesController, CurvesPanel
from .image_list import ImageListPanel
from .layout import DEFAULT_SIZE, Arrangement, WindowLayout, initial_size, scrolling
from .viewer import Viewer
from .volume_view import VolumeView
from .window_actions import WindowActions
from .window_exports import WindowExports
from .guard import guarded
from .readout import hover_text
from .boundary_columns import BoundaryColumns
from .insights import Insights
from .failed_image import NOT_LOADED, FailedImage
from .first_image import FirstImage
from .review import ReviewController
from .team import ConnectionLabel
from .services import WindowServices
from .time_left import IndexProgress

CLASS_ROWS = {Arrangement.COMPACT: 7, Arrangement.WIDE: 10}     # class table rows the Scores panel opens with
CLOSE_WAIT_S = 3.0
REVIEW_LEAST = 220      # px the Review panel keeps under Settings on a short wide window (both scroll then)


class MainWindow(QMainWindow):
    def __init__(self, viewer: Viewer | None = None, settings: QSettings | None = None,
                 remember_layout: bool | None = None):
        """remember_layout: keep the panels' layout between runs (default: on a real screen, not offscreen, so
        tests, benchmarks and --screenshot always start from the same layout)."""
        super().__init__()
        if remember_layout is None:
            remember_layout = QGuiApplication.platformName() != "offscreen"
        self.remember_layout = remember_layout
        self.setWindowTitle("segviewer")
        self.resize(*(DEFAULT_SIZE if QGuiApplication.platformName() == "offscreen"
                      else initial_size(self.screen().availableGeometry().size())))
        self.setMinimumSize(800, 560)
        self.setAcceptDrops(True)
        self.qsettings = settings or QSettings("segviewer", "segviewer")
        self.viewer = viewer or Viewer()
        self.canvas = CanvasPanel()
        self.controls = ControlsPanel(self.viewer.steps)
        self.image_list = ImageListPanel()
        self.class_table = ClassTablePanel()
        self.curves = CurvesPanel()
        self.confusion = ConfusionPanel()
        self.regions = RegionsPanel()
        self.bottom_tabs = QTabWidget()
        self.bottom_tabs.addTab(self.class_table, "Classes")
        self.bottom_tabs.addTab(self.curves, "Curves")
        self.bottom_tabs.addTab(self.confusion, "Confusion")
        self.bottom_tabs.addTab(self.regions, "Error regions")
        self.setCentralWidget(self.canvas)
        self.volume_view = VolumeView(self)        # a 3-D case's slice bar, intensity window and worst slices
        self.last_error = ""
        self.services = WindowServices(self)       # what the parts below may ask of the window
        self.failure_tabs = FailureTabs(self.viewer, self.services, self.bottom_tabs, self.confusion, self.regions,
                                        self)
        self.analysis = self.failure_tabs.analysis
        self.review = ReviewController(self.viewer, self.services, self)
        self.insights = Insights(self.viewer, self.services, self.bottom_tabs, self.review, self)
        self.boundary_columns = BoundaryColumns(self.viewer, self.class_table, self)
        self.failed_image = FailedImage(self.viewer, self)
        self.exports = WindowExports(self.viewer, self.services, self.canvas, lambda: self.review.target)
        self.layout_ = WindowLayout(self)
        self.images_dock = self.layout_.add("Images", self.image_list, Qt.LeftDockWidgetArea, 250, (200, 150))
        self.settings_dock = self.layout_.add("Settings", scrolling(self.controls), Qt.RightDockWidgetArea, 0,
                                              (0, 120))   # as narrow as its controls allow
        # under Settings: the spare height of the column, at least REVIEW_LEAST px
        self.review_dock = self.layout_.add("Review", scrolling(self.review.panel), Qt.RightDockWidgetArea,
                                            REVIEW_LEAST, (0, 120), below=self.settings_dock)
        self.scores_dock = self.layout_.add("Scores", self.bottom_tabs, Qt.BottomDockWidgetArea, 280, (0, 150),
                                            side_bar=False, summary=self.class_table.summary)
        self.controls.add_row(self.class_table.boundary_box)
        self.layout_.bottom_height = self._scores_height
        self.layout_.keep_share(self.images_dock, Qt.Horizontal)
        self.layout_.keep_share(self.scores_dock, Qt.Vertical)
        self.layout_.reset()
        self._status_bar()
        self.actions_ = WindowActions(self)
        if remember_layout:
            self.layout_.restore(self.qsettings)
        self.canvas_view = CanvasView(self.viewer, self.canvas, self.image_list.position_of, self.insights.legend,
                                      self.failed_image.showing, self.volume_view)
        self.curves_ = CurvesController(self.viewer, self.curves)
        self._tables_dirty = False
        self.first_image = FirstImage(self.image_list.visible_order, self.review.resume_in, self.viewer.select_image,
                                      lambda: self.viewer.current)
        self.bottom_tabs.tabBarClicked.connect(lambda _i: self.first_image.user_looked())
        self._connect()
        self.controls.sync(self.viewer.settings)
        self.canvas_view.apply_lut()
        self.canvas_view.show_empty_hint()
        self.canvas.view_widget.setFocus()   # single keys work from the start (not typed into the name filter)

    def _scores_height(self, arrangement: Arrangement) -> int:
        """The Scores panel's height: the class table's header and CLASS_ROWS rows (a small dataset's every class
        on a laptop), the image keeping about half of the window."""
        tabs = self.bottom_tabs
        frame = 2 * tabs.style().pixelMetric(QStyle.PM_DefaultFrameWidth)
        return (self.scores_dock.titleBarWidget().sizeHint().height() + tabs.tabBar().sizeHint().height() + frame
                + self.class_table.height_for_rows(CLASS_ROWS[arrangement]))

    def _status_bar(self) -> None:
        bar = self.statusBar()
        self.device_label = QLabel("")
        self.reviewed_label = QLabel("")
        self.connection_label = ConnectionLabel()
        self.size_label = QLabel("no dataset")
        self.timing_label = QLabel("")
        self.progress = IndexProgress()
        for w in (self.size_label, self.timing_label):
            bar.addWidget(w)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.connection_label)
        bar.addPermanentWidget(self.reviewed_label)
        bar.addPermanentWidget(self.device_label)

    def _connect(self) -> None:
        v = self.viewer
        for signal, slot in ((v.dataset_opened, self._on_dataset_opened), (v.dataset_closed, self._on_dataset_closed),
                             (v.sample_loaded, self._on_sample_loaded),
                             (v.overlay_ready, self.canvas_view.overlay_ready), (v.overlay_ready, self._update_timing),
                             (v.image_scores_ready, self._tables_later),
                             (v.dataset_scores_ready, self._on_dataset_scores),
                             (v.settings_changed, self._on_settings_changed),
                             (v.settings_refused, lambda: self.controls.sync(self.viewer.settings)),
                             (v.settings_applied, self._tables_now),
                             (v.index_progress, self.progress.report), (v.image_failed, self._on_image_failed),
                             (v.failures_changed, lambda: self.image_list.refresh(failures=self.viewer.failures)),
                             (v.error, self.show_error)):     # the viewer's messages are already in the one format
            signal.connect(slot)
        v.slices.changed.connect(self.canvas_view.update_title)         # a 3-D case's slice: the title names it
        self.controls.changed.connect(lambda changes: v.update_settings(**changes))
        self.controls.apply_best.connect(v.apply_best_thresholds)
        self.controls.reset_best.connect(v.reset_thresholds)
        self.review.panel_wanted.connect(lambda: self.layout_.show_panel(self.review_dock))
        self.review.reviews_changed.connect(lambda statuses, notes: self.image_list.refresh(statuses=statuses,
                                                                                           notes=notes))
        self.review.progress_changed.connect(self.reviewed_label.setText)
        self.review.progress_changed.connect(self.image_list.show_review_progress)
        self.review.status_names_changed.connect(self.image_list.set_status_names)
        self.review.held_changed.connect(self.image_list.show_holders)
        self.review.connection_changed.connect(self.connection_label.show_text)
        self.insights.list_column.connect(self._rank_list)
        self.insights.list_unranked.connect(self._unrank_list)
        self.insights.columns_stale.connect(self.image_list.drop_settings_columns)
        self.boundary_columns.changed.connect(self._tables_later)
        self.controls.drag_changed.connect(self.image_list.hold_order)
        self.image_list.image_selected.connect(self._on_list_selected)
        self.image_list.order_changed.connect(self.canvas_view.update_title)
        self.class_table.class_clicked.connect(lambda c: v.update_settings(class_id=c))
        self.canvas.hovered.connect(lambda x, y: self.canvas.readout.setText(hover_text(self.viewer, x, y)))
        self.failure_tabs.highlight.connect(self.canvas.set_highlight)
        self.failed_image.preview_ready.connect(self.canvas_view.show_preview)
        self.failure_tabs.pair_ranked.connect(self.image_list.show_pair_counts)

    # ---- opening ----
    def open_options(self, options: DataOptions) -> bool:
        ok = bool(guarded(self.show_error, "Open dataset", self.viewer.open_dataset)(options))
        if ok:
            self.actions_.remember_recent(options)
        return ok

    def _on_dataset_opened(self) -> None:
        v = self.viewer
        ds = v.dataset
        self.controls.set_classes(ds.classes.names, ds.classes.colors, v.is_hard)
        self.controls.sync(v.settings)
        self.first_image.dataset_opened()     # picked once the list has its order (and the session answered)
        self.image_list.set_dataset(ds.names, ds.classes.names, self.review.status_names(),
                                    "cases" if ds.volumes else "images")
        self._list_follows_class()
        self.review.open_for_dataset()
        self.curves_.dataset_opened()
        kind = "annotator masks" if v.is_hard else "predictions" if ds.volumes else "logits"
        self.size_label.setText(f"{len(ds)} {'cases' if ds.volumes else 'images'} · {ds.classes.num_classes} "
                                f"classes · {kind}")
        self.device_label.setText(f"device: {v.device_text()}")
        self.setWindowTitle(f"segviewer — {ds.options.gt_dir.parent.name or ds.options.gt_dir}")
        problems = ds.pairing.problems()
        self.statusBar().showMessage("; ".join(problems) if problems else "dataset opened", 10000)
        self.progress.restart(len(ds))
        self._update_tables()

    def _on_dataset_closed(self) -> None:
        """Nothing of a closed engine stays on screen: no numbers for a dataset that is gone."""
        self.canvas_view.clear()
        self.image_list.set_dataset([], [], [])
        self.class_table.model.set_rows([], [])
        self.review.close()
        self.size_label.setText("no dataset")
        self.canvas_view.show_empty_hint()

    def show_image(self, i: int) -> None:
        """Shows image i (dataset order) as the user's choice: the list's top no longer replaces it."""
        self.first_image.user_chose()
        self.viewer.select_image(i)

    def _on_list_selected(self, i: int) -> None:
        self.show_image(i)

    def _on_sample_loaded(self) -> None:
        self.canvas_view.sample_loaded()
        self.image_list.select(self.viewer.loaded.index)
        self.review.on_image_changed()   # its lease, its review and history

    def _on_image_failed(self, i: int, message: str) -> None:
        self.image_list.refresh(failures=self.viewer.failures)
        if i == self.viewer.current:
            self.canvas_view.image_failed(message)
            self.image_list.select(i)
            self.review.on_image_changed()

    # ---- settings ----
    def _on_settings_changed(self, changed: set) -> None:
        self.controls.sync(self.viewer.settings)
        self.canvas_view.settings_changed(changed)
        if "class_id" in changed:
            self._tables_later()          # the Scores line is the class's
            self._list_follows_class()
            self._refresh_list()
        self.curves_.settings_changed(changed)

    # ---- numbers ----
    def _tables_later(self) -> None:
        """The tables are drawn once per settings change, however many of their numbers it brought at once (a
        slider step brings the image's and the dataset's), before the window is painted."""
        self._tables_dirty = True
        if not self.viewer.applying:
            self._tables_now()

    def _tables_now(self) -> None:
        if self._tables_dirty:
            self._tables_dirty = False
            self._update_tables()

    def _update_tables(self) -> None:
        v = self.viewer
        if v.dataset is None:
            return
        image, dataset = v.image_scores(), v.dataset_scores()
        ic, dc = v.image_counts, v.dataset_counts
        note = (f"no dataset scores: {v.index_refused}" if v.index_refused is not None else
                "building the dataset index…" if v.index is None else "")
        scopes = [(image, (ic.tp + ic.fn) if ic is not None else None)]
        volumes = v.dataset.volumes          # the slice, the case, the dataset pooled and per case mean
        if volumes:
            scopes.append(v.slices.case_scores())
        scopes.append((dataset, (dc.tp + dc.fn) if dc is not None else None))
        if volumes:
            scopes.append(v.slices.dataset_case_mean())
        class_id = v.settings.class_id
        self.class_table.update_scores(v.classes.names, v.classes.colors, scopes, v.best, v.scoring.beta, note,
                                       NOT_LOADED if self.failed_image.showing() else "computing…",
                                       None if class_id == ALL_CLASSES else class_id)
        self.class_table.select_class(v.settings.class_id)
        self.canvas_view.update_legend()
        self._update_timing()

    def _on_dataset_scores(self) -> None:
        self.curves_.dataset_scores()
        self._tables_later()
        self._refresh_list()      # every step: the rows update in place (the order waits for the drag's end)

    def _refresh_list(self) -> None:
        # None while the dataset counts for these settings are computed: the list shows "…", never old numbers
        self.image_list.scores = self.viewer.image_list_scores()
        self.image_list.refresh(None, self.viewer.failures)
        if self.image_list.scores is not None:
            self.first_image.list_sorted()

    def _list_follows_class(self) -> None:
        v = self.viewer
        class_id = v.settings.class_id
        self.image_list.model.set_class(None if class_id == ALL_CLASSES else class_id,
                                        "" if class_id == ALL_CLASSES else v.classes.names[class_id])

    def _rank_list(self, column: int, values, ascending: bool) -> None:
        """An analysis ranks the image list by its column; the title's "n of N in the list" follows the order."""
        self.image_list.show_column(column, values, ascending)
        self.first_image.list_ranked()
        self.canvas_view.update_title()

    def _unrank_list(self, column: int) -> None:
        if self.image_list.model.sort_column == column:
            self.image_list.sort_worst_first()
            self.canvas_view.update_title()

    def _update_timing(self) -> None:
        v = self.viewer
        parts = []
        if not math.isnan(v.last_overlay_ms):
            parts.append(f"overlay {v.last_overlay_ms:.1f} ms")
        if not math.isnan(v.last_counts_ms):
            parts.append(f"image scores {v.last_counts_ms:.1f} ms")
        self.timing_label.setText("last recompute: " + ", ".join(parts) if parts else "")

    def clear_highlight(self) -> None:
        self.failure_tabs.clear()
        self.canvas.box_item.hide()

    # ---- messages ----
    def show_error(self, text: str) -> None:
        """A message that does not block the window (or the tests)."""
        self.statusBar().showMessage(text, 15000)
        box = QMessageBox(QMessageBox.Warning, "segviewer", text, QMessageBox.Ok, self)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()
        self.last_error = text

    def note_error(self, text: str) -> None:
        """A problem shown in the status bar only (the part that found it shows its own dialog)."""
        self.statusBar().showMessage(text, 15000)
        self.last_error = text

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.layout_.window_resized()

    # ---- drag and drop ----
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile() and Path(url.toLocalFile()).is_dir():
                self.actions_.open_folder(Path(url.toLocalFile()))
                return

    def closeEvent(self, event) -> None:
        if self.remember_layout:
            self.layout_.save(self.qsettings)
        self.review.close(wait_s=CLOSE_WAIT_S)   # the image's lease given up before the process may end
        self.viewer.shutdown()
        super().closeEvent(event)

