"""The PostgreSQL replica: the revocation log is the truth, ``LISTEN / NOTIFY`` only wakes us.

One dedicated connection per process (a session: LISTEN does not survive PgBouncer's
transaction pooling, hence ``listen_url``) runs ``LISTEN``, then pulls the log from the last
sequence it saw; then, over and over, waits for a notification at most ``block`` seconds (a
quarter of ``stale_after``) and pulls again, woken or not. Notifications are not durable (lost
on a disconnect, a crash, a failover), so nothing depends on them but latency: the timed pull
is the backstop that catches a lost one within ``block``, and the heartbeat that keeps an idle
instance fresh. Every (re)connect listens first and then pulls from the last sequence, so a
revocation committed while we were away is read, and one committed after the pull wakes us.

Freshness is the shared rule (``TailingReplica``): each successful pull vouches for everything
committed before it was sent, for ``stale_after`` seconds; the request path compares a clock
with that deadline and does no I/O; past it, requests answer 503 (or, with ``fail_open``, the
possibly stale view, loudly).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import psycopg

from ....clock import Clock, system_clock
from ...tailing import TailingReplica
from . import _db
from ._db import Conn

if TYPE_CHECKING:
    from .store import PostgresStore

__all__ = ["NotifyReplica"]

log = logging.getLogger("cleanexit.replica")
_monotonic = time.monotonic


class NotifyReplica(TailingReplica):
    """Keeps ``self.view`` current from the PostgreSQL revocation log; see the module doc."""

    feed_name = "revocation log"

    def __init__(
        self,
        *,
        store: PostgresStore,
        clock: Clock = system_clock,
        stale_after: float = 1.0,
        fail_open: bool = False,
        block: float | None = None,
    ) -> None:
        super().__init__(
            store=store, clock=clock, stale_after=stale_after, fail_open=fail_open, block=block
        )
        self.postgres = store
        # A pull that takes longer than this is a lost connection: short enough that a silent
        # server is noticed before the bound (block + this < stale_after).
        self.read_timeout = max(stale_after / 2, 0.05)
        self._conn: Conn | None = None
        self._chores: set[asyncio.Task[None]] = set()
        self._cursor: int | None = None
        self.notifications = 0
        self.polls = 0

    @property
    def where(self) -> str:
        return self.postgres.listen_where

    @property
    def backend_pid(self) -> int | None:
        """The server process of the listening connection (ops, and tests that cut it)."""
        return self._conn.info.backend_pid if self._conn is not None else None

    def _feed_status(self) -> dict[str, Any]:
        return {
            "position": self._cursor,
            "listening": self._conn is not None,
            "notifications": self.notifications,
            "polls": self.polls,
        }

    async def _close_feed(self) -> None:
        self._bury()
        if self._chores:
            await asyncio.wait(self._chores, timeout=1.0)

    def _bury(self) -> None:
        """Close the listening connection once nothing runs on it any more."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._spawn(_bury(conn))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._chores.add(task)  # referenced until done; stop() waits for them a moment
        task.add_done_callback(self._chores.discard)

    async def _resync(self) -> None:
        self._bury()  # the old connection, if any, closes in the background
        timeout = self.postgres.timeout
        self._conn = await self._io(self._listen(), timeout + 1)
        self.resyncs += 1
        # Generous: the first pull of a process (since=None) loads every live revocation.
        await self._pull(timeout)
        if self.resyncs > 1:  # back after losing the connection: the store's pool too
            self._spawn(self.postgres.reconnected())

    async def _listen(self) -> Conn:
        options = self.postgres.connection_options("cleanexit-listen")
        conn = await psycopg.AsyncConnection.connect(self.postgres.listen_url, **options)
        try:
            await conn.execute(self.postgres.sql.listen)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _read(self) -> bool:
        if await self._io(self._notified(), self.block + self.read_timeout):
            self.notifications += 1
        else:
            self.polls += 1
        await self._pull(self.read_timeout)
        self._prune_now_and_then()
        return True

    async def _notified(self) -> bool:
        """Wait up to ``block`` for a notification (one queued during a pull counts)."""
        assert self._conn is not None
        got = False
        # Consumed to its end, never left early: the generator holds the connection's lock.
        async for _ in self._conn.notifies(timeout=self.block, stop_after=1):
            # A revocation has committed and the view does not hold it yet: until the pull
            # below lands (one round trip), a request waits for it instead of answering from
            # the view (catch_up), so a replay racing the logout is refused, not let through.
            self._fresh_until = 0.0
            got = True
        return got

    async def _pull(self, bound: float) -> None:
        assert self._conn is not None
        sent = _monotonic()
        q, now = self.postgres.sql, self._clock()
        revs, cursor, reset = await self._io(
            _db.pull(self._conn, q, since=self._cursor, now=now), bound
        )
        if reset:
            self.gaps += 1
            log.warning("revocation log at %s started over: reloaded it whole", self.where)
        # Union, never replace: a revocation this process saw stays refused until it expires.
        self.view.apply(revs)
        self._cursor = cursor
        self._ok(sent)

    async def _io(self, work: Any, bound: float) -> Any:
        try:
            return await _db.bounded(work, bound)
        except (psycopg.Error, OSError, TimeoutError) as exc:
            self._bury()  # whatever state it is in, it is not listening for us any more
            raise _db.unavailable(exc, self.where) from None


async def _bury(conn: Conn) -> None:
    """Close ``conn`` after an abandoned operation on it has given up: psycopg cancels a
    query it was interrupted in for up to ten seconds, holding the connection's lock; closing
    the socket under it could hand its descriptor to the next connection mid-clean-up."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(15.0), conn.lock:
            pass
    with contextlib.suppress(Exception):
        await conn.close()
