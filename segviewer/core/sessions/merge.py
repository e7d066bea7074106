"""Bringing solo work into a team session: every change of the given sessions is copied, with its id, reviewer and
time, oldest first; a change the target has already (same id) is skipped, so merging twice adds nothing."""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import OptionError
from .model import resolve_status
from .store import SessionStore


@dataclass(frozen=True)
class MergeResult:
    sessions: int
    changes: int      # changes read from the sessions
    added: int        # of those, new in the target


def merge_sessions(sources: list, into) -> MergeResult:
    """sources: session targets (files or URLs), read only; into: the session that receives their changes (made
    with the first source's statuses when it does not exist yet). Statuses are matched by name or slug; a status
    the target does not know refuses the whole merge before anything is written."""
    from . import open_session, session_target
    into = session_target(into)
    readers: list[SessionStore] = []
    try:
        for source in sources:
            if _same(session_target(source), into):
                raise OptionError(f"{source}: a session cannot be merged into itself")
            readers.append(open_session(source, read_only=True))
        target = open_session(into, statuses=readers[0].statuses if readers and not _exists(into) else None)
        try:
            changes = _in_time_order(readers)
            mapped = [_mapped(c, target.statuses, reader) for c, reader in changes]
            added = target.add_changes(mapped)
        finally:
            target.close()
    finally:
        for reader in readers:
            reader.close()
    return MergeResult(len(readers), len(changes), len(added))


def _same(a, b) -> bool:
    from pathlib import Path
    if isinstance(a, Path) and isinstance(b, Path):
        return a.resolve() == b.resolve()
    return a == b


def _exists(into) -> bool:
    from . import open_session
    with open_session(into, read_only=True, missing_ok=True) as probe:
        return bool(probe._statuses)


def _in_time_order(readers: list[SessionStore]):
    tagged = [(c.time, k, c.seq, c, r) for k, r in enumerate(readers) for c in r.history()]
    tagged.sort(key=lambda t: t[:3])
    return [(c, r) for *_, c, r in tagged]


def _mapped(change, statuses, reader):
    def target_status(name):
        if name is None:
            return None
        try:
            return resolve_status(statuses, name)
        except OptionError:
            raise OptionError(f"{reader}: status {name!r} is not one of the target session's statuses "
                              f"({', '.join(statuses)}); nothing was merged") from None
    return replace(change, status=target_status(change.status), prev_status=None, prev_note=None, seq=0)
