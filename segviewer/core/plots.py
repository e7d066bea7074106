"""How every figure segviewer writes is drawn and saved: headless (Agg), names shown literally, through the gate.

Names come from users' files (class files, image names): matplotlib would read `$...$` in them as mathtext (and
fail on `$\\nope{$`), and a lone surrogate cannot be drawn. Every text is drawn as written, invalid code points
replaced; the file goes through the output gate (a temporary file, renamed with the run's other outputs).
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import valid_utf8

# figures are drawn with mathtext off: a name's `$` is a dollar sign
LITERAL_TEXT = {"text.parse_math": False, "text.usetex": False}


def literal(text: object) -> str:
    """Text as a figure shows it: valid Unicode (invalid code points become U+FFFD), no control characters."""
    return "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in valid_utf8(text))


@contextmanager
def drawing() -> Iterator[object]:
    """pyplot, headless, with every text of the figures made inside drawn literally (tick labels are made when
    the figure is saved: save it inside too)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with matplotlib.rc_context(LITERAL_TEXT):
        yield plt


def save_figure(fig, path: str | Path, label: str = "figure") -> None:
    """Saves through the output gate (call inside drawing()), then frees the figure."""
    import matplotlib.pyplot as plt
    from .output_run import atomic_output
    try:
        with atomic_output(path, label) as tmp:
            fig.savefig(tmp)
    finally:
        plt.close(fig)
