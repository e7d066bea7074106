"""One guarded path for every window action: a user's problem becomes one message, and the window carries on."""
from __future__ import annotations

import sys
import traceback
from typing import Any, Callable

from ..core.errors import LoadError, OptionError


def message(what: str, exc: BaseException) -> str:
    """The one format of every message the window shows: '<what> failed: <file>: <reason>'."""
    if isinstance(exc, (LoadError, OptionError)):
        reason = str(exc)
    elif isinstance(exc, OSError):
        reason = f"{exc.filename}: {exc.strerror}" if exc.filename else (exc.strerror or str(exc))
    else:
        reason = f"unexpected {type(exc).__name__}: {exc} (a bug; the details are on stderr)"
    return f"{what} failed: {reason}"


def guarded(report: Callable[[str], None], what: str, action: Callable[..., Any]) -> Callable[..., Any]:
    """action(...) with every exception turned into report(message); returns None when it failed."""
    def run(*args, **kwargs):
        try:
            return action(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the window must survive anything one action does
            if not isinstance(exc, (LoadError, OptionError, OSError)):
                traceback.print_exc(file=sys.stderr)
            report(message(what, exc))
            return None
    return run
