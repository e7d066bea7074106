"""`segviewer qa-report`: the QA report CSV of a session, with agreement scores when a dataset is given."""
from __future__ import annotations

import argparse

from .options import add_data_options, add_score_options, data_options_from_args, parse_threshold
from .options import output_file, session_file

HELP = "write the QA report CSV of a session"


def configure(qr: argparse.ArgumentParser) -> None:
    qr.add_argument("--session", type=session_file, required=True, help="the session file")
    qr.add_argument("--out", type=output_file, required=True, help="report CSV to write")
    add_data_options(qr, required=False)
    add_score_options(qr)


def run(args: argparse.Namespace) -> int:
    from ..core.outputs import OutputGuard
    from ..core.qa_report import write_report
    from ..core.session import ReviewStore
    guard = OutputGuard().add_session(args.session)
    guard.check({"--out": args.out})
    store = ReviewStore(args.session, read_only=True)   # a report never writes the session (it may be read-only)
    try:
        names = per_image = None
        if args.gt is not None or getattr(args, "dataset", None):
            from ..core.dataset import Dataset, evaluate
            from .common import report_failures
            dataset = Dataset(data_options_from_args(args))
            guard.add_dataset(dataset).check({"--out": args.out})
            hard = dataset.is_hard or args.argmax
            threshold = 0.5 if hard else parse_threshold(args.threshold, dataset.classes.num_classes)
            result = evaluate(dataset, threshold, hard)
            report_failures(result.failures)
            names, per_image = result.names, result.counts
        write_report(args.out, store, names, per_image, args.beta, args.smooth)
    finally:
        store.close()
    return 0
