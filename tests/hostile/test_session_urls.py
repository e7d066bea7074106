"""Hostile and mistaken session URLs: one line, nothing created in the working folder (no folder named
'postgresql:'), and never the password, for every command that takes a session and for segviewer.open."""
import pytest

from hostile_kit import assert_one_line, deadline, snapshot
from helpers import run_cli
from segviewer.core.errors import LoadError, OptionError

SECRET = "S3cret-Pa55w0rd"
URLS = {
    "one-slash-after-scheme": ("postgresql:/ann@/qa", "not a file and not a PostgreSQL URL"),
    "scheme-without-slashes": ("postgres:qa", "not a file and not a PostgreSQL URL"),
    "another-database": ("mysql://ann@db/qa", "not a file and not a PostgreSQL URL"),
    "sqlite-url": ("sqlite:///tmp/s.sqlite", "not a file and not a PostgreSQL URL"),
    "port-not-a-number": (f"postgresql://ann:{SECRET}@db:fifty/qa", "not a valid PostgreSQL URL"),
    "session-given-twice": ("postgresql://ann@db/qa?session=a&session=b", "given 2 times"),
    "session-name-with-a-path": ("postgresql://ann@db/qa?session=../../etc", "a session name is"),
    "unterminated-quote": (f"host=/tmp dbname='qa password={SECRET}", "cannot read this connection string"),
    "unknown-libpq-parameter": (f"postgresql://ann:{SECRET}@/qa?host=/nonexistent&colour=red", "cannot read"),
    "bad-sslmode": (f"postgresql://ann:{SECRET}@/qa?host=/nonexistent&sslmode=sometimes", "sslmode"),
    "nothing-listening": (f"postgresql://ann:{SECRET}@127.0.0.1:1/qa?connect_timeout=2", "cannot connect"),
    "password-in-the-query": (f"postgresql://ann@127.0.0.1:1/qa?password={SECRET}&connect_timeout=2", "cannot connect"),
    "no-such-socket-folder": ("postgresql://ann@/qa?host=/nonexistent/folder", "cannot connect"),
    "unknown-service": (f"service=no-such-service-here password={SECRET}", "no-such-service-here"),
}


def commands(url, tmp_path):
    return {"qa-set": ["qa-set", "--session", url, "--image", "a", "--status", "accepted"],
            "qa-report": ["qa-report", "--session", url, "--out", tmp_path / "r.csv"],
            "qa-merge": ["qa-merge", tmp_path / "solo.sqlite", "--into", url],
            "window": ["--session", url, "--screenshot", tmp_path / "w.png"]}


PARSED_BEFORE_CONNECTING = {"one-slash-after-scheme", "scheme-without-slashes", "another-database", "sqlite-url",
                            "port-not-a-number", "session-given-twice", "session-name-with-a-path",
                            "unterminated-quote"}
CASES = [(command, name) for name in URLS for command in ("qa-set", "qa-report", "qa-merge", "window")
         if command != "window" or name in PARSED_BEFORE_CONNECTING]   # the window connects once a dataset is open


@pytest.mark.parametrize("command,name", CASES, ids=[f"{n}-{c}" for c, n in CASES])
def test_hostile_session_url(tmp_path, monkeypatch, command, name):
    pytest.importorskip("psycopg")
    url, reason = URLS[name]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("PGSERVICEFILE", str(tmp_path / "no-service-file"))
    from segviewer.core.sessions import open_session
    with open_session(tmp_path / "solo.sqlite") as solo:
        solo.set_review("a", "accepted")
    args = commands(url, tmp_path)[command]
    before = snapshot(tmp_path)
    with deadline(30):
        result = run_cli(*args)
    line = assert_one_line(result, reason)
    assert SECRET not in line
    assert snapshot(tmp_path) == before   # nothing made: no 'postgresql:' folder, no report, no journal


@pytest.mark.parametrize("url,error", [("postgresql:/ann@/qa", OptionError),
                                       (f"postgresql://ann:{SECRET}@127.0.0.1:1/qa?connect_timeout=2", LoadError)])
def test_open_with_a_hostile_session_is_one_error(demo_dir, tmp_path, monkeypatch, url, error):
    pytest.importorskip("psycopg")
    import segviewer
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error) as err:
        segviewer.open(folder=demo_dir, session=url)
    assert SECRET not in str(err.value) and "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []
