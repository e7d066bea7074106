"""`segviewer qa-report`: the QA report CSV of a session, with agreement scores when a dataset is given."""
from __future__ import annotations

import argparse
from pathlib import Path

from .options import add_data_options, add_score_options, data_options_from_args

HELP = "write the QA report CSV of a session"


def configure(qr: argparse.ArgumentParser) -> None:
    qr.add_argument("--session", type=Path, required=True, help="the session file")
    qr.add_argument("--out", type=Path, required=True, help="report CSV to write")
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
            from ..core.dataset import Dataset
            from .common import engine_from_args, report_failures, scoring_from_args
            dataset = Dataset(data_options_from_args(args))
            guard.add_dataset(dataset).check({"--out": args.out})
            ins = engine_from_args(args, dataset, scoring_from_args(args, dataset))
            result = ins.dataset_counts(source="pass")
            report_failures(ins.failures.reasons())
            names, per_image = result.loaded_rows()
        write_report(args.out, store, names, per_image, args.beta, args.smooth)
    finally:
        store.close()
    return 0
