"""Keeping the in-process view a faithful replica of the store, and the hot-path guard.

``Replica`` is the contract: ``is_fresh()`` is the cheap synchronous question asked on every
request; ``catch_up()`` brings the view up to date or raises ``StoreUnavailableError`` (fail
closed, invariant 3). ``PollingReplica`` serves stores with a cheap change marker (memory,
SQLite); the Redis store brings its own stream-tailing and strict replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..clock import Clock, system_clock
from ..errors import RevokedTokenError, StoreUnavailableError
from .revocation import RevocationView
from .stores.base import Cursor, Store
from .tokens import AccessClaims
from .verifier import Verifier

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

    async def remote_reason(self, claims: AccessClaims) -> str | None:
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


class Guard:
    """The hot path: verify the token, then ask the replica whether it was revoked.

    When the replica is fresh (the common case) the answer comes from the in-process view
    without awaiting anything: ``authenticate`` then costs one coroutine, and ``check_now`` none
    (issue 5); only a stale or strict replica takes the awaiting path in ``check``.
    """

    def __init__(self, *, verifier: Verifier, replica: Replica) -> None:
        self.verifier = verifier
        self.replica = replica

    async def authenticate(self, token: str) -> AccessClaims:
        claims = self.verifier.verify(token)
        if not self.check_now(claims):
            await self.check(claims)
        return claims

    def check_now(self, claims: AccessClaims) -> bool:
        """``check`` without awaiting when the view may answer alone: True once decided
        (``RevokedTokenError`` if revoked), False when ``await check(claims)`` is needed.
        For the thread that writes the view (the event loop); others: ``check_now_threadsafe``.
        """
        replica = self.replica
        if replica.strict or not replica.is_fresh():
            return False
        if (reason := replica.view.reason(claims)) is not None:
            raise _revoked(reason)
        return True

    def check_now_threadsafe(self, claims: AccessClaims) -> bool:
        """``check_now`` for readers on other threads than the view's writer (WSGI request
        threads, issue 12): a read that overlapped a write (seqlock, ``RevocationView.writes``)
        proves nothing and answers False, so the check goes the awaiting way, on the writer's
        thread. The event loop's own callers keep ``check_now``, which pays none of this."""
        replica = self.replica
        if replica.strict or not replica.is_fresh():
            return False
        view = replica.view
        before = view.writes
        if before & 1:
            return False
        try:
            reason = view.reason(claims)
        except Exception:  # a torn read of the compact arrays: ask the writer's thread
            return False
        if view.writes != before:
            return False
        if reason is not None:
            raise _revoked(reason)
        return True

    async def check(self, claims: AccessClaims) -> None:
        replica = self.replica
        if not replica.is_fresh():
            await replica.catch_up()
        reason = (
            await replica.remote_reason(claims) if replica.strict else replica.view.reason(claims)
        )
        if reason is not None:
            raise _revoked(reason)


def _revoked(reason: str) -> RevokedTokenError:
    return RevokedTokenError(f"revoked: {reason}" if reason != "revoked" else None)
