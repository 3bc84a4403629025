"""Replicas for the Redis store: tail the revocation stream, or ask Redis on every request.

``StreamReplica`` (mode ``replica``, the default) keeps the in-process view current by tailing
the stream: a snapshot on start and on every reconnect, then ``XREAD BLOCK`` from the snapshot's
id, so nothing falls between the two. Every successful read (an empty one is a heartbeat)
renews freshness for ``stale_after`` seconds; past that the guard asks ``catch_up()``, which
fails closed with ``StoreUnavailableError`` (HTTP 503) unless the tailer reports in time.
``StrictReplica`` (mode ``strict``) makes one pipelined round trip per request instead.
The hot path stays free of I/O in replica mode: ``is_fresh()`` is one clock read.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ...clock import Clock, system_clock
from ...errors import StoreUnavailableError
from ..tailing import TailingReplica
from .redis import Position

if TYPE_CHECKING:
    from ..revocation import Revocable
    from .redis import RedisFeed, RedisStore

__all__ = ["StreamReplica", "StrictReplica"]

_monotonic = time.monotonic


class StreamReplica(TailingReplica):
    """Tails ``<prefix>:{feed}:stream`` into ``self.view``; see the module docstring."""

    feed_name = "revocation feed"

    def __init__(
        self,
        *,
        store: RedisStore,
        clock: Clock = system_clock,
        stale_after: float = 1.0,
        fail_open: bool = False,
        block: float | None = None,
    ) -> None:
        super().__init__(
            store=store, clock=clock, stale_after=stale_after, fail_open=fail_open, block=block
        )
        self.redis = store
        self._position = Position()
        self._feed: RedisFeed | None = None

    @property
    def where(self) -> str:
        return self.redis.where

    def _open_feed(self) -> None:
        self._feed = self.redis.feed(block=self.block)

    async def _close_feed(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            await feed.close()

    def _feed_status(self) -> dict[str, Any]:
        return {"position": str(self._position)}

    async def _resync(self) -> None:
        assert self._feed is not None
        sent = _monotonic()
        revocations, position = await self._feed.snapshot(now=self._clock())
        # Union, never replace: a revocation this process saw stays refused even if the
        # store lost it (a Redis restart without persistence); entries expire by themselves.
        self.view.apply(revocations)
        self._position = position
        self.resyncs += 1
        self._ok(sent)

    async def _read(self) -> bool:
        assert self._feed is not None
        sent = _monotonic()
        batch = await self._feed.read(self._position, block=self.block)
        self.view.apply(batch.revocations)  # entries before a gap are still good
        self._position = batch.position
        if batch.gap:
            return False
        if batch.complete:  # a full batch means more was waiting: not yet current to `sent`
            self._ok(sent)
        self._prune_now_and_then()
        return True


class StrictReplica(StreamReplica):
    """Asks Redis on every request: one pipelined round trip, no propagation delay.

    The stream is tailed only with ``fail_open`` (the view is then the fallback)."""

    strict = True
    _remote_ok = False

    def is_fresh(self) -> bool:
        return True  # nothing to catch up: remote_reason asks the source itself

    async def catch_up(self) -> None:
        return None

    async def remote_reason(self, claims: Revocable) -> str | None:
        try:
            reason = await self.redis.strict_reason(claims, now=self._clock())
        except StoreUnavailableError as exc:
            self._remote_ok = False
            self._error = exc.description
            if not self.fail_open:
                raise
            self._stale()
            return self.view.reason(claims)
        self._remote_ok, self._error = True, None
        return reason

    async def cutoff(self, sub: str) -> float | None:
        try:
            return await self.redis.strict_cutoff(sub, now=self._clock())
        except StoreUnavailableError:  # best effort, as Replica.cutoff says
            return self.view.cutoff(sub)

    async def start(self) -> None:
        self._remote_ok = True
        if self.fail_open:
            await super().start()

    def status(self) -> dict[str, Any]:
        return {
            "mode": "strict",
            "ready": self._remote_ok,
            "fail_open": self.fail_open,
            "error": self._error,
            "fallback_entries": len(self.view),
        }
