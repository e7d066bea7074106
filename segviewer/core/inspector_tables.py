"""The engine's tables for scripts and notebooks (pandas only here): each reads the settings once (another thread
may change them) and asks the engine for its counts, so a table is the window's numbers for the same settings."""
from __future__ import annotations

from .errors import all_failed
from .overlay import ALL_CLASSES
from .parts import refuse_after_close
from .scoring import Scoring
from .volume_metrics import Aggregation


@refuse_after_close
class InspectorTables:
    """The Inspector's pandas faces (a base of core.inspector.Inspector, which provides every method used here)."""

    def image_scores(self, image: int | str, scoring: Scoring | None = None):
        """A row per class: class_id, class_name, tp, fp, fn, precision, recall, fbeta, dice, iou."""
        from .tables import scores_frame
        s = self.effective(scoring)
        return scores_frame(self.classes.names, self.image_counts(image, s), s)

    def dataset_scores(self, scoring: Scoring | None = None, *, aggregation: Aggregation = "pooled"):
        """The same columns over the dataset (failed images left out; none loads: LoadError, as the CLI's exit 2).
        aggregation "pooled": scored from the summed counts; "case_mean": per class the mean of each image's
        (case's) scores where the class is present (nnU-Net's summary)."""
        from .tables import dataset_frame
        s = self.effective(scoring)
        if not self.index().loaded.any():
            raise all_failed(self._dataset.options.gt_dir, self.failures.reasons())
        return dataset_frame(self.classes.names, self.dataset_counts(s), s, aggregation)

    def images(self, class_id: int = ALL_CLASSES, scoring: Scoring | None = None):
        """A row per image in dataset order, as the window's list: image, mean_fbeta, mean_iou, fp, fn, status (the
        QA session's: `session=` of segviewer.open, else the window's for this GT + prediction; or 'failed')."""
        from .sessions import current_statuses
        from .tables import images_frame
        s = self.effective(scoring)
        counts = self.dataset_counts(s)
        statuses = current_statuses(self.session, self._dataset.options)
        return images_frame(self.names, self.image_list(counts, class_id, s), statuses)

    def confusion(self, image: int | str | None = None, scoring: Scoring | None = None):
        """GT class x predicted class pixel counts (+ a 'none' column in threshold mode)."""
        from .tables import confusion_frame
        s = self.effective(scoring)
        matrix = self.dataset_confusion(s) if image is None else self.image_confusion(image, s)
        return confusion_frame(self.classes.names, matrix, with_none=not s.argmax)
