import itertools
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    from segviewer.core.demo import write_demo
    return write_demo(tmp_path_factory.mktemp("demo"))




_DATABASES = itertools.count()


@pytest.fixture(scope="session")
def pg_server():
    """One throwaway PostgreSQL cluster for the whole test run (tests/pg_cluster.py), removed at the end."""
    from pg_cluster import Cluster, find_binary
    if not (find_binary("initdb") and find_binary("pg_ctl")):
        pytest.skip("PostgreSQL is not installed (no initdb / pg_ctl on PATH or in /usr/lib/postgresql/*/bin)")
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[test]')")
    if os.geteuid() == 0:
        import pwd
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, and PostgreSQL refuses root: no 'postgres' user to run the test server")
    cluster = Cluster()
    yield cluster
    cluster.remove()


@pytest.fixture
def pg(pg_server, tmp_path, monkeypatch):
    """A fresh database of this test's own in the running cluster (pg.url(), pg.admin(), pg.cluster), and the
    offline journal in this test's temporary folder."""
    from pg_cluster import Database
    if not pg_server.running():
        pg_server.start()
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return Database(pg_server, f"qa{next(_DATABASES)}")


@pytest.fixture(scope="session")
def demo3d_dir(tmp_path_factory):
    """The `segviewer demo --3d` dataset (nnU-Net layout), written once per test session."""
    from segviewer.core.demo_volume import write_demo_volumes
    return write_demo_volumes(tmp_path_factory.mktemp("demo3d"))
