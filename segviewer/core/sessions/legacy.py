"""Version-1 session files (one `reviews` row per image, `history` holding the review before each change) as the
version-2 history of changes, without losing a change.

Version 1 kept, for every change, the full review before it; the review after change k is the one before change
k+1, and after the last change it is the image's `reviews` row. So every change comes back with who made it, when,
and what it replaced. Change ids are made from the change's content: migrating or merging the same file twice
gives the same ids, so it adds nothing the second time.
"""
from __future__ import annotations

import sqlite3
import uuid

from .model import MAX_IMAGE, MAX_NOTE, MAX_REVIEWER, MAX_STATUS, BadValue, Change, read_int, read_text, read_time

_IDS = uuid.UUID("6d1c1f0e-2b7a-4c55-9d43-5e6a7f00a1b2")
_V1_STATE = "substr(status, 1, {s}), substr(note, 1, {n}), substr(reviewer, 1, {r}), time"
_LIMITS = dict(s=MAX_STATUS + 1, n=MAX_NOTE + 1, r=MAX_REVIEWER + 1)


def _state(row, what: str, nullable: bool):
    """(status, note, reviewer, time) of a version-1 row, checked; None for 'no review' where that is allowed."""
    status, note, reviewer, when = row
    if status is None and nullable:
        return None
    return (read_text(status, MAX_STATUS, f"{what} status"), read_text(note or "", MAX_NOTE, f"{what} note"),
            read_text(reviewer or "", MAX_REVIEWER, f"{what} reviewer"), read_time(when, f"{what} time"))


def read_v1_changes(con: sqlite3.Connection, statuses: tuple[str, ...]) -> list[Change]:
    """Every change of a version-1 session, in the order it was made (BadValue when a value is wrong)."""
    current = {}
    for row in con.execute(f"SELECT substr(image, 1, {MAX_IMAGE + 1}), {_V1_STATE.format(**_LIMITS)} FROM reviews"):
        current[read_text(row[0], MAX_IMAGE, "an image name")] = _state(row[1:], "a review's", nullable=False)
    befores: dict[str, list[tuple[int, tuple | None]]] = {}
    query = (f"SELECT id, substr(image, 1, {MAX_IMAGE + 1}), substr(before_status, 1, {MAX_STATUS + 1}), "
             f"substr(before_note, 1, {MAX_NOTE + 1}), substr(before_reviewer, 1, {MAX_REVIEWER + 1}), before_time "
             "FROM history ORDER BY id")
    for row in con.execute(query):
        image = read_text(row[1], MAX_IMAGE, "an image name")
        befores.setdefault(image, []).append((read_int(row[0], "a history id"), _state(row[2:], "a history", True)))
    ordered: list[tuple[tuple, Change]] = []
    for image, after in current.items():
        chain = befores.get(image, [])
        if not chain:   # a review without history: one change that made it
            ordered.append(((0, after[3]), _change(image, None, after, statuses)))
            continue
        afters = [state for _, state in chain[1:]] + [after]
        for (hid, before), state in zip(chain, afters):
            if state is not None:   # a change that was undone later left no row: nothing to bring back
                ordered.append(((1, hid), _change(image, before, state, statuses)))
    ordered.sort(key=lambda item: item[0])
    return [change for _, change in ordered]


def _change(image: str, before, after, statuses) -> Change:
    """A change as version 2 records it: what it set (version 1 kept whole reviews: a field counts as set when it
    differs from the review before), who, when, and the review it replaced."""
    for state in (before, after):
        if state is not None and state[0] not in statuses:
            raise BadValue(f"status {state[0]!r} is not one of the session's statuses")
    status, note, reviewer, when = after
    prev_status, prev_note = (before[0], before[1]) if before is not None else (None, None)
    note_set = note != (prev_note or "")
    status_set = status != prev_status or not note_set   # a change that changed nothing kept its status
    key = "\0".join(map(str, (image, status, note, reviewer, repr(when), prev_status, prev_note)))
    return Change(uuid.uuid5(_IDS, key).hex, image, status if status_set else None, note if note_set else None,
                  reviewer, when, prev_status, prev_note)
