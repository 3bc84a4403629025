"""``CleanExit``: the ``/auth`` router and the dependencies protected routes use, as thin glue
over the framework-free endpoints (``integrations._http``).

    auth = install(app)                      # see wiring.py: one call wires everything
    @app.get("/orders")
    async def orders(claims: Claims = Depends(auth.require)): ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.responses import Response as StarletteResponse

from ...errors import CleanexitError, InvalidRequestError
from ...runtime import Runtime
from ...server.guard import Guard
from ...server.oidc import Providers
from ...server.sessions import SessionService
from ...server.throttle import FailureThrottle
from ...server.tokens import AccessClaims
from .._http import (
    BACKCHANNEL_PATH,
    CSRF_COOKIE,
    REFRESH_COOKIE,
    AuthEndpoints,
    BackchannelEndpoint,
    LoginBody,
    LogoutBody,
    RefreshBody,
    bearer,
    describe_validation,
)
from .._http import Request as HttpRequest
from .responses import error_response, render

__all__ = [
    "CSRF_COOKIE",
    "REFRESH_COOKIE",
    "CleanExit",
    "LoginBody",
    "LogoutBody",
    "RefreshBody",
]

FormToken = Annotated[str, Form(min_length=1, max_length=8192)]
FormHint = Annotated[str | None, Form(max_length=64)]  # RFC 7009 §2.1: may be ignored
LogoutToken = Annotated[str, Form(min_length=1, max_length=8192)]  # Back-Channel Logout §2.5


class CleanExit:
    """Routes under ``/auth``, ``require`` / ``optional`` / ``require_scope`` (dependencies),
    and ``start_session`` for apps that sign users in themselves."""

    def __init__(
        self,
        service: SessionService,
        guard: Guard,
        *,
        clear_site_data: str = '"cache", "cookies", "storage"',
        cookie_secure: bool = True,
        introspection_clients: Mapping[str, str] | None = None,
        client_throttle: FailureThrottle | None = None,
        providers: Providers | None = None,
        own_tokens: bool = True,
    ) -> None:
        """``providers``: trusted external issuers (issue 11) — their back-channel logout
        route, and ``auth.providers.revoke_user(...)`` & co. ``own_tokens=False``: a pure
        resource server that issues nothing, so no session routes."""
        self.service = service
        self.guard = guard
        self.providers = providers
        self.own_tokens = own_tokens
        self.backchannel = (
            BackchannelEndpoint(providers)
            if providers is not None and providers.backchannel_logout
            else None
        )
        self.endpoints = AuthEndpoints(
            service,
            guard,
            clear_site_data=clear_site_data,
            cookie_secure=cookie_secure,
            introspection_clients=introspection_clients,
            client_throttle=client_throttle,
        )
        self.router = APIRouter(prefix="/auth", tags=["auth"], route_class=_AuthRoute)
        self.runtime: Runtime | None = None  # set by install(): the parts behind it
        self._routes()

    # -- dependencies ----------------------------------------------------------------------
    async def require(self, request: Request) -> AccessClaims:
        """Verified, unrevoked claims, or an RFC 6750 401 (503 when the state is unsure)."""
        # The hot path: no neutral request object is built, only the header is read.
        return await self.guard.authenticate(bearer(request.headers.get("authorization")))

    async def optional(self, request: Request) -> AccessClaims | None:
        header = request.headers.get("authorization")
        return None if header is None else await self.guard.authenticate(bearer(header))

    def require_scope(self, *scopes: str) -> Callable[[Request], Awaitable[AccessClaims]]:
        """A dependency: ``require`` plus every one of ``scopes`` in the token's ``scope``
        claim, else 403 ``insufficient_scope`` (RFC 6750 §3.1)."""
        needed = tuple(scopes)

        async def dependency(request: Request) -> AccessClaims:
            return self.endpoints.check_scopes(await self.require(request), needed)

        dependency.__name__ = f"require_scope_{'_'.join(needed)}"
        return dependency

    # -- sessions for users the app signed in itself -----------------------------------------
    async def start_session(
        self,
        request: Request,
        sub: str,
        *,
        claims: Mapping[str, Any] | None = None,
        cookie: bool = False,
    ) -> JSONResponse:
        """The same response as ``/auth/login`` (cookie mode included), for a user the app
        authenticated its own way (OAuth callback, magic link, passkey)."""
        return render(
            await self.endpoints.start_session(_neutral(request), sub, claims=claims, cookie=cookie)
        )

    # -- routes ----------------------------------------------------------------------------
    def _routes(self) -> None:
        r = self.router
        if self.backchannel is not None:  # issue 11: the provider's logout calls
            r.add_api_route(BACKCHANNEL_PATH, self.backchannel_logout, methods=["POST"])
        if not self.own_tokens:
            return  # CLEANEXIT_ACCEPT=external: no session of ours to start, list or end
        if self.endpoints.password_login:  # an app that signs users in itself has no /login
            r.add_api_route("/login", self.login, methods=["POST"])
        r.add_api_route("/refresh", self.refresh, methods=["POST"])
        r.add_api_route("/logout", self.logout, methods=["POST"])
        r.add_api_route("/sessions", self.sessions, methods=["GET"])
        r.add_api_route("/sessions/{session_id}", self.end_session, methods=["DELETE"])
        r.add_api_route("/revoke", self.revoke, methods=["POST"])
        r.add_api_route("/introspect", self.introspect, methods=["POST"])

    async def login(self, body: LoginBody, request: Request) -> JSONResponse:
        return render(await self.endpoints.login(body, _neutral(request)))

    async def refresh(self, request: Request, body: RefreshBody | None = None) -> JSONResponse:
        return render(await self.endpoints.refresh(body, _neutral(request)))

    async def logout(self, request: Request, body: LogoutBody | None = None) -> JSONResponse:
        return render(await self.endpoints.logout(body, _neutral(request)))

    async def sessions(self, request: Request) -> JSONResponse:
        return render(await self.endpoints.sessions(_neutral(request)))

    async def end_session(self, session_id: str, request: Request) -> JSONResponse:
        return render(await self.endpoints.end_session(session_id, _neutral(request)))

    async def revoke(
        self, token: FormToken, token_type_hint: str | None = Form(None)
    ) -> JSONResponse:
        return render(await self.endpoints.revoke(token))

    async def introspect(self, request: Request, token: FormToken) -> JSONResponse:
        return render(await self.endpoints.introspect(token, _neutral(request)))

    async def backchannel_logout(self, logout_token: LogoutToken) -> JSONResponse:
        assert self.backchannel is not None
        return render(await self.backchannel.logout(logout_token))


def _neutral(request: Request) -> HttpRequest:
    return HttpRequest(
        headers=request.headers,
        cookies=request.cookies,
        client=request.client.host if request.client else "",
    )


class _AuthRoute(APIRoute):
    """Routes that answer for themselves: a validation error or a cleanexit error becomes our
    JSON (never pydantic's, which echoes input), whatever handlers the host app installed."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, StarletteResponse]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> StarletteResponse:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return error_response(InvalidRequestError(describe_validation(exc.errors())))
            except CleanexitError as exc:
                return error_response(exc)

        return route
