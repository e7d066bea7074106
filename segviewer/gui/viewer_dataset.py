"""The whole dataset's side of the window's view-model: the index pass, the dataset's counts and scores, the image
list's values and the best thresholds. A part of Viewer (its jobs, engine and signals); nothing here computes a
score itself."""
from __future__ import annotations

from ..core.counts import Counts, DatasetCounts
from ..core.scores import Scores, compute_scores
from ..core.scoring import Scoring


class DatasetSide:
    """Mixed into Viewer: reads self.engine, self.jobs, self.scoring, self.settings and emits its signals."""

    @property
    def dataset_result(self) -> DatasetCounts | None:
        return self.jobs.value("dataset_counts")

    @property
    def dataset_counts(self) -> Counts | None:
        d = self.dataset_result
        return d.total if d is not None else None

    @property
    def dataset_soft(self) -> Counts | None:
        d = self.dataset_result
        return d.soft if d is not None else None

    @property
    def per_image_exact(self) -> bool:
        d = self.dataset_result
        return d is None or d.exact

    @property
    def best(self):
        """Best thresholds over the whole image (the index knows no band): none while a band is set, so the table
        never puts whole-image figures beside band scores."""
        s = self.scoring
        usable = self.index is not None and not self.is_hard and not s.boundary
        return self.engine.best_thresholds(s) if usable else None

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
        self.jobs.request("index", lambda: engine.key("index"), job, done, worker=self.background,
                          what="Building the dataset index")

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
        """Per image (dataset order): the list's columns at the current settings, from the engine."""
        d = self.dataset_result
        return None if d is None else self.engine.image_list(d, self.settings.class_id, self.scoring)

    def loaded_per_image(self) -> tuple[list[str], Counts] | None:
        """Names and [I, C] counts of the images that loaded (failed ones left out), for exports."""
        d = self.dataset_result
        return None if d is None else d.loaded_rows()

    def apply_best_thresholds(self) -> None:
        best = self.best
        if best is not None:
            import numpy as np
            s = self.scoring
            fallback = Scoring().threshold if s.per_class else s.threshold
            t = np.where(np.isnan(best.threshold), fallback, best.threshold)
            self.update_settings(threshold=tuple(float(v) for v in t))

    def reset_thresholds(self) -> None:
        self.update_settings(threshold=Scoring().threshold)
