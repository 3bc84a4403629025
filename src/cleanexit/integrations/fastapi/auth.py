"""``CleanExit``: the ``/auth`` router and the dependencies protected routes use, as thin glue
over the framework-free endpoints (``integrations._http``).

    auth = install(app)                      # see wiring.py: one call wires everything
    @app.get("/orders")
    async def orders(claims: Claims = Depends(auth.require)): ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response as StarletteResponse

from ...errors import CleanexitError, InvalidRequestError, RevokedTokenError
from ...runtime import Runtime
from ...server.client_ip import ClientAddress
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
from .openapi import ROUTES
from .responses import error_response, render

__all__ = [
    "CSRF_COOKIE",
    "REFRESH_COOKIE",
    "BearerClaims",
    "CleanExit",
    "LoginBody",
    "LogoutBody",
    "RefreshBody",
]

FormToken = Annotated[str, Form(min_length=1, max_length=8192)]
FormHint = Annotated[str | None, Form(max_length=64)]  # RFC 7009 §2.1: may be ignored
LogoutToken = Annotated[str, Form(min_length=1, max_length=8192)]  # Back-Channel Logout §2.5


class BearerClaims(SecurityBase):
    """``auth.require``: verified, unrevoked claims, or an RFC 6750 401 (503 when the state is
    unsure). A ``SecurityBase``, so FastAPI documents the bearer scheme on every route that
    depends on it."""

    def __init__(self, guard: Guard, endpoints: AuthEndpoints | None = None) -> None:
        self.model = HTTPBearerModel(bearerFormat="JWT")
        self.scheme_name = "bearer"
        self.guard = guard
        self.endpoints = endpoints  # told of revoked tokens presented (audit, issue 15)

    async def __call__(self, request: Request) -> AccessClaims:
        # The hot path: no neutral request object is built, only the header is read (a try
        # costs nothing until something is raised).
        try:
            return await self.guard.authenticate(bearer(request.headers.get("authorization")))
        except RevokedTokenError as exc:
            if self.endpoints is not None:
                self.endpoints.refused(_neutral(request), exc)
            raise


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
        client_address: ClientAddress | None = None,
        endpoints: AuthEndpoints | None = None,
    ) -> None:
        """``providers``: trusted external issuers (issue 11) — their back-channel logout
        route, and ``auth.providers.revoke_user(...)`` & co. ``endpoints``: built already
        (``_http.endpoints_for(runtime)``: every setting applied); the options are then its."""
        self.service = service
        self.guard = guard
        self.providers = providers
        self.backchannel = (
            BackchannelEndpoint(providers)
            if providers is not None and providers.backchannel_logout
            else None
        )
        self.endpoints = endpoints or AuthEndpoints(
            service,
            guard,
            clear_site_data=clear_site_data,
            cookie_secure=cookie_secure,
            introspection_clients=introspection_clients,
            client_throttle=client_throttle,
            client_address=client_address,
        )
        self.router = APIRouter(prefix="/auth", tags=["auth"], route_class=_AuthRoute)
        self.runtime: Runtime | None = None  # set by install(): the parts behind it
        # The dependency of protected routes: `Depends(auth.require)`.
        self.require = BearerClaims(guard, self.endpoints)
        self._routes()

    # -- dependencies ----------------------------------------------------------------------
    async def optional(self, request: Request) -> AccessClaims | None:
        """Claims when a bearer token was sent (it must then be valid), else ``None``."""
        header = request.headers.get("authorization")
        return None if header is None else await self.require(request)

    def require_scope(self, *scopes: str) -> Callable[..., Awaitable[AccessClaims]]:
        """A dependency: ``require`` plus every one of ``scopes`` in the token's ``scope``
        claim, else 403 ``insufficient_scope`` (RFC 6750 §3.1)."""
        needed = tuple(scopes)
        # Security(..., scopes=) lists them as the role names of the bearer requirement
        # (OpenAPI 3.1), so the document says which routes need what.
        verified = Security(self.require, scopes=list(needed))

        async def dependency(claims: AccessClaims = verified) -> AccessClaims:
            return self.endpoints.check_scopes(claims, needed)

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
        if self.backchannel is not None:  # issue 11: the provider's logout calls
            docs = ROUTES["backchannel_logout"]
            self.router.add_api_route(
                BACKCHANNEL_PATH, self.backchannel_logout, methods=["POST"], **docs
            )
        routes: list[tuple[str, Callable[..., Any], str]] = [
            ("/refresh", self.refresh, "POST"),
            ("/logout", self.logout, "POST"),
            ("/sessions", self.sessions, "GET"),
            ("/sessions/{session_id}", self.end_session, "DELETE"),
            ("/revoke", self.revoke, "POST"),
            ("/introspect", self.introspect, "POST"),
        ]
        if self.endpoints.password_login:  # an app that signs users in itself has no /login
            routes.insert(0, ("/login", self.login, "POST"))
        for path, endpoint, method in routes:
            docs = ROUTES[endpoint.__name__]  # what the OpenAPI document says (openapi.py)
            self.router.add_api_route(path, endpoint, methods=[method], **docs)

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
            except StarletteHTTPException as exc:
                # A body FastAPI cannot even parse (b"\x80" as JSON) is raised as this, not as
                # a validation error: found by the conformance suite in an embedding app.
                if exc.status_code != 400:
                    raise
                return error_response(InvalidRequestError("the body could not be parsed"))

        return route
