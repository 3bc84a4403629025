"""The embedded default: SQLite in WAL mode, shared by every worker process of one machine.

Durability: ``synchronous=FULL`` and every mutation in its own ``BEGIN IMMEDIATE`` transaction,
so a revocation is on disk before logout answers (invariant 2) and concurrent rotations from
several processes serialize on SQLite's write lock (exactly one winner).

Freshness across processes without a query per request: after committing a revocation the
writer stores its row id in an 8-byte memory-mapped marker file beside the database. Each row id
is written once, ever, so a reader that remembers the last marker it saw notices any later
commit with one memory read; a stale or torn read can only cause a harmless extra pull.
Driver errors leave this module only as ``StoreUnavailableError``.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from ...errors import ConfigurationError, StoreUnavailableError
from ..attempts import AttemptOp, AttemptPolicy, Attempts, decide_attempts
from ..revocation import Revocation, RevocationKind
from .base import (
    REUSE_EVENT,
    Cursor,
    RefreshRecord,
    Rotation,
    RotationRequest,
    RotationStatus,
    SecurityEvent,
    SessionRecord,
    Store,
    cutoff_entry,
    decide_rotation,
    race_event,
)

__all__ = ["SqliteStore"]

T = TypeVar("T")
SCHEMA_VERSION = 3
EVENT_RETENTION = 90 * 86400.0  # security events are kept for audits, then pruned
MAX_ACCESS_TTL = 86400.0  # the largest access-token lifetime a setting allows
MAX_LEEWAY = 300.0  # the largest clock leeway a setting allows
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS sessions (
      sid TEXT PRIMARY KEY, sub TEXT NOT NULL, created_at REAL NOT NULL, last_seen REAL NOT NULL,
      expires_at REAL NOT NULL, user_agent TEXT NOT NULL DEFAULT '', ip TEXT NOT NULL DEFAULT '',
      ended_at REAL, end_reason TEXT, access_until REAL NOT NULL DEFAULT 0,
      claims TEXT NOT NULL DEFAULT '{}')""",
    "CREATE INDEX IF NOT EXISTS sessions_by_sub ON sessions(sub, created_at)",
    """CREATE TABLE IF NOT EXISTS refresh_tokens (
      token_hash BLOB PRIMARY KEY, sid TEXT NOT NULL, issued_at REAL NOT NULL,
      expires_at REAL NOT NULL, rotated_at REAL, rotated_by TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX IF NOT EXISTS refresh_by_sid ON refresh_tokens(sid)",
    """CREATE TABLE IF NOT EXISTS revocations (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL,
      cutoff REAL NOT NULL DEFAULT 0, expires_at REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS revocations_by_expiry ON revocations(expires_at)",
    "CREATE INDEX IF NOT EXISTS revocations_by_key ON revocations(key)",
    """CREATE TABLE IF NOT EXISTS events (
      id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL,
      sub TEXT NOT NULL, sid TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '')""",
    # Login attempts (issue 15). Created by every open, so no schema version bump: an older
    # cleanexit opens a database that has it, and this one adds it to an older database.
    """CREATE TABLE IF NOT EXISTS login_attempts (
      key TEXT PRIMARY KEY, failures INTEGER NOT NULL, blocked_until REAL NOT NULL,
      last REAL NOT NULL, expires_at REAL NOT NULL)""",
]
# From version N to N + 1. Sessions written before access_until existed are assumed to have
# tokens alive as long as the largest lifetime a setting allows (never shorter than needed).
MIGRATIONS = {
    1: [
        "ALTER TABLE sessions ADD COLUMN access_until REAL NOT NULL DEFAULT 0",
        "UPDATE sessions SET access_until = MIN(expires_at, last_seen + 86400)",
        "ALTER TABLE refresh_tokens ADD COLUMN rotated_by TEXT NOT NULL DEFAULT ''",
    ],
    2: ["ALTER TABLE sessions ADD COLUMN claims TEXT NOT NULL DEFAULT '{}'"],
}
_SESSION_COLUMNS = (
    "sid, sub, created_at, last_seen, expires_at, user_agent, ip, ended_at, end_reason, "
    "access_until, claims"
)
_REFRESH_COLUMNS = "token_hash, sid, issued_at, expires_at, rotated_at, rotated_by"
# Built once from the constants above, never from input:
_INSERT_SESSION = f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"  # noqa: S608
_SELECT_SESSIONS = f"SELECT {_SESSION_COLUMNS} FROM sessions"  # noqa: S608
_INSERT_REFRESH = f"INSERT INTO refresh_tokens ({_REFRESH_COLUMNS}) VALUES (?,?,?,?,?,?)"  # noqa: S608
_SELECT_REFRESH = f"SELECT {_REFRESH_COLUMNS} FROM refresh_tokens WHERE token_hash=?"  # noqa: S608
# Rotated tokens of a family beyond the most recent N: reuse detection no longer needs them.
_DROP_ROTATED = (
    "DELETE FROM refresh_tokens WHERE sid=? AND rotated_at IS NOT NULL AND token_hash NOT IN "
    "(SELECT token_hash FROM refresh_tokens WHERE sid=? AND rotated_at IS NOT NULL "
    "ORDER BY rotated_at DESC LIMIT ?)"
)
# A user's sessions that may still have a live refresh or access token (SessionRecord.endable).
_SELECT_ENDABLE = (
    _SELECT_SESSIONS + " WHERE sub=? AND ended_at IS NULL "
    "AND (expires_at > ? OR access_until + ? + 1 > ?) ORDER BY created_at"
)


class SqliteStore(Store):
    name = "sqlite"

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._db: sqlite3.Connection | None = None
        self._marker: mmap.mmap | None = None
        # One thread owns the connection: fsync and lock waits never block the event loop.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cleanexit-sqlite")

    def __repr__(self) -> str:
        return f"SqliteStore(path={str(self.path)!r})"

    # -- plumbing ------------------------------------------------------------------------
    async def open(self) -> None:
        if self._db is None:
            await self._run(self._open_sync)

    def open_sync(self) -> None:
        """For the CLI: open without an event loop."""
        if self._db is None:
            self._guarded(self._open_sync)

    def _open_sync(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        db = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        try:
            _migrate(db, self.path)
        except BaseException:
            db.close()
            raise
        self._db = db
        self._marker = _open_marker(self.path.with_name(self.path.name + ".marker"))

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        if self._marker is not None:
            self._marker.close()
            self._marker = None

    def close_sync(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._marker is not None:
            self._marker.close()
            self._marker = None
        self._executor.shutdown(wait=False)

    async def _run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._guarded, fn)

    def _guarded(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except sqlite3.Error as exc:
            # Map the driver's errors to ours at the boundary (httpx maps httpcore's this way).
            raise StoreUnavailableError(f"SQLite store unavailable: {type(exc).__name__}") from exc

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreUnavailableError("SQLite store is not open")
        return self._db

    def change_marker(self) -> object:
        return self._marker[:8] if self._marker is not None else None

    def _bump(self, seq: int | None) -> None:
        if self._marker is not None and seq is not None:
            self._marker[:8] = seq.to_bytes(8, "little")

    # -- sessions ------------------------------------------------------------------------
    async def create_session(self, session: SessionRecord, refresh: RefreshRecord) -> None:
        def work() -> None:
            with _transaction(self.db) as db:
                db.execute(_INSERT_SESSION, _session_row(session))
                _insert_refresh(db, refresh)

        await self._run(work)

    async def rotate_refresh(
        self, old_hash: bytes, new_hash: bytes, r: RotationRequest
    ) -> Rotation:
        return await self._run(lambda: self._rotate(old_hash, new_hash, r))

    def _rotate(self, old_hash: bytes, new_hash: bytes, r: RotationRequest) -> Rotation:
        seq = None
        with _transaction(self.db) as db:
            old = _refresh(db, old_hash)
            session = _session(db, old.sid) if old else None
            status = decide_rotation(old, session, now=r.now, grace=r.grace)
            if status is not RotationStatus.ROTATED:
                rotation = Rotation(status, session)
                if status is RotationStatus.RACE:
                    assert old is not None and session is not None
                    same = old.rotated_by == r.client
                    _event(db, race_event(session, now=r.now, same_client=same))
                    rotation = Rotation(status, session, same_client=same)
                elif status is RotationStatus.REUSED:
                    assert session is not None
                    seq = self._end(db, session, r.now, REUSE_EVENT, r.leeway)
                    _event(db, SecurityEvent(r.now, REUSE_EVENT, session.sub, session.sid))
            else:
                assert session is not None
                expires = min(r.now + r.idle_ttl, session.expires_at)
                access = max(session.access_until, min(r.access_until, session.expires_at))
                db.execute(
                    "UPDATE refresh_tokens SET rotated_at=?, rotated_by=? WHERE token_hash=?",
                    (r.now, r.client, old_hash),
                )
                _insert_refresh(db, RefreshRecord(new_hash, session.sid, r.now, expires))
                db.execute(_DROP_ROTATED, (session.sid, session.sid, r.keep_rotated))
                db.execute(
                    "UPDATE sessions SET last_seen=?, access_until=? WHERE sid=?",
                    (r.now, access, session.sid),
                )
                rotation = Rotation(status, _session(db, session.sid), expires)
        self._bump(seq)
        return rotation

    async def find_refresh(self, token_hash: bytes) -> tuple[RefreshRecord, SessionRecord] | None:
        def work() -> tuple[RefreshRecord, SessionRecord] | None:
            with _snapshot(self.db) as db:
                record = _refresh(db, token_hash)
                session = _session(db, record.sid) if record else None
            return (record, session) if record and session else None

        return await self._run(work)

    async def get_session(self, sid: str) -> SessionRecord | None:
        return await self._run(lambda: _session(self.db, sid))

    async def list_sessions(self, sub: str, *, now: float) -> list[SessionRecord]:
        return await self._run(lambda: _active_sessions(self.db, sub, now))

    async def end_sessions(
        self,
        sids: Sequence[str],
        *,
        now: float,
        reason: str,
        leeway: float,
        extra: Sequence[Revocation] = (),
    ) -> list[Revocation]:
        def work() -> list[Revocation]:
            with _transaction(self.db) as db:
                found = (_session(db, sid) for sid in dict.fromkeys(sids))
                ended = [s for s in found if s is not None and s.endable(now, leeway=leeway)]
                seq = self._end_all(db, ended, now, reason, leeway, extra)
            self._bump(seq)
            return [s.revocation(leeway) for s in ended]

        return await self._run(work)

    async def end_user_sessions(
        self,
        sub: str,
        *,
        now: float,
        reason: str,
        leeway: float,
        keep_sid: str | None = None,
        cutoff: Revocation | None = None,
        extra: Sequence[Revocation] = (),
    ) -> list[Revocation]:
        def work() -> list[Revocation]:
            with _transaction(self.db) as db:
                rows = db.execute(_SELECT_ENDABLE, (sub, now, leeway, now)).fetchall()
                ended = [s for row in rows if (s := _record(row)).sid != keep_sid]
                revs = [s.revocation(leeway) for s in ended]
                more = list(extra)
                if cutoff is not None:
                    revs.append(user := cutoff_entry(cutoff, ended, leeway=leeway))
                    more.insert(0, user)
                seq = self._end_all(db, ended, now, reason, leeway, more)
            self._bump(seq)
            return revs

        return await self._run(work)

    def _end_all(
        self,
        db: sqlite3.Connection,
        sessions: Sequence[SessionRecord],
        now: float,
        reason: str,
        leeway: float,
        extra: Sequence[Revocation],
    ) -> int | None:
        """End sessions and record extra revocations, inside the caller's transaction."""
        seq = None
        for session in sessions:
            seq = self._end(db, session, now, reason, leeway)
        for rev in extra:
            seq = _log_once(db, rev) or seq
        return seq

    async def revoke_token(self, iss: str, jti: str, *, expires_at: float) -> bool:
        rev = Revocation.token(iss, jti, expires_at=expires_at)

        def work() -> bool:
            with _transaction(self.db) as db:
                seq = _log_once(db, rev)
            self._bump(seq)
            return seq is not None

        return await self._run(work)

    async def record(
        self, revocations: Sequence[Revocation], *, now: float, once: bool = False
    ) -> list[bool]:
        revs = list(revocations)

        def work() -> list[bool]:
            changed: list[bool] = []
            seq = None
            with _transaction(self.db) as db:
                if once and revs and _reach(db, revs[0], now) is not None:
                    return [False] * len(revs)
                for rev in revs:
                    reach = _reach(db, rev, now)
                    new = reach is None or rev.expires_at > reach[0] or rev.cutoff > reach[1]
                    if new:
                        seq = _log(db, rev)
                    changed.append(new)
            self._bump(seq)
            return changed

        return await self._run(work)

    async def events(self, *, sub: str | None = None, limit: int = 100) -> list[SecurityEvent]:
        def work() -> list[SecurityEvent]:
            rows = self.db.execute(
                "SELECT at, kind, sub, sid, detail FROM events WHERE ? IS NULL OR sub=? "
                "ORDER BY id DESC LIMIT ?",
                (sub, sub, limit),
            ).fetchall()
            return [SecurityEvent(*row) for row in rows]

        return await self._run(work)

    # -- change feed ---------------------------------------------------------------------
    async def revocations(
        self, *, since: Cursor | None, now: float
    ) -> tuple[list[Revocation], Cursor]:
        start = 0 if since is None else int(since)

        def work() -> tuple[list[Revocation], Cursor]:
            # One read transaction, so rows and cursor come from one WAL snapshot: with two
            # autocommit reads, a revocation committed between them was skipped for good
            # (issue 9 finding 2).
            with _snapshot(self.db) as db:
                rows = db.execute(
                    "SELECT kind, key, cutoff, expires_at FROM revocations "
                    "WHERE seq > ? AND expires_at > ? ORDER BY seq",
                    (start, now),
                ).fetchall()
                top = db.execute("SELECT seq FROM sqlite_sequence WHERE name='revocations'")
                last = (top.fetchone() or (start,))[0]
            revs = [Revocation(RevocationKind(k), key, exp, cut) for k, key, cut, exp in rows]
            return revs, max(last, start)

        return await self._run(work)

    # -- login attempts ------------------------------------------------------------------
    async def attempts(
        self, key: str, op: AttemptOp, *, now: float, policy: AttemptPolicy
    ) -> tuple[Attempts, bool]:
        def work() -> tuple[Attempts, bool]:
            with _transaction(self.db) as db:  # BEGIN IMMEDIATE: one writer across processes
                row = db.execute(
                    "SELECT failures, blocked_until, last FROM login_attempts WHERE key=?", (key,)
                ).fetchone()
                found = Attempts(*row) if row else None
                record, admitted = decide_attempts(found, op, now=now, policy=policy)
                if record is None:
                    db.execute("DELETE FROM login_attempts WHERE key=?", (key,))
                    return Attempts(), admitted
                if record != found:
                    db.execute(
                        "INSERT OR REPLACE INTO login_attempts VALUES (?,?,?,?,?)",
                        (key, record.failures, record.blocked_until, record.last,
                         record.expires(policy)),
                    )  # fmt: skip
            return record, admitted

        return await self._run(work)

    # -- upkeep --------------------------------------------------------------------------
    async def prune(self, *, now: float) -> int:
        return await self._run(lambda: self.prune_sync(now=now))

    def prune_sync(self, *, now: float) -> int:
        with _transaction(self.db) as db:
            gone = db.execute("DELETE FROM revocations WHERE expires_at <= ?", (now,)).rowcount
            gone += db.execute("DELETE FROM refresh_tokens WHERE expires_at <= ?", (now,)).rowcount
            gone += db.execute(
                "DELETE FROM sessions WHERE ended_at IS NOT NULL "
                "OR MAX(expires_at, access_until + ?) <= ?",
                (MAX_LEEWAY + 1, now),
            ).rowcount
            gone += db.execute(
                "DELETE FROM events WHERE at <= ?", (now - EVENT_RETENTION,)
            ).rowcount
            gone += db.execute("DELETE FROM login_attempts WHERE expires_at <= ?", (now,)).rowcount
        return int(gone)

    async def ping(self) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            count = self.db.execute("SELECT count(*) FROM revocations").fetchone()[0]
            return {"backend": self.name, "path": str(self.path), "revocations": count}

        return await self._run(work)

    def _end(
        self, db: sqlite3.Connection, s: SessionRecord, now: float, reason: str, leeway: float
    ) -> int:
        db.execute("UPDATE sessions SET ended_at=?, end_reason=? WHERE sid=?", (now, reason, s.sid))
        db.execute("DELETE FROM refresh_tokens WHERE sid=?", (s.sid,))
        return _log(db, s.revocation(leeway))


class _transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: takes the write lock up front, so a read-decide-write
    sequence (refresh rotation) is atomic across processes."""

    BEGIN = "BEGIN IMMEDIATE"

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute(self.BEGIN)
        return self.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


class _snapshot(_transaction):
    """A read transaction: every read inside it sees one WAL snapshot."""

    BEGIN = "BEGIN DEFERRED"


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Create the schema, or bring an older one up to ``SCHEMA_VERSION``, in one transaction
    (workers starting together serialize on the write lock)."""
    with _transaction(db):
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise ConfigurationError(
                f"{path} has schema version {version}, newer than this cleanexit understands "
                f"({SCHEMA_VERSION}): upgrade cleanexit, or point it at another database"
            )
        fresh = db.execute("SELECT 1 FROM sqlite_master WHERE name='sessions'").fetchone() is None
        if fresh:
            version = SCHEMA_VERSION
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step]:
                db.execute(statement)
        for statement in SCHEMA:
            db.execute(statement)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _open_marker(path: Path) -> mmap.mmap:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_size < 8:
            os.ftruncate(fd, 8)
        return mmap.mmap(fd, 8)
    finally:
        os.close(fd)


def _event(db: sqlite3.Connection, e: SecurityEvent) -> None:
    db.execute(
        "INSERT INTO events (at, kind, sub, sid, detail) VALUES (?,?,?,?,?)",
        (e.at, e.kind, e.sub, e.sid, e.detail),
    )


def _log_once(db: sqlite3.Connection, rev: Revocation) -> int | None:
    """Log a revocation unless an access token's entry is there already, at least as long."""
    if rev.kind is not RevocationKind.TOKEN:
        return _log(db, rev)
    known = db.execute(
        "SELECT 1 FROM revocations WHERE key=? AND kind=? AND expires_at >= ?",
        (rev.key, rev.kind.value, rev.expires_at),
    ).fetchone()
    return None if known else _log(db, rev)


def _reach(db: sqlite3.Connection, rev: Revocation, now: float) -> tuple[float, float] | None:
    """How far the live entries of ``rev``'s key reach: (latest expiry, latest cutoff)."""
    row = db.execute(
        "SELECT MAX(expires_at), MAX(cutoff) FROM revocations "
        "WHERE key=? AND kind=? AND expires_at > ?",
        (rev.key, rev.kind.value, now),
    ).fetchone()
    return None if row is None or row[0] is None else (float(row[0]), float(row[1]))


def _log(db: sqlite3.Connection, rev: Revocation) -> int:
    cursor = db.execute(
        "INSERT INTO revocations (kind, key, cutoff, expires_at) VALUES (?,?,?,?)",
        (rev.kind.value, rev.key, rev.cutoff, rev.expires_at),
    )
    return int(cursor.lastrowid or 0)


def _session_row(s: SessionRecord) -> tuple[Any, ...]:
    return (
        s.sid,
        s.sub,
        s.created_at,
        s.last_seen,
        s.expires_at,
        s.user_agent,
        s.ip,
        s.ended_at,
        s.end_reason,
        s.access_until,
        orjson.dumps(dict(s.claims)).decode(),
    )


def _record(row: Sequence[Any]) -> SessionRecord:
    sid, sub, created, seen, expires, agent, ip, ended, reason, access, claims = row
    claims = orjson.loads(claims)
    return SessionRecord(sid, sub, created, seen, expires, agent, ip, ended, reason, access, claims)


def _session(db: sqlite3.Connection, sid: str) -> SessionRecord | None:
    row = db.execute(_SELECT_SESSIONS + " WHERE sid=?", (sid,)).fetchone()
    return _record(row) if row else None


def _active_sessions(db: sqlite3.Connection, sub: str, now: float) -> list[SessionRecord]:
    rows = db.execute(
        _SELECT_SESSIONS + " WHERE sub=? AND ended_at IS NULL "
        "AND expires_at > ? ORDER BY created_at",
        (sub, now),
    ).fetchall()
    return [_record(row) for row in rows]


def _refresh(db: sqlite3.Connection, token_hash: bytes) -> RefreshRecord | None:
    row = db.execute(_SELECT_REFRESH, (token_hash,)).fetchone()
    return RefreshRecord(*row) if row else None


def _insert_refresh(db: sqlite3.Connection, r: RefreshRecord) -> None:
    row = (r.token_hash, r.sid, r.issued_at, r.expires_at, r.rotated_at, r.rotated_by)
    db.execute(_INSERT_REFRESH, row)
