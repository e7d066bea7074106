"""Number fields that show and keep exactly the value the engine holds: the whole range the engine accepts, the
value written in its shortest exact decimal form (0.123456789, 1000000, 0.0000001), never rounded to a fixed
count of decimals — a field that rounds shows a wrong number and writes it back into the engine."""
from __future__ import annotations

import math
import re

import numpy as np
from PySide6.QtCore import QSize
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QAbstractSpinBox, QDoubleSpinBox, QStyle, QStyleOptionSpinBox

MOST_DECIMALS = 323          # Qt rounds a QDoubleSpinBox's value to its decimals; this many keep every double
PARTIAL = re.compile(r"^[+-]?\d*[.,]?\d*$")


def exact_text(value: float) -> str:
    """The shortest decimal that reads back as the same double, without an exponent (E is a key here)."""
    return np.format_float_positional(float(value), unique=True, trim="-")


class ExactSpinBox(QDoubleSpinBox):
    """A QDoubleSpinBox whose text is exact_text(value) and whose value is the double typed, unrounded. An arrow
    step moves by the single step (adaptive: a tenth of the value's leading decade) and lands on a clean decimal
    (0.3 + 0.001 is 0.301, not 0.30100000000000005)."""

    def __init__(self, low: float, high: float, step: float, adaptive: bool = False, hint: str = "0.000000"):
        super().__init__()
        self._adaptive, self._hint = adaptive, hint
        self.setDecimals(MOST_DECIMALS)
        self.setRange(low, high)
        self.setSingleStep(step)
        self.setKeyboardTracking(False)     # typing 0.3 applies 0.3 on Enter, never 0 first

    def textFromValue(self, value: float) -> str:
        return exact_text(value)

    def _number_part(self, text: str) -> str:
        """The text without the field's prefix and suffix (Qt hands over both forms)."""
        if self.prefix() and text.startswith(self.prefix()):
            text = text[len(self.prefix()):]
        if self.suffix() and text.endswith(self.suffix()):
            text = text[:-len(self.suffix())]
        return text.strip()

    def valueFromText(self, text: str) -> float:
        try:
            return float(self._number_part(text).replace(",", "."))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        stripped = self._number_part(text)
        if not PARTIAL.match(stripped):
            return QValidator.Invalid, text, pos
        try:
            number = float(stripped.replace(",", "."))
        except ValueError:
            return QValidator.Intermediate, text, pos
        ok = self.minimum() <= number <= self.maximum()
        return (QValidator.Acceptable if ok else QValidator.Intermediate), text, pos

    def stepBy(self, steps: int) -> None:
        value = self.value()
        step = self.singleStep()
        if self._adaptive and value > 0:
            decade = math.floor(math.log10(value))
            step = 10.0 ** (decade - 1)
            if steps < 0 and value == 10.0 ** decade:      # 1 steps down to 0.99, not 0.9
                step /= 10
        self.setValue(float(f"{value + steps * step:.12g}"))

    def sizeHint(self) -> QSize:
        """As wide as a typical value (the range's ends, e.g. 5e-324 written out, would make it huge)."""
        option = QStyleOptionSpinBox()
        self.initStyleOption(option)
        width = self.fontMetrics().horizontalAdvance(self.prefix() + self._hint + self.suffix() + " ") + 4
        height = self.lineEdit().sizeHint().height()
        return self.style().sizeFromContents(QStyle.CT_SpinBox, option, QSize(width, height), self)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()


def whole_field(spin: QAbstractSpinBox, low: int, high: int):
    """A whole-number field over the engine's whole range that applies its value on Enter, not on every key."""
    spin.setRange(low, high)
    spin.setKeyboardTracking(False)
    return spin
