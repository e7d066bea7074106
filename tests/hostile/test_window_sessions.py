"""Hostile and mistaken session URLs typed into the window (File ▸ Open dataset's session field, then opened): one
line, the window goes on with its dataset, nothing is made in the working folder, and the password is neither shown
nor remembered in QSettings."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from hostile_kit import make_base, snapshot  # noqa: E402
from helpers import settle  # noqa: E402
from test_session_urls import PARSED_BEFORE_CONNECTING, SECRET, URLS  # noqa: E402


@pytest.mark.parametrize("name", list(URLS))
def test_hostile_session_url_in_the_window(qtbot, tmp_path, monkeypatch, name):
    pytest.importorskip("psycopg")
    from PySide6.QtCore import QSettings
    from segviewer.gui.main_window import MainWindow
    from segviewer.gui.open_dialog import OpenDatasetDialog
    url, reason = URLS[name]
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("PGSERVICEFILE", str(tmp_path / "no-service-file"))
    base = make_base(tmp_path / "data")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    window.show()
    dialog = OpenDatasetDialog(window, settings)
    qtbot.addWidget(dialog)
    dialog.gt.setText(str(base["gt"]))
    dialog.pred.setText(str(base["pred"]))
    dialog.session.setCurrentText(url)
    problems = dialog.problems()
    if name in PARSED_BEFORE_CONNECTING:
        assert len(problems) == 1 and reason in problems[0] and SECRET not in problems[0], problems
    else:
        assert problems == []
        window.review.session_override = dialog.session_target()
        assert window.open_options(dialog.options())
        settle(qtbot, window)
        shown = window.last_error
        assert shown.startswith("Review session failed: ") and reason in shown, shown
        assert "\n" not in shown and SECRET not in shown
        assert SECRET not in window.review.file_label.text() and window.review.retry.isVisible()
        assert window.review.worker is None and window.viewer.loaded is not None   # the window goes on
        from segviewer.gui.open_dialog import RECENT_SESSIONS_KEY
        assert settings.value(RECENT_SESSIONS_KEY) == ([url] if SECRET not in url else None)
    window.close()
    settings.sync()
    remembered = tmp_path / "settings.ini"
    assert not remembered.exists() or SECRET not in remembered.read_text(errors="replace")
    assert snapshot(work) == {}
