"""Every file dialog starts in the folder the last one ended in (remembered between runs)."""
from __future__ import annotations

from pathlib import Path

LAST_FOLDER_KEY = "dialogs/last_folder"


def start_folder(settings) -> Path:
    folder = settings.value(LAST_FOLDER_KEY, "")
    return Path(folder) if folder and Path(folder).is_dir() else Path.home()


def remember_folder(settings, path: str | Path | None) -> None:
    """Remembers the folder of a chosen file, or a chosen folder itself."""
    if not path:
        return
    p = Path(path)
    settings.setValue(LAST_FOLDER_KEY, str(p if p.is_dir() else p.parent))
