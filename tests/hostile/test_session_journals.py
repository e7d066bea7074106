"""Hostile offline journals in segviewer's state folder: a journal of the session being opened that segviewer did
not make (or holds values of the wrong kind) is refused in one line before anything in it runs or is sent; the same
journal of another session on the server is left as it is, and the session opens."""
import sqlite3

import pytest

from helpers import run_cli
from hostile_kit import assert_one_line
from segviewer.core.sessions import session_target
from segviewer.core.sessions.journal import TABLES, journal_base


def journal(path, *extra):
    """A journal as segviewer makes one (one waiting change), plus extra SQL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    for sql in TABLES.values():
        con.execute(sql)
    con.execute("INSERT INTO meta VALUES ('app', 'segviewer-journal')")
    con.execute("INSERT INTO pending (change_id, image, status, note, reviewer, time) "
                "VALUES ('c1', 'img1', 'accepted', NULL, 'ann', 1.0)")
    for sql in extra:
        con.execute(sql)
    con.commit()
    con.close()


JOURNALS = {
    "trigger": (["CREATE TABLE log (x)", "CREATE TRIGGER t AFTER DELETE ON pending BEGIN INSERT INTO log VALUES (1); "
                 "END"], "objects segviewer did not make"),
    "view": (["CREATE VIEW v AS SELECT 1"], "objects segviewer did not make"),
    "status-not-of-the-session": (["UPDATE pending SET status = 'brilliant'"], "damaged offline journal"),
    "image-as-binary": (["UPDATE pending SET image = x'00ff'"], "damaged offline journal"),
    "reviewer-too-long": ([f"UPDATE pending SET reviewer = '{'r' * 300}'"], "damaged offline journal"),
}


def changes_on_server(pg):
    with pg.admin() as con:
        if not con.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'segviewer'").fetchone()[0]:
            return []
        return con.execute("SELECT image FROM segviewer.changes ORDER BY seq").fetchall()


@pytest.mark.parametrize("extra,reason", JOURNALS.values(), ids=JOURNALS.keys())
def test_a_hostile_journal_of_the_session_is_refused_and_runs_nothing(pg, tmp_path, extra, reason):
    target = session_target(pg.url())
    path = journal_base(f"{target.display}\0{target.name}")
    journal(path, *extra)
    before = path.read_bytes()
    res = run_cli("qa-set", "--session", pg.url(), "--image", "img2", "--status", "accepted")
    assert_one_line(res, path.name, reason)
    assert path.read_bytes() == before and changes_on_server(pg) == []
    # the same journal, of another session on that server: left as it is, and the other session opens
    assert run_cli("qa-set", "--session", pg.url(session="other"), "--image", "img2", "--status", "accepted",
                   ).returncode == 0
    assert path.read_bytes() == before and changes_on_server(pg) == [("img2",)]
