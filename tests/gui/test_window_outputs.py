"""The window's exports follow the CLI's rule: never over a file of the dataset; a failure is one message."""
import hashlib

from helpers import settle
from segviewer.gui.guard import guarded


def test_export_over_a_ground_truth_file_is_refused_with_one_message(qtbot, window, demo_copy):
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    gt_file = sorted((demo_copy / "gt").iterdir())[0]
    before = hashlib.sha256(gt_file.read_bytes()).hexdigest()
    messages = []
    export = guarded(messages.append, "Export per-class CSV", window.exports.export_per_class)
    assert export(str(gt_file)) is None
    assert len(messages) == 1 and "would overwrite an input" in messages[0] and "\n" not in messages[0]
    assert hashlib.sha256(gt_file.read_bytes()).hexdigest() == before
    assert window.isVisible()
