"""What the PostgreSQL store and its replica do on one connection: schema set-up, the pull
of the revocation log, the recording of revocations; and the store boundary (driver errors
mapped to ours, time bounds that a silent server cannot stretch)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection

from ....errors import ConfigurationError, StoreUnavailableError
from ...revocation import Revocation, RevocationKind
from ._sql import SCHEMA_VERSION, Statements, revocation

__all__ = [
    "Conn",
    "bounded",
    "is_retryable",
    "migrate",
    "pull",
    "record",
    "record_reaching",
    "unavailable",
]

T = TypeVar("T")
Conn = AsyncConnection[Any]


def unavailable(exc: BaseException, where: str) -> StoreUnavailableError:
    """Our error for a driver's. Only the class (and the SQLSTATE's name) is told: libpq's
    own messages can quote parts of the connection string, a password included."""
    if isinstance(exc, TimeoutError):
        return StoreUnavailableError(f"postgres at {where}: no answer in time")
    detail = type(exc).__name__
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate:
        detail += f" ({sqlstate})"
    return StoreUnavailableError(f"postgres at {where}: {detail}")


async def bounded(work: Awaitable[T], seconds: float) -> T:
    """``work``, or ``TimeoutError`` after ``seconds`` whatever the driver does.

    psycopg answers a cancellation by asking the server to cancel the query and waiting for
    it, up to ten seconds, which a stopped (``SIGSTOP``, partitioned) server never grants; so
    the work runs as its own task, and past the bound it is left to finish cancelling in the
    background (its connection is then closed or thrown away by the pool)."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        task.add_done_callback(_swallow)
        raise
    if not done:
        task.cancel()
        task.add_done_callback(_swallow)
        raise TimeoutError
    return task.result()


def _swallow(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: no "exception was never retrieved" at exit


async def migrate(conn: Conn, q: Statements, where: str) -> None:
    """Create the schema, or bring an older one up to ``SCHEMA_VERSION``, in one transaction
    under an advisory lock (instances starting together take turns)."""
    async with conn.transaction():
        await conn.execute(q.lock_schema, (f"cleanexit schema {q.schema}",))
        await conn.execute(q.create_schema)
        await conn.execute(q.version_table)
        row = await (await conn.execute(q.get_version)).fetchone()
        tables = await (await conn.execute(q.has_tables, (f'"{q.schema}".sessions',))).fetchone()
        version = row[0] if row else (1 if tables and tables[0] else SCHEMA_VERSION)
        if version > SCHEMA_VERSION:
            raise ConfigurationError(
                f"PostgreSQL schema {q.schema!r} at {where} has schema version {version}, "
                f"newer than this cleanexit understands ({SCHEMA_VERSION}): upgrade cleanexit, "
                "or point it at another schema (CLEANEXIT_POSTGRES_SCHEMA)"
            )
        for statement in q.create:
            await conn.execute(statement)
        for step in range(version, SCHEMA_VERSION):
            for statement in q.migrations[step]:
                await conn.execute(statement)
        if version != SCHEMA_VERSION or row is None:
            await conn.execute(q.set_version, (SCHEMA_VERSION,))


async def pull(
    conn: Conn, q: Statements, *, since: int | None, now: float
) -> tuple[list[Revocation], int, bool]:
    """Live revocations committed after ``since`` (all of them with ``None``), the cursor to
    pass next time, and whether the log started over (its head is behind ``since``: the
    database was restored or replaced), in which case every live one is returned."""
    start = since or 0
    rows = await (await conn.execute(q.pull, {"since": start, "now": now})).fetchall()
    head = int(rows[0][0]) if rows else 0
    if head < start:
        revs, head, _ = await pull(conn, q, since=None, now=now)
        return revs, head, True
    return [revocation(row[1:]) for row in rows if row[1] is not None], head, False


async def record(conn: Conn, q: Statements, revocations: Sequence[Revocation]) -> list[bool]:
    """Append revocations to the log inside the caller's transaction, and wake the replicas
    (NOTIFY is delivered at commit, and only if it commits). An access token's entry is
    skipped when one at least as long is there already. Which ones were recorded."""
    if not revocations:
        return []
    head_row = await (await conn.execute(q.lock_head)).fetchone()
    head = int(head_row[0]) if head_row else 0
    added = []
    for rev in revocations:
        if rev.kind is RevocationKind.TOKEN:
            known = await conn.execute(q.token_known, (rev.key, rev.kind.value, rev.expires_at))
            if await known.fetchone() is not None:
                added.append(False)
                continue
        head += 1
        row = (head, rev.kind.value, rev.key, rev.cutoff, rev.expires_at)
        await conn.execute(q.insert_revocation, row)
        added.append(True)
    if any(added):
        await conn.execute(q.set_head, (head,))
        # A tiny payload (the new head), once per transaction: replicas read the log itself.
        await conn.execute(q.notify, (q.channel, str(head)))
    return added


async def record_reaching(
    conn: Conn, q: Statements, revocations: Sequence[Revocation], *, now: float, once: bool
) -> list[bool]:
    """``Store.record`` inside the caller's transaction: the head row is locked first, so the
    reads below and the writes after them are one step for every other writer (a ``once``
    entry is recorded by one transaction only)."""
    await conn.execute(q.lock_head)
    reaches = []
    for rev in revocations:
        row = await (await conn.execute(q.reach, (rev.key, rev.kind.value, now))).fetchone()
        reaches.append(None if row is None or row[0] is None else (row[0], row[1]))
    if once and revocations and reaches[0] is not None:
        return [False] * len(revocations)
    new = [
        reach is None or rev.expires_at > reach[0] or rev.cutoff > reach[1]
        for rev, reach in zip(revocations, reaches, strict=True)
    ]
    await record(conn, q, [rev for rev, is_new in zip(revocations, new, strict=True) if is_new])
    return new


def is_retryable(exc: BaseException) -> bool:
    """Errors after which the whole transaction may simply run again."""
    return isinstance(exc, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure)
