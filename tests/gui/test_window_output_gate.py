"""Every writer of the window walks through the output gate: a path that is a symlink to a ground-truth file, a
hard link to a logits file, or a companion of the review session is refused with one message and changes nothing.
The writers are the window's methods that ask for a place to write: one added later fails the first test."""
import hashlib
import importlib
import inspect
import os
import pkgutil

import pytest

from helpers import settle
from segviewer.gui.guard import guarded

# (class, method) -> how the test calls it with a target (a file, or for a folder writer the folder)
WRITERS = {
    ("WindowExports", "export_per_class"): lambda w, target: w.exports.export_per_class(str(target)),
    ("WindowExports", "export_per_image"): lambda w, target: w.exports.export_per_image(str(target)),
    ("WindowExports", "save_view"): lambda w, target: w.exports.save_view(str(target)),
    ("WindowExports", "export_worst_figures"): lambda w, target: w.exports.export_worst_figures(str(target), 1),
    ("ReviewController", "export_report"): lambda w, target: w.review.export_report(str(target)),
}
FOLDER_WRITERS = {"export_worst_figures"}
SESSION_CHOOSERS = {("ReviewController", "_pick_new_file"),     # a session file: the session gate's (core.session)
                    ("OpenDatasetDialog", "_pick_session_file")}
SAVE_DIALOGS = ("getSaveFileName", "_save_path(", "Folder for the figures")


def window_writers() -> set[tuple[str, str]]:
    """Every method of the window's classes that asks where to write."""
    import segviewer.gui as gui
    found = set()
    for info in pkgutil.iter_modules(gui.__path__):
        module = importlib.import_module(f"segviewer.gui.{info.name}")
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for name, method in vars(cls).items():
                if inspect.isfunction(method) and name != "_save_path" and \
                        any(w in _source(method) for w in SAVE_DIALOGS):
                    found.add((cls_name, name))
    return found - SESSION_CHOOSERS


def _source(function) -> str:
    try:
        return inspect.getsource(function)
    except OSError:    # made at run time (a dataclass's __init__): no source, no dialog
        return ""


def test_every_window_writer_is_walked():
    assert window_writers() == set(WRITERS)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def place_targets(window, name: str, place, kind: str, gt_file, logits_file, session) -> list:
    """The hostile files a writer meets: its file, or for the figures every file name it could write."""
    if kind == "session-journal":
        return [session.with_name(session.name + "-journal")]
    names = window.viewer.dataset.names
    targets = [place / f"001-{n}.png" for n in names] if name in FOLDER_WRITERS else \
        [place / ("out.png" if name == "save_view" else "out.csv")]
    for target in targets:
        if kind == "symlink-to-gt":
            target.symlink_to(gt_file)
        else:
            os.link(logits_file, target)
    return targets


@pytest.mark.parametrize("kind", ["symlink-to-gt", "hardlink-to-logits", "session-journal"])
def test_every_window_writer_refuses_an_input(qtbot, window, demo_copy, tmp_path, kind):
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    assert window.review.use_session(tmp_path / "review.sqlite")    # a session outside segviewer's own folders
    settle(qtbot, window)
    session = window.review.target
    gt_file, logits_file = sorted((demo_copy / "gt").iterdir())[0], sorted((demo_copy / "logits").iterdir())[0]
    kept = {p: digest(p) for p in (gt_file, logits_file)}
    for i, ((_, name), call) in enumerate(WRITERS.items()):
        if kind == "session-journal" and name in FOLDER_WRITERS:
            continue                                   # figures are never named like a journal
        place = tmp_path / f"{name}-{i}"
        place.mkdir()
        targets = place_targets(window, name, place, kind, gt_file, logits_file, session)
        messages = []
        result = guarded(messages.append, name, lambda: call(window, place if name in FOLDER_WRITERS
                                                             else targets[0]))()
        settle(qtbot, window)
        shown = messages or [window.last_error]
        assert not result or name in FOLDER_WRITERS, (name, kind)
        named = "001-" if name in FOLDER_WRITERS else targets[0].name
        assert len(shown) == 1 and "\n" not in shown[0] and named in shown[0], (name, kind, shown)
        assert {p: digest(p) for p in kept} == kept
        assert not os.path.exists(session.with_name(session.name + "-journal"))
        window.last_error = ""
    assert window.isVisible()


def test_screenshot_into_a_missing_folder_is_written_and_over_an_input_is_one_line(qtbot, window, demo_copy,
                                                                                  tmp_path, capsys):
    from PIL import Image
    from segviewer.gui.app import save_screenshot
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    shot = tmp_path / "not" / "yet" / "shot.png"
    assert save_screenshot(window, shot) == 0 and Image.open(shot).format == "PNG"
    logits_file = sorted((demo_copy / "logits").iterdir())[0]
    os.link(logits_file, tmp_path / "shot2.png")
    before = digest(logits_file)
    assert save_screenshot(window, tmp_path / "shot2.png") == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("segviewer: error: ") and "--screenshot" in err[0]
    assert digest(logits_file) == before
