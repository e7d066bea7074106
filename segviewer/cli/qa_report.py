"""`segviewer qa-report`: the QA report CSV of a session, with agreement scores when a dataset is given, and the
reviewers' counts and Cohen's kappa between them on request."""
from __future__ import annotations

import argparse
import sys

from ..core.errors import one_line
from .options import add_data_options, add_score_options, data_options_from_args
from .options import output_file, session_file
from .qa_set import SESSION_HELP

HELP = "write the QA report CSV of a session"


def configure(qr: argparse.ArgumentParser) -> None:
    qr.add_argument("--session", type=session_file, required=True, help=SESSION_HELP)
    qr.add_argument("--out", type=output_file, required=True, help="report CSV to write")
    qr.add_argument("--reviewers", type=output_file, help="CSV of each reviewer's counts (images per status, changes)")
    qr.add_argument("--agreement", type=output_file,
                    help="CSV of Cohen's kappa between each pair of reviewers who set a status on the same images")
    add_data_options(qr, required=False)
    add_score_options(qr)


def run(args: argparse.Namespace) -> int:
    from ..core.outputs import OutputGuard
    from ..core.qa_report import write_agreement, write_report, write_reviewer_counts
    from ..core.sessions import open_session, session_target
    target = session_target(args.session)
    outputs = {"--out": args.out, "--reviewers": args.reviewers, "--agreement": args.agreement}
    guard = OutputGuard().add_session(target)
    guard.check(outputs)
    store = open_session(target, read_only=True)   # a report never writes the session (it may be read-only)
    try:
        for reviewer, n in sorted(store.waiting_journals().items()):
            print(f"segviewer: warning: {n} change{'s' * (n != 1)} of {one_line(reviewer)} "
                  f"{'are' if n != 1 else 'is'} waiting in an offline journal on this machine", file=sys.stderr)
        names = per_image = None
        if args.gt is not None or getattr(args, "dataset", None):
            from ..core.dataset import Dataset
            from .common import engine_from_args, report_failures, scoring_from_args
            dataset = Dataset(data_options_from_args(args))
            guard.add_dataset(dataset).check(outputs)
            ins = engine_from_args(args, dataset, scoring_from_args(args, dataset))
            result = ins.dataset_counts(source="pass")
            report_failures(ins.failures.reasons())
            names, per_image = result.loaded_rows()
        write_report(args.out, store, names, per_image, args.beta, args.smooth)
        if args.reviewers is not None:
            write_reviewer_counts(args.reviewers, store)
        if args.agreement is not None:
            write_agreement(args.agreement, store)
    finally:
        store.close()
    return 0
