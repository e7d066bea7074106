"""File ▸ Open dataset…: folder pickers for ground truth, predictions, images, and the classes."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLineEdit, QPushButton, QRadioButton, QWidget)

from ..core.classes import preset_names
from ..core.dataset import DataOptions


class OpenDatasetDialog(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
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
        self.classes = QComboBox()
        self.classes.setEditable(True)
        self.classes.addItems(["", *preset_names()])
        self.classes.setToolTip("a preset, a JSON/TOML class file, or empty for generic names")
        browse = QPushButton("File…")
        browse.clicked.connect(self._pick_class_file)
        row = QHBoxLayout()
        row.addWidget(self.classes, 1)
        row.addWidget(browse)
        form.addRow("classes", row)
        buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

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

    def _pick_folder(self, edit: QLineEdit, label: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, f"Choose the {label} folder", edit.text())
        if folder:
            edit.setText(folder)

    def _pick_class_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Class file", "", "Class files (*.json *.toml)")
        if path:
            self.classes.setCurrentText(path)

    def options(self) -> DataOptions:
        images = self.images.text().strip()
        classes = self.classes.currentText().strip()
        return DataOptions(gt_dir=Path(self.gt.text().strip()), pred_dir=Path(self.pred.text().strip()),
                           pred_kind="masks" if self.masks_radio.isChecked() else "logits",
                           images_dir=Path(images) if images else None, classes=classes or None)
