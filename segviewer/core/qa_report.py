"""The QA report: one row per image with its review, plus agreement / score columns when the dataset is known."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from .csv_text import fmt_number, safe_text, write_rows
from .sessions import SessionStore

REPORT_COLUMNS = ("image", "status", "note", "reviewer", "time")
SCORE_COLUMNS = ("mean_dice", "mean_iou", "mean_fbeta", "mean_precision", "mean_recall")
AGREEMENT_COLUMNS = ("reviewer_a", "reviewer_b", "images", "agreed", "observed_agreement", "expected_agreement",
                     "kappa")
REVIEWER_COLUMNS = ("reviewer", "images", "changes")   # then one column per status (images with that vote)


def iso_time(t: float | None) -> str:
    return "" if not t else dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="seconds")


def report_rows(store: SessionStore, names: list[str] | None = None, per_image=None, beta: float = 1.0,
                smooth: float = 1e-5):
    """names/per_image: the dataset's images and their [I, C] counts (agreement for two annotations)."""
    reviews = store.reviews()
    order = names if names is not None else sorted(reviews)
    extra = sorted(set(reviews) - set(order))
    scores = None
    if per_image is not None:
        from .scores import compute_scores, nanmean   # torch only when there are scores to write
        scores = compute_scores(per_image, beta, smooth)
    for i, image in enumerate(order + extra):
        r = reviews.get(image)
        row = [safe_text(image), safe_text(r.status if r else store.statuses[0]), safe_text(r.note if r else ""),
               safe_text(r.reviewer if r else ""), iso_time(r.time if r else None)]
        if scores is not None:
            if i < len(order):
                row += [fmt_number(nanmean(getattr(scores, k)[i])) for k in ("dice", "iou", "fbeta", "precision", "recall")]
            else:
                row += [""] * len(SCORE_COLUMNS)
        yield row


def write_report(path: str | Path, store: SessionStore, names=None, per_image=None, beta=1.0, smooth=1e-5) -> None:
    header = REPORT_COLUMNS + (SCORE_COLUMNS if per_image is not None else ())
    write_rows(path, header, report_rows(store, names, per_image, beta, smooth))


def write_agreement(path: str | Path, store: SessionStore) -> None:
    """Cohen's kappa for every pair of reviewers who set a status on the same images (core.sessions.agreement)."""
    from .sessions.agreement import pair_agreements
    rows = ([safe_text(p.reviewer_a), safe_text(p.reviewer_b), p.images, p.agreed, fmt_number(p.observed),
             fmt_number(p.expected), fmt_number(p.kappa)] for p in pair_agreements(store.history(), store.first_status))
    write_rows(path, AGREEMENT_COLUMNS, rows)


def write_reviewer_counts(path: str | Path, store: SessionStore) -> None:
    """Per reviewer: images with a vote, changes made, and images per status."""
    from .sessions.agreement import reviewer_counts
    statuses = store.statuses
    rows = ([safe_text(c.reviewer), c.images, c.changes, *(c.statuses[s] for s in statuses[1:])]
            for c in reviewer_counts(store.history(), statuses))
    write_rows(path, REVIEWER_COLUMNS + tuple(safe_text(s) for s in statuses[1:]), rows)

