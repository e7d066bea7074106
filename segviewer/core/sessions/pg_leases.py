"""Leases: "this image is open here". Opening an image takes a short lease, renewed while it is shown; "next
unreviewed" skips images someone else holds and takes its image atomically, so two reviewers are never sent to the
same one. Times are the server's clock (no reviewer's clock skew matters); one lease per window.
"""
from __future__ import annotations

import time

from .events import LeaseEvent
from .model import MAX_IMAGE, MAX_REVIEWER, BadValue, SessionError, read_text
from .pg_connect import psycopg
from .pg_schema import CHANNEL
from .store import SessionStore

LEASE_S = 180.0     # a window that vanishes frees its image after this
RENEW_S = 30.0      # a shown image's lease is renewed this often (by poll)
WATCH_S = 5.0       # others' leases are re-read at least this often while polling
NOW = "extract(epoch FROM clock_timestamp())"
TAKE = (f"INSERT INTO segviewer.leases AS l (session, image, reviewer, client, expires) "
        f"VALUES (%s, %s, %s, %s, {NOW} + %s) ON CONFLICT (session, image) DO UPDATE SET reviewer = EXCLUDED.reviewer, "
        f"client = EXCLUDED.client, expires = EXCLUDED.expires WHERE l.client = EXCLUDED.client OR l.expires < {NOW} "
        "RETURNING 1")
OTHERS = (f"SELECT left(image, {MAX_IMAGE + 1}), left(reviewer, {MAX_REVIEWER + 1}) FROM segviewer.leases "
          f"WHERE session = %s AND client <> %s AND expires > {NOW} LIMIT 100000")


class Leases:
    def __init__(self, store):
        self.store = store
        self.image: str | None = None
        self.changed = False            # a lease notification arrived
        self._renew_at = 0.0
        self._watch_at = 0.0
        self._others: dict[str, str] = {}

    def _usable(self) -> bool:
        return not self.store.read_only and self.store._online

    def _take(self, image: str) -> bool:
        """True when this window now holds the image (its other lease given up)."""
        store = self.store
        sid = store._ensure_session()
        with store.con.transaction():
            got = store.con.execute(TAKE, (sid, image, store.reviewer, store.client, LEASE_S)).fetchone()
            if got is not None:
                store.con.execute("DELETE FROM segviewer.leases WHERE session = %s AND client = %s AND image <> %s",
                                  (sid, store.client, image))
                store.con.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{sid} l"))
        if got is not None:
            self.image, self._renew_at = image, time.monotonic() + RENEW_S
        return got is not None

    def _guarded(self, action, default):
        if not self._usable():
            return default
        with self.store._lock:
            try:
                return action()
            except psycopg.Error as exc:
                self.store._gone_or_raise(exc, "cannot mark the image as open")
                return default

    def hold(self, image: str) -> str | None:
        """Takes the image's lease; the reviewer who has it open elsewhere when that one holds it."""
        def action():
            if self._take(image):
                return None
            return self.held_elsewhere().get(image)
        return self._guarded(action, None)

    def release(self) -> None:
        def action():
            sid = self.store._session_id
            if sid is not None and self.image is not None:
                self.store.con.execute("DELETE FROM segviewer.leases WHERE session = %s AND client = %s",
                                       (sid, self.store.client))
                self.store.con.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{sid} l"))
            self.image = None
        self._guarded(action, None)

    def held_elsewhere(self) -> dict[str, str]:
        """image -> reviewer for leases of other windows that have not expired (the last known when offline)."""
        def action():
            sid = self.store._session_id
            rows = self.store.con.execute(OTHERS, (sid, self.store.client)).fetchall() if sid is not None else []
            try:
                self._others = {read_text(i, MAX_IMAGE, "an image name"): read_text(r, MAX_REVIEWER, "a reviewer")
                                for i, r in rows}
            except BadValue as exc:
                raise SessionError(self.store.target, f"damaged segviewer session ({exc})") from None
            self._watch_at = time.monotonic() + WATCH_S
            return dict(self._others)
        if self.store.read_only and self.store._online:   # a read-only role may still see who has what open
            with self.store._lock:
                return action()
        return self._guarded(action, dict(self._others))

    def next_unreviewed(self, names: list[str], start: int) -> int | None:
        """The first image from start on (wrapping) that is unreviewed and open nowhere else; its lease is taken
        here before it is returned, and its status read again after that (someone may have just reviewed it)."""
        store = self.store
        if not self._usable():
            return SessionStore.next_unreviewed(store, names, start)
        with store._lock:
            held, n = self.held_elsewhere(), len(names)
            for k in range(n):
                name = names[(start + k) % n]
                if name in held or store.is_reviewed(store.reviews().get(name)):
                    continue
                if self._guarded(lambda: self._take(name), False):
                    store.refresh()
                    if not store.is_reviewed(store.reviews().get(name)):
                        return (start + k) % n
            self.release()
            return None

    def renew_and_watch(self) -> None:
        """Called by poll: keeps the shown image's lease alive and reports others' leases when they change."""
        now = time.monotonic()
        if self.image is not None and now >= self._renew_at:
            image = self.image
            self._guarded(lambda: self._take(image), False)
        if self.changed or now >= self._watch_at:
            self.changed = False
            before = dict(self._others)
            if self.held_elsewhere() != before:
                self.store._events.append(LeaseEvent(dict(self._others)))
