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

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from ...clock import Clock, system_clock
from ...errors import StoreError, StoreUnavailableError
from ..replica import Replica
from .redis import Position

if TYPE_CHECKING:
    from ..revocation import Revocable
    from .redis import RedisFeed, RedisStore

__all__ = ["StreamReplica", "StrictReplica"]

log = logging.getLogger("cleanexit.replica")
_monotonic = time.monotonic


class StreamReplica(Replica):
    """Tails ``<prefix>:{feed}:stream`` into ``self.view``; see the module docstring."""

    PRUNE_EVERY = 30.0
    WARN_EVERY = 10.0  # fail-open warnings, at most this often

    def __init__(
        self,
        *,
        store: RedisStore,
        clock: Clock = system_clock,
        stale_after: float = 1.0,
        fail_open: bool = False,
        block: float | None = None,
    ) -> None:
        super().__init__(store=store, clock=clock)
        self.redis = store
        self.stale_after = stale_after
        self.fail_open = fail_open
        # Reads block a quarter of the bound, so a healthy quiet stream renews freshness
        # about four times per bound and one lost heartbeat is no outage.
        self.block = block if block is not None else max(stale_after / 4, 0.01)
        self._fresh_until = 0.0  # monotonic: the view answers alone until then
        self._last_ok: float | None = None
        self._position = Position()
        self._connected = False
        self._down_since: float | None = _monotonic()
        self._error: str | None = "not started"
        self._progress = asyncio.Event()  # set (then replaced) after each successful read
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._generation = 0  # which tailer may run; bumped by stop()
        self._feed: RedisFeed | None = None
        self._next_prune = 0.0
        self._warned_at = float("-inf")
        self.resyncs = 0
        self.gaps = 0

    # -- the hot path ------------------------------------------------------------------------
    def is_fresh(self) -> bool:
        return _monotonic() < self._fresh_until

    async def catch_up(self) -> None:
        if self.is_fresh():
            return
        if self._task is None:
            await self.start()
        elif self._connected:
            # Connected but quiet past the bound (a busy event loop, a slow network): give
            # the tailer up to one bound to report, then refuse.
            waiter = self._progress
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), self.stale_after)
        else:
            self._wake.set()  # down: retry now instead of after the back-off
        if not self.is_fresh():
            self._stale()

    def _stale(self) -> None:
        age = None if self._last_ok is None else _monotonic() - self._last_ok
        told = "never synced" if age is None else f"stale for {age:.1f}s"
        if not self.fail_open:
            raise StoreUnavailableError(f"revocation feed {told}; refusing to trust the view")
        now = _monotonic()
        if now - self._warned_at >= self.WARN_EVERY:
            self._warned_at = now
            log.warning(
                "FAIL-OPEN: revocation feed %s (%s); serving from the view", told, self._error
            )

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            return
        self._feed = self.redis.feed(block=self.block)
        self._generation += 1
        self._task = asyncio.create_task(self._run(self._generation), name="cleanexit-redis-tail")
        # Give the first snapshot a moment; if Redis is not there yet, the server still
        # starts and answers 503 (and /readyz says so) until the tailer gets through.
        waiter = self._progress
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), max(2 * self.stale_after, 2.0))
        if not self.is_fresh():
            log.error("revocation feed at %s not reachable yet: %s", self.redis.where, self._error)

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._generation += 1  # the tailer also stops by itself at its next turn
        self._wake.set()
        if task is not None:
            # redis-py can swallow a cancellation that lands while a read times out, so
            # wait a bounded time rather than forever; the generation check ends it anyway.
            task.cancel()
            await asyncio.wait({task}, timeout=self.block + self.stale_after + 1.0)
        feed, self._feed = self._feed, None
        if feed is not None:
            await feed.close()
        self._fresh_until = 0.0
        self._connected = False

    def status(self) -> dict[str, Any]:
        age = None if self._last_ok is None else round(_monotonic() - self._last_ok, 3)
        fresh = self.is_fresh()
        return {
            "mode": "replica",
            "ready": fresh,
            "fresh": fresh,
            "age_s": age,
            "stale_after_s": self.stale_after,
            "connected": self._connected,
            "position": str(self._position),
            "entries": len(self.view),
            "resyncs": self.resyncs,
            "gaps": self.gaps,
            "fail_open": self.fail_open,
            "error": self._error,
        }

    # -- the tailer --------------------------------------------------------------------------
    async def _run(self, generation: int) -> None:
        delay = min_delay = min(self.block, 0.05)
        max_delay = max(min(self.stale_after, 1.0), min_delay)
        while generation == self._generation:
            try:
                await self._resync()
                delay = min_delay
                while generation == self._generation and await self._read():
                    pass
                if generation != self._generation:
                    return
                self.gaps += 1
                log.warning("revocation stream trimmed past our position: reloading a snapshot")
                continue
            except asyncio.CancelledError:
                raise
            except StoreError as exc:
                self._down(exc.description)
            except Exception as exc:  # a bug must not silently stop replication
                log.exception("revocation tailer failed")
                self._down(f"{type(exc).__name__}")
            # Back off, but a request finding us stale may cut the wait short (not below a
            # floor, so a flood of requests cannot turn into a flood of reconnects).
            await asyncio.sleep(min_delay)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(delay - min_delay, 0))
            delay = min(delay * 2, max_delay)

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
        now = self._clock()
        if now >= self._next_prune:
            self.view.prune(now)
            self._next_prune = now + self.PRUNE_EVERY
        return True

    def _ok(self, sent: float) -> None:
        # Everything committed before `sent` is in the view: fresh for one bound from then.
        self._fresh_until = sent + self.stale_after
        self._last_ok = sent
        if self._down_since is not None and self.resyncs > 1:
            log.warning(
                "revocation feed back after %.1fs (snapshot reloaded, %d entries)",
                _monotonic() - self._down_since,
                len(self.view),
            )
        self._connected, self._down_since, self._error = True, None, None
        waiter, self._progress = self._progress, asyncio.Event()
        waiter.set()

    def _down(self, reason: str) -> None:
        if self._connected or self._down_since is None:
            then = "serving from the view (FAIL-OPEN)" if self.fail_open else "503 once stale"
            log.error("revocation feed at %s lost (%s): %s", self.redis.where, reason, then)
        self._connected = False
        self._error = reason
        if self._down_since is None:
            self._down_since = _monotonic()


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
        except StoreUnavailableError:
            if not self.fail_open:
                raise
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
