"""`segviewer qa-set`: record one review in a QA session (a file, or a team session on PostgreSQL)."""
from __future__ import annotations

import argparse
import sys

from .options import session_file

HELP = "record one review in a QA session (a file or a postgresql:// team session)"
SESSION_HELP = ("the session: a file, or a team session on PostgreSQL (postgresql://USER@HOST/DB, "
                "?session=NAME for one of several, or service=NAME)")


def configure(qs: argparse.ArgumentParser) -> None:
    qs.add_argument("--session", type=session_file, required=True, help=SESSION_HELP + "; created by the first change")
    qs.add_argument("--image", required=True, help="image name")
    qs.add_argument("--status", required=True, help="e.g. accepted, needs-fix, model-error, ambiguous")
    qs.add_argument("--note", default=None, help="free text")
    qs.add_argument("--reviewer", default=None, help="who reviewed (default: the user name)")
    qs.add_argument("--statuses", help="comma-separated status names for a new session (first = unreviewed)")


def run(args: argparse.Namespace) -> int:
    from ..core.sessions import open_session, parse_statuses, session_target
    target = session_target(args.session)            # a URL never becomes a folder named 'postgresql:'
    statuses = parse_statuses(args.statuses)
    store = open_session(target, statuses, reviewer=args.reviewer)
    try:
        status = store.resolve_status(args.status)   # before anything is made: a refused change leaves nothing
        store.set_review(args.image, status, args.note)
        state = store.connection()
        if state.pending:
            print(f"segviewer: {state.message}: kept in the offline journal, sent the next time segviewer "
                  "reaches this server", file=sys.stderr)
    finally:
        store.close()
    return 0
