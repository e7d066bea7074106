"""File ▸ Open dataset…: folder pickers for ground truth, predictions, images, and the classes; the QA session.

Open checks the fields at once (empty, missing folder, a session that is neither a file nor a PostgreSQL URL)
without touching any other folder or any server; a dataset folder's classes.json and images/ beside the GT are
picked up when those fields are left empty, for masks as for logits. The sessions used last are offered again — never
one with a password in it (libpq's PGPASSWORD, ~/.pgpass or a service file keep those)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QRadioButton, QWidget)

from ..core.classes import preset_names
from ..core.dataset import DataOptions
from ..core.errors import OptionError
from ..core.options import beside_gt
from ..core.sessions import PgTarget, session_target
from .folders import remember_folder, start_folder


RECENT_SESSIONS_KEY = "review/recent_sessions"
MAX_RECENT_SESSIONS = 8


class OpenDatasetDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, settings=None, session=None):
        """session: the window's session now (a Path or a PgTarget; the field shows it, password masked)."""
        super().__init__(parent)
        self.settings = settings
        self._current = session
        self.setWindowTitle("Open dataset")
        self.setMinimumWidth(560)
        form = QFormLayout(self)
        self.gt = self._folder_row(form, "ground truth", "folder of label maps (PNG class ids)")
        kind = QHBoxLayout()
        self.logits_radio, self.masks_radio = QRadioButton("logits"), QRadioButton("hard masks")
        self.logits_radio.setChecked(True)
        group = QButtonGroup(self)
        for rb in (self.logits_radio, self.masks_radio):
            group.addButton(rb)
            kind.addWidget(rb)
        kind.addStretch(1)
        form.addRow("predictions are", kind)
        self.pred = self._folder_row(form, "predictions", "folder of logits (.npy/.npz/.pt) or masks (PNG)")
        self.images = self._folder_row(form, "images (optional)", "folder of images")
        self.classes = self._combo_row(form, "classes", preset_names(), self._pick_class_file,
                                       "a preset, a JSON/TOML class file, or empty for generic names")
        self.scheduler = QLineEdit(str(settings.value("scheduler", "") or "") if settings is not None else "")
        self.scheduler.setPlaceholderText("optional: tcp://host:8786 — build the index on a Dask cluster")
        self.scheduler.setToolTip("a running Dask scheduler whose workers see the same files (remembered)")
        form.addRow("Dask scheduler", self.scheduler)
        self._session_row(form)
        self.problem = QLabel("")
        self.problem.setStyleSheet("color: #c03030;")
        self.problem.setWordWrap(True)
        form.addRow(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self._open_if_valid)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _combo_row(self, form: QFormLayout, label: str, items, pick, tip: str) -> QComboBox:
        """An editable choice (empty first) with a File… button beside it."""
        combo = QComboBox()
        combo.setEditable(True)
        combo.addItems(["", *items])
        combo.setToolTip(tip)
        browse = QPushButton("File…")
        browse.clicked.connect(pick)
        row = QHBoxLayout()
        row.addWidget(combo, 1)
        row.addWidget(browse)
        form.addRow(label, row)
        return combo

    def _session_row(self, form: QFormLayout) -> None:
        self.session = self._combo_row(
            form, "QA session", self._recent_sessions(), self._pick_session_file,
            "the QA session: a SQLite file, or a team session on PostgreSQL (postgresql://USER@HOST/DB?session=NAME, "
            "service=NAME); give passwords through PGPASSWORD or ~/.pgpass — a URL with a password is never remembered")
        self.session.setCurrentText(str(self._current) if self._current is not None else "")
        self.session.lineEdit().setPlaceholderText("optional: session.sqlite or postgresql://user@host/db "
                                                   "(default: the dataset's own file)")

    def _recent_sessions(self) -> list[str]:
        if self.settings is None:
            return []
        value = self.settings.value(RECENT_SESSIONS_KEY, []) or []
        return [str(v) for v in ([value] if isinstance(value, str) else value)][:MAX_RECENT_SESSIONS]

    def _pick_session_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "QA session file (a new name starts a new session)", self._start(),
                                              "Session (*.sqlite)", options=QFileDialog.DontConfirmOverwrite)
        if path:
            self.session.setCurrentText(path)
            self._remember(path)

    def session_target(self):
        """The session the field names (None: the dataset's own file); remembered, unless a password is in it."""
        text = self.session.currentText().strip()
        if not text:
            return None
        if self._current is not None and text == str(self._current):
            return self._current
        target = session_target(text)
        if self.settings is not None and not (isinstance(target, PgTarget) and target.secrets):
            recent = [text, *(t for t in self._recent_sessions() if t != text)][:MAX_RECENT_SESSIONS]
            self.settings.setValue(RECENT_SESSIONS_KEY, recent)
        return target

    def _folder_row(self, form: QFormLayout, label: str, tip: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setPlaceholderText(tip)
        button = QPushButton("Browse…")
        button.clicked.connect(lambda: self._pick_folder(edit, label))
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(button)
        form.addRow(label, row)
        return edit

    def _start(self, text: str = "") -> str:
        if text and Path(text).expanduser().is_dir():
            return text
        return str(start_folder(self.settings)) if self.settings is not None else ""

    def _remember(self, path: str) -> None:
        if self.settings is not None:
            remember_folder(self.settings, Path(path).parent if Path(path).is_dir() else path)

    def _pick_folder(self, edit: QLineEdit, label: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, f"Choose the {label} folder", self._start(edit.text()))
        if folder:
            edit.setText(folder)
            self._remember(folder)

    def _pick_class_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Class file", self._start(), "Class files (*.json *.toml)")
        if path:
            self.classes.setCurrentText(path)
            self._remember(path)

    def problems(self) -> list[str]:
        """What keeps the fields from opening, checked at once (only the folders named are looked at)."""
        found = []
        for edit, what, required in ((self.gt, "ground truth", True), (self.pred, "predictions", True),
                                     (self.images, "images", False)):
            text = edit.text().strip()
            if not text:
                if required:
                    found.append(f"choose the {what} folder")
            elif not Path(text).expanduser().is_dir():
                found.append(f"{what}: {text} is not a folder")
        session = self.session.currentText().strip()
        if session and not (self._current is not None and session == str(self._current)):
            try:
                session_target(session)
            except OptionError as exc:
                found.append(str(exc))
        return found

    def _open_if_valid(self) -> None:
        problems = self.problems()
        self.problem.setText("; ".join(problems))
        if not problems:
            self.accept()

    def scheduler_address(self) -> str | None:
        """The scheduler field, remembered for the next time (empty: this process builds the index)."""
        address = self.scheduler.text().strip()
        if self.settings is not None:
            self.settings.setValue("scheduler", address)
        return address or None

    def options(self) -> DataOptions:
        gt = Path(self.gt.text().strip()).expanduser()
        images, classes = self.images.text().strip(), self.classes.currentText().strip()
        found_images, found_classes = beside_gt(gt)
        return DataOptions(gt_dir=gt, pred_dir=Path(self.pred.text().strip()).expanduser(),
                           pred_kind="masks" if self.masks_radio.isChecked() else "logits",
                           images_dir=Path(images).expanduser() if images else found_images,
                           classes=classes or (str(found_classes) if found_classes else None))
