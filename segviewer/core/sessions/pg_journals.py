"""Journals left behind: offline changes of a segviewer that ended before it could send them (killed with -9, the
machine switched off, a window closed while the server was away).

Every team store that reaches its server — when it opens (the window, `qa-set`, `qa-report`, `qa-merge`,
`segviewer.open`) and each time it is back online — sends every journal of that server on this machine that no
running segviewer holds, whatever session it belongs to: in order, each change once. "That server" is the database
as libpq reached it (host or socket folder, port, database name), whichever URL, service or role named it. A
store whose role may not write sends nothing; the changes wait, and `qa-report` says how many of whose.
"""
from __future__ import annotations

import json

from .journal import Journal, journal_files, waiting_by_reviewer
from .model import BadValue, SessionError, check_statuses
from .pg_connect import is_gone, psycopg
from .pg_schema import Untrusted


def server_key(con) -> str:
    """The database a connection reached, as libpq resolved it (a service or PGHOST included)."""
    info = con.info
    return f"{info.host}:{info.port}/{info.dbname}"


def send_left_behind(store) -> int:
    """Sends the journals of store's server that no running segviewer holds; the number of changes sent. A journal
    that cannot be sent now (a session the role may not make, the server gone) stays for the next try; a damaged one
    is left as it is, except this session's own, which a store that writes refuses as it always did."""
    sent = 0
    own = store._journal.path if store._journal is not None else None
    for path in journal_files():
        if path == own or not store._online:
            continue
        try:
            sent += _send_if_ours(store, path)
        except (SessionError, BadValue, Untrusted):
            if path == store._journal_base and not store.read_only:
                raise
        except psycopg.Error as exc:
            if is_gone(exc, store.con) and not store.read_only:
                store._go_offline()
            break           # the rest wait for the next time this server answers
    return sent


def _send_if_ours(store, path) -> int:
    journal = Journal.left_behind(path)
    if journal is None:
        return 0
    try:
        target = _destination(store, journal) if journal.count() else None
        return _send(store, journal, *target) if target is not None else 0
    finally:
        journal.close()


def _destination(store, journal: Journal) -> tuple[int, tuple[str, ...]] | None:
    """(session id, statuses) on store's server for a journal that goes there; None for another server's, or a
    session this store may not make."""
    meta = journal.meta()
    ours = journal.path == store._journal_base
    if not ours and meta.get("server") != store.server:
        return None
    name = store.target.name if ours else meta.get("session")
    if not name or not store._may_send():
        return None
    statuses = _statuses(meta) or (tuple(store.statuses) if name == store.target.name else None)
    if statuses is not None:
        journal.statuses = statuses
        journal.pending()        # a damaged journal is refused before anything is made on the server for it
    return store._session_named(name, statuses)


def _statuses(meta: dict[str, str]) -> tuple[str, ...] | None:
    try:
        return check_statuses(json.loads(meta["statuses"]), "the journal's statuses") if "statuses" in meta else None
    except (ValueError, TypeError):
        return None


def _send(store, journal: Journal, sid: int, statuses: tuple[str, ...]) -> int:
    from .postgres import FLUSH_BATCH
    journal.statuses = statuses
    sent = 0
    while True:
        batch = journal.pending(FLUSH_BATCH)
        if not batch:
            return sent
        sent += len(store._apply(batch, sid, statuses))
        journal.remove([c.change_id for c in batch])


def waiting_here(store) -> dict[str, int]:
    """reviewer -> changes of store's session waiting in journals on this machine (held by a running segviewer or
    left behind), this store's own included."""
    counts: dict[str, int] = {}
    for path in journal_files():
        meta, by_reviewer = waiting_by_reviewer(path)
        ours = path == store._journal_base or (meta.get("server") == store.server and
                                                meta.get("session") == store.target.name)
        if ours:
            for reviewer, n in by_reviewer.items():
                counts[reviewer] = counts.get(reviewer, 0) + n
    return counts
