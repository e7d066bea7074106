"""`segviewer qa-set`: record one review in a QA session file."""
from __future__ import annotations

import argparse
import getpass
from .options import session_file

HELP = "record one review in a QA session file"


def configure(qs: argparse.ArgumentParser) -> None:
    qs.add_argument("--session", type=session_file, required=True, help="the session file (created if missing)")
    qs.add_argument("--image", required=True, help="image name")
    qs.add_argument("--status", required=True, help="e.g. accepted, needs-fix, model-error, ambiguous")
    qs.add_argument("--note", default=None, help="free text")
    qs.add_argument("--reviewer", default=None, help="who reviewed (default: the user name)")
    qs.add_argument("--statuses", help="comma-separated status names for a new session file (first = unreviewed)")


def run(args: argparse.Namespace) -> int:
    from ..core.session import ReviewStore
    statuses = tuple(s.strip() for s in args.statuses.split(",") if s.strip()) if args.statuses else None
    store = ReviewStore(args.session, statuses)
    try:
        store.set_review(args.image, args.status, args.note, args.reviewer or getpass.getuser())
    finally:
        store.close()
    return 0
