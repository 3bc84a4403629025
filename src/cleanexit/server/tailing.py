"""A replica kept fresh by one background reader of the store's change feed.

The Redis stream replica and the PostgreSQL LISTEN/poll replica share everything but the
reading itself: a freshness deadline that every successful read renews (``stale_after`` from
when the read was *sent*: everything committed before that moment is in the view), a request
path that only compares ``time.monotonic()`` with it, a ``catch_up()`` that fails closed with
``StoreUnavailableError`` (HTTP 503), and a reader task that reconnects with a capped back-off.
A subclass says how to (re)load (``_resync``), how to read once (``_read``) and where it reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from ..clock import Clock, system_clock
from ..errors import StoreError, StoreUnavailableError
from .replica import Replica
from .stores.base import Store

__all__ = ["TailingReplica"]

log = logging.getLogger("cleanexit.replica")
_monotonic = time.monotonic


class TailingReplica(Replica):
    """Base of the replicas fed by a background reader; see the module docstring."""

    PRUNE_EVERY = 30.0
    WARN_EVERY = 10.0  # fail-open warnings, at most this often
    feed_name = "revocation feed"

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock = system_clock,
        stale_after: float = 1.0,
        fail_open: bool = False,
        block: float | None = None,
    ) -> None:
        super().__init__(store=store, clock=clock)
        self.stale_after = stale_after
        self.fail_open = fail_open
        # Reads wait a quarter of the bound, so a healthy quiet feed renews freshness about
        # four times per bound and one lost heartbeat is no outage.
        self.block = block if block is not None else max(stale_after / 4, 0.01)
        self._fresh_until = 0.0  # monotonic: the view answers alone until then
        self._last_ok: float | None = None
        self._connected = False
        self._down_since: float | None = _monotonic()
        self._error: str | None = "not started"
        self._progress = asyncio.Event()  # set (then replaced) after each successful read
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._generation = 0  # which reader may run; bumped by stop()
        self._next_prune = 0.0
        self._warned_at = float("-inf")
        self.resyncs = 0
        self.gaps = 0

    # -- what a subclass provides --------------------------------------------------------------
    @property
    def where(self) -> str:
        """Where the feed is read from, without credentials (logs)."""
        raise NotImplementedError

    def _open_feed(self) -> None:
        """Prepare the reader's own connection (called by ``start``)."""

    async def _close_feed(self) -> None:
        """Release it (called by ``stop``)."""

    async def _resync(self) -> None:
        """(Re)connect and bring the view up to date; ``_ok(sent)`` when done."""
        raise NotImplementedError

    async def _read(self) -> bool:
        """One read (waiting at most about ``block``); False: a gap, resync."""
        raise NotImplementedError

    def _feed_status(self) -> dict[str, Any]:
        return {}

    # -- the hot path ----------------------------------------------------------------------
    def is_fresh(self) -> bool:
        return _monotonic() < self._fresh_until

    async def catch_up(self) -> None:
        if self.is_fresh():
            return
        if self._task is None:
            await self.start()
        elif self._connected:
            # Connected but quiet past the bound (a busy event loop, a slow network): give
            # the reader up to one bound to report, then refuse.
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
            raise StoreUnavailableError(f"{self.feed_name} {told}; refusing to trust the view")
        now = _monotonic()
        if now - self._warned_at >= self.WARN_EVERY:
            self._warned_at = now
            log.warning(
                "FAIL-OPEN: %s %s (%s); serving from the view", self.feed_name, told, self._error
            )

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            return
        self._open_feed()
        self._generation += 1
        name = f"cleanexit-{self.store.name}-tail"
        self._task = asyncio.create_task(self._run(self._generation), name=name)
        # Give the first load a moment; if the store is not there yet, the server still
        # starts and answers 503 (and /readyz says so) until the reader gets through.
        waiter = self._progress
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), max(2 * self.stale_after, 2.0))
        if not self.is_fresh():
            log.error("%s at %s not reachable yet: %s", self.feed_name, self.where, self._error)

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._generation += 1  # the reader also stops by itself at its next turn
        self._wake.set()
        if task is not None:
            # A driver can swallow a cancellation that lands while a read times out, so
            # wait a bounded time rather than forever; the generation check ends it anyway.
            task.cancel()
            await asyncio.wait({task}, timeout=self.block + self.stale_after + 1.0)
        await self._close_feed()
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
            **self._feed_status(),
            "entries": len(self.view),
            "resyncs": self.resyncs,
            "gaps": self.gaps,
            "fail_open": self.fail_open,
            "error": self._error,
        }

    # -- the reader ------------------------------------------------------------------------
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
                log.warning("%s lost entries past our position: reloading", self.feed_name)
                continue
            except asyncio.CancelledError:
                raise
            except StoreError as exc:
                self._down(exc.description)
            except Exception as exc:  # a bug must not silently stop replication
                log.exception("%s reader failed", self.feed_name)
                self._down(f"{type(exc).__name__}")
            # Back off, but a request finding us stale may cut the wait short (not below a
            # floor, so a flood of requests cannot turn into a flood of reconnects).
            await asyncio.sleep(min_delay)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(delay - min_delay, 0))
            delay = min(delay * 2, max_delay)

    def _prune_now_and_then(self) -> None:
        now = self._clock()
        if now >= self._next_prune:
            self.view.prune(now)
            self._next_prune = now + self.PRUNE_EVERY

    def _ok(self, sent: float) -> None:
        # Everything committed before `sent` is in the view: fresh for one bound from then.
        self._fresh_until = sent + self.stale_after
        self._last_ok = sent
        if self._down_since is not None and self.resyncs > 1:
            log.warning(
                "%s back after %.1fs (reloaded, %d entries)",
                self.feed_name,
                _monotonic() - self._down_since,
                len(self.view),
            )
        self._connected, self._down_since, self._error = True, None, None
        waiter, self._progress = self._progress, asyncio.Event()
        waiter.set()

    def _down(self, reason: str) -> None:
        if self._connected or self._down_since is None:
            then = "serving from the view (FAIL-OPEN)" if self.fail_open else "503 once stale"
            log.error("%s at %s lost (%s): %s", self.feed_name, self.where, reason, then)
        self._connected = False
        self._error = reason
        if self._down_since is None:
            self._down_since = _monotonic()
