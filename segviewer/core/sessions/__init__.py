"""QA sessions: one history-of-changes model, stored in a SQLite file (one reviewer) or on PostgreSQL (a team).

    store = open_session("qa.sqlite")                       # or "postgresql://ann@db.lab/qa", "service=team"
    store.set_review("img_001", "needs-fix", note="edge")   # saved when it returns
    store.reviews()["img_001"].status                       # 'needs fix'
    for event in store.poll(timeout=0.5): ...               # others' changes, leases, connection news

Nothing in a session is trusted: only segviewer's own tables, columns and types; values checked as read.
psycopg is imported only when a PostgreSQL session is opened.
"""
from __future__ import annotations

from pathlib import Path

from .events import ChangeEvent, ConnectionEvent, ConnectionState, LeaseEvent, Progress
from .model import (DEFAULT_STATUSES, SCHEMA_VERSION, Change, Review, SessionError, check_statuses, parse_statuses,
                    slug)
from .store import SessionStore
from .target import PgTarget, session_target

__all__ = ["open_session", "session_target", "checked_target", "current_statuses", "SessionStore", "SessionError", "Review", "Change",
           "ChangeEvent", "LeaseEvent", "ConnectionEvent", "ConnectionState", "Progress", "PgTarget",
           "DEFAULT_STATUSES", "SCHEMA_VERSION", "check_statuses", "parse_statuses", "slug"]


def open_session(target, statuses=None, read_only: bool = False, reviewer: str | None = None, *,
                 missing_ok: bool = False) -> SessionStore:
    """The store for a --session value: a PostgreSQL URL / conninfo -> the team store, anything else -> a SQLite
    file (made by its first change). statuses: for a new session; read_only: never writes (reports);
    missing_ok: a read-only store of a session that does not exist yet is empty instead of an error."""
    target = session_target(target)
    if isinstance(target, PgTarget):
        from .postgres import PostgresStore
        return PostgresStore(target, statuses, read_only, reviewer, missing_ok=missing_ok)
    from .sqlite import SqliteStore
    return SqliteStore(target, statuses, read_only, reviewer, missing_ok=missing_ok)


def checked_target(value):
    """A session named by a caller (segviewer.open(session=...)), checked now: refused (LoadError, OptionError)
    when it cannot be used; one that does not exist yet is fine."""
    target = session_target(value)
    open_session(target, read_only=True, missing_ok=True).close()
    return target


def current_statuses(target, options=None) -> dict[str, str]:
    """image -> status of a session, read without writing; the dataset's default session when target is None;
    empty when there is none or it cannot be read."""
    from ..errors import LoadError
    try:
        if target is None:
            from ..session_paths import session_path
            target = session_path(options)
            if not Path(target).is_file():
                return {}
        with open_session(target, read_only=True, missing_ok=True) as store:
            return {image: review.status for image, review in store.reviews().items()}
    except (LoadError, OSError, ValueError):
        return {}
