"""The PostgreSQL schema and every statement, rendered once for one schema name. No I/O.

Tables are declared as lists of ``Column``\\s: the ``CREATE TABLE``, the column lists of
``INSERT`` / ``SELECT``, the mapping between rows and records, and the migration that adds a
column to an older database all come from that one list, so a new field of ``SessionRecord``
is one line here (with a ``DEFAULT``, so existing rows get a value) and a version bump.

Times are ``DOUBLE PRECISION`` seconds, like every record: the application's clock decides what
"expired" means (the ``now`` every store method takes), and a float survives the round trip
exactly, which ``timestamptz`` (microseconds) would not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from psycopg.types.json import Jsonb

from ...revocation import Revocation, RevocationKind
from ..base import RefreshRecord, SecurityEvent, SessionRecord

__all__ = ["SCHEMA_VERSION", "Column", "Statements", "Table", "revocation", "valid_schema"]

R = TypeVar("R")
SCHEMA_VERSION = 1
MAX_LEEWAY = 300.0  # the largest clock leeway a setting allows
EVENT_RETENTION = 90 * 86400.0
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,39}")


def valid_schema(name: str) -> bool:
    """Lower-case letters, digits and ``_``: safe to splice into SQL, the same when quoted."""
    return _SCHEMA_NAME.fullmatch(name) is not None


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # the record's field of the same name
    ddl: str  # type and constraints; a column added later needs a DEFAULT
    since: int = 1  # the schema version that added it (migrations add it to older databases)
    dump: Callable[[Any], Any] = _same  # record value -> driver parameter
    load: Callable[[Any], Any] = _same  # driver value -> record value


@dataclass(frozen=True, slots=True)
class Table(Generic[R]):
    name: str
    record: Callable[..., R]
    columns: Sequence[Column]
    constraints: Sequence[str] = field(default=())

    @property
    def names(self) -> str:
        return ", ".join(c.name for c in self.columns)

    def create(self, schema: str) -> str:
        body = [f"{c.name} {c.ddl}" for c in self.columns] + list(self.constraints)
        return f"CREATE TABLE IF NOT EXISTS {schema}.{self.name} ({', '.join(body)})"

    def insert(self, schema: str) -> str:
        marks = ", ".join(["%s"] * len(self.columns))
        return f"INSERT INTO {schema}.{self.name} ({self.names}) VALUES ({marks})"

    def select(self, schema: str, alias: str = "") -> str:
        names = ", ".join(f"{alias}.{c.name}" for c in self.columns) if alias else self.names
        return f"SELECT {names} FROM {schema}.{self.name} {alias}".rstrip()

    def added_after(self, schema: str, version: int) -> list[str]:
        return [
            f"ALTER TABLE {schema}.{self.name} ADD COLUMN IF NOT EXISTS {c.name} {c.ddl}"
            for c in self.columns
            if c.since > version
        ]

    def row(self, record: R) -> tuple[Any, ...]:
        return tuple(c.dump(getattr(record, c.name)) for c in self.columns)

    def load(self, row: Sequence[Any]) -> R:
        return self.record(**{c.name: c.load(v) for c, v in zip(self.columns, row, strict=True)})


T = "DOUBLE PRECISION NOT NULL"  # a moment, in seconds since the epoch
SESSIONS: Table[SessionRecord] = Table(
    "sessions",
    SessionRecord,
    [
        Column("sid", "TEXT PRIMARY KEY"),
        Column("sub", "TEXT NOT NULL"),
        Column("created_at", T),
        Column("last_seen", T),
        Column("expires_at", T),
        Column("user_agent", "TEXT NOT NULL DEFAULT ''"),
        Column("ip", "TEXT NOT NULL DEFAULT ''"),
        Column("ended_at", "DOUBLE PRECISION"),
        Column("end_reason", "TEXT"),
        Column("access_until", "DOUBLE PRECISION NOT NULL DEFAULT 0"),
        Column("claims", "JSONB NOT NULL DEFAULT '{}'", dump=lambda c: Jsonb(dict(c))),
    ],
)
REFRESH: Table[RefreshRecord] = Table(
    "refresh_tokens",
    RefreshRecord,
    [
        Column("token_hash", "BYTEA PRIMARY KEY", load=bytes),
        Column("sid", "TEXT NOT NULL"),
        Column("issued_at", T),
        Column("expires_at", T),
        Column("rotated_at", "DOUBLE PRECISION"),
        Column("rotated_by", "TEXT NOT NULL DEFAULT ''"),
    ],
)
EVENTS: Table[SecurityEvent] = Table(
    "events",
    SecurityEvent,
    [
        Column("at", T),
        Column("kind", "TEXT NOT NULL"),
        Column("sub", "TEXT NOT NULL"),
        Column("sid", "TEXT NOT NULL"),
        Column("detail", "TEXT NOT NULL DEFAULT ''"),
    ],
    ["id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"],
)
TABLES: Sequence[Table[Any]] = (SESSIONS, REFRESH, EVENTS)
# Single-row tables: `one` is always true, so there is at most one row.
_ONE = "one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one)"


def revocation(row: Sequence[Any]) -> Revocation:
    kind, key, cutoff, expires_at = row
    return Revocation(RevocationKind(kind), key, expires_at, cutoff)


class Statements:
    """Every statement for one schema (a validated name, quoted: the same identifier)."""

    def __init__(self, schema: str) -> None:
        if not valid_schema(schema):
            raise ValueError("invalid schema name")
        self.schema = schema
        s = f'"{schema}"'
        self.channel = f"{schema}_revocations"  # NOTIFY channel (an identifier when quoted)
        self.listen = f'LISTEN "{self.channel}"'
        self.lock_schema = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
        self.create_schema = f"CREATE SCHEMA IF NOT EXISTS {s}"
        self.version_table = (
            f"CREATE TABLE IF NOT EXISTS {s}.schema_version ({_ONE}, version INTEGER NOT NULL)"
        )
        self.get_version = f"SELECT version FROM {s}.schema_version"
        self.set_version = (
            f"INSERT INTO {s}.schema_version (version) VALUES (%s) "
            "ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version"
        )
        self.has_tables = "SELECT to_regclass(%s) IS NOT NULL"
        self.create = [t.create(s) for t in TABLES] + [
            f"CREATE INDEX IF NOT EXISTS sessions_by_sub ON {s}.sessions (sub, created_at)",
            f"CREATE INDEX IF NOT EXISTS refresh_by_sid ON {s}.refresh_tokens (sid)",
            f"CREATE INDEX IF NOT EXISTS refresh_by_expiry ON {s}.refresh_tokens (expires_at)",
            f"CREATE INDEX IF NOT EXISTS events_by_sub ON {s}.events (sub, id)",
            f"CREATE INDEX IF NOT EXISTS events_by_at ON {s}.events (at)",
            # The revocation log: the truth every replica reads. `seq` comes from the head
            # row (below), not a sequence: see Statements.lock_head.
            f"CREATE TABLE IF NOT EXISTS {s}.revocations (seq BIGINT PRIMARY KEY, "
            "kind TEXT NOT NULL, key TEXT NOT NULL, cutoff DOUBLE PRECISION NOT NULL DEFAULT 0, "
            "expires_at DOUBLE PRECISION NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS revocations_by_expiry ON {s}.revocations (expires_at)",
            f"CREATE INDEX IF NOT EXISTS revocations_by_key ON {s}.revocations (key)",
            f"CREATE TABLE IF NOT EXISTS {s}.revocation_head ({_ONE}, seq BIGINT NOT NULL)",
            f"INSERT INTO {s}.revocation_head (seq) VALUES (0) ON CONFLICT DO NOTHING",
            # Login attempts (issue 15). IF NOT EXISTS at every start, like the rest: no
            # schema version of its own, so older and newer cleanexits share a schema.
            f"CREATE TABLE IF NOT EXISTS {s}.login_attempts (key TEXT PRIMARY KEY, "
            "failures INTEGER NOT NULL, blocked_until DOUBLE PRECISION NOT NULL, "
            "last DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL)",
        ]
        self.migrations = {
            version: [stmt for t in TABLES for stmt in t.added_after(s, version)]
            for version in range(1, SCHEMA_VERSION)
        }
        self._sessions(s)
        self._refresh(s)
        self._revocations(s)
        self._attempts(s)
        self.insert_event = EVENTS.insert(s)
        self.events = (
            f"{EVENTS.select(s)} WHERE %s::text IS NULL OR sub = %s ORDER BY id DESC LIMIT %s"
        )
        self.prune = [
            f"DELETE FROM {s}.revocations WHERE expires_at <= %(now)s",
            f"DELETE FROM {s}.refresh_tokens WHERE expires_at <= %(now)s",
            f"DELETE FROM {s}.sessions WHERE ended_at IS NOT NULL "
            f"OR GREATEST(expires_at, access_until + {MAX_LEEWAY + 1}) <= %(now)s",
            f"DELETE FROM {s}.events WHERE at <= %(now)s - {EVENT_RETENTION}",
            f"DELETE FROM {s}.login_attempts WHERE expires_at <= %(now)s",
        ]

    def _attempts(self, s: str) -> None:
        # The row is made first (a placeholder that decide_attempts reads as "none"), so
        # FOR UPDATE always has a row to lock: two first attempts cannot both insert.
        self.ensure_attempts = (
            f"INSERT INTO {s}.login_attempts (key, failures, blocked_until, last, expires_at) "
            "VALUES (%s, 0, 0, 0, 0) ON CONFLICT (key) DO NOTHING"
        )
        self.lock_attempts = (
            f"SELECT failures, blocked_until, last FROM {s}.login_attempts WHERE key = %s "
            "FOR UPDATE"
        )
        self.save_attempts = (
            f"UPDATE {s}.login_attempts SET failures = %s, blocked_until = %s, last = %s, "
            "expires_at = %s WHERE key = %s"
        )
        self.drop_attempts = f"DELETE FROM {s}.login_attempts WHERE key = %s"

    def _sessions(self, s: str) -> None:
        select = SESSIONS.select(s)
        self.insert_session = SESSIONS.insert(s)
        self.session = f"{select} WHERE sid = %s"
        self.lock_session = f"{select} WHERE sid = %s FOR UPDATE"
        # ORDER BY sid: every transaction locks sessions in one order (no deadlock cycles).
        self.lock_sessions = f"{select} WHERE sid = ANY(%s) ORDER BY sid FOR UPDATE"
        self.active_sessions = (
            f"{select} WHERE sub = %s AND ended_at IS NULL AND expires_at > %s "
            "ORDER BY created_at, sid"
        )
        # A user's sessions that may still have a live refresh or access token
        # (SessionRecord.endable), locked.
        self.lock_endable = (
            f"{select} WHERE sub = %(sub)s AND ended_at IS NULL AND "
            "(expires_at > %(now)s OR access_until + %(leeway)s + 1 > %(now)s) "
            "ORDER BY sid FOR UPDATE"
        )
        self.end_sessions = (
            f"UPDATE {s}.sessions SET ended_at = %s, end_reason = %s WHERE sid = ANY(%s)"
        )
        self.touch_session = (
            f"UPDATE {s}.sessions SET last_seen = %s, access_until = %s WHERE sid = %s "
            f"RETURNING {SESSIONS.names}"
        )

    def _refresh(self, s: str) -> None:
        self.insert_refresh = REFRESH.insert(s)
        self.refresh_sid = f"SELECT sid FROM {s}.refresh_tokens WHERE token_hash = %s"
        self.lock_refresh = f"{REFRESH.select(s)} WHERE token_hash = %s FOR UPDATE"
        self.find_refresh = (
            f"SELECT {', '.join(f'r.{c.name}' for c in REFRESH.columns)}, "
            f"{', '.join(f'x.{c.name}' for c in SESSIONS.columns)} "
            f"FROM {s}.refresh_tokens r JOIN {s}.sessions x ON x.sid = r.sid "
            "WHERE r.token_hash = %s"
        )
        self.mark_rotated = (
            f"UPDATE {s}.refresh_tokens SET rotated_at = %s, rotated_by = %s WHERE token_hash = %s"
        )
        # Rotated tokens of a family beyond the most recent N: reuse detection no longer
        # needs them (issue 9 finding 8).
        self.drop_rotated = (
            f"DELETE FROM {s}.refresh_tokens WHERE sid = %(sid)s AND rotated_at IS NOT NULL "
            f"AND token_hash NOT IN (SELECT token_hash FROM {s}.refresh_tokens "
            "WHERE sid = %(sid)s AND rotated_at IS NOT NULL "
            "ORDER BY rotated_at DESC LIMIT %(keep)s)"
        )
        self.drop_family = f"DELETE FROM {s}.refresh_tokens WHERE sid = ANY(%s)"

    def _revocations(self, s: str) -> None:
        # Revocation writers serialize on the head row, held until they commit: `seq`s are
        # then handed out in commit order, so a reader that has seen seq N has seen every
        # seq below it. (A SEQUENCE / BIGSERIAL is not: a transaction that drew 10 may commit
        # after one that drew 11, and a reader already past 11 would skip 10 for good.)
        self.lock_head = f"SELECT seq FROM {s}.revocation_head FOR UPDATE"
        self.set_head = f"UPDATE {s}.revocation_head SET seq = %s"
        self.insert_revocation = (
            f"INSERT INTO {s}.revocations (seq, kind, key, cutoff, expires_at) "
            "VALUES (%s, %s, %s, %s, %s)"
        )
        self.token_known = (
            f"SELECT 1 FROM {s}.revocations WHERE key = %s AND kind = %s AND expires_at >= %s"
        )
        # How far the live entries of a key reach (issue 11, Store.record).
        self.reach = (
            f"SELECT MAX(expires_at), MAX(cutoff) FROM {s}.revocations "
            "WHERE key = %s AND kind = %s AND expires_at > %s"
        )
        self.notify = "SELECT pg_notify(%s, %s)"
        # Rows and cursor in one statement, so one snapshot (issue 9 finding 2): the head
        # row comes with every live row after `since` (or alone, with NULLs, when none).
        self.pull = (
            f"SELECT h.seq, r.kind, r.key, r.cutoff, r.expires_at FROM {s}.revocation_head h "
            f"LEFT JOIN {s}.revocations r ON r.seq > %(since)s AND r.expires_at > %(now)s "
            "ORDER BY r.seq"
        )
        self.count_revocations = (
            f"SELECT (SELECT seq FROM {s}.revocation_head), count(*) FROM {s}.revocations"
        )
