"""The PostgreSQL store: many server instances sharing the database the application already runs.

Every mutation is one transaction on a pooled connection (psycopg 3, ``psycopg_pool``), so a
logout is never half done. Refresh rotation locks the session row (``SELECT … FOR UPDATE``)
before it reads the token, so instances racing on one token take turns and exactly one gets
``ROTATED``; every transaction locks sessions before refresh tokens before the revocation log's
head row, so they cannot deadlock one another (a deadlock or serialization failure from
elsewhere is retried). The revocation log is the truth replicas read (``replica.NotifyReplica``):
revocations are appended under the head row's lock, which hands out sequence numbers in commit
order, and a ``NOTIFY`` in the same transaction wakes the replicas — on revocations only, never
on a refresh rotation. psycopg is imported by this package only; its errors leave as
``StoreUnavailableError``, and no message ever quotes the connection string.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from ....clock import Clock, system_clock
from ....errors import ConfigurationError, StoreUnavailableError
from ...attempts import AttemptOp, AttemptPolicy, Attempts, decide_attempts
from ...revocation import Revocation
from ..base import (
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
from . import _db
from ._db import Conn
from ._sql import EVENTS, REFRESH, SESSIONS, Statements, valid_schema

if TYPE_CHECKING:
    from ...replica import Replica

__all__ = ["PostgresStore", "describe"]

log = logging.getLogger("cleanexit.postgres")
T = TypeVar("T")
SCHEMES = ("postgresql", "postgres")
ATTEMPTS = 3  # a transaction that lost a deadlock or a serialization check runs again
SET_UP_TIMEOUT = 30.0  # creating or migrating the schema at start-up


def describe(url: str) -> str:
    """host:port/dbname of a PostgreSQL URL, without credentials (for logs and errors)."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        raise ConfigurationError(
            "malformed PostgreSQL URL (not quoted: it may hold a password)"
        ) from None
    host = str(parts.get("host") or parts.get("hostaddr") or "localhost")
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or parts.get('user') or ''}"


class PostgresStore(Store):
    """``PostgresStore("postgresql://user@db.internal/app", stale_after=1.0)``."""

    name = "postgres"

    def __init__(
        self,
        url: str,
        *,
        stale_after: float = 1.0,
        fail_open: bool = False,
        schema: str = "cleanexit",
        pool_size: int = 10,
        timeout: float = 2.0,
        listen_url: str | None = None,
        clock: Clock = system_clock,
    ) -> None:
        if url.split("://", 1)[0].lower() not in SCHEMES:
            raise ConfigurationError("a PostgreSQL store URL starts with postgresql://")
        if not valid_schema(schema):
            raise ConfigurationError(
                "the PostgreSQL schema name must be lower-case letters, digits and _ (40 at most)"
            )
        if stale_after <= 0 or timeout <= 0 or pool_size < 1:
            raise ConfigurationError("PostgreSQL store bounds must be positive")
        self.url = url
        self.listen_url = listen_url or url  # LISTEN needs a session: not PgBouncer's pool
        self.where = describe(url)
        self.listen_where = describe(self.listen_url)
        self.stale_after = stale_after
        self.fail_open = fail_open
        self.timeout = timeout
        self.pool_size = pool_size
        self.sql = Statements(schema)
        self._clock = clock
        self._pool: AsyncConnectionPool[Conn] | None = None
        self._replicas: weakref.WeakSet[Replica] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"PostgresStore({self.where!r}, schema={self.sql.schema!r})"

    # -- connections -----------------------------------------------------------------------
    def connection_options(self, application: str) -> dict[str, Any]:
        return {
            "autocommit": True,  # transactions are explicit (`conn.transaction()`)
            # No server-side prepared statements: pooled connections then also work through
            # PgBouncer in transaction mode (a few microseconds of parsing per statement).
            "prepare_threshold": None,
            "fallback_application_name": application,
            "connect_timeout": max(2, round(self.timeout)),  # libpq's minimum is 2 s
        }

    async def open(self) -> None:
        if self._pool is not None:
            return
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self.url,
            min_size=1,
            max_size=self.pool_size,
            open=False,
            # Below the store's own bound, so a pool that cannot connect says so (PoolTimeout).
            timeout=self.timeout * 0.8,
            # A pooled connection the server closed (a restart) is noticed before use, not
            # by the request that gets it.
            check=AsyncConnectionPool.check_connection,
            # The pool retries a lost connection in the background with a doubling delay
            # (1 s, 2 s, 4 s, ...) until it gives up, after this long; the next request then
            # starts a new attempt at once. Short, so that writes come back within about a
            # second of PostgreSQL, however long it was away (not after the minute-long
            # delays the back-off reaches).
            reconnect_timeout=0.5,
            kwargs=self.connection_options("cleanexit"),
            name="cleanexit",
        )
        try:
            await self._checked(lambda: pool.open(wait=True, timeout=self.timeout * 0.8))
            # Instances starting together take turns on the schema lock: more time.
            await self._checked(self._set_up, pool, bound=max(self.timeout, SET_UP_TIMEOUT))
        except BaseException:
            await pool.close(timeout=0)
            raise
        self._pool = pool

    async def _set_up(self, pool: AsyncConnectionPool[Conn]) -> None:
        async with pool.connection() as conn:
            try:
                await _db.migrate(conn, self.sql, self.where)
            except psycopg.errors.InsufficientPrivilege:
                raise ConfigurationError(
                    f"the PostgreSQL user at {self.where} may not create the schema "
                    f"{self.sql.schema!r} and its tables: grant CREATE (docs/postgres.md)"
                ) from None
            settings = await self._durability(conn)
        if not settings["durable"]:
            log.warning(
                "PostgreSQL at %s runs with fsync=%s, synchronous_commit=%s: a crash can lose "
                "revocations it acknowledged (docs/postgres.md)",
                self.where,
                settings["fsync"],
                settings["synchronous_commit"],
            )
        if self.fail_open:
            log.warning(
                "CLEANEXIT_FAIL_OPEN is on: when PostgreSQL (%s) cannot be reached, tokens are "
                "checked against a possibly stale revocation view instead of being refused "
                "(503). A token revoked during the outage may be accepted.",
                self.where,
            )

    async def _durability(self, conn: Conn) -> dict[str, Any]:
        cur = await conn.execute(
            "SELECT current_setting('fsync'), current_setting('synchronous_commit'), "
            "current_setting('server_version')"
        )
        fsync, sync, version = await cur.fetchone() or ("", "", "")
        durable = fsync == "on" and sync != "off"
        return {"fsync": fsync, "synchronous_commit": sync, "version": version, "durable": durable}

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close(timeout=1.0)

    async def reconnected(self) -> None:
        """PostgreSQL answers again (the replica got through): have the pool try at once
        too, instead of at the end of its back-off, so waiting writes are served now."""
        if self._pool is not None:
            with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
                await _db.bounded(self._pool.check(), self.timeout)

    @property
    def pool(self) -> AsyncConnectionPool[Conn]:
        if self._pool is None:
            raise StoreUnavailableError("PostgreSQL store is not open")
        return self._pool

    async def _checked(
        self,
        fn: Callable[..., Awaitable[T]],
        *args: Any,
        attempts: int = 1,
        bound: float | None = None,
    ) -> T:
        """The store boundary: bounded in time, driver errors mapped to ours; with
        ``attempts``, run again after a deadlock or a serialization failure."""
        for remaining in reversed(range(attempts)):
            try:
                return await _db.bounded(fn(*args), bound or self.timeout)
            except (psycopg.Error, OSError, TimeoutError) as exc:
                if remaining and _db.is_retryable(exc):
                    continue
                raise _db.unavailable(exc, self.where) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _transaction(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """``work`` in one transaction on a pooled connection."""

        async def attempt() -> T:
            async with self.pool.connection() as conn, conn.transaction():
                return await work(conn)

        return await self._checked(attempt, attempts=ATTEMPTS)

    async def _query(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """``work`` on a pooled connection, each statement on its own (autocommit)."""

        async def run() -> T:
            async with self.pool.connection() as conn:
                return await work(conn)

        return await self._checked(run)

    def make_replica(self, *, clock: Callable[[], float]) -> Replica:
        from .replica import NotifyReplica

        replica = NotifyReplica(
            store=self, clock=clock, stale_after=self.stale_after, fail_open=self.fail_open
        )
        self._replicas.add(replica)
        return replica

    # -- sessions and refresh families -----------------------------------------------------
    async def create_session(self, session: SessionRecord, refresh: RefreshRecord) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute(self.sql.insert_session, SESSIONS.row(session))
            await conn.execute(self.sql.insert_refresh, REFRESH.row(refresh))

        await self._transaction(work)

    async def rotate_refresh(
        self, old_hash: bytes, new_hash: bytes, r: RotationRequest
    ) -> Rotation:
        return await self._transaction(lambda conn: self._rotate(conn, old_hash, new_hash, r))

    async def _rotate(
        self, conn: Conn, old_hash: bytes, new_hash: bytes, r: RotationRequest
    ) -> Rotation:
        q = self.sql
        found = await (await conn.execute(q.refresh_sid, (old_hash,))).fetchone()
        if found is None:
            return Rotation(RotationStatus.INVALID)
        # The session row first: concurrent rotations of its tokens queue here, and each
        # reads the token only once it holds the lock (the winner's update included).
        session = await _one(conn, q.lock_session, (found[0],), SESSIONS.load)
        old = await _one(conn, q.lock_refresh, (old_hash,), REFRESH.load)
        status = decide_rotation(old, session, now=r.now, grace=r.grace)
        if status is RotationStatus.RACE:
            assert old is not None and session is not None
            same = old.rotated_by == r.client
            await _event(conn, q, race_event(session, now=r.now, same_client=same))
            return Rotation(status, session, same_client=same)
        if status is RotationStatus.REUSED:
            assert session is not None
            await self._end(conn, [session], now=r.now, reason=REUSE_EVENT, leeway=r.leeway)
            await _event(conn, q, SecurityEvent(r.now, REUSE_EVENT, session.sub, session.sid))
        if status is not RotationStatus.ROTATED:
            return Rotation(status, session)
        assert session is not None
        expires = min(r.now + r.idle_ttl, session.expires_at)
        access = max(session.access_until, min(r.access_until, session.expires_at))
        await conn.execute(q.mark_rotated, (r.now, r.client, old_hash))
        new = RefreshRecord(new_hash, session.sid, r.now, expires)
        await conn.execute(q.insert_refresh, REFRESH.row(new))
        await conn.execute(q.drop_rotated, {"sid": session.sid, "keep": r.keep_rotated})
        touched = await _one(conn, q.touch_session, (r.now, access, session.sid), SESSIONS.load)
        return Rotation(status, touched, expires)

    async def find_refresh(self, token_hash: bytes) -> tuple[RefreshRecord, SessionRecord] | None:
        async def work(conn: Conn) -> tuple[RefreshRecord, SessionRecord] | None:
            row = await (await conn.execute(self.sql.find_refresh, (token_hash,))).fetchone()
            if row is None:
                return None
            split = len(REFRESH.columns)
            return REFRESH.load(row[:split]), SESSIONS.load(row[split:])

        return await self._query(work)

    async def get_session(self, sid: str) -> SessionRecord | None:
        return await self._query(lambda conn: _one(conn, self.sql.session, (sid,), SESSIONS.load))

    async def list_sessions(self, sub: str, *, now: float) -> list[SessionRecord]:
        async def work(conn: Conn) -> list[SessionRecord]:
            rows = await (await conn.execute(self.sql.active_sessions, (sub, now))).fetchall()
            return [SESSIONS.load(row) for row in rows]

        return await self._query(work)

    async def end_sessions(
        self,
        sids: Sequence[str],
        *,
        now: float,
        reason: str,
        leeway: float,
        extra: Sequence[Revocation] = (),
    ) -> list[Revocation]:
        wanted = list(dict.fromkeys(sids))

        async def work(conn: Conn) -> list[Revocation]:
            rows = await (await conn.execute(self.sql.lock_sessions, (wanted,))).fetchall()
            found = {s.sid: s for s in map(SESSIONS.load, rows)}
            ended = [
                s
                for sid in wanted
                if (s := found.get(sid)) is not None and s.endable(now, leeway=leeway)
            ]
            revs = await self._end(conn, ended, now=now, reason=reason, leeway=leeway)
            await _db.record(conn, self.sql, extra)
            return revs

        return await self._transaction(work)

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
        async def work(conn: Conn) -> list[Revocation]:
            params = {"sub": sub, "now": now, "leeway": leeway}
            rows = await (await conn.execute(self.sql.lock_endable, params)).fetchall()
            ended = [s for s in map(SESSIONS.load, rows) if s.sid != keep_sid]
            ended.sort(key=lambda s: (s.created_at, s.sid))
            more = list(extra)
            if cutoff is not None:
                more.insert(0, cutoff_entry(cutoff, ended, leeway=leeway))
            revs = await self._end(conn, ended, now=now, reason=reason, leeway=leeway, also=more)
            return revs + more[:1] if cutoff is not None else revs

        return await self._transaction(work)

    async def _end(
        self,
        conn: Conn,
        sessions: Sequence[SessionRecord],
        *,
        now: float,
        reason: str,
        leeway: float,
        also: Sequence[Revocation] = (),
    ) -> list[Revocation]:
        """End these (locked) sessions, drop their refresh tokens and deny their sids, with
        ``also`` recorded in the same step: inside the caller's transaction."""
        sids = [s.sid for s in sessions]
        if sids:
            await conn.execute(self.sql.end_sessions, (now, reason, sids))
            await conn.execute(self.sql.drop_family, (sids,))
        revs = [s.revocation(leeway) for s in sessions]
        await _db.record(conn, self.sql, [*revs, *also])
        return revs

    async def revoke_token(self, iss: str, jti: str, *, expires_at: float) -> bool:
        rev = Revocation.token(iss, jti, expires_at=expires_at)
        added = await self._transaction(lambda conn: _db.record(conn, self.sql, [rev]))
        return added == [True]

    async def record(
        self, revocations: Sequence[Revocation], *, now: float, once: bool = False
    ) -> list[bool]:
        revs = list(revocations)
        return await self._transaction(
            lambda conn: _db.record_reaching(conn, self.sql, revs, now=now, once=once)
        )

    async def events(self, *, sub: str | None = None, limit: int = 100) -> list[SecurityEvent]:
        async def work(conn: Conn) -> list[SecurityEvent]:
            cur = await conn.execute(self.sql.events, (sub, sub, limit))
            return [EVENTS.load(row) for row in await cur.fetchall()]

        return await self._query(work)

    # -- the change feed -------------------------------------------------------------------
    async def revocations(
        self, *, since: Cursor | None, now: float
    ) -> tuple[list[Revocation], Cursor]:
        start = None if since is None else int(since)

        async def work(conn: Conn) -> tuple[list[Revocation], Cursor]:
            revs, cursor, _ = await _db.pull(conn, self.sql, since=start, now=now)
            return revs, cursor

        return await self._query(work)

    def change_marker(self) -> object:
        return None  # no cheap local signal: the notify replica listens and polls instead

    # -- login attempts (issue 15) ---------------------------------------------------------
    async def attempts(
        self, key: str, op: AttemptOp, *, now: float, policy: AttemptPolicy
    ) -> tuple[Attempts, bool]:
        async def work(conn: Conn) -> tuple[Attempts, bool]:
            q = self.sql
            await conn.execute(q.ensure_attempts, (key,))
            row = await (await conn.execute(q.lock_attempts, (key,))).fetchone()
            found = Attempts(int(row[0]), float(row[1]), float(row[2])) if row else None
            record, admitted = decide_attempts(found, op, now=now, policy=policy)
            if record is None:
                await conn.execute(q.drop_attempts, (key,))
                return Attempts(), admitted
            if record != found:
                values = (record.failures, record.blocked_until, record.last)
                await conn.execute(q.save_attempts, (*values, record.expires(policy), key))
            return record, admitted

        return await self._transaction(work)

    # -- upkeep ----------------------------------------------------------------------------
    async def prune(self, *, now: float) -> int:
        async def work(conn: Conn) -> int:
            # One statement at a time: nothing here needs to be atomic, and short
            # transactions hold no lock for long.
            gone = 0
            for statement in self.sql.prune:
                gone += (await conn.execute(statement, {"now": now})).rowcount
            return gone

        return await self._query(work)

    async def ping(self) -> dict[str, Any]:
        async def work(conn: Conn) -> dict[str, Any]:
            row = await (await conn.execute(self.sql.count_revocations)).fetchone()
            head, count = row if row else (0, 0)
            return {
                "backend": self.name,
                "where": self.where,
                "schema": self.sql.schema,
                "durability": await self._durability(conn),
                "revocations": count,
                "head": head,
                "pool": {
                    k: v
                    for k, v in self.pool.get_stats().items()
                    if k in ("pool_size", "pool_available", "requests_waiting")
                },
                "replicas": [replica.status() for replica in list(self._replicas)],
            }

        return await self._query(work)


async def _one(
    conn: Conn, statement: str, params: Sequence[Any], load: Callable[[Sequence[Any]], T]
) -> T | None:
    row = await (await conn.execute(statement, params)).fetchone()
    return load(row) if row is not None else None


async def _event(conn: Conn, q: Statements, event: SecurityEvent) -> None:
    await conn.execute(q.insert_event, EVENTS.row(event))
