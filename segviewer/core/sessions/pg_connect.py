"""Connections to the team server with psycopg 3 (imported only here, so single reviewers never load it).

libpq reads the password from the URL, PGPASSWORD, ~/.pgpass or a service file; sslmode and every other libpq
parameter pass through as given. segviewer adds only what is missing: a connect timeout, keepalives and a TCP
user timeout (a dropped network is noticed in seconds, not minutes), its application name, and on every
connection `search_path = pg_catalog, pg_temp`, so no object of anyone else's is ever found by name.
Messages from libpq are passed through the target's mask: no password reaches the user, a log or an exception.
libpq prints one message of its own on stderr, before any error: that it ignores a password file others may read
(or that is no plain file). That file is checked here first and refused in the one line of the error instead.
"""
from __future__ import annotations

import os
import stat

try:
    import psycopg
    from psycopg import conninfo as pg_conninfo
except ImportError:   # pragma: no cover - the [team] extra is not installed
    psycopg = None

from ..errors import OptionError, plain
from .model import SessionError
from .target import PgTarget

DEFAULTS = {"connect_timeout": "5", "application_name": "segviewer", "keepalives": "1", "keepalives_idle": "5",
            "keepalives_interval": "2", "keepalives_count": "3", "tcp_user_timeout": "8000"}
STATEMENT_TIMEOUT_MS = 15000
# SQLSTATEs that mean the server or the network is gone for now (the change waits in the journal)
GONE = ("08", "57P01", "57P02", "57P03", "53300")


def require_psycopg() -> None:
    if psycopg is None:
        raise OptionError("PostgreSQL sessions need psycopg: pip install \"segviewer[team]\"")


def conninfo_with_defaults(target: PgTarget) -> str:
    try:
        given = pg_conninfo.conninfo_to_dict(target.conninfo)
    except psycopg.Error as exc:
        raise SessionError(target, f"cannot read the connection settings ({target.mask(plain(exc))})") from None
    extra = {k: v for k, v in DEFAULTS.items() if k not in given}
    return pg_conninfo.make_conninfo(target.conninfo, **extra)


def connect(target: PgTarget, conninfo: str):
    """An autocommit connection with the safe search_path; SessionError (masked, one line) when it fails."""
    check_password_file(target, pg_conninfo.conninfo_to_dict(conninfo))
    try:
        con = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as exc:
        raise SessionError(target, f"cannot connect: {reason(target, exc)}") from None
    try:
        con.execute("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false), "
                    "pg_catalog.set_config('statement_timeout', %s, false)", (str(STATEMENT_TIMEOUT_MS),))
    except psycopg.Error as exc:
        con.close()
        raise SessionError(target, f"cannot prepare the connection: {reason(target, exc)}") from None
    return con


def check_password_file(target: PgTarget, settings: dict) -> None:
    """The password file libpq would read (no password given: `passfile`, $PGPASSFILE or ~/.pgpass) must be a plain
    file only its owner may read; libpq would print a warning of its own and ignore it (SessionError instead)."""
    if os.name == "nt" or settings.get("password") or os.environ.get("PGPASSWORD"):
        return
    passfile = settings.get("passfile") or os.environ.get("PGPASSFILE") or os.path.join(os.path.expanduser("~"),
                                                                                          ".pgpass")
    try:
        mode = os.stat(passfile).st_mode
    except OSError:
        return   # libpq goes on without a password file it cannot find
    if not stat.S_ISREG(mode):
        raise SessionError(target, f"the password file {passfile} is not a plain file; give a file, or no passfile")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SessionError(target, f"the password file {passfile} has group or world access "
                                   f"({stat.filemode(mode)[1:]}); libpq reads it only when it is u=rw (0600) or "
                                   "less: chmod 600 it")


def reason(target: PgTarget, exc: Exception) -> str:
    """libpq's or the server's message, masked and on one line (the 'connection to server at' preamble kept short)."""
    text = target.mask(plain(exc, 400))
    for noise in ("connection failed: ", "connection is bad: ", "FATAL: "):
        text = text.replace(noise, "")
    text = text.strip()
    return text or type(exc).__name__


def is_gone(exc: Exception, con=None) -> bool:
    """True when the error means the server or network went away (not a refusal or a bad request)."""
    if psycopg is None or not isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return False
    if con is not None and (con.closed or con.broken):
        return True
    state = getattr(exc, "sqlstate", None)
    return state is None or state.startswith(GONE)
