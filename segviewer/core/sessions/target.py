"""What a `--session` value names: a SQLite file, or a team session on PostgreSQL.

`postgresql://` and `postgres://` URLs and libpq key=value strings (`service=team`, `host=... dbname=...`) are
PostgreSQL; anything else is a file. A value that looks like a URL of another kind (`mysql://`, `postgresql:/x`
after a shell or Path ate a slash) is refused instead of becoming a folder named `postgresql:`. The session's name
in the database is the `session` parameter (default "default"), taken out before the rest goes to libpq. A
password in the value is accepted but never shown: str() and every message use the masked form.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from ..errors import OptionError, printable

DEFAULT_NAME = "default"
MASK = "***"
_URL = re.compile(r"^(postgresql|postgres)://", re.IGNORECASE)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_PAIR = re.compile(r"\s*([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']+)")
_FIRST_KEYS = {"service", "host", "hostaddr", "dbname", "user", "port"}
_NAME = re.compile(r"^[\w.@+-]{1,100}$")


@dataclass(frozen=True)
class PgTarget:
    """A team session: conninfo goes to libpq as given (minus `session`); display is safe to print."""
    conninfo: str = field(repr=False)
    display: str
    name: str = DEFAULT_NAME
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def __str__(self) -> str:
        return self.display

    def mask(self, text: object) -> str:
        """text with every password of this target replaced (for libpq's messages)."""
        out = printable(text)
        for secret in self.secrets:
            if secret:
                out = out.replace(secret, MASK)
        out = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", rf"\1{MASK}", out, flags=re.IGNORECASE)
        return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", rf"\1{MASK}@", out)


def session_target(value) -> Path | PgTarget:
    """A --session value (or segviewer.open(session=...)) as a file path or a PostgreSQL target."""
    if isinstance(value, PgTarget):
        return value
    text = str(value).strip() if isinstance(value, Path) else value
    if not isinstance(text, str):
        raise OptionError(f"session: give a file path or a postgresql:// URL, not {type(value).__name__}")
    if _URL.match(text):
        return _from_url(text)
    pairs = _pairs(text)
    if pairs is not None:
        return _from_pairs(text, pairs)
    scheme = _SCHEME.match(text)
    if scheme and (text[scheme.end():].startswith("//") or scheme.group(1).lower().startswith("postgres")):
        raise OptionError(f"session {_masked_text(text)!r}: not a file and not a PostgreSQL URL "
                          "(use postgresql://user@host/database or service=NAME)")
    if not text:
        raise OptionError("session: the value is empty")
    return Path(value) if isinstance(value, Path) else Path(text)


def _masked_text(text: str) -> str:
    return PgTarget("", "").mask(text)[:200]


def _session_name(values: list[str], display: str) -> str:
    if len(values) > 1:
        raise OptionError(f"session {display}: the session parameter is given {len(values)} times")
    name = values[0] if values else DEFAULT_NAME
    if not _NAME.match(name):
        raise OptionError(f"session {display}: a session name is 1 to 100 letters, digits or . _ - + @")
    return name


def _from_url(text: str) -> PgTarget:
    try:
        parts = urlsplit(text)
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        password = parts.password
        parts.port   # a port that is not a number raises here
    except ValueError:
        raise OptionError(f"session {_masked_text(text)!r}: not a valid PostgreSQL URL") from None
    secrets = tuple(s for s in (password, password and unquote(password), *(v for k, v in query if k == "password"))
                    if s)
    kept = [(k, v) for k, v in query if k != "session"]
    userinfo, _, hostport = parts.netloc.rpartition("@")
    netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{hostport}" if password is not None else parts.netloc
    shown = urlencode([(k, MASK if k == "password" else v) for k, v in kept], safe="/:,*")
    display = urlunsplit((parts.scheme, netloc, parts.path, shown, ""))
    name = _session_name([v for k, v in query if k == "session"], display)
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept, safe="/:,"), parts.fragment))
    return PgTarget(conninfo, display + (f" (session {name})" if name != DEFAULT_NAME else ""), name, secrets)


def _pairs(text: str) -> list[tuple[str, str]] | None:
    """key=value pairs of a libpq connection string, None when text is not one."""
    pairs, pos = [], 0
    while pos < len(text):
        m = _PAIR.match(text, pos)
        if m is None:
            return None if not pairs else _bad_pairs(text)
        pairs.append((m.group(1).lower(), m.group(2)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return pairs if pairs and pairs[0][0] in _FIRST_KEYS else None


def _bad_pairs(text: str):
    raise OptionError(f"session {_masked_text(text)!r}: cannot read this connection string (key=value ...)")


def _unquote(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value[1:-1]) if value.startswith("'") else value


def _from_pairs(text: str, pairs: list[tuple[str, str]]) -> PgTarget:
    secrets = tuple(_unquote(v) for k, v in pairs if k == "password")
    kept = [(k, v) for k, v in pairs if k != "session"]
    display = " ".join(f"{k}={MASK if k == 'password' else v}" for k, v in kept)
    name = _session_name([_unquote(v) for k, v in pairs if k == "session"], display)
    conninfo = " ".join(f"{k}={v}" for k, v in kept)
    return PgTarget(conninfo, display + (f" (session {name})" if name != DEFAULT_NAME else ""), name,
                    tuple(s for s in secrets if s) + tuple(unquote(s) for s in secrets if s))
