"""What every part of the engine shares: state declared up front (as torchmetrics' add_state), caches of the one
bounded type, one reset that restores both, and no call after the engine is closed."""
from __future__ import annotations

import functools
import inspect
from typing import Callable

from ..cache import BoundedCache

ALWAYS_ALLOWED = frozenset({"close", "reset"})


class Part:
    """An analysis the engine holds (`ins.compare`, ...). Its state is declared in __init__ with add_state and
    its caches with add_cache; reset() (on close() and on a dataset change) restores every state to its default
    and empties every cache."""

    def __init__(self, engine):
        self.engine = engine
        self._defaults: dict[str, Callable[[], object]] = {}
        self._caches: list[BoundedCache] = []

    def add_state(self, name: str, default: Callable[[], object]) -> None:
        """A field of the part, set to default() now and on every reset()."""
        self._defaults[name] = default
        setattr(self, name, default())

    def add_cache(self, size: int) -> BoundedCache:
        cache = BoundedCache(size)
        self._caches.append(cache)
        return cache

    def reset(self) -> None:
        for name, default in self._defaults.items():
            setattr(self, name, default())
        for cache in self._caches:
            cache.clear()

    def _check_open(self) -> None:
        self.engine._check_open()

    def __repr__(self) -> str:
        return f"<segviewer {type(self).__name__} of {self.engine!r}>"


def refuse_after_close(cls):
    """Every public method of the class raises ClosedError once its engine is closed (close and reset excepted)."""
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and name not in ALWAYS_ALLOWED and inspect.isfunction(value):
            setattr(cls, name, _open_only(value))
    return cls


def _open_only(method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        self._check_open()
        return method(self, *args, **kwargs)
    return call
