"""`segviewer qa-set` and `segviewer qa-report`."""
from __future__ import annotations

import argparse
import getpass

from .options import data_options_from_args, parse_threshold


def run_qa_set(args: argparse.Namespace) -> int:
    from ..core.session import ReviewStore
    statuses = tuple(s.strip() for s in args.statuses.split(",") if s.strip()) if args.statuses else None
    store = ReviewStore(args.session, statuses)
    try:
        store.set_review(args.image, args.status, args.note, args.reviewer or getpass.getuser())
    finally:
        store.close()
    return 0


def run_qa_report(args: argparse.Namespace) -> int:
    from ..core.qa_report import write_report
    from ..core.session import ReviewStore, SessionError
    if not args.session.is_file():
        raise SessionError(args.session, "session file does not exist")
    store = ReviewStore(args.session)
    try:
        names = per_image = None
        if args.gt is not None or getattr(args, "dataset", None):
            from ..core.dataset import Dataset, evaluate
            from .common import report_failures
            dataset = Dataset(data_options_from_args(args))
            hard = dataset.is_hard or args.argmax
            threshold = 0.5 if hard else parse_threshold(args.threshold, dataset.classes.num_classes)
            result = evaluate(dataset, threshold, hard)
            report_failures(result.failures)
            names, per_image = result.names, result.counts
        write_report(args.out, store, names, per_image, args.beta, args.smooth)
    finally:
        store.close()
    return 0
