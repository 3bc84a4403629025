"""The synchronous driver: performs the core's effects with ``httpx.Client``."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any, TypeVar, cast

import httpx

from cleanexit._secret import Secret
from cleanexit.client import _protocol as proto
from cleanexit.client._base import BaseClient
from cleanexit.client._core import Effect, Flow, LogoutPlan, Refresh, Sleep
from cleanexit.client.errors import ServerUnreachableError
from cleanexit.client.result import NOT_ATTEMPTED, LogoutResult, OutboxReport, Scope, ServerOutcome
from cleanexit.client.state import AuthState

__all__ = ["Client"]

T = TypeVar("T")


class Client(BaseClient):
    """A cleanexit client for synchronous code; safe to share between threads."""

    def _open_http(self, transport: Any) -> None:
        if transport is not None and not isinstance(transport, httpx.BaseTransport):
            raise TypeError("transport must be an httpx.BaseTransport")
        self._http = httpx.Client(
            transport=transport,
            timeout=self._core.timeout,
            headers={"User-Agent": proto.USER_AGENT},
        )
        self._refresh_lock = threading.Lock()

    def login(self, username: str, password: str, *, server_url: str | None = None) -> AuthState:
        return self._run(self._core.login_flow(username, Secret(password), server_url))

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """An authenticated request (``params``, ``json``, ``content``, ``headers``...)."""
        request = self._http.build_request(method, self._core.resolve(url), **kwargs)
        return self._run(self._core.request_flow(request))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def me(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._core.json_or_raise(self.get("/me")))

    def sessions(self) -> list[dict[str, Any]]:
        body = self._core.json_or_raise(self.get("/auth/sessions"))
        return cast(list[dict[str, Any]], body["sessions"])

    def end_session(self, session_id: str) -> dict[str, Any]:
        response = self.delete(f"/auth/sessions/{session_id}")
        return cast(dict[str, Any], self._core.json_or_raise(response))

    def logout(self, scope: Scope = "current", *, queue: bool | None = None) -> LogoutResult:
        """Best-effort server call, then *always* reset, purge and run the callbacks.

        ``scope``: ``"current"`` and ``"all"`` end this session locally too; ``"others"``
        keeps it. ``queue``: on an unconfirmed revocation keep the refresh token in the
        outbox for :meth:`flush_outbox` (default: when the client has an outbox)."""
        plan = self._core.begin_logout(scope, queue=queue)
        outcome: ServerOutcome | None = None
        try:
            outcome = self._server_logout(plan)
        finally:
            result = self._core.finish_logout(plan, outcome)
            self._http.cookies.clear()
        return result

    def flush_outbox(self) -> OutboxReport:
        """Retry the revocations the server never confirmed (opt-in outbox)."""
        return self._run(self._core.outbox_flow())

    def close(self) -> None:
        self._detach()
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _server_logout(self, plan: LogoutPlan) -> ServerOutcome:
        if not plan.call_server:
            return NOT_ATTEMPTED
        try:
            return self._run(self._core.logout_flow(plan))
        except Exception as exc:  # any failure of step 1 is reported, never raised
            return proto.failure_outcome(exc)

    def _run(self, flow: Flow[T]) -> T:
        try:
            effect = next(flow)
            while True:
                try:
                    value = self._perform(effect)
                except Exception as exc:
                    effect = flow.throw(exc)
                else:
                    effect = flow.send(value)
        except StopIteration as stop:
            return cast(T, stop.value)

    def _perform(self, effect: Effect) -> httpx.Response | None:
        if isinstance(effect, Refresh):
            with self._refresh_lock:  # concurrent 401s share one refresh
                return self._run(self._core.refresh_flow(effect.stale))
        if isinstance(effect, Sleep):
            time.sleep(effect.seconds)
            return None
        try:
            return self._http.send(effect.request)
        except httpx.TransportError as exc:
            raise ServerUnreachableError(_unreachable(effect.request, exc)) from exc


def _unreachable(request: httpx.Request, exc: Exception) -> str:
    return f"{request.url.host}:{request.url.port}: {type(exc).__name__}"
