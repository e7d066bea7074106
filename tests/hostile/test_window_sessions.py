"""Hostile and mistaken session URLs typed into the window (File ▸ Open dataset's session field, then opened): one
line, the window goes on with its dataset, nothing is made in the working folder, and the password is neither shown
nor remembered in QSettings. One window serves every case (each opens its session on the open dataset)."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from hostile_kit import make_base, snapshot  # noqa: E402
from helpers import settle  # noqa: E402
from test_session_urls import PARSED_BEFORE_CONNECTING, SECRET, URLS  # noqa: E402


@pytest.fixture(scope="module")
def opened(qapp, tmp_path_factory):
    """A window with a tiny dataset open, its QSettings file, and the dataset."""
    from PySide6.QtCore import QSettings
    from segviewer.gui.main_window import MainWindow
    root = tmp_path_factory.mktemp("window")
    base = make_base(root / "data")
    settings = QSettings(str(root / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(settings=settings)
    window.show()
    yield window, settings, root / "settings.ini", base
    window.close()


@pytest.mark.parametrize("name", list(URLS))
def test_hostile_session_url_in_the_window(qtbot, opened, tmp_path, monkeypatch, name):
    pytest.importorskip("psycopg")
    from segviewer.gui.open_dialog import RECENT_SESSIONS_KEY, OpenDatasetDialog
    window, settings, settings_file, base = opened
    url, reason = URLS[name]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("PGSERVICEFILE", str(tmp_path / "no-service-file"))
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
        window.last_error = ""
        if window.viewer.dataset is None:
            assert window.open_options(dialog.options())
        else:
            window.review.open_for_dataset()
        settle(qtbot, window)
        shown = window.last_error
        assert shown.startswith("Review session failed: ") and reason in shown, shown
        assert "\n" not in shown and SECRET not in shown
        assert SECRET not in window.review.file_label.text() and window.review.retry.isVisible()
        assert window.review.worker is None and window.viewer.loaded is not None   # the window goes on
        assert (url in (settings.value(RECENT_SESSIONS_KEY) or [])) == (SECRET not in url)
    settings.sync()
    assert not settings_file.exists() or SECRET not in settings_file.read_text(errors="replace")
    assert snapshot(tmp_path) == {}
