import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest  # noqa: E402


@pytest.fixture
def qsettings(tmp_path):
    from PySide6.QtCore import QSettings
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def window(qtbot, qsettings):
    from segviewer.gui.main_window import MainWindow
    w = MainWindow(settings=qsettings)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


@pytest.fixture
def demo_copy(demo_dir, tmp_path):
    import shutil
    root = tmp_path / "demo"
    shutil.copytree(demo_dir, root, ignore=shutil.ignore_patterns(".segviewer"))
    return root
