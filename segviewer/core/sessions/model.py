"""The session model both stores share: every change is a row of a history; an image's review is its latest change.

A change sets a status, a note or both (None: left as it was) and records the review before it (prev_status,
prev_note), who made it and when; its change_id is made by the client, so sending a change twice (a replay after
a lost answer, a merge run twice) adds it once. Values read from a session are checked here before anything uses
them: a session file or database is never trusted.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

from ..errors import LoadError, OptionError, valid_utf8

SCHEMA_VERSION = 2
APP_ID = "segviewer-qa"
DEFAULT_STATUSES = ("unreviewed", "accepted", "needs fix", "model error", "ambiguous")
# what a session may hold; larger values are refused on read (memory) and on write (OptionError)
MAX_IMAGE = 4096
MAX_NOTE = 65536
MAX_REVIEWER = 256
MAX_STATUS = 100
MAX_STATUSES = 32
MAX_CHANGE_ID = 64


class SessionError(LoadError):
    """A session (file or database) that cannot be used; it is left as it was. `where` is a path or a target whose
    str() is safe to print (a database URL with its password masked)."""

    def __init__(self, where, reason: str):
        from pathlib import Path
        if where is None or isinstance(where, (str, Path)):
            super().__init__(where, reason)
        else:
            super().__init__(None, f"{where}: {reason}")


@dataclass(frozen=True)
class Review:
    """An image's current review: the state after its latest change."""
    image: str
    status: str
    note: str
    reviewer: str
    time: float


@dataclass(frozen=True)
class Change:
    """One row of the history. status/note None: this change left them as they were. seq: the order the session
    received it (0 while it waits in the offline journal)."""
    change_id: str
    image: str
    status: str | None
    note: str | None
    reviewer: str
    time: float
    prev_status: str | None = None
    prev_note: str | None = None
    seq: int = 0

    def after(self, first_status: str) -> Review:
        """The review this change leaves behind."""
        status = self.status if self.status is not None else (self.prev_status or first_status)
        note = self.note if self.note is not None else (self.prev_note or "")
        return Review(self.image, status, note, self.reviewer, self.time)


def new_change_id() -> str:
    return uuid.uuid4().hex


def slug(status: str) -> str:
    return status.strip().lower().replace(" ", "-").replace("_", "-")


def resolve_status(statuses: list[str] | tuple[str, ...], text: str) -> str:
    """A status by its name or its command-line slug (needs-fix for 'needs fix'); OptionError when unknown."""
    for name in statuses:
        if text == name or slug(text) == slug(name):
            return name
    raise OptionError(f"unknown status {valid_utf8(text)[:MAX_STATUS]!r} (statuses: "
                      f"{', '.join(slug(s) for s in statuses)})")


def check_statuses(names, option: str = "--statuses") -> tuple[str, ...]:
    """Status names for a new session: 2 to 32 distinct (by slug), non-empty, printable; the first means 'unreviewed'."""
    names = tuple(valid_utf8(n).strip() for n in names)
    if len(names) < 2:
        raise OptionError(f"{option}: give at least two statuses (the first one means 'not reviewed yet')")
    if len(names) > MAX_STATUSES:
        raise OptionError(f"{option}: at most {MAX_STATUSES} statuses, not {len(names)}")
    seen: dict[str, str] = {}
    for name in names:
        if not name or len(name) > MAX_STATUS or not name.isprintable():
            raise OptionError(f"{option}: a status name must be 1 to {MAX_STATUS} printable characters")
        if slug(name) in seen:
            raise OptionError(f"{option}: {name!r} is given twice (as {seen[slug(name)]!r})")
        seen[slug(name)] = name
    return names


def parse_statuses(text: str | None) -> tuple[str, ...] | None:
    """--statuses 'todo, ok, redo' -> the checked names; None when not given."""
    if text is None:
        return None
    return check_statuses([s for s in text.split(",")])


def check_text(value, limit: int, option: str, empty_ok: bool = True) -> str:
    """Text given by the user for a change: valid UTF-8, within the session's limits."""
    text = valid_utf8(value)
    if len(text) > limit:
        raise OptionError(f"{option} is longer than {limit:,} characters")
    if not text and not empty_ok:
        raise OptionError(f"{option} must not be empty")
    return text


# ---- values read from a session: checked, never trusted ----

class BadValue(Exception):
    """A value of the wrong type or size; the store turns it into a SessionError naming the session."""


def read_text(value, limit: int, what: str, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise BadValue(f"{what} is {_kind(value)}, not text")
    if len(value) > limit:
        raise BadValue(f"{what} is longer than {limit:,} characters")
    return value


# the seconds a date can show (years 1 to 9999, UTC): a finite 1e300 is no time either (the report's date of it
# was an OverflowError)
TIME_RANGE = (-62_135_596_800.0, 253_402_300_799.0)


def read_time(value, what: str = "time") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadValue(f"{what} is {_kind(value)}, not a finite number")
    if not TIME_RANGE[0] <= value <= TIME_RANGE[1]:
        raise BadValue(f"{what} {value:g} is no date (seconds since 1970 for a year from 1 to 9999)")
    return float(value)


def read_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadValue(f"{what} is {_kind(value)}, not an integer")
    return value


def _kind(value) -> str:
    if value is None:
        return "empty (NULL)"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "binary data"
    if isinstance(value, float) and not math.isfinite(value):
        return "infinite or NaN"
    return {str: "text", int: "an integer", float: "a number"}.get(type(value), type(value).__name__)


def read_change(row, statuses) -> Change:
    """(seq, change_id, image, status, note, reviewer, time, prev_status, prev_note) as read; BadValue if wrong."""
    seq, change_id, image, status, note, reviewer, when, prev_status, prev_note = row
    change = Change(read_text(change_id, MAX_CHANGE_ID, "a change id"), read_text(image, MAX_IMAGE, "an image name"),
                    read_text(status, MAX_STATUS, "a status", nullable=True), read_text(note, MAX_NOTE, "a note", True),
                    read_text(reviewer, MAX_REVIEWER, "a reviewer"), read_time(when),
                    read_text(prev_status, MAX_STATUS, "a status", True), read_text(prev_note, MAX_NOTE, "a note", True),
                    read_int(seq, "a change number"))
    for value in (change.status, change.prev_status):
        if value is not None and value not in statuses:
            raise BadValue(f"status {value!r} is not one of the session's statuses")
    return change


def read_statuses(values) -> tuple[str, ...]:
    names = tuple(read_text(v, MAX_STATUS, "a status name") for v in values)
    if not 2 <= len(names) <= MAX_STATUSES or len({slug(n) for n in names}) != len(names):
        raise BadValue(f"its {len(names)} status names are not 2 to {MAX_STATUSES} distinct names")
    return names


def latest_reviews(changes, first_status: str) -> dict[str, Review]:
    """The current review of every image: the state after its latest change (changes in the session's order)."""
    out: dict[str, Review] = {}
    for change in changes:
        out[change.image] = change.after(first_status)
    return out


def refuse_unlisted_status(where, status: str | None, statuses) -> None:
    """A status named against the statuses a new session gets, going into a session another reviewer made just
    now with other ones: refused in the change's own transaction (stored, it read as a damaged session)."""
    if status is not None and status not in statuses:
        raise SessionError(where, f"status {status!r} is not one of this session's statuses ({', '.join(statuses)}): "
                                  "another reviewer made it just now with these; nothing was changed")
