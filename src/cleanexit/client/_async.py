"""The asynchronous driver: the same core, performed with ``httpx.AsyncClient``."""

from __future__ import annotations

from types import TracebackType
from typing import Any, TypeVar, cast

import anyio
import httpx

from cleanexit._secret import Secret
from cleanexit.client import _protocol as proto
from cleanexit.client._base import BaseClient
from cleanexit.client._core import Effect, Flow, LogoutPlan, Refresh, Sleep
from cleanexit.client._sync import _unreachable
from cleanexit.client.errors import ServerUnreachableError
from cleanexit.client.result import NOT_ATTEMPTED, LogoutResult, OutboxReport, Scope, ServerOutcome
from cleanexit.client.state import AuthState

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(BaseClient):
    """A cleanexit client for async code (asyncio; its primitives come from anyio)."""

    def _open_http(self, transport: Any) -> None:
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise TypeError("transport must be an httpx.AsyncBaseTransport")
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=self._core.timeout,
            headers={"User-Agent": proto.USER_AGENT},
        )
        self._refresh_lock = anyio.Lock()

    async def login(
        self, username: str, password: str, *, server_url: str | None = None
    ) -> AuthState:
        return await self._run(self._core.login_flow(username, Secret(password), server_url))

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        request = self._http.build_request(method, self._core.resolve(url), **kwargs)
        return await self._run(self._core.request_flow(request))

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)

    async def me(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._core.json_or_raise(await self.get("/me")))

    async def sessions(self) -> list[dict[str, Any]]:
        body = self._core.json_or_raise(await self.get("/auth/sessions"))
        return cast(list[dict[str, Any]], body["sessions"])

    async def end_session(self, session_id: str) -> dict[str, Any]:
        response = await self.delete(f"/auth/sessions/{session_id}")
        return cast(dict[str, Any], self._core.json_or_raise(response))

    async def logout(self, scope: Scope = "current", *, queue: bool | None = None) -> LogoutResult:
        """Best-effort server call, then *always* reset, purge and run the callbacks.

        ``scope``: ``"current"`` and ``"all"`` end this session locally too; ``"others"``
        keeps it. ``queue``: on an unconfirmed revocation keep the refresh token in the
        outbox for :meth:`flush_outbox` (default: when the client has an outbox).

        Steps 2-4 are synchronous, so they complete even when the task is being cancelled;
        the cancellation is then re-raised.
        """
        plan = self._core.begin_logout(scope, queue=queue)
        outcome: ServerOutcome | None = None
        try:
            outcome = await self._server_logout(plan)
        finally:
            result = self._core.finish_logout(plan, outcome)
            self._http.cookies.clear()
        return result

    async def flush_outbox(self) -> OutboxReport:
        return await self._run(self._core.outbox_flow())

    async def aclose(self) -> None:
        self._detach()
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _server_logout(self, plan: LogoutPlan) -> ServerOutcome:
        if not plan.call_server:
            return NOT_ATTEMPTED
        try:
            with anyio.fail_after(self._core.logout_timeout):  # one deadline for the whole call
                return await self._run(self._core.logout_flow(plan))
        except Exception as exc:  # any failure of step 1 is reported, never raised
            return proto.failure_outcome(exc)

    async def _run(self, flow: Flow[T]) -> T:
        try:
            effect = next(flow)
            while True:
                try:
                    value = await self._perform(effect)
                except Exception as exc:
                    effect = flow.throw(exc)
                else:
                    effect = flow.send(value)
        except StopIteration as stop:
            return cast(T, stop.value)

    async def _perform(self, effect: Effect) -> httpx.Response | None:
        if isinstance(effect, Refresh):
            async with self._refresh_lock:  # concurrent 401s share one refresh
                return await self._run(self._core.refresh_flow(effect.stale))
        if isinstance(effect, Sleep):
            await anyio.sleep(effect.seconds)
            return None
        try:
            return await self._http.send(effect.request)
        except httpx.TransportError as exc:
            raise ServerUnreachableError(_unreachable(effect.request, exc)) from exc
