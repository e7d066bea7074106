"""segviewer's own PostgreSQL schema: made on first use, versioned like the SQLite file, and trusted only when every
object in it is exactly one segviewer made.

The check reads the catalogue only: tables, columns (names, types, NOT NULL, identity), constraints, indexes and
sequences must be exactly these; no trigger, rule, policy, view, function, type, default or inheritance may touch
them; row-level security is off. A database without the schema must hold no tables of anyone else's, so segviewer
never settles in a database that is not its own. Anything else is refused and left as it was.
"""
from __future__ import annotations

from .model import APP_ID, SCHEMA_VERSION

SCHEMA = "segviewer"
CHANNEL = "segviewer"
LOCK_SPACE = 0x5E6F   # pg_advisory_xact_lock(LOCK_SPACE, session id) serializes a session's changes
CREATE_LOCK = 0x5E6F0000

DDL = (
    "CREATE SCHEMA segviewer",
    "CREATE TABLE segviewer.meta (key text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE segviewer.sessions (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE, "
    "statuses text[] NOT NULL, created double precision NOT NULL)",
    "CREATE TABLE segviewer.changes (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
    "session integer NOT NULL REFERENCES segviewer.sessions (id), change_id text NOT NULL, image text NOT NULL, "
    "status text, note text, reviewer text NOT NULL, time double precision NOT NULL, prev_status text, "
    "prev_note text, UNIQUE (session, change_id))",
    "CREATE INDEX changes_by_image ON segviewer.changes (session, image, seq)",
    "CREATE TABLE segviewer.leases (session integer NOT NULL REFERENCES segviewer.sessions (id), image text NOT NULL, "
    "reviewer text NOT NULL, client text NOT NULL, expires double precision NOT NULL, PRIMARY KEY (session, image))",
)

# what the catalogue says about a schema made by DDL (read with search_path = pg_catalog)
RELATIONS = {("changes", "r"), ("changes_by_image", "i"), ("changes_pkey", "i"), ("changes_seq_seq", "S"),
             ("changes_session_change_id_key", "i"), ("leases", "r"), ("leases_pkey", "i"), ("meta", "r"),
             ("meta_pkey", "i"), ("sessions", "r"), ("sessions_id_seq", "S"), ("sessions_name_key", "i"),
             ("sessions_pkey", "i")}
COLUMNS = {
    ("changes", "seq", "bigint", True, "a"), ("changes", "session", "integer", True, ""),
    ("changes", "change_id", "text", True, ""), ("changes", "image", "text", True, ""),
    ("changes", "status", "text", False, ""), ("changes", "note", "text", False, ""),
    ("changes", "reviewer", "text", True, ""), ("changes", "time", "double precision", True, ""),
    ("changes", "prev_status", "text", False, ""), ("changes", "prev_note", "text", False, ""),
    ("leases", "session", "integer", True, ""), ("leases", "image", "text", True, ""),
    ("leases", "reviewer", "text", True, ""), ("leases", "client", "text", True, ""),
    ("leases", "expires", "double precision", True, ""), ("meta", "key", "text", True, ""),
    ("meta", "value", "text", True, ""), ("sessions", "id", "integer", True, "a"), ("sessions", "name", "text", True, ""),
    ("sessions", "statuses", "text[]", True, ""), ("sessions", "created", "double precision", True, ""),
}
CONSTRAINTS = {
    ("changes", "f", "FOREIGN KEY (session) REFERENCES segviewer.sessions(id)"), ("changes", "p", "PRIMARY KEY (seq)"),
    ("changes", "u", "UNIQUE (session, change_id)"),
    ("leases", "f", "FOREIGN KEY (session) REFERENCES segviewer.sessions(id)"),
    ("leases", "p", "PRIMARY KEY (session, image)"), ("meta", "p", "PRIMARY KEY (key)"),
    ("sessions", "p", "PRIMARY KEY (id)"), ("sessions", "u", "UNIQUE (name)"),
}
INDEXES = {
    "CREATE INDEX changes_by_image ON segviewer.changes USING btree (session, image, seq)",
    "CREATE UNIQUE INDEX changes_pkey ON segviewer.changes USING btree (seq)",
    "CREATE UNIQUE INDEX changes_session_change_id_key ON segviewer.changes USING btree (session, change_id)",
    "CREATE UNIQUE INDEX leases_pkey ON segviewer.leases USING btree (session, image)",
    "CREATE UNIQUE INDEX meta_pkey ON segviewer.meta USING btree (key)",
    "CREATE UNIQUE INDEX sessions_name_key ON segviewer.sessions USING btree (name)",
    "CREATE UNIQUE INDEX sessions_pkey ON segviewer.sessions USING btree (id)",
}

_NS = "(SELECT oid FROM pg_namespace WHERE nspname = %(schema)s)"
_OURS = f"(SELECT oid FROM pg_class WHERE relnamespace = {_NS})"
CATALOGUE = {
    "relations": f"SELECT relname::text, relkind::text FROM pg_class WHERE relnamespace = {_NS}",
    "columns": "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
               "a.attidentity::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
               f"WHERE c.relnamespace = {_NS} AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped",
    "constraints": "SELECT c.relname::text, k.contype::text, pg_get_constraintdef(k.oid) FROM pg_constraint k "
                   f"JOIN pg_class c ON c.oid = k.conrelid WHERE k.connamespace = {_NS}",
    "indexes": f"SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid IN {_OURS}",
}
# things that may run code or change what a read returns: none may exist
FORBIDDEN = {
    "a trigger": f"SELECT count(*) FROM pg_trigger WHERE tgrelid IN {_OURS} AND NOT tgisinternal",
    "a rule": f"SELECT count(*) FROM pg_rewrite WHERE ev_class IN {_OURS}",
    "a row-level policy": f"SELECT count(*) FROM pg_policy WHERE polrelid IN {_OURS}",
    "row-level security": f"SELECT count(*) FROM pg_class WHERE oid IN {_OURS} AND (relrowsecurity OR relispartition)",
    "a column default": f"SELECT count(*) FROM pg_attrdef WHERE adrelid IN {_OURS}",
    "an inheriting table": f"SELECT count(*) FROM pg_inherits WHERE inhparent IN {_OURS} OR inhrelid IN {_OURS}",
    "a function": f"SELECT count(*) FROM pg_proc WHERE pronamespace = {_NS}",
    "an operator": f"SELECT count(*) FROM pg_operator WHERE oprnamespace = {_NS}",
    "a type": f"SELECT count(*) FROM pg_type WHERE typnamespace = {_NS} AND typrelid NOT IN {_OURS} "
              f"AND NOT (typelem <> 0 AND typelem IN (SELECT reltype FROM pg_class WHERE relnamespace = {_NS}))",
    "a collation": f"SELECT count(*) FROM pg_collation WHERE collnamespace = {_NS}",
}
OTHER_TABLES = ("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' "
                "AND c.relkind IN ('r', 'v', 'm', 'f', 'p')")
EVENT_TRIGGERS = "SELECT count(*) FROM pg_event_trigger WHERE evtenabled <> 'D'"


class Untrusted(Exception):
    """The database or schema is not segviewer's (the reason in words)."""


def schema_exists(cur) -> bool:
    return cur.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (SCHEMA,)).fetchone()[0] > 0


def check_schema(cur) -> int:
    """The schema version when every object in segviewer's schema is exactly one it made; Untrusted otherwise."""
    params = {"schema": SCHEMA}
    found = {name: set(map(tuple, cur.execute(query, params).fetchall())) for name, query in CATALOGUE.items()}
    found["indexes"] = {row[0] for row in found["indexes"]}
    expected = {"relations": RELATIONS, "columns": COLUMNS, "constraints": CONSTRAINTS, "indexes": INDEXES}
    if ("meta", "r") not in found["relations"]:
        raise Untrusted("the database has a schema named segviewer that segviewer did not make")
    for what, query in FORBIDDEN.items():
        if cur.execute(query, params).fetchone()[0]:
            raise Untrusted(f"segviewer's schema holds {what} segviewer did not make; refused untouched, "
                            "nothing in it was run")
    for name, want in expected.items():
        extra, missing = sorted(found[name] - want, key=str), sorted(want - found[name], key=str)
        if extra:
            raise Untrusted(f"segviewer's schema holds an object segviewer did not make ({_named(extra[0])}); "
                            "refused untouched, nothing in it was run")
        if missing:
            raise Untrusted(f"the database has a schema named segviewer that segviewer did not make "
                            f"({_named(missing[0])} is missing); refused untouched")
    return _version(cur)


def _named(item) -> str:
    return (item if isinstance(item, str) else " ".join(map(str, item[:3])))[:100]


def _version(cur) -> int:
    rows = cur.execute("SELECT left(key, 64), left(value, 64) FROM segviewer.meta LIMIT 100").fetchall()
    meta = dict(rows)
    if meta.get("app") != APP_ID:
        raise Untrusted("the database has a schema named segviewer that segviewer did not make")
    version = meta.get("schema_version") or ""
    if not (version.isascii() and version.isdigit() and len(version) < 6):
        raise Untrusted(f"damaged segviewer schema (schema_version {version[:20]!r} is not a number)")
    if int(version) > SCHEMA_VERSION:
        raise Untrusted(f"made by a newer segviewer (schema {version} > {SCHEMA_VERSION}); update segviewer to use it")
    if int(version) < SCHEMA_VERSION:
        raise Untrusted(f"damaged segviewer schema (schema_version {version} was never made for PostgreSQL)")
    return int(version)


def check_database_is_free(cur) -> None:
    """A database without segviewer's schema: segviewer may make it only where no one else keeps tables."""
    if cur.execute(OTHER_TABLES).fetchone()[0]:
        raise Untrusted("the database holds tables that are not segviewer's and no segviewer session; "
                        "give segviewer a database of its own (createdb)")
    if cur.execute(EVENT_TRIGGERS).fetchone()[0]:
        raise Untrusted("the database has event triggers, which would run while segviewer makes its schema; "
                        "give segviewer a database of its own (createdb)")


def create_schema(cur) -> None:
    """Within the caller's transaction: segviewer's schema, version SCHEMA_VERSION."""
    for statement in DDL:
        cur.execute(statement)
    cur.execute("INSERT INTO segviewer.meta (key, value) VALUES ('app', %s), ('schema_version', %s)",
                (APP_ID, str(SCHEMA_VERSION)))
