"""Leases: "this image is open here". Opening an image takes a short lease, renewed while it is shown; "next
unreviewed" skips images someone else holds and takes its image atomically, so two reviewers are never sent to the
same one. Times are the server's clock (no reviewer's clock skew matters); one lease per window.

The store keeps what the window wants — the image it shows, or none — and makes the server's leases match it:
when the image is held elsewhere this window holds nothing (not its previous image either) and takes the image as
soon as that lease ends; while offline the wish is kept, and the server is set to it when the store is back.
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
WATCH_S = 10.0      # others' leases are re-read at least this often while polling (besides each notification)
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
        self.image: str | None = None   # the image this window shows (the lease it wants); None: none
        self.taken = False              # the server holds this window's lease on it (as last seen)
        self.changed = False            # a lease notification arrived: others' leases are read again
        self._sync_due = False          # the server may not match what this window wants (it was offline)
        self._renew_at = 0.0
        self._watch_at = 0.0
        self._others: dict[str, str] = {}

    def _usable(self) -> bool:
        return not self.store.read_only and self.store._online

    def _take(self, image: str) -> bool:
        """True when this window now holds the image's lease and no other; False when another window holds it
        (nothing changed on the server then)."""
        store = self.store
        sid = store._ensure_session()
        with store.con.transaction():
            got = store.con.execute(TAKE, (sid, image, store.reviewer, store.client, LEASE_S)).fetchone()
            if got is not None:
                store.con.execute("DELETE FROM segviewer.leases WHERE session = %s AND client = %s AND image <> %s",
                                  (sid, store.client, image))
                store.con.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{sid} l"))
        if got is not None:
            self.taken, self._renew_at = True, time.monotonic() + RENEW_S
        return got is not None

    def _drop(self) -> None:
        """This window holds no lease."""
        sid = self.store._session_id
        if sid is not None:
            with self.store.con.transaction():
                gone = self.store.con.execute("DELETE FROM segviewer.leases WHERE session = %s AND client = %s",
                                              (sid, self.store.client)).rowcount
                if gone:
                    self.store.con.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{sid} l"))
        self.taken = False

    def _sync(self) -> None:
        """The server's leases of this window made what it wants: the shown image's, or none at all."""
        if self.image is None or not self._take(self.image):
            self._drop()
        self._sync_due = False

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
        """This window shows image: takes its lease unless another window holds it — then this window holds none
        (and takes it once that lease ends). Returns the reviewer who has it open elsewhere (as last known while
        offline), None when no one does."""
        def action():
            self._sync()
            return None if self.taken else self.held_elsewhere().get(image)
        with self.store._lock:
            self.image, self._sync_due = image, True
            return self._guarded(action, self._others.get(image))

    def release(self) -> None:
        """This window shows no image: it holds no lease (offline: from when the server is back)."""
        with self.store._lock:
            self.image, self._sync_due = None, True
            self._guarded(self._sync, None)

    def lost(self) -> None:
        """The connection went away: whether the server still has this window's lease is not known."""
        self.taken, self._sync_due = False, True

    def held_elsewhere(self) -> dict[str, str]:
        """image -> reviewer for leases of other windows that have not expired (the last known when offline)."""
        def action():
            found = self.store._session_id is not None or self.store._found_session()   # made since it opened?
            rows = self.store.con.execute(OTHERS, (self.store._session_id, self.store.client)).fetchall() if found \
                else []
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
        here before it is returned, and its status read again after that (someone may have just reviewed it).
        None: there is none, and the image shown here keeps its lease."""
        store = self.store
        with store._lock:
            if not self._usable():
                return self._next_offline(names, start)
            shown, held, reviews, n = self.image, self.held_elsewhere(), store.reviews(), len(names)
            for k in range(n):
                name = names[(start + k) % n]
                if name in held or store.is_reviewed(reviews.get(name)):
                    continue
                if self._guarded(lambda: self._take(name), False):
                    self.image = name
                    reviews = store.reviews()
                    if not store.is_reviewed(reviews.get(name)):
                        return (start + k) % n
                elif not self._usable():            # the server went away on the way
                    return self._next_offline(names, start)
            if self.image != shown:
                self.image = shown
                self._guarded(self._sync, None)
            return None

    def _next_offline(self, names: list[str], start: int) -> int | None:
        """next_unreviewed from what was last seen; the image found is leased once the server is back."""
        found = SessionStore.next_unreviewed(self.store, names, start)
        if found is not None and not self.store.read_only:
            self.image, self._sync_due = names[found], True
        return found

    def renew_and_watch(self) -> None:
        """Called by poll: sets the server to what this window wants after it was offline, keeps the shown image's
        lease alive, reports others' leases when they change, and takes the shown image once it is free."""
        now = time.monotonic()
        if self._usable() and (self._sync_due or (self.taken and now >= self._renew_at)):
            self._guarded(self._sync, None)
        if self.changed or now >= self._watch_at:
            self.changed = False
            before = dict(self._others)
            if self.held_elsewhere() != before:
                self.store._events.append(LeaseEvent(dict(self._others)))
            if self.image is not None and not self.taken and self.image not in self._others and self._usable():
                self._guarded(self._sync, None)
