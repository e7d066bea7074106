"""One guarded path for every window action: a user's problem becomes one message, and the window carries on."""
from __future__ import annotations

import sys
import traceback
from typing import Any, Callable

from ..core.errors import LoadError, OptionError


def message(what: str, exc: BaseException) -> str:
    """The one format of every message the window shows: '<what> failed: <file>: <reason>'."""
    return f"{what} failed: {reason_of(exc)}"


def reason_of(exc: BaseException) -> str:
    """'<file>: <reason>' of a failure, as a message gives it."""
    if isinstance(exc, (LoadError, OptionError)):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror}" if exc.filename else (exc.strerror or str(exc))
    return f"unexpected {type(exc).__name__}: {exc} (a bug; the details are on stderr)"


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
