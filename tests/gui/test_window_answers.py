"""The window answers a user's mistakes and second thoughts: a value the engine refuses, a Save view too large
for the memory budget, ] on a list sorted by another column."""
from PySide6.QtCore import Qt

from helpers import open_at, settle


def test_a_refused_value_puts_back_what_the_engine_holds_and_the_field_goes_on(qtbot, window, demo_copy):
    """beta 1000, then 0 (the engine wants beta > 0): one message, the field shows 1000 again; 2 then applies."""
    open_at(qtbot, window, demo_copy, (1024, 700))
    window.layout_.show_panel(window.settings_dock)
    errors = []
    window.viewer.error.connect(errors.append)
    spin, engine = window.controls.beta_spin, window.viewer.engine

    def type_in(text):
        spin.setFocus()
        spin.lineEdit().selectAll()
        qtbot.keyClicks(spin.lineEdit(), text)
        qtbot.keyClick(spin, Qt.Key_Return)
        settle(qtbot, window)
    type_in("1000")
    assert engine.scoring.beta == 1000 and not errors
    type_in("0")
    assert engine.scoring.beta == 1000 and spin.text() == "1000" and len(errors) == 1 and "beta" in errors[0]
    type_in("2")
    assert engine.scoring.beta == 2 and spin.text() == "2"


def test_save_view_beyond_the_memory_budget_is_one_message_and_writes_nothing(qtbot, window, demo_copy, tmp_path,
                                                                              monkeypatch):
    """4× of the demo's 256×192 side by side needs ~22 MB: under a 16 MiB budget it is refused before anything is
    made, in one message; 1× (~2.8 MB) is written."""
    errors = []
    monkeypatch.setattr(window.services, "error", errors.append)
    open_at(qtbot, window, demo_copy, (1024, 700))
    window.viewer.update_settings(layout="side by side")
    settle(qtbot, window)
    monkeypatch.setenv("SEGVIEWER_MEMORY_BUDGET", "16MiB")       # once the dataset is open
    assert not window.exports.save_view(str(tmp_path / "big.png"), scale=4)
    assert len(errors) == 1 and errors[0].startswith("Save view failed: Save view needs about ")
    assert "4× the image's size" in errors[0] and not (tmp_path / "big.png").exists()
    assert window.exports.save_view(str(tmp_path / "small.png"), scale=1)


def test_bracket_sorts_a_list_sorted_by_another_column_back_and_says_so(qtbot, window, demo_copy):
    open_at(qtbot, window, demo_copy, (1024, 700))
    lst = window.image_list
    lst.view.sortByColumn(4, Qt.DescendingOrder)                 # by FP pixels
    settle(qtbot, window)
    qtbot.keyClick(window, Qt.Key_BracketRight)
    settle(qtbot, window)
    assert (lst.model.sort_column, lst.model.sort_order) == (1, Qt.AscendingOrder)
    assert window.statusBar().currentMessage() == "the list is sorted worst first (mean Fβ) again for ] and ["
    window.statusBar().clearMessage()
    qtbot.keyClick(window, Qt.Key_BracketRight)                  # already worst first: nothing to say
    assert window.statusBar().currentMessage() == ""
