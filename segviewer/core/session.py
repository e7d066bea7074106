"""The QA store moved to `core.sessions` (SQLite and PostgreSQL, one history-of-changes model); these names stay
for the code that imports them from here. `ReviewStore(target, statuses, read_only)` opens either backend."""
from __future__ import annotations

from .sessions import DEFAULT_STATUSES, Review, SessionError, SessionStore, open_session, slug

ReviewStore = open_session

__all__ = ["DEFAULT_STATUSES", "Review", "ReviewStore", "SessionError", "SessionStore", "open_session", "slug"]
