"""A throwaway PostgreSQL cluster for the team-session tests and benchmark: a temporary folder, 127.0.0.1 and a
Unix socket in that folder only, run as the `postgres` user when we are root (PostgreSQL refuses root).

Local socket connections are trusted (the tests' administrator); TCP connections need a password (scram), so a
wrong password can be tried. fsync is off for the tests (they stop the server and kill clients, never the
machine); the benchmark keeps it on, as a real server does.
"""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ADMIN = "postgres"


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return candidates[-1] if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, fsync: bool = False) -> None:
        self.fsync = fsync
        self.initdb, self.pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin")
        self.root = Path(tempfile.mkdtemp(prefix="svpg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user = ADMIN if os.geteuid() == 0 else None
        if self.as_user:
            entry = pwd.getpwnam(self.as_user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(self.initdb, "-D", str(self.data), "-U", ADMIN, "-A", "trust", "--auth-host=scram-sha-256",
                  "-E", "UTF8", "--locale=C", "-N")
        self.start()

    def _run(self, *cmd: str) -> None:
        full = (["runuser", "-u", self.as_user, "--"] if self.as_user else []) + list(cmd)
        subprocess.run(full, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.root)

    def start(self) -> None:
        durability = "" if self.fsync else "-c fsync=off -c full_page_writes=off "
        options = (f"-k {self.root} -c listen_addresses=127.0.0.1 -p {self.port} {durability}"
                   "-c max_connections=60 -c shared_buffers=16MB")
        self._run(self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "-t", "30",
                  "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def running(self) -> bool:
        full = (["runuser", "-u", self.as_user, "--"] if self.as_user else []) + [self.pg_ctl, "-D", str(self.data),
                                                                                    "status"]
        return subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.root).returncode == 0

    def url_of(self, db: str, user: str = ADMIN, password: str | None = None, tcp: bool = False, **params) -> str:
        who = user + (f":{password}" if password is not None else "")
        query = "&".join(f"{k}={v}" for k, v in params.items())
        if tcp:
            return f"postgresql://{who}@127.0.0.1:{self.port}/{db}" + (f"?{query}" if query else "")
        return f"postgresql://{who}@/{db}?host={self.root}&port={self.port}" + (f"&{query}" if query else "")

    def admin(self, db: str = "postgres"):
        """An autocommit superuser connection over the socket."""
        import psycopg
        return psycopg.connect(f"host={self.root} port={self.port} user={ADMIN} dbname={db}", autocommit=True)

    def new_database(self, name: str, owner: str = ADMIN) -> str:
        from psycopg import sql
        with self.admin() as con:
            con.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))
        return name

    def new_role(self, name: str, password: str | None = None) -> str:
        from psycopg import sql
        with self.admin() as con:
            exists = con.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (name,)).fetchone()[0]
            verb = "ALTER" if exists else "CREATE"
            con.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))
        return name


class Database:
    """One test's database in the cluster."""

    def __init__(self, cluster: Cluster, name: str):
        self.cluster, self.name = cluster, cluster.new_database(name)

    def url(self, user: str = ADMIN, password: str | None = None, tcp: bool = False, **params) -> str:
        return self.cluster.url_of(self.name, user, password, tcp, **params)

    def admin(self):
        return self.cluster.admin(self.name)


@contextlib.contextmanager
def blackhole():
    """A port on 127.0.0.1 that takes connections and never answers: to libpq, a server behind a dropped network
    (each connect waits for its whole connect timeout)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def wait_until(predicate, timeout: float = 20.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
