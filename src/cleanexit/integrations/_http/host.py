"""A ``Runtime`` on an event loop of its own, one per process, for frameworks that do not run
cleanexit's loop: WSGI (Flask, Django under gunicorn) and Django's ASGI views (issue 12).

The core is async and its stores are bound to the loop that opened them (redis-py connections
and the Redis stream tail; the replica's single-flight lock; the pruner). So each process gets
one loop in a daemon thread that runs ``Runtime.lifespan()``, and every caller, from any
thread or any other event loop, hands its coroutines to that loop: ``call`` (blocking, for
WSGI views) and ``acall`` (awaitable, for async views). One design for every server and store.

The per-request check does not go there. ``authenticate`` verifies the token and asks the
in-process view on the caller's own thread (``Guard.check_now_threadsafe``: no I/O, no hop; the
view's seqlock makes the read safe beside the loop's writes); only a view that is not fresh
(an SQLite marker that moved, a Redis feed behind) sends the check to the loop.

Processes: the loop starts at the first call in a process, never in the parent of a fork.
gunicorn forks its workers from a master that may have imported the app (``--preload``); a
child drops whatever its parent had started and builds its own runtime, loop and store
handles (``os.register_at_fork``). It stops at interpreter exit (gunicorn's and uvicorn's
workers exit normally on SIGTERM) or with ``close()``. A start that fails (store down) answers
503 and is retried after ``RETRY_START`` seconds, not on every request.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures.thread  # noqa: F401 - registers its exit hook first: ours runs before it
import contextlib
import contextvars
import logging
import os
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import CleanexitError, StoreUnavailableError
from ...server.guard import Guard
from ...server.tokens import AccessClaims
from .endpoints import AuthEndpoints, bearer, endpoints_for

if TYPE_CHECKING:
    from ...runtime import Runtime
    from ...settings import Settings

__all__ = ["Hosted", "RuntimeHost"]

log = logging.getLogger("cleanexit.host")
T = TypeVar("T")
RETRY_START = 1.0  # seconds between two attempts to start when the store is down


@dataclass(frozen=True, slots=True)
class Hosted:
    """What one process runs: the runtime, its endpoints, and the loop they live on."""

    runtime: Runtime
    endpoints: AuthEndpoints
    guard: Guard
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    lifespan: contextlib.AbstractAsyncContextManager[None]


class RuntimeHost:
    """``call`` / ``acall`` run coroutines on this process's cleanexit loop; ``authenticate``
    / ``aauthenticate`` check a bearer token, on the caller's thread whenever they can."""

    def __init__(
        self,
        build: Callable[[], Runtime],
        *,
        settings: Settings | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._build = build
        self.settings = settings  # what ``build`` builds from, for the adapters' own limits
        self.timeout = timeout  # the longest a request waits for the store
        self._lock = threading.Lock()
        self._hosted: Hosted | None = None
        self._prepared: tuple[int, Runtime] | None = None
        self._failed_at = float("-inf")
        _HOSTS.add(self)

    def prepare(self) -> Runtime:
        """Build the runtime now (configuration errors surface at start-up), without starting
        anything: the process that serves first uses it, a forked child builds its own."""
        with self._lock:
            if self._prepared is None or self._prepared[0] != os.getpid():
                self._prepared = (os.getpid(), self._build())
            return self._prepared[1]

    # -- the hot path ------------------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> AccessClaims:
        """Verified, unrevoked claims for an ``Authorization`` header, or our error."""
        hosted = self._hosted or self.hosted()
        guard = hosted.guard
        token = bearer(authorization)
        if not guard.local(token):  # an external issuer's (issue 11): the loop checks it
            return self._wait(hosted, guard.authenticate(token))  # it counts (metrics) itself
        try:
            claims = guard.verifier.verify(token)
            if not guard.check_now_threadsafe(claims):
                self._wait(hosted, guard.check(claims))
        except CleanexitError as exc:
            guard.tally_refused(exc)  # metrics (issue 15); a no-op without them
            raise
        guard.tally_accepted()
        return claims

    async def aauthenticate(self, authorization: str | None) -> AccessClaims:
        hosted = await self._ahosted()
        guard = hosted.guard
        token = bearer(authorization)
        if not guard.local(token):  # an external issuer's (issue 11): the loop checks it
            return await self._await(hosted, guard.authenticate(token))
        try:
            claims = guard.verifier.verify(token)
            if not guard.check_now_threadsafe(claims):
                await self._await(hosted, guard.check(claims))
        except CleanexitError as exc:
            guard.tally_refused(exc)
            raise
        guard.tally_accepted()
        return claims

    # -- everything else ---------------------------------------------------------------------
    def call(self, work: Callable[[Hosted], Awaitable[T]]) -> T:
        """Run ``work(hosted)`` on the cleanexit loop and wait for it (sync callers)."""
        hosted = self._hosted or self.hosted()
        return self._wait(hosted, _coroutine(work(hosted)))

    async def acall(self, work: Callable[[Hosted], Awaitable[T]]) -> T:
        """Run ``work(hosted)`` on the cleanexit loop from another loop."""
        hosted = await self._ahosted()
        return await self._await(hosted, _coroutine(work(hosted)))

    async def _ahosted(self) -> Hosted:
        hosted = self._hosted
        if hosted is None:  # the first call starts it: not on the caller's loop
            hosted = await asyncio.to_thread(self.hosted)
        return hosted

    def _wait(self, hosted: Hosted, coro: Coroutine[Any, Any, T]) -> T:
        future = _submit(coro, hosted.loop)
        try:
            return future.result(self.timeout)
        except FutureTimeout:
            future.cancel()
            raise StoreUnavailableError("the store did not answer in time") from None

    async def _await(self, hosted: Hosted, coro: Coroutine[Any, Any, T]) -> T:
        future = _submit(coro, hosted.loop)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            raise StoreUnavailableError("the store did not answer in time") from None

    # -- life cycle --------------------------------------------------------------------------
    def hosted(self) -> Hosted:
        """This process's runtime, started (at the first call in the process)."""
        with self._lock:
            if self._hosted is not None:
                return self._hosted
            if time.monotonic() - self._failed_at < RETRY_START:
                raise StoreUnavailableError("cleanexit could not start; retrying shortly")
            try:
                self._hosted = self._start()
            except BaseException:
                self._failed_at = time.monotonic()
                raise
            return self._hosted

    def _start(self) -> Hosted:
        prepared, self._prepared = self._prepared, None
        runtime = prepared[1] if prepared and prepared[0] == os.getpid() else self._build()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=_run_forever, args=(loop,), name="cleanexit-loop", daemon=True
        )
        thread.start()
        lifespan = runtime.lifespan()
        started = asyncio.run_coroutine_threadsafe(lifespan.__aenter__(), loop)
        try:
            started.result(max(self.timeout, 30.0))
        except BaseException as exc:
            started.cancel()
            _stop_loop(loop, thread)
            if isinstance(exc, CleanexitError):
                raise
            log.error("cleanexit could not start: %s", type(exc).__name__, exc_info=exc)
            raise StoreUnavailableError("cleanexit could not start") from None
        endpoints = endpoints_for(runtime)
        return Hosted(runtime, endpoints, runtime.guard, loop, thread, lifespan)

    def close(self) -> None:
        """Stop this process's runtime (store, replica, pruning) and its loop."""
        with self._lock:
            hosted, self._hosted = self._hosted, None
        if hosted is None or not hosted.thread.is_alive():
            return
        stopping = asyncio.run_coroutine_threadsafe(
            hosted.lifespan.__aexit__(None, None, None), hosted.loop
        )
        try:
            stopping.result(self.timeout)
        except Exception as exc:  # shutting down: say it, and go on stopping the loop
            log.warning("cleanexit did not stop cleanly: %r", exc)
        _stop_loop(hosted.loop, hosted.thread)

    def _forget(self) -> None:
        """In a forked child: the parent's loop thread does not exist here; start afresh."""
        self._lock = threading.Lock()
        self._hosted = None
        self._failed_at = float("-inf")


def _submit(coro: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop) -> Future[T]:
    """``run_coroutine_threadsafe`` in an empty context: the task would otherwise inherit the
    caller's context variables, and asgiref keeps in them which thread must run the sync code
    of a request (Django under ASGI): a ``sync_to_async`` on our loop (``aauthenticate``, the
    ORM) would be sent to the request's own thread, which is blocked waiting for us."""
    return contextvars.Context().run(asyncio.run_coroutine_threadsafe, coro, loop)


async def _coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _run_forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()


def _stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    with contextlib.suppress(RuntimeError):  # already closed
        loop.call_soon_threadsafe(loop.stop)
    thread.join(5.0)


_HOSTS: weakref.WeakSet[RuntimeHost] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for host in list(_HOSTS):
        host._forget()


def _close_all() -> None:
    for host in list(_HOSTS):
        host.close()


os.register_at_fork(after_in_child=_after_fork_in_child)
# Before the interpreter's thread pools refuse new work (concurrent.futures registers its
# shutdown the same way, earlier, and these run last-registered first): closing the SQLite
# store still needs its executor. ``atexit`` where that hook does not exist.
getattr(threading, "_register_atexit", atexit.register)(_close_all)
