"""`ins.label_issues`: where the model is confident the label is wrong: every image's label score (one pass, kept
per setting), one image's doubt map and suspect regions."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..label_issues import (DEFAULT_MIN_CONFIDENCE, DEFAULT_TEMPERATURE, ImageIssues, LabelScores, SuspectRegion,
                            check_settings, issues_frame, label_doubt_map, regions_frame, require_probabilities,
                            suspect_regions, sums_to_one)
from .base import Part, refuse_after_close

SCORES_CACHE_SIZE = 2      # settings kept: a few bytes per image each


@refuse_after_close
class LabelIssues(Part):
    def __init__(self, engine):
        super().__init__(engine)
        self._scores = self.add_cache(SCORES_CACHE_SIZE)    # (temperature, min_confidence) -> LabelScores

    def scan(self, temperature: float = DEFAULT_TEMPERATURE, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
             with_regions: bool = False, strict: bool = False, progress=None,
             cancelled=None) -> Iterator[ImageIssues]:
        """Each image's issues in dataset order, as they are computed (here: one image in memory at a time)."""
        from ..passes import label_scan_pass
        engine = self.engine
        yield from label_scan_pass(engine.dataset, engine.scoring, engine.cluster_client(), temperature=temperature,
                                   min_confidence=min_confidence, with_regions=with_regions,
                                   on_error=engine.failures.record, strict=strict, progress=progress,
                                   cancelled=cancelled)

    def scores(self, temperature: float = DEFAULT_TEMPERATURE, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
               progress=None, cancelled=None) -> LabelScores:
        """Every image's label_score and suspect pixels in dataset order (one pass, kept for the last settings)."""
        key = check_settings(temperature, min_confidence)
        found = self._scores.get(key)
        if found is not None:
            return found
        n = len(self.engine)
        out = LabelScores(np.full(n, np.nan), np.full(n, -1, np.int64), np.zeros(n, bool))
        for issue in self.scan(temperature, min_confidence, progress=progress, cancelled=cancelled):
            out.label_score[issue.index], out.suspect_pixels[issue.index] = issue.label_score, issue.suspect_pixels
            out.loaded[issue.index] = True
        if cancelled is not None and cancelled():
            return out          # a partial pass: returned to the canceller, never kept
        return self._scores.put(key, out)

    def table(self, temperature: float = DEFAULT_TEMPERATURE, min_confidence: float = DEFAULT_MIN_CONFIDENCE):
        """DataFrame image, label_score, suspect_pixels sorted by label_score ascending (worst first)."""
        return issues_frame(self.engine.names, self.scores(temperature, min_confidence))

    def doubt(self, image) -> np.ndarray:
        """H×W uint8 heatmap of 1 − s (the probability the label is wrong, × 255) of one image ((z, y, x) of a
        3-D case)."""
        sample = self._probability_sample(image)
        return np.concatenate([label_doubt_map(part.probs, part.target) for part in sample.parts()])

    def regions(self, image, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> list[SuspectRegion]:
        """One image's suspect regions, most pixels first (a 3-D case's are 3-D: their z range is `z`)."""
        _, min_confidence = check_settings(DEFAULT_TEMPERATURE, min_confidence)
        sample = self._probability_sample(image)
        one = sums_to_one(self.engine.dataset)
        if sample.is_volume:
            from ..label_issues import volume_issues
            return volume_issues(-1, sample, DEFAULT_TEMPERATURE, min_confidence, True, one).regions
        return suspect_regions(sample.probs, sample.target, min_confidence, one)

    def regions_table(self, image, min_confidence: float = DEFAULT_MIN_CONFIDENCE):
        """One image's suspect regions as the REGIONS table."""
        i = self.engine.position(image)
        return regions_frame(self.engine.names[i], self.regions(i, min_confidence))

    def _probability_sample(self, image):
        require_probabilities(self.engine.dataset)
        return self.engine.load(image).sample
