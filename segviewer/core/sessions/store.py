"""The store interface both backends implement, and everything about reviews that does not depend on where the
history lives: the current review of each image, undo, next unreviewed, progress, events.

A backend supplies the session's statuses, the committed changes after a given one (`_fetch`), and how a new
change is stored (`_submit`: committed, or kept in a journal until it can be). The store keeps the history it has
read, so every read costs only the changes made since the last one.

Threading: a store may be used from several threads (a window's session thread, a script that polls on one thread
and writes on another). Every call takes the store's lock, so calls run one at a time and each sees the session as
the one before left it; poll() releases the lock while it waits for news, so a write never waits for a poll's
timeout. Only one thread may poll at a time (a second one waits for the first), and close() ends the store for
every thread: call it last (it waits for a poll in progress to return). No call waits for a connection to be made:
a team store reconnects on threads of its own (pg_reconnect); a call that reads or writes while the server is
reachable waits for its answer as any database call does.
"""
from __future__ import annotations

import getpass
import threading
import time
from dataclasses import replace

from ..errors import OptionError, valid_utf8
from .events import ChangeEvent, ConnectionState, Progress
from .model import (DEFAULT_STATUSES, MAX_IMAGE, MAX_NOTE, MAX_REVIEWER, Change, Review, SessionError, check_text,
                    new_change_id, resolve_status)

POLL_STEP_S = 0.05


class SessionStore:
    """A QA session: statuses, notes, reviewers and times of a dataset's images, as a history of changes."""

    kind = "session"

    def __init__(self, target, reviewer: str | None = None):
        self.target = target              # a Path or a PgTarget (whose str() masks any password)
        self.reviewer = check_text(reviewer or _user(), MAX_REVIEWER, "the reviewer", empty_ok=False)
        self.read_only = False
        self.read_only_reason = ""
        self._statuses: tuple[str, ...] = ()
        self._committed: list[Change] = []
        self._state: dict[str, Review] = {}
        self._seq = 0
        self._mine: set[str] = set()      # change ids this store made (not reported back as events)
        self._undo: list[str] = []
        self._events: list = []
        self.last_change: Change | None = None   # the last change this store saved (seq 0: waiting in the journal)
        self._lock = threading.RLock()   # every call, on whichever thread (see the module's docstring)

    # ---- what a backend provides ----
    def _fetch(self, after_seq: int) -> list[Change]:
        """Committed changes with seq > after_seq, in order."""
        raise NotImplementedError

    def _submit(self, change: Change) -> Change | None:
        """Stores a new change durably; the change as committed (seq, prev_* as the session had them), or None
        when it waits in a journal."""
        raise NotImplementedError

    def _pending(self) -> list[Change]:
        return []

    def add_changes(self, changes: list[Change]) -> list[Change]:
        """Commits changes made elsewhere (a merge), in order, keeping their ids, reviewers and times; those
        already in the session are skipped. Returns the ones added."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __str__(self) -> str:
        return str(self.target)

    # ---- reading ----
    @property
    def statuses(self) -> list[str]:
        return list(self._statuses or DEFAULT_STATUSES)   # a session not made yet: the ones it will get

    @property
    def first_status(self) -> str:
        return self.statuses[0]

    def resolve_status(self, text: str) -> str:
        """A status by its name or its command-line slug (needs-fix for 'needs fix'); OptionError when unknown."""
        return resolve_status(self.statuses, text)

    def _check_wanted(self, wanted: tuple[str, ...] | None) -> None:
        """Statuses asked for by the caller: those of a new session, or the same as an existing one's."""
        if wanted is None:
            return
        if not self._statuses:
            self._statuses = wanted
        elif tuple(self._statuses) != tuple(wanted):
            raise OptionError(f"statuses: this session already has its statuses ({', '.join(self._statuses)}); "
                              "leave them out or start a new session")

    def refresh(self) -> None:
        """Reads the changes committed since the last read (by anyone) into the store's view, in order."""
        with self._lock:
            for change in self._fetch(self._seq):
                self._fold(change)

    def _fold(self, change: Change) -> None:
        if change.seq <= self._seq:
            return
        self._seq = change.seq
        self._committed.append(change)
        review = change.after(self.first_status)
        self._state[change.image] = review
        if change.change_id not in self._mine:
            self._events.append(ChangeEvent(change, review))

    def reviews(self) -> dict[str, Review]:
        """image -> its current review (committed, then this reviewer's changes still waiting to be sent)."""
        with self._lock:
            self.refresh()
            return self._view()

    def _view(self) -> dict[str, Review]:
        state = dict(self._state)
        for change in self._pending():
            state[change.image] = change.after(self.first_status)
        return state

    def review(self, image: str) -> Review | None:
        return self.reviews().get(image)

    def history(self, image: str | None = None) -> list[Change]:
        """Every change in the session's order (waiting ones last, with seq 0); of one image when given."""
        with self._lock:
            self.refresh()
            changes = self._committed + self._pending()
        return changes if image is None else [c for c in changes if c.image == image]

    # ---- writing ----
    def _check_writable(self) -> None:
        if self.read_only:
            raise SessionError(self.target, f"{self.read_only_reason}; nothing was changed")

    def set_review(self, image: str, status: str | None = None, note: str | None = None,
                   reviewer: str | None = None) -> Review:
        """Changes what is given (status by name or slug, note), keeps the rest; saved when this returns
        (committed, or durably kept in the offline journal). Invalid UTF-8 is stored with replacement characters."""
        self._check_writable()
        image = check_text(image, MAX_IMAGE, "the image name", empty_ok=False)
        status = self.resolve_status(status) if status is not None else None
        note = check_text(note, MAX_NOTE, "the note") if note is not None else None
        who = check_text(reviewer, MAX_REVIEWER, "the reviewer", empty_ok=False) if reviewer else self.reviewer
        with self._lock:
            change = self._save(Change(new_change_id(), image, status, note, who, time.time()))
            self._undo.append(change.change_id)
            self.last_change = change
            return self._view().get(image) or change.after(self.first_status)

    def _save(self, change: Change) -> Change:
        """Submits a change with the review before it as this store sees it (the backend records the one the
        session had when it committed), then reads everything committed up to it, in order."""
        current = self.reviews().get(change.image)
        change = replace(change, prev_status=current.status if current else None,
                         prev_note=current.note if current else None)
        self._mine.add(change.change_id)
        stored = self._submit(change)
        self.refresh()
        return stored or change

    def undo(self) -> str | None:
        """Reverts this store's last change with a new change that puts back the review before it (the history
        keeps both); returns the image, None when there is nothing to undo. Refused when someone else changed the
        image since."""
        self._check_writable()
        with self._lock:
            return self._undo_last()

    def _undo_last(self) -> str | None:
        if not self._undo:
            return None
        change_id = self._undo[-1]
        changes = [c for c in self.history() if c.change_id == change_id]
        if not changes:
            self._undo.pop()
            return None
        change = changes[0]
        image_history = self.history(change.image)
        later = image_history[[c.change_id for c in image_history].index(change_id) + 1:]
        others = [c for c in later if c.change_id not in self._mine]
        if others:   # this store's own later changes were undone before (the stack), others' were not
            self._undo.pop()
            raise SessionError(self.target, f"{valid_utf8(change.image)} was changed by {others[-1].reviewer} since; "
                                            "your change was not undone")
        back = Change(new_change_id(), change.image,
                      (change.prev_status or self.first_status) if change.status is not None else None,
                      (change.prev_note or "") if change.note is not None else None, change.reviewer, time.time())
        self.last_change = self._save(back)
        self._undo.pop()
        return change.image

    # ---- moving through a dataset ----
    def is_reviewed(self, review: Review | None) -> bool:
        return review is not None and review.status != self.first_status

    def first_unreviewed(self, names: list[str], start: int = 0) -> int | None:
        """Index of the first image from `start` on (wrapping) whose status is still the first status."""
        reviews = self.reviews()
        n = len(names)
        for k in range(n):
            i = (start + k) % n
            if not self.is_reviewed(reviews.get(names[i])):
                return i
        return None

    def next_unreviewed(self, names: list[str], start: int = 0) -> int | None:
        """Like first_unreviewed, skipping images another reviewer has open; a team store also opens (leases)
        the image it returns, so two reviewers are never sent to the same image."""
        held = self.held_elsewhere()
        reviews = self.reviews()
        n = len(names)
        for k in range(n):
            i = (start + k) % n
            if names[i] not in held and not self.is_reviewed(reviews.get(names[i])):
                return i
        return None

    def hold(self, image: str) -> str | None:
        """Marks the image as open here (renewed by poll() while held); returns the reviewer who has it open
        elsewhere, None when no one does. A single-reviewer store has no one else."""
        return None

    def release(self) -> None:
        """The image shown here is closed."""

    def held_elsewhere(self) -> dict[str, str]:
        """image -> reviewer, for images other reviewers have open now."""
        return {}

    def waiting_journals(self) -> dict[str, int]:
        """reviewer -> changes of this session not on the server yet, kept in offline journals on this machine.
        A single-reviewer file has no journal."""
        return {}

    def progress(self, names: list[str]) -> Progress:
        reviews = self.reviews()
        mine = self.reviewer_statuses().get(self.reviewer, {})
        wanted = set(names)
        return Progress(sum(1 for n in wanted if self.is_reviewed(reviews.get(n))),
                        sum(1 for n, s in mine.items() if n in wanted), len(wanted))

    def reviewer_statuses(self) -> dict[str, dict[str, str]]:
        """reviewer -> image -> the latest status that reviewer set on it (withdrawn ones left out)."""
        from .agreement import reviewer_statuses
        return reviewer_statuses(self.history(), self.first_status)

    # ---- events ----
    def poll(self, timeout: float = 0.0) -> list:
        """Changes (and, for a team store, leases and connection news) since the last poll; waits up to timeout
        seconds for the first one."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            with self._lock:
                self.refresh()
                if self._events or time.monotonic() >= deadline:
                    events, self._events = self._events, []
                    return events
            time.sleep(min(POLL_STEP_S, max(0.0, deadline - time.monotonic())))

    def connection(self) -> ConnectionState:
        return ConnectionState()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # no user name in a container without /etc/passwd entry
        return "reviewer"
