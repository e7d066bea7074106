"""The view-model's side of the whole dataset: the index build, the dataset's scores and the image list's columns
at the current settings, and the best thresholds applied (a base of gui.viewer.Viewer, which holds the engine,
the jobs and the signals used here)."""
from __future__ import annotations

from ..core.counts import Counts
from ..core.scores import Scores, compute_scores
from ..core.scoring import Scoring
from .guard import message, reason_of

INDEX_WORK = "Building the dataset index"


class DatasetView:
    """Viewer's dataset-wide requests: every number comes from the engine through the keyed jobs."""

    def _start_index(self) -> None:
        engine, generation = self.engine, self.generation

        def job():
            return engine.index(progress=lambda done, total: self.index_progress.emit(done, total),
                                cancelled=lambda: generation != self.generation)

        def done(_index):
            self.index_ready = True
            self.failures_changed.emit()
            self.index_progress.emit(len(engine), len(engine))
            self.refresh_dataset_scores()
            self.request_render(counts=True)

        def refused(exc: BaseException) -> None:
            # the dataset's numbers will not come (the budget, the disk): the panels say why, not "computing…"
            self.index_refused = reason_of(exc)
            self.error.emit(message(INDEX_WORK, exc))
            self.dataset_scores_ready.emit()
        self.index_refused = None
        self.jobs.request("index", lambda: engine.key("index"), job, done, worker=self.background, what=INDEX_WORK,
                          failed=refused)

    def refresh_dataset_scores(self) -> None:
        """From the index in O(classes × bins) on this thread; off-grid thresholds and bands on a worker."""
        if self.index is None:
            return
        engine, s = self.engine, self.scoring
        self.jobs.request("dataset_counts", lambda: engine.key("dataset_counts", self.scoring),
                          lambda: engine.dataset_counts(s), lambda _counts: self.dataset_scores_ready.emit(),
                          worker=self.background, what="Dataset scores",
                          quick=lambda: engine.indexed_dataset_counts(s))
        if self.dataset_result is None:
            self.dataset_scores_ready.emit()   # stale numbers give way to "computing…"

    def dataset_scores(self) -> Scores | None:
        d = self.dataset_result
        if d is None:
            return None
        s = self.scoring
        return compute_scores(d.total, s.beta, s.smooth, d.soft)

    def image_list_scores(self) -> dict | None:
        """Per image (dataset order): the list's columns at the current settings, from the engine (computed once
        per counts, class and beta: ~25 ms at 100,000 images)."""
        d = self.dataset_result
        if d is None:
            return None
        key = (self.settings.class_id, self.scoring.score_key())
        cached = self._list_values
        if cached is None or cached[0] is not d or cached[1] != key:
            cached = self._list_values = (d, key, self.engine.image_list(d, self.settings.class_id, self.scoring))
        return cached[2]

    def loaded_per_image(self) -> tuple[list[str], Counts] | None:
        """Names and [I, C] counts of the images that loaded (failed ones left out), for exports."""
        d = self.dataset_result
        return None if d is None else d.loaded_rows()

    def apply_best_thresholds(self) -> None:
        best = self.best
        if best is not None:
            self.update_settings(threshold=tuple(float(v) for v in best.threshold))

    def reset_thresholds(self) -> None:
        self.update_settings(threshold=Scoring().threshold)
