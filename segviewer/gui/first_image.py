"""Which image a freshly opened dataset shows: the top of the sorted list, or, when the review session already has
reviews (or other reviewers), the session's first unreviewed image in the list's order — the worst unreviewed
first — in every mode.

The list's order is known only once the dataset's scores are in (or an analysis ranks it, e.g. --compare's ΔFβ), so
the pick waits for that; the session answers on its own thread (it also takes the image's lease). Until the user
chooses an image, the first ranking that arrives later picks again in its order — unless the user asked for it
(a tab or a view opened): a look re-orders the list and leaves the image on screen."""
from __future__ import annotations

from typing import Callable

Resume = Callable[[list[int], Callable[[int | None], None]], bool]


class FirstImage:
    def __init__(self, order: Callable[[], list[int]], resume_in: Resume, select: Callable[[int], None],
                 current: Callable[[], int]):
        """order(): the list's order (dataset positions); resume_in(order, found_at): asks the review session where
        a reopened review goes on (False: no session to ask); select(i): shows image i (not as the user's choice)."""
        self._order, self._resume_in, self._select, self._current = order, resume_in, select, current
        self.pending = False       # nothing picked yet for the open dataset
        self.automatic = False     # the image on screen was picked here, not by the user
        self._asked = 0            # the pick whose answer counts (a newer pick or the user's choice ends it)

    def dataset_opened(self) -> None:
        self.pending = self.automatic = True
        self._asked += 1

    def user_chose(self) -> None:
        self.pending = self.automatic = False
        self._asked += 1

    def user_looked(self) -> None:
        """The user opened a tab or a view that ranks the list: its ranking re-orders the list, and the image on
        screen stays (a look is not a request to move)."""
        self.automatic = False

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
        self._asked += 1
        order = self._order()
        if not order:
            return
        asked = self._asked
        if not self._resume_in(order, lambda i: self._answered(asked, order, i)):
            self._show(order[0])

    def _answered(self, asked: int, order: list[int], found: int | None) -> None:
        if asked == self._asked:
            self._show(order[0] if found is None else found)

    def _show(self, i: int) -> None:
        if i != self._current():
            self._select(i)
