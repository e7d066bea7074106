"""Agreement between reviewers: per-reviewer counts and Cohen's kappa for every pair who set a status on the
same images.

Each reviewer's vote on an image is the latest status they set on it (a change that only edits the note is no
vote; a status set back to the first one withdraws the vote). Kappa = (p_o − p_e) / (1 − p_e) over the images both
voted on, with p_e from each reviewer's own status frequencies on those images (Cohen 1960); undefined (NaN) when
p_e = 1, i.e. both gave one and the same status to every shared image.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from itertools import combinations

from .model import Change


@dataclass(frozen=True)
class ReviewerCounts:
    reviewer: str
    images: int                  # images with a vote of this reviewer
    changes: int                 # every change this reviewer made (notes and undos included)
    statuses: dict[str, int]     # status -> images with this vote


@dataclass(frozen=True)
class PairAgreement:
    reviewer_a: str
    reviewer_b: str
    images: int                  # images both voted on
    agreed: int
    observed: float              # p_o
    expected: float              # p_e
    kappa: float                 # NaN when undefined


def reviewer_statuses(changes: list[Change], first_status: str) -> dict[str, dict[str, str]]:
    """reviewer -> image -> that reviewer's latest status on it (withdrawn votes left out)."""
    votes: dict[str, dict[str, str]] = {}
    for change in changes:
        if change.status is not None:
            votes.setdefault(change.reviewer, {})[change.image] = change.status
    return {who: {img: s for img, s in imgs.items() if s != first_status} for who, imgs in votes.items()}


def reviewer_counts(changes: list[Change], statuses: list[str]) -> list[ReviewerCounts]:
    votes = reviewer_statuses(changes, statuses[0])
    made = Counter(c.reviewer for c in changes)
    out = []
    for who in sorted(made):
        mine = votes.get(who, {})
        tally = Counter(mine.values())
        out.append(ReviewerCounts(who, len(mine), made[who], {s: tally.get(s, 0) for s in statuses[1:]}))
    return out


def cohen_kappa(a: list[str], b: list[str]) -> tuple[float, float, float]:
    """(p_o, p_e, kappa) of two equally long label lists."""
    n = len(a)
    if n == 0:
        return math.nan, math.nan, math.nan
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    kappa = (observed - expected) / (1.0 - expected) if expected < 1.0 else math.nan
    return observed, expected, kappa


def pair_agreements(changes: list[Change], first_status: str) -> list[PairAgreement]:
    """Every pair of reviewers with at least one image both voted on, in name order."""
    votes = reviewer_statuses(changes, first_status)
    out = []
    for ra, rb in combinations(sorted(votes), 2):
        shared = sorted(set(votes[ra]) & set(votes[rb]))
        if not shared:
            continue
        a, b = [votes[ra][i] for i in shared], [votes[rb][i] for i in shared]
        observed, expected, kappa = cohen_kappa(a, b)
        out.append(PairAgreement(ra, rb, len(shared), sum(x == y for x, y in zip(a, b)), observed, expected, kappa))
    return out
