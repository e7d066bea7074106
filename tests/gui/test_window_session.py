"""What a window's session thread sends on (window_session, Qt-free), on a SQLite session: a state only when
something shown changed, the counts of the team and of the reviewer, and where the status keys' move-on goes."""
from segviewer.core.sessions import open_session
from segviewer.gui.window_session import WindowSession

NAMES = ["a", "b", "c", "d"]


def test_a_state_only_when_something_shown_changed(tmp_path):
    session = WindowSession(open_session(tmp_path / "s.sqlite", reviewer="ann"), NAMES)
    first = session.state()
    assert first.progress_text() == "0 of 4 reviewed" and first.connection_text() == "" and not first.read_only
    assert session.state() is None                                  # nothing new: nothing sent
    session.set_review("b", "needs-fix", "edge", "ann")
    state = session.state()
    assert dict(state.status_of) == {"b": "needs fix"} and dict(state.note_of) == {"b": "edge"}
    assert state.version != first.version and state.progress_text() == "1 of 4 reviewed"
    with open_session(tmp_path / "s.sqlite", reviewer="bob") as bob:   # another window on the same file
        bob.set_review("c", "accepted")
    session.show("c")
    state = session.state()
    assert state.team and state.progress_text() == "2 of 4 reviewed (mine: 1)"
    assert [(c.reviewer, c.status) for c in state.image_history] == [("bob", "accepted")]
    assert [(r.reviewer, r.images) for r in state.reviewers] == [("ann", 1), ("bob", 1)]
    session.close()


def test_move_on_goes_to_the_next_unreviewed_then_the_next_row(tmp_path):
    session = WindowSession(open_session(tmp_path / "s.sqlite"), NAMES)
    for name in ("a", "b", "d"):
        session.set_review(name, "accepted", None, "ann")
    assert session.next_unreviewed(NAMES, 1) == 2                   # from b on: c, the one left
    assert session.image == "c"
    session.set_review("c", "accepted", None, "ann")
    assert session.next_unreviewed(NAMES, 3) is None                # Ctrl+→: none left
    assert session.next_unreviewed(NAMES, 3, fallback_to_next=True) == 3   # the move-on walks on to the next row
    assert session.resume(NAMES) is None                            # every image reviewed: nowhere to resume
    session.close()
