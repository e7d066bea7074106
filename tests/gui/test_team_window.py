"""The window on a team session (PostgreSQL, the throwaway cluster of tests/pg_cluster.py): another reviewer's change
appears, as LISTEN tells (bench_team_qa.py times it), in the list, its tooltip, the counts and the panel; leases keep two reviewers off one image; a
stopped server loses nothing; a read-only role says why nothing happens; no password reaches the screen or QSettings;
and no database call is ever made on the GUI thread."""
import threading

import pytest
from PySide6.QtCore import Qt

from helpers import settle
from segviewer.core.sessions import open_session, session_target
from segviewer.gui.image_list_model import HELD_COLOR, NAME, STATUS

SHOWN_MS = 20000     # generous on a loaded machine: the safety-net read is off (below), so only LISTEN shows it


@pytest.fixture(autouse=True)
def only_listen(monkeypatch):
    """No read every 10 s as a safety net: whatever others did reaches a window here because LISTEN said so."""
    import segviewer.core.sessions.pg_link as pg_link
    monkeypatch.setattr(pg_link, "READ_EVERY_S", 3600.0)


@pytest.fixture
def gui_thread_calls(monkeypatch):
    """Every psycopg connect / execute made on the GUI thread (there must be none)."""
    import psycopg
    made = []
    main = threading.main_thread()
    for owner, name in ((psycopg.Connection, "execute"), (psycopg.Connection, "connect")):
        original = getattr(owner, name)

        def watched(*args, _original=original, _name=name, **kwargs):
            if threading.current_thread() is main:
                made.append(_name)
            return _original(*args, **kwargs)
        monkeypatch.setattr(owner, name, classmethod(watched) if name == "connect" else watched)
    return made


class OtherReviewer:
    """Another reviewer's core store, every call on a thread of its own (as another process would be), so the GUI
    thread's calls are only the window's."""

    def __init__(self, url, reviewer):
        from concurrent.futures import ThreadPoolExecutor
        self.pool = ThreadPoolExecutor(1)
        self.store = self.pool.submit(open_session, url, reviewer=reviewer).result()

    def __getattr__(self, name):
        method = getattr(self.store, name)
        return lambda *args, **kwargs: self.pool.submit(method, *args, **kwargs).result()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.pool.submit(self.store.close).result()
        self.pool.shutdown()


def open_team(qtbot, window, folder, url):
    window.review.session_override = session_target(url)
    assert window.actions_.open_folder(folder)
    settle(qtbot, window)
    assert window.review.state is not None and window.review.state.kind == "postgresql"
    return window.viewer.dataset.names


def shown_name(window):
    return window.viewer.dataset.names[window.viewer.current]


def list_cell(window, image, column, role=Qt.DisplayRole):
    model = window.image_list.model
    i = window.viewer.dataset.names.index(image)
    return model.data(model.index(model.row_of(i), column), role)


def test_another_reviewers_change_shows_in_list_counts_and_panel(qtbot, window, demo_copy, pg, gui_thread_calls,
                                                                 monkeypatch):
    import types
    import segviewer.gui.team as team
    names = open_team(qtbot, window, demo_copy, pg.url())
    window.review.reviewer.setText("ann")
    window.review.reviewer.editingFinished.emit()
    current = shown_name(window)
    other = next(n for n in names if n != current)
    with OtherReviewer(pg.url(), "bob") as bob:
        bob.set_review(other, "needs-fix", note="edge missing")
        qtbot.waitUntil(lambda: window.review.statuses().get(other) == "needs fix", timeout=SHOWN_MS)
        assert list_cell(window, other, STATUS) == "✗✎"
        assert list_cell(window, other, STATUS, Qt.ToolTipRole) == "needs fix — edge missing"
        for shown in (window.reviewed_label.text(), window.review.progress_label.text(),
                      window.image_list.summary.text()):
            assert "1 of 12 reviewed (mine: 0)" in shown
        assert "bob 1" in window.review.team.reviewers.text()
        # the shown image: ann's status, then bob's: the window says so, shows bob's, and keeps both in the history
        qtbot.keyClick(window, Qt.Key_R)
        window.review.advance.setChecked(False)
        qtbot.keyClick(window, Qt.Key_2)
        settle(qtbot, window)
        assert window.reviewed_label.text() == "2 of 12 reviewed (mine: 1)"
        bob.set_review(current, "needs-fix")
        qtbot.waitUntil(lambda: window.review.status_label.text().startswith("needs fix · bob"), timeout=SHOWN_MS)
        changed_at = bob.history()[-1].time       # the notice's age runs on a clock of the test's (a slow machine)
        monkeypatch.setattr(team, "time", types.SimpleNamespace(time=lambda: changed_at + 5.2))
        qtbot.waitUntil(lambda: window.review.team.notice.text() == "changed by bob 5 s ago: needs fix",
                        timeout=SHOWN_MS)      # the panel's ticker redraws it
        history = window.review.team.history.text()
        assert "bob: <b>needs fix</b>" in history and "ann: <b>accepted</b>" in history
        assert window.review.team.agreement.text() == "ann–bob κ 0.00, 0 of 1 agree"   # accepted vs needs fix
        assert window.review.team.reviewers.text() == "bob 2 · ann 1 (you)"
    assert gui_thread_calls == []


def test_two_windows_one_session(qtbot, window, demo_copy, pg, qsettings, gui_thread_calls):
    from segviewer.gui.main_window import MainWindow
    names = open_team(qtbot, window, demo_copy, pg.url())
    other = MainWindow(settings=qsettings)
    qtbot.addWidget(other)
    other.review.reviewer.setText("bob")
    other.show()
    open_team(qtbot, other, demo_copy, pg.url())
    assert shown_name(other) != shown_name(window)         # bob's window went on where ann's is not
    image = shown_name(window)
    qtbot.keyClick(window, Qt.Key_R)
    qtbot.keyClick(window, Qt.Key_4)                       # model error, and on
    qtbot.waitUntil(lambda: other.review.statuses().get(image) == "model error", timeout=SHOWN_MS)
    qtbot.waitUntil(lambda: list_cell(other, shown_name(window), NAME) ==
                    f"[{window.review.reviewer.text()}]\u00a0{shown_name(window)}", timeout=SHOWN_MS)
    assert image in names
    other.close()
    assert gui_thread_calls == []


def test_leases_keep_reviewers_apart(qtbot, window, demo_copy, pg):
    names = open_team(qtbot, window, demo_copy, pg.url())
    order = [names[i] for i in window.image_list.visible_order()]
    assert shown_name(window) == order[0]
    with OtherReviewer(pg.url(), "bob") as bob:
        assert bob.hold(order[0]) == window.review.reviewer.text()     # the shown image is leased to this window
        assert bob.hold(order[1]) is None
        qtbot.waitUntil(lambda: list_cell(window, order[1], NAME) == f"[bob]\u00a0{order[1]}", timeout=SHOWN_MS)
        assert "bob has this image open" in list_cell(window, order[1], NAME, Qt.ToolTipRole)
        assert list_cell(window, order[1], NAME, Qt.ForegroundRole).color().getRgb()[:3] == HELD_COLOR
        qtbot.keyClick(window, Qt.Key_Right, Qt.ControlModifier)      # next unreviewed: not bob's
        settle(qtbot, window)
        assert shown_name(window) == order[2]
        qtbot.keyClick(window, Qt.Key_R)
        bob.hold(order[3])
        qtbot.waitUntil(lambda: order[3] in window.review.state.held, timeout=SHOWN_MS)
        qtbot.keyClick(window, Qt.Key_2)                               # a status key moves on past bob's too
        settle(qtbot, window)
        assert shown_name(window) == order[4]
        assert bob.held_elsewhere() == {order[4]: window.review.reviewer.text()}
        bob.release()                                                  # bob moves off: the mark goes
        qtbot.waitUntil(lambda: list_cell(window, order[3], NAME) == order[3], timeout=SHOWN_MS)
        window.close()
        assert bob.held_elsewhere() == {}                              # closing gives the lease up


def test_walking_fast_leaves_one_lease_the_last_images(qtbot, window, demo_copy, pg):
    names = open_team(qtbot, window, demo_copy, pg.url())
    for i in range(1, 7):                       # faster than the session takes leases: only the last one counts
        window.show_image(i)
    settle(qtbot, window)
    with OtherReviewer(pg.url(), "bob") as bob:
        assert bob.held_elsewhere() == {names[6]: window.review.reviewer.text()}


def test_server_gone_window_keeps_working_and_sends_once(qtbot, window, demo_copy, pg, gui_thread_calls):
    names = open_team(qtbot, window, demo_copy, pg.url())
    qtbot.keyClick(window, Qt.Key_R)
    pg.cluster.stop()
    try:
        reviewed = []
        for key in (Qt.Key_2, Qt.Key_3, Qt.Key_2):
            reviewed.append(shown_name(window))
            qtbot.keyClick(window, key)
            settle(qtbot, window)
        qtbot.waitUntil(lambda: window.connection_label.text() == "offline — 3 changes waiting", timeout=SHOWN_MS)
        assert window.connection_label.isVisible()
        assert window.review.team.connection.text() == "offline — 3 changes waiting"
        assert [window.review.statuses().get(n) for n in reviewed] == ["accepted", "needs fix", "accepted"]
        assert window.reviewed_label.text() == "3 of 12 reviewed (mine: 3)"
    finally:
        pg.cluster.start()
    qtbot.waitUntil(lambda: not window.connection_label.isVisible(), timeout=60000)
    assert window.review.team.connection.text() == "online"
    assert gui_thread_calls == []
    with pg.admin() as con:
        rows = con.execute("SELECT change_id, image, status FROM segviewer.changes ORDER BY seq").fetchall()
    assert [(image, status) for _, image, status in rows] == list(zip(reviewed, ["accepted", "needs fix", "accepted"]))
    assert len({change_id for change_id, *_ in rows}) == 3 and len(names) == 12


def test_a_server_that_stops_answering_never_holds_a_status_key(qtbot, window, demo_copy, pg, gui_thread_calls):
    from psycopg.conninfo import make_conninfo
    from pg_cluster import blackhole
    open_team(qtbot, window, demo_copy, pg.url())
    qtbot.keyClick(window, Qt.Key_R)
    with blackhole() as port:
        def drop_the_network(session):        # on the session thread: from now on the server never answers
            store = session.store
            store._conninfo = make_conninfo(store._conninfo, host="127.0.0.1", port=str(port), connect_timeout="60")
            return [c.info.backend_pid for c in (store.con, store._listener) if c is not None]
        pids = []
        window.review.worker.call(drop_the_network, pids.extend)
        qtbot.waitUntil(lambda: bool(pids), timeout=SHOWN_MS)
        def terminate():                      # the server's side (not a call of the window's GUI thread)
            with pg.admin() as con:
                for pid in pids:
                    con.execute("SELECT pg_terminate_backend(%s)", (pid,))
        admin = threading.Thread(target=terminate)
        admin.start()
        admin.join()
        reviewed = []
        for key in (Qt.Key_2, Qt.Key_3, Qt.Key_2, Qt.Key_4):   # over 2 s, while reconnects (60 s each) are tried
            reviewed.append(shown_name(window))
            qtbot.keyClick(window, key)
            settle(qtbot, window, timeout=30000)                # saved (in the journal), moved on: no 60 s connect
            qtbot.wait(500)
        assert window.connection_label.text() == "offline — 4 changes waiting"
        assert [window.review.statuses().get(n) for n in reviewed] == ["accepted", "needs fix", "accepted",
                                                                       "model error"]
    assert gui_thread_calls == []


def test_read_only_role_opens_read_only_and_says_why(qtbot, window, demo_copy, pg):
    with open_session(pg.url(), reviewer="ann") as ann:
        ann.set_review("scene_001", "accepted")
    viewer = pg.cluster.new_role(f"viewer_{pg.name}")          # roles are the cluster's: one of this test's own
    with pg.admin() as con:
        con.execute(f"GRANT USAGE ON SCHEMA segviewer TO {viewer}")
        con.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA segviewer TO {viewer}")
    open_team(qtbot, window, demo_copy, pg.url(user=viewer))
    assert f"read-only: role {viewer} may not change this session" in window.review.file_label.text()
    qtbot.keyClick(window, Qt.Key_R)
    before = shown_name(window)
    qtbot.keyClick(window, Qt.Key_3)
    settle(qtbot, window)
    assert window.statusBar().currentMessage() == (f"read-only session — role {viewer} may not change this session "
                                                   "(read-only); nothing was changed")
    assert shown_name(window) == before and window.review.statuses() == {"scene_001": "accepted"}
    with pg.admin() as con:
        assert con.execute("SELECT count(*) FROM segviewer.changes").fetchone()[0] == 1


def test_no_password_on_screen_or_in_qsettings(qtbot, window, demo_copy, pg, tmp_path, qsettings):
    from PySide6.QtWidgets import QLabel
    from segviewer.gui.open_dialog import OpenDatasetDialog
    secret = "S3cret-Pa55-xyzzy"
    carol = pg.cluster.new_role(f"carol_{pg.name}", secret)
    with pg.admin() as con:
        con.execute(f'GRANT ALL ON DATABASE "{pg.name}" TO {carol}')
    url = pg.url(user=carol, password=secret, tcp=True)
    dialog = OpenDatasetDialog(window, qsettings)
    qtbot.addWidget(dialog)
    dialog.gt.setText(str(demo_copy / "gt"))
    dialog.pred.setText(str(demo_copy / "logits"))
    dialog.session.setCurrentText(url)
    assert dialog.problems() == []
    window.review.session_override = dialog.session_target()
    assert window.open_options(dialog.options())
    settle(qtbot, window)
    assert window.review.state is not None and f"{carol}:***@" in window.review.state.where
    qtbot.keyClick(window, Qt.Key_R)
    qtbot.keyClick(window, Qt.Key_2)
    settle(qtbot, window)
    shown = [window.windowTitle(), window.statusBar().currentMessage()]
    shown += [w.text() + w.toolTip() for w in window.findChildren(QLabel)]
    shown += [w.text() + w.toolTip() for w in window.review.panel.findChildren(QLabel)]
    assert any(f"{carol}:***@" in text for text in shown)
    assert not [text for text in shown if secret in text]
    qsettings.sync()
    assert secret not in (tmp_path / "settings.ini").read_text(errors="replace")
    window.review.use_session(pg.url(user=carol, password="wrong-" + secret, tcp=True))
    settle(qtbot, window)
    assert "password authentication failed" in window.last_error and secret not in window.last_error
    assert window.review.retry.isVisible() and window.viewer.loaded is not None


def test_session_url_from_the_command_line_opens_in_the_window(qtbot, demo_copy, pg, qsettings, monkeypatch):
    import segviewer.gui.app as app
    from helpers import run_cli
    launched = []
    monkeypatch.setattr(app, "run_app", lambda launch: launched.append(launch) or 0)
    url = pg.url(session="liver-v2")
    assert run_cli(demo_copy, "--session", url).returncode == 0
    window = app.launch_window(launched[0], qsettings)
    qtbot.addWidget(window)
    window.show()
    assert window.open_options(launched[0].options)
    settle(qtbot, window)
    state = window.review.state
    assert state.kind == "postgresql" and state.where == str(session_target(url)) and "(session liver-v2)" in state.where
    with pg.admin() as con:     # the shown image is leased in that session, on the server
        assert con.execute("SELECT s.name, l.image FROM segviewer.leases l JOIN segviewer.sessions s "
                           "ON s.id = l.session").fetchall() == [("liver-v2", state.image)]
    window.close()
