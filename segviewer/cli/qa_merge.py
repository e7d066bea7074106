"""`segviewer qa-merge`: copy QA sessions (e.g. each reviewer's SQLite file) into one session, usually the team's
on PostgreSQL, keeping every change as history; running it twice adds nothing."""
from __future__ import annotations

import argparse

HELP = "copy QA sessions into one (e.g. solo SQLite files into a team session), every change kept"


def configure(qm: argparse.ArgumentParser) -> None:
    qm.add_argument("sessions", nargs="+", metavar="SESSION", help="session files (or URLs) to copy from; read only")
    qm.add_argument("--into", required=True,
                    help="the session to copy into: postgresql://USER@HOST/DB (?session=NAME), service=NAME or a file")


def run(args: argparse.Namespace) -> int:
    from ..core.sessions import session_target
    from ..core.sessions.merge import merge_sessions
    into = session_target(args.into)
    sources = [session_target(s) for s in args.sessions]
    result = merge_sessions(sources, into)
    print(f"merged {result.sessions} session{'s' * (result.sessions != 1)} into {into}: {result.added} new "
          f"change{'s' * (result.added != 1)}, {result.changes - result.added} already there")
    return 0
