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

from ...errors import StoreUnavailableError
from ..revocation import Revocation, RevocationKind
from .base import (
    Cursor,
    RefreshRecord,
    Rotation,
    RotationStatus,
    SecurityEvent,
    SessionRecord,
    Store,
    decide_rotation,
)

__all__ = ["SqliteStore"]

T = TypeVar("T")
SCHEMA_VERSION = 1
EVENT_RETENTION = 90 * 86400.0  # security events are kept for audits, then pruned
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
  sid TEXT PRIMARY KEY, sub TEXT NOT NULL, created_at REAL NOT NULL, last_seen REAL NOT NULL,
  expires_at REAL NOT NULL, user_agent TEXT NOT NULL DEFAULT '', ip TEXT NOT NULL DEFAULT '',
  ended_at REAL, end_reason TEXT);
CREATE INDEX IF NOT EXISTS sessions_by_sub ON sessions(sub, created_at);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash BLOB PRIMARY KEY, sid TEXT NOT NULL, issued_at REAL NOT NULL,
  expires_at REAL NOT NULL, rotated_at REAL);
CREATE INDEX IF NOT EXISTS refresh_by_sid ON refresh_tokens(sid);
CREATE TABLE IF NOT EXISTS revocations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL,
  cutoff REAL NOT NULL DEFAULT 0, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS revocations_by_expiry ON revocations(expires_at);
CREATE INDEX IF NOT EXISTS revocations_by_key ON revocations(key);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL,
  sub TEXT NOT NULL, sid TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
"""
_SESSION_COLUMNS = (
    "sid, sub, created_at, last_seen, expires_at, user_agent, ip, ended_at, end_reason"
)
# Built once from the constant above, never from input:
_INSERT_SESSION = f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)"  # noqa: S608
_SELECT_SESSIONS = f"SELECT {_SESSION_COLUMNS} FROM sessions"  # noqa: S608


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
        db.executescript(SCHEMA)  # idempotent; executescript commits, so no BEGIN around it
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
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
                db.execute(
                    _INSERT_SESSION,
                    _session_row(session),
                )
                _insert_refresh(db, refresh)

        await self._run(work)

    async def rotate_refresh(
        self,
        old_hash: bytes,
        new_hash: bytes,
        *,
        now: float,
        idle_ttl: float,
        grace: float,
        deny_until: float,
    ) -> Rotation:
        return await self._run(
            lambda: self._rotate(old_hash, new_hash, now, idle_ttl, grace, deny_until)
        )

    def _rotate(
        self, old_hash: bytes, new_hash: bytes, now: float, idle: float, grace: float, deny: float
    ) -> Rotation:
        seq = None
        with _transaction(self.db) as db:
            old = _refresh(db, old_hash)
            session = _session(db, old.sid) if old else None
            status = decide_rotation(old, session, now=now, grace=grace)
            if status is RotationStatus.REUSED:
                assert session is not None
                seq = self._end(db, session.sid, now, "refresh_token_reuse", deny)
                db.execute(
                    "INSERT INTO events (at, kind, sub, sid) VALUES (?,?,?,?)",
                    (now, "refresh_token_reuse", session.sub, session.sid),
                )
            if status is not RotationStatus.ROTATED:
                rotation = Rotation(status, session)
            else:
                assert session is not None
                expires = min(now + idle, session.expires_at)
                db.execute(
                    "UPDATE refresh_tokens SET rotated_at=? WHERE token_hash=?", (now, old_hash)
                )
                _insert_refresh(db, RefreshRecord(new_hash, session.sid, now, expires))
                db.execute("UPDATE sessions SET last_seen=? WHERE sid=?", (now, session.sid))
                rotation = Rotation(status, _session(db, session.sid), expires)
        self._bump(seq)
        return rotation

    async def session_for_refresh(self, token_hash: bytes, *, now: float) -> SessionRecord | None:
        def work() -> SessionRecord | None:
            record = _refresh(self.db, token_hash)
            if record is None or record.rotated_at is not None or now >= record.expires_at:
                return None
            session = _session(self.db, record.sid)
            return session if session and session.active(now) else None

        return await self._run(work)

    async def get_session(self, sid: str) -> SessionRecord | None:
        return await self._run(lambda: _session(self.db, sid))

    async def list_sessions(self, sub: str, *, now: float) -> list[SessionRecord]:
        return await self._run(lambda: _active_sessions(self.db, sub, now))

    async def end_sessions(
        self, sids: Sequence[str], *, now: float, reason: str, deny_until: float
    ) -> list[str]:
        def work() -> list[str]:
            ended: list[str] = []
            seq = None
            with _transaction(self.db) as db:
                for sid in sids:
                    session = _session(db, sid)
                    if session is not None and session.active(now):
                        seq = self._end(db, sid, now, reason, deny_until)
                        ended.append(sid)
            self._bump(seq)
            return ended

        return await self._run(work)

    async def end_user_sessions(
        self,
        sub: str,
        *,
        now: float,
        reason: str,
        deny_until: float,
        keep_sid: str | None = None,
        cutoff: float | None = None,
    ) -> list[str]:
        def work() -> list[str]:
            seq = None
            with _transaction(self.db) as db:
                sids = [s.sid for s in _active_sessions(db, sub, now) if s.sid != keep_sid]
                for sid in sids:
                    seq = self._end(db, sid, now, reason, deny_until)
                if cutoff is not None:
                    seq = _log(db, Revocation.user(sub, cutoff=cutoff, expires_at=deny_until))
            self._bump(seq)
            return sids

        return await self._run(work)

    async def revoke_token(self, iss: str, jti: str, *, expires_at: float) -> bool:
        rev = Revocation.token(iss, jti, expires_at=expires_at)

        def work() -> bool:
            with _transaction(self.db) as db:
                known = db.execute(
                    "SELECT 1 FROM revocations WHERE key=? AND kind=?", (rev.key, rev.kind.value)
                ).fetchone()
                seq = None if known else _log(db, rev)
            self._bump(seq)
            return seq is not None

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
            rows = self.db.execute(
                "SELECT seq, kind, key, cutoff, expires_at FROM revocations "
                "WHERE seq > ? AND expires_at > ? ORDER BY seq",
                (start, now),
            ).fetchall()
            top = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name='revocations'")
            last = (top.fetchone() or (start,))[0]
            revs = [Revocation(RevocationKind(k), key, exp, cut) for _, k, key, cut, exp in rows]
            return revs, max(last, start)

        return await self._run(work)

    # -- upkeep --------------------------------------------------------------------------
    async def prune(self, *, now: float) -> int:
        return await self._run(lambda: self.prune_sync(now=now))

    def prune_sync(self, *, now: float) -> int:
        with _transaction(self.db) as db:
            gone = db.execute("DELETE FROM revocations WHERE expires_at <= ?", (now,)).rowcount
            gone += db.execute("DELETE FROM refresh_tokens WHERE expires_at <= ?", (now,)).rowcount
            gone += db.execute(
                "DELETE FROM sessions WHERE expires_at <= ? OR ended_at IS NOT NULL", (now,)
            ).rowcount
            gone += db.execute(
                "DELETE FROM events WHERE at <= ?", (now - EVENT_RETENTION,)
            ).rowcount
        return int(gone)

    async def ping(self) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            count = self.db.execute("SELECT count(*) FROM revocations").fetchone()[0]
            return {"backend": self.name, "path": str(self.path), "revocations": count}

        return await self._run(work)

    def _end(self, db: sqlite3.Connection, sid: str, now: float, reason: str, deny: float) -> int:
        db.execute("UPDATE sessions SET ended_at=?, end_reason=? WHERE sid=?", (now, reason, sid))
        db.execute("DELETE FROM refresh_tokens WHERE sid=?", (sid,))
        return _log(db, Revocation.session(sid, expires_at=deny))


class _transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: takes the write lock up front, so a read-decide-write
    sequence (refresh rotation) is atomic across processes."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _open_marker(path: Path) -> mmap.mmap:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_size < 8:
            os.ftruncate(fd, 8)
        return mmap.mmap(fd, 8)
    finally:
        os.close(fd)


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
    )


def _session(db: sqlite3.Connection, sid: str) -> SessionRecord | None:
    row = db.execute(_SELECT_SESSIONS + " WHERE sid=?", (sid,)).fetchone()
    return SessionRecord(*row) if row else None


def _active_sessions(db: sqlite3.Connection, sub: str, now: float) -> list[SessionRecord]:
    rows = db.execute(
        _SELECT_SESSIONS + " WHERE sub=? AND ended_at IS NULL "
        "AND expires_at > ? ORDER BY created_at",
        (sub, now),
    ).fetchall()
    return [SessionRecord(*row) for row in rows]


def _refresh(db: sqlite3.Connection, token_hash: bytes) -> RefreshRecord | None:
    row = db.execute(
        "SELECT token_hash, sid, issued_at, expires_at, rotated_at FROM refresh_tokens "
        "WHERE token_hash=?",
        (token_hash,),
    ).fetchone()
    return RefreshRecord(*row) if row else None


def _insert_refresh(db: sqlite3.Connection, r: RefreshRecord) -> None:
    db.execute(
        "INSERT INTO refresh_tokens (token_hash, sid, issued_at, expires_at, rotated_at) "
        "VALUES (?,?,?,?,?)",
        (r.token_hash, r.sid, r.issued_at, r.expires_at, r.rotated_at),
    )
