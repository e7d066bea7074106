"""What a `--session` value names: a SQLite file, or a team session on PostgreSQL.

`postgresql://` and `postgres://` URLs and libpq key=value strings (a value that starts with a libpq keyword and
`=`: `service=team`, `host=... dbname=...`) are PostgreSQL; anything else is a file. A value that looks like a URL
of another kind (`mysql://`, `postgresql:/x` after a shell or Path ate a slash), a URL with white space around it,
and a key=value string libpq could not read (`service=`, `host='unterminated`) are refused instead of becoming a
file or a folder named so. The session's name in the database is the `session` parameter (default "default"),
taken out before the rest goes to libpq. A password in the value is accepted but never shown: str() and every
message use the masked form; otherwise messages show the value as given.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from ..errors import OptionError, names_a_folder, printable

DEFAULT_NAME = "default"
MASK = "***"
_URL = re.compile(r"^(postgresql|postgres)://", re.IGNORECASE)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_KEY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*")
_VALUE = re.compile(r"'(?:[^'\\]|\\.)*'|(?!')(?:[^\s\\]|\\.)+")
# libpq's connection keywords (PostgreSQL 17) and segviewer's own `session`: a value starting with one and '='
KEYWORDS = frozenset("""host hostaddr port dbname user password passfile require_auth channel_binding connect_timeout
    client_encoding options application_name fallback_application_name keepalives keepalives_idle
    keepalives_interval keepalives_count tcp_user_timeout replication gssencmode sslmode sslnegotiation requiressl
    sslcompression sslcert sslkey sslpassword sslcertmode sslrootcert sslcrl sslcrldir sslsni requirepeer
    ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib gssdelegation service target_session_attrs
    load_balance_hosts session""".split())
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
    if text != text.strip() and _looks_like_url(text.strip()):
        raise OptionError(f"session {_masked_text(text)!r}: a URL with white space around it; give it without")
    if _URL.match(text):
        return _from_url(text)
    pairs = _pairs(text)
    if pairs is not None:
        return _from_pairs(text, pairs)
    if _looks_like_url(text):
        raise OptionError(f"session {_masked_text(text)!r}: not a file and not a PostgreSQL URL "
                          "(use postgresql://user@host/database or service=NAME)")
    if not text:
        raise OptionError("session: the value is empty")
    if names_a_folder(text):       # as the output gate says of a file option: Path would drop the '/'
        raise OptionError(f"session {text!r}: it names a folder (ends with '/', '.' or '..'); give a session file")
    return Path(value) if isinstance(value, Path) else Path(text)


def _looks_like_url(text: str) -> bool:
    """A postgresql:// URL, or what a URL of another kind or a URL with a slash lost looks like."""
    if _URL.match(text):
        return True
    scheme = _SCHEME.match(text)
    return bool(scheme) and (text[scheme.end():].startswith("//") or scheme.group(1).lower().startswith("postgres"))


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
    display = _unsplit(parts.scheme, netloc, parts.path, shown)
    name = _session_name([v for k, v in query if k == "session"], display)
    conninfo = _unsplit(parts.scheme, parts.netloc, parts.path, urlencode(kept, safe="/:,"), parts.fragment)
    return PgTarget(conninfo, display + (f" (session {name})" if name != DEFAULT_NAME else ""), name, secrets)


def _unsplit(scheme: str, netloc: str, path: str, query: str, fragment: str = "") -> str:
    """A URL from its parts. urlunsplit drops the '//' of a URL without a host (`postgresql:///db`,
    `postgresql://?host=/run`), which libpq then cannot read, and the message would show `postgresql:`."""
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")


def _pairs(text: str) -> list[tuple[str, str]] | None:
    """key=value pairs of a libpq connection string (values as written, quotes kept); None when text does not start
    as one (a file name); OptionError when it does but libpq could not read it."""
    first = _KEY.match(text)
    if first is None or first.group(1).lower() not in KEYWORDS:
        return None
    pairs, pos = [], 0
    while pos < len(text.rstrip()):
        key = _KEY.match(text, pos)
        if key is None:
            _bad_pairs(text, f"expected key=value at {text[pos:].lstrip()[:20]!r}")
        value = _VALUE.match(text, key.end())
        if value is None:
            _bad_pairs(text, "a quoted value is not closed" if text.startswith("'", key.end())
                       else f"{key.group(1)} has no value")
        pairs.append((key.group(1).lower(), value.group(0)))
        pos = value.end()
        if pos < len(text) and not text[pos].isspace():
            _bad_pairs(text, f"unexpected {text[pos]!r} after {key.group(1)}'s quoted value")
    return pairs


def _bad_pairs(text: str, why: str):
    raise OptionError(f"session {_masked_text(text)!r}: cannot read this connection string ({why}); give "
                      "key=value pairs such as service=NAME, or a postgresql:// URL")


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
