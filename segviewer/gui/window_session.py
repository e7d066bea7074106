"""A review session as one window uses it — Qt-free, and run only on the window's session thread (session_worker).

The window shows one image at a time: the store holds that image's lease (taken when shown, renewed by the store's
poll, given up by the next image's and on close; kept by the store across a failed take and a reconnect) and asks for the history of that image. After every call and every
batch of events the thread asks `state()` for what the window shows — the reviews, who has what open, the team's
progress and agreement, the connection — and sends it on only when it changed. Everything in a SessionState is a
plain value that no one changes afterwards, so the GUI thread reads it without locks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from ..core.sessions import Change, ChangeEvent, ConnectionState, LeaseEvent, Progress, Review, SessionStore
from ..core.sessions.agreement import PairAgreement, ReviewerCounts, pair_agreements, reviewer_counts
from ..core.sessions.model import MAX_REVIEWER, check_text

HISTORY_SHOWN = 50     # the newest changes of the shown image that the window gets


@dataclass(frozen=True)
class SessionState:
    """What the window shows of its session, as the session thread last read it."""
    where: str                           # the file, or the team URL with its password masked
    kind: str                            # "sqlite" or "postgresql"
    statuses: tuple[str, ...]
    reviewer: str
    read_only_reason: str                # "" when the window may write
    reviews: Mapping[str, Review]        # image -> its current review (this reviewer's unsent changes included)
    status_of: Mapping[str, str]         # image -> status, image -> note: what the image list shows
    note_of: Mapping[str, str]
    version: tuple                       # changes whenever a change is added to the session
    held: Mapping[str, str]              # image -> reviewer, for images open in other windows
    progress: Progress
    reviewers: tuple[ReviewerCounts, ...]
    agreements: tuple[PairAgreement, ...]
    connection: ConnectionState
    image: str | None = None             # the image this window shows (and leases)
    image_history: tuple[Change, ...] = ()
    holder: str | None = None            # who else has that image open

    @property
    def read_only(self) -> bool:
        return bool(self.read_only_reason)

    @property
    def team(self) -> bool:
        """A shared session: on a server, or a file with changes of more than one reviewer."""
        return self.kind == "postgresql" or len(self.reviewers) > 1

    def progress_text(self) -> str:
        """'n of N reviewed', with this reviewer's own count where there is a team."""
        p = self.progress
        return p.text() if self.team else f"{p.reviewed} of {p.total} reviewed"

    def connection_text(self) -> str:
        """'offline — n changes waiting' and the like; empty when online with nothing waiting."""
        c = self.connection
        return c.message if c.message and (not c.online or c.pending) else ""


@dataclass(frozen=True)
class SessionReviews:
    """A session's reviews and statuses as read on the session thread: what the QA report writes."""
    review_map: Mapping[str, Review]
    statuses: tuple[str, ...]

    @classmethod
    def of(cls, store: SessionStore) -> "SessionReviews":
        return cls(MappingProxyType(store.reviews()), tuple(store.statuses))

    def reviews(self) -> dict[str, Review]:
        return dict(self.review_map)


@dataclass
class _Derived:
    """What is computed from the history, kept until a change is added."""
    version: tuple = ()
    reviewer: str = ""
    reviews: Mapping[str, Review] = field(default_factory=dict)
    status_of: Mapping[str, str] = field(default_factory=dict)
    note_of: Mapping[str, str] = field(default_factory=dict)
    progress: Progress = Progress(0, 0, 0)
    reviewers: tuple = ()
    agreements: tuple = ()
    image: object = None            # the image whose history is kept (_UNSET: to be read again)
    image_history: tuple = ()


_UNSET = object()


class WindowSession:
    def __init__(self, store: SessionStore, names: list[str]):
        self.store = store
        self.names = list(names)                  # the dataset's images: what "n of N" counts
        self.image: str | None = None             # shown here
        self.holder: str | None = None            # who else has it open (then this window does not hold it)
        self.held: dict[str, str] = dict(store.held_elsewhere())
        self._derived = _Derived(version=(-1,))
        self._signature: tuple | None = None

    # ---- the shown image and its lease ----
    def show(self, image: str | None) -> str | None:
        """The window shows this image: the store holds its lease (or, when another window has it, holds none and
        takes it once that one lets go); returns who else has it open."""
        self.image = image
        if image is None:
            self.store.release()
            self.holder = None
        else:
            self.holder = self.store.hold(image)
        self._watch_leases()
        return self.holder

    def _watch_leases(self) -> None:
        self.held = dict(self.store.held_elsewhere())

    def _went_to(self, names: list[str], found: int | None) -> int | None:
        """The store's next_unreviewed found names[found] and holds its lease."""
        if found is not None:
            self.image, self.holder = names[found], None
            self._watch_leases()
        return found

    def next_unreviewed(self, names: list[str], start: int, fallback_to_next: bool = False) -> int | None:
        """The first image of names from start on (wrapping) that is unreviewed and open nowhere else, leased here;
        fallback_to_next: when there is none, the first from start on that is open nowhere else (the status keys'
        move-on walks on through a list that is all reviewed). None: nowhere to go (the shown image keeps its lease)."""
        found = self._went_to(names, self.store.next_unreviewed(names, start) if names else None)
        if found is None and fallback_to_next and names:
            self._watch_leases()
            n = len(names)
            found = next(((start + k) % n for k in range(n) if names[(start + k) % n] not in self.held), None)
            if found is not None:
                self.show(names[found])
        return found

    def resume(self, names: list[str]) -> int | None:
        """Where a reopened review goes on: the first unreviewed image of names (the list's order, worst first)
        that no one else has open, leased here; None for a session with no reviews and no one else in it, or with
        every image reviewed (the list's top is shown)."""
        if not self.store.reviews() and not self.held:
            return None
        return self._went_to(names, self.store.next_unreviewed(names, 0))

    # ---- writing ----
    def set_review(self, image: str, status: str | None, note: str | None, reviewer: str) -> Review:
        return self.store.set_review(image, status, note, reviewer=reviewer)

    def undo(self) -> str | None:
        return self.store.undo()

    def undo_change(self) -> tuple:
        """Undoes this reviewer's last change: (its image, the change that reverted it), (None, None) when there is
        nothing to undo."""
        image = self.undo()
        return image, (self.store.last_change if image is not None else None)

    def set_reviewer(self, name: str) -> str:
        """The name this window reviews and holds images under (checked as a change's reviewer is)."""
        self.store.reviewer = check_text(name, MAX_REVIEWER, "the reviewer", empty_ok=False)
        return self.store.reviewer

    # ---- events ----
    def absorb(self, events: list) -> list[ChangeEvent]:
        """Takes in what poll() brought; returns others' changes. (The store keeps the shown image's lease itself:
        it takes it when whoever had it lets go, and again when the server is back.)"""
        others = []
        for event in events:
            if isinstance(event, ChangeEvent):
                others.append(event)
            elif isinstance(event, LeaseEvent):
                self.held = dict(event.held)
                self.holder = self.held.get(self.image) if self.image is not None else None
        return others

    # ---- what the window shows ----
    def state(self, force: bool = False) -> SessionState | None:
        """The session now; None when nothing the window shows changed since the last call (unless force)."""
        store = self.store
        history = store.history()
        version = (len(history), history[-1].change_id, history[-1].seq) if history else (0,)
        derived = self._derive(history, version)
        connection = store.connection()
        signature = (version, tuple(sorted(self.held.items())), connection, self.image, self.holder, store.reviewer,
                     store.read_only_reason, tuple(store.statuses))
        if signature == self._signature and not force:
            return None
        self._signature = signature
        return SessionState(str(store), store.kind, tuple(store.statuses), store.reviewer,
                            store.read_only_reason if store.read_only else "", derived.reviews, derived.status_of,
                            derived.note_of, version, MappingProxyType(dict(self.held)), derived.progress,
                            derived.reviewers, derived.agreements, connection, self.image, derived.image_history,
                            self.holder)

    def _derive(self, history: list[Change], version: tuple) -> _Derived:
        """Reviews, progress and agreement once per change added (and per reviewer name); the shown image's
        history once per change or image."""
        d, store = self._derived, self.store
        if (d.version, d.reviewer) != (version, store.reviewer):
            reviews = store.reviews()
            d = _Derived(version, store.reviewer, MappingProxyType(reviews),
                         MappingProxyType({k: r.status for k, r in reviews.items()}),
                         MappingProxyType({k: r.note for k, r in reviews.items()}), store.progress(self.names),
                         tuple(reviewer_counts(history, store.statuses)),
                         tuple(pair_agreements(history, store.first_status)))
            d.image = _UNSET
        if d.image != self.image:
            d.image = self.image
            d.image_history = tuple([c for c in history if c.image == self.image][-HISTORY_SHOWN:])
        self._derived = d
        return d

    def close(self) -> None:
        self.store.close()


def undone_text(change: Change) -> str:
    """What an undo put back, from the change that reverted it (its prev_* fields hold what was undone)."""
    parts = []
    if change.status is not None:
        parts.append(f"status {change.prev_status or '—'} → {change.status}")
    if change.note is not None:
        parts.append("note " + (f"back to “{change.note[:40]}”" if change.note else "removed"))
    return f"undone on {change.image}: " + ", ".join(parts)
