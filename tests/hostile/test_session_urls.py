"""Hostile and mistaken session URLs: one line, nothing created in the working folder (no folder named
'postgresql:'), and never the password, for every command that takes a session and for segviewer.open."""
import os

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
    # a libpq key=value string that libpq could not read: was an SQLite file named 'service=' ...
    "service-without-a-value": ("service=", "'service=': cannot read this connection string (service has no value)"),
    "host-without-a-value": ("host=", "'host=': cannot read this connection string (host has no value)"),
    "first-value-unterminated": ("host='db", "cannot read this connection string (a quoted value is not closed)"),
    "quote-after-a-quoted-value": (f"host='db'x password={SECRET}", "unexpected 'x' after host's quoted value"),
    # the URL as given: 'postgresql://' was shown (and sent to libpq) as 'postgresql:'
    "no-host-no-slashes-lost": ("postgresql://?host=/nonexistent/folder",
                                "postgresql://?host=/nonexistent/folder: cannot connect"),
}


def commands(url, tmp_path):
    return {"qa-set": ["qa-set", "--session", url, "--image", "a", "--status", "accepted"],
            "qa-report": ["qa-report", "--session", url, "--out", tmp_path / "r.csv"],
            "qa-merge": ["qa-merge", tmp_path / "solo.sqlite", "--into", url],
            "window": ["--session", url, "--screenshot", tmp_path / "w.png"]}


PARSED_BEFORE_CONNECTING = {"one-slash-after-scheme", "scheme-without-slashes", "another-database", "sqlite-url",
                            "port-not-a-number", "session-given-twice", "session-name-with-a-path",
                            "unterminated-quote", "service-without-a-value", "host-without-a-value",
                            "first-value-unterminated", "quote-after-a-quoted-value"}
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


@pytest.mark.parametrize("url", [" postgresql://ann@db/qa", "postgresql://ann@db/qa\t", " mysql://ann@db/qa"])
def test_a_url_with_white_space_around_it_is_shown_as_given(tmp_path, monkeypatch, url):
    """It was a file named so, or a message about 'postgresql:/ann@db/qa' (a Path had folded its '//')."""
    monkeypatch.chdir(tmp_path)
    for args in (["qa-set", "--session", url, "--image", "a", "--status", "accepted"],
                 ["qa-report", "--session", url, "--out", tmp_path / "r.csv"]):
        result = run_cli(*args)
        assert_one_line(result, f"session {url!r}: a URL with white space around it; give it without")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("passfile", ["readable", "a-folder", "from-PGPASSFILE"])
def test_a_password_file_libpq_would_ignore_is_one_line(tmp_path, monkeypatch, capfd, passfile):
    """libpq printed its own 'WARNING: password file ... has group or world access' above segviewer's line (on the
    process's stderr, where capfd sees it)."""
    pytest.importorskip("psycopg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    path = tmp_path / "pgpass"
    path.write_text(f"*:*:*:ann:{SECRET}\n")
    os.chmod(path, 0o644)
    if passfile == "a-folder":
        path = tmp_path / "folder"
        path.mkdir()
    url = "postgresql://ann@127.0.0.1:1/qa?connect_timeout=2"
    if passfile == "from-PGPASSFILE":
        monkeypatch.setenv("PGPASSFILE", str(path))
    else:
        url += f"&passfile={path}"
    result = run_cli("qa-set", "--session", url, "--image", "a", "--status", "accepted")
    reason = "is not a plain file" if passfile == "a-folder" else "has group or world access (rw-r--r--)"
    line = assert_one_line(result, f"the password file {path} {reason}")
    assert SECRET not in line and capfd.readouterr().err == ""
    os.chmod(tmp_path / "pgpass", 0o600)      # a private one is read: libpq then only fails to connect
    if passfile != "a-folder":
        assert_one_line(run_cli("qa-set", "--session", url, "--image", "a", "--status", "accepted"), "cannot connect")
        assert capfd.readouterr().err == ""
