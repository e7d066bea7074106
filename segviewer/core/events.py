"""Events of the engine: a tiny Qt-free observer API in napari's spirit (`ins.events.scoring.connect(callback)`).

A setting that changes emits one Event saying which setting, its old and new value and which of its fields
changed; every listener is called in the thread that made the change (a window marshals to its own thread).
"""
from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Event:
    name: str                   # what changed: "scoring", "compare_scoring", or "closed" (the engine was closed)
    old: object
    new: object
    changed: frozenset[str]     # the fields of the setting whose values differ


def changed_fields(old, new) -> frozenset[str]:
    """The dataclass fields whose values differ between two instances (every field when one is None)."""
    if old is None or new is None:
        return frozenset(f.name for f in dataclasses.fields(old if old is not None else new))
    return frozenset(f.name for f in dataclasses.fields(new) if getattr(old, f.name) != getattr(new, f.name))


class Emitter:
    """One kind of event: connect(callback) / disconnect(callback); emit() calls every callback in order."""

    def __init__(self, name: str):
        self.name = name
        self._callbacks: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()

    def connect(self, callback: Callable[[Event], None]) -> Callable[[Event], None]:
        with self._lock:
            if callback not in self._callbacks:
                self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[[Event], None] | None = None) -> None:
        """Removes the callback (every callback when None); one that is not connected is ignored."""
        with self._lock:
            if callback is None:
                self._callbacks.clear()
            elif callback in self._callbacks:
                self._callbacks.remove(callback)

    def emit(self, old, new, changed: frozenset[str] | None = None) -> Event | None:
        """Calls every callback with the Event when something changed (the fields that differ, unless given);
        returns it (None when nothing changed)."""
        changed = changed_fields(old, new) if changed is None else changed
        if not changed:
            return None
        event = Event(self.name, old, new, changed)
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback(event)
        return event

    def __len__(self) -> int:
        return len(self._callbacks)


class Events:
    """The engine's emitters by name: `events.scoring`, `events.compare_scoring`, `events.closed`."""

    def __init__(self, *names: str):
        self._names = names
        for name in names:
            setattr(self, name, Emitter(name))

    def disconnect_all(self) -> None:
        for name in self._names:
            getattr(self, name).disconnect()
