"""The one rule for every result the window shows: a request carries its key (the engine's key for the settings
it was made with); its result is applied, and kept as the slot's value, only while that key is still the key of
the current settings; a failure is reported once per key and not retried for the same settings.

A slot is one thing a panel shows (the overlay, the dataset counts, the Compare tab's image table ...): it names
the worker's kind too, so a newer request for a slot replaces one still queued (a fast drag never queues stale
work). Panels say what to request and how to draw the answer; nothing else of this rule is written anywhere else.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject

from ..core.errors import LoadError, OptionError
from .guard import message

Key = Callable[[], tuple]


@dataclass
class Slot:
    key: Key                               # the key of the current settings for this slot
    shown: tuple | None = None             # the key of the value kept
    value: Any = None
    failed: tuple | None = None            # the key whose failure was reported
    worker: Any = None
    what: str = ""


class KeyedJobs(QObject):
    def __init__(self, report: Callable[[str], None], parent: QObject | None = None):
        super().__init__(parent)
        self._report = report
        self.generation = 0
        self._slots: dict[str, Slot] = {}

    def reset(self) -> None:
        """Another dataset: nothing computed before counts any more, and no job still running may apply."""
        self.generation += 1
        for name, slot in self._slots.items():
            if slot.worker is not None:
                slot.worker.cancel(name)
        self._slots.clear()

    def current_key(self, name: str) -> tuple | None:
        slot = self._slots.get(name)
        return None if slot is None else (self.generation, slot.key())

    def value(self, name: str):
        """The slot's value while its key is the current one, else None (the panel shows "computing…")."""
        slot = self._slots.get(name)
        if slot is None or slot.shown is None or slot.shown != (self.generation, slot.key()):
            return None
        return slot.value

    def is_current(self, name: str) -> bool:
        return self.value(name) is not None

    def forget(self, name: str) -> None:
        """The slot's value and failure no longer count (the user asked again): the next request runs."""
        slot = self._slots.get(name)
        if slot is not None:
            slot.shown, slot.value, slot.failed = None, None, None

    def request(self, name: str, key: Key, job: Callable[[], Any], apply: Callable[[Any], None], *, worker,
                what: str, failed: Callable[[BaseException], None] | None = None, now: bool = False,
                quick: Callable[[], Any] | None = None) -> None:
        """job() on the worker under kind `name` (now=True: here, at once), apply(result) when it is still current.
        quick() answers here first when it can (None: it cannot); the slot's queued job is then dropped."""
        slot = self._slots.get(name)
        if slot is None:
            slot = self._slots[name] = Slot(key)
        slot.key, slot.worker, slot.what = key, worker, what
        wanted = (self.generation, key())
        if wanted in (slot.shown, slot.failed):
            return
        if quick is not None:
            out = quick()
            if out is not None:
                worker.cancel(name)
                self._done(name, wanted, out, apply)
                return
        on_failed = lambda exc: self._failed(name, wanted, exc, failed)  # noqa: E731
        if now:
            worker.cancel(name)
            try:
                out = job()
            except Exception as exc:  # noqa: BLE001 - reported once, as a worker's failure is
                on_failed(exc)
                return
            self._done(name, wanted, out, apply)
            return
        worker.submit(name, job, lambda out: self._done(name, wanted, out, apply), on_failed)

    def _done(self, name: str, wanted: tuple, out, apply) -> None:
        slot = self._slots.get(name)
        if slot is None or wanted != (self.generation, slot.key()):
            return
        slot.shown, slot.value = wanted, out
        apply(out)

    def _failed(self, name: str, wanted: tuple, exc: BaseException, failed) -> None:
        slot = self._slots.get(name)
        if slot is None or wanted != (self.generation, slot.key()) or slot.failed == wanted:
            return
        slot.failed = wanted
        if not isinstance(exc, (LoadError, OptionError, OSError)):
            traceback.print_exception(exc)       # a bug: the message says the details are on stderr
        if failed is not None:
            failed(exc)
        else:
            self._report(message(slot.what, exc))
