"""Which image a freshly opened dataset shows: the top of the sorted list, or, when the review session already has
reviews, the first unreviewed image in the list's order (the worst unreviewed first) — in every mode.

The list's order is known only once the dataset's scores are in (or an analysis ranks it, e.g. --compare's ΔFβ), so
the pick waits for that. Until the user chooses an image, the first ranking that arrives later picks again in its
order."""
from __future__ import annotations

from typing import Callable


class FirstImage:
    def __init__(self, order: Callable[[], list[int]], resume_target: Callable[[list[int]], int | None],
                 resumed: Callable[[], bool], select: Callable[[int], None], current: Callable[[], int]):
        self._order, self._resume_target, self._resumed = order, resume_target, resumed
        self._select, self._current = select, current
        self.pending = False       # nothing picked yet for the open dataset
        self.automatic = False     # the image on screen was picked here, not by the user

    def dataset_opened(self) -> None:
        self.pending = self.automatic = True

    def user_chose(self) -> None:
        self.pending = self.automatic = False

    def list_sorted(self) -> None:
        """The list has its first order (the dataset's scores came in)."""
        if self.pending:
            self._pick()

    def list_ranked(self) -> None:
        """An analysis ranked the list: picks in that order unless the user has chosen an image (once: a tab
        opened later re-ranks the list without moving the image on screen)."""
        if self.pending or self.automatic:
            self._pick()
        self.automatic = False

    def _pick(self) -> None:
        self.pending = False
        order = self._order()
        if not order:
            return
        target = self._resume_target(order) if self._resumed() else None
        target = order[0] if target is None else target
        if target != self._current():
            self._select(target)
