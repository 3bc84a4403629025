"""Keeping the in-process view a faithful replica of the store, and the hot-path guard.

``Replica`` is the contract: ``is_fresh()`` is the cheap synchronous question asked on every
request; ``catch_up()`` brings the view up to date or raises ``StoreUnavailableError`` (fail
closed, invariant 3). ``PollingReplica`` serves stores with a cheap change marker (memory,
SQLite); the Redis store brings its own stream-tailing and strict replicas. The hot-path
``Guard`` that asks them lives in ``guard.py`` (re-exported here for older imports).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..clock import Clock, system_clock
from ..errors import StoreUnavailableError
from .guard import Guard
from .revocation import Revocable, RevocationView
from .stores.base import Cursor, Store

__all__ = ["Guard", "PollingReplica", "Replica"]

log = logging.getLogger("cleanexit.replica")


class Replica:
    """Base replica: subclasses decide when the view may answer on its own."""

    strict = False  # a strict replica asks the store on every request instead of the view

    def __init__(self, *, store: Store, clock: Clock = system_clock) -> None:
        self.store = store
        self.view = RevocationView()
        self._clock = clock

    def is_fresh(self) -> bool:
        raise NotImplementedError

    async def catch_up(self) -> None:
        raise NotImplementedError

    async def remote_reason(self, claims: Revocable) -> str | None:
        """Strict replicas only: ask the store directly."""
        return self.view.reason(claims)

    async def cutoff(self, sub: str) -> float | None:
        """The user's cutoff, as fresh as the store lets us know it right now.

        Best effort on purpose: a login uses it only to avoid issuing, in the very second of a
        "log out everywhere", a token that is born revoked. If the store cannot be reached the
        view's value is used; a cutoff it does not know yet can only refuse the new token
        later (fail closed), never admit an old one. Login must not fail for it."""
        if not self.is_fresh():
            with contextlib.suppress(StoreUnavailableError):
                await self.catch_up()
        return self.view.cutoff(sub)

    async def start(self) -> None:
        await self.catch_up()

    async def stop(self) -> None:
        return None

    def status(self) -> dict[str, Any]:
        return {"entries": len(self.view), "mode": "replica"}


class PollingReplica(Replica):
    """Pulls new revocations whenever the store's change marker moves.

    The marker is read on every request (an mmap read for SQLite), so a revocation committed
    by any process is seen on the very next request, without a query on the common path.
    """

    PRUNE_EVERY = 30.0

    def __init__(self, *, store: Store, clock: Clock = system_clock) -> None:
        super().__init__(store=store, clock=clock)
        self._cursor: Cursor | None = None
        self._marker: object = object()  # never equal to a real marker: first call pulls
        self._pulling = asyncio.Lock()
        self._next_prune = 0.0
        self._read_marker = store.change_marker  # bound once: this runs on every request

    def is_fresh(self) -> bool:
        return self._read_marker() == self._marker

    async def catch_up(self) -> None:
        # Single flight: when the marker moves, every in-flight request notices at once; one
        # pulls, the others wait for it and then re-check instead of pulling the same rows.
        async with self._pulling:
            if not self.is_fresh():
                await self._pull()

    async def _pull(self) -> None:
        marker = self.store.change_marker()  # read before pulling: nothing can slip between
        now = self._clock()
        revocations, self._cursor = await self.store.revocations(since=self._cursor, now=now)
        self.view.apply(revocations)
        self._marker = marker
        if now >= self._next_prune:
            self.view.prune(now)
            self._next_prune = now + self.PRUNE_EVERY

    def status(self) -> dict[str, Any]:
        return {"entries": len(self.view), "mode": "replica", "cursor": self._cursor}
