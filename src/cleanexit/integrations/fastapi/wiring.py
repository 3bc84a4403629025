"""``install(app)``: the one call that wires cleanexit into a FastAPI app.

It mounts the ``/auth`` router, the handler that turns cleanexit's errors (raised by
``auth.require`` in the app's own routes) into RFC 6750 answers, a body-size cap on ``/auth``,
credentialed CORS for the exact origins of ``CLEANEXIT_CORS_ORIGINS`` (issue 14; none by
default), and — through the router's lifespan, which FastAPI merges into the app's own — the
store, the replica and the pruning. Everything comes from one ``Settings``, so no setting can
be dropped by the way an app is wired (issue 10). The app's other routes, handlers and headers
are left as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from starlette.responses import Response

from ...errors import CleanexitError
from ...runtime import BUNDLED_USERS, Bundled, Runtime, build_runtime
from ...server.claims import ClaimsHook
from ...server.sessions import Authenticator
from ...settings import Settings
from .._http.endpoints import endpoints_for
from .._http.metrics import MetricsEndpoint
from .auth import CleanExit
from .middleware import BodyLimitMiddleware
from .openapi import document
from .responses import on_cleanexit_error
from .web import add_cors

__all__ = ["add_metrics_route", "auth_for", "install"]


def install(
    app: FastAPI,
    settings: Settings | None = None,
    *,
    authenticator: Authenticator | Bundled | None = BUNDLED_USERS,
    claims: ClaimsHook | None = None,
    runtime: Runtime | None = None,
    auth: CleanExit | None = None,
) -> CleanExit:
    """Wire cleanexit into ``app`` and return its ``CleanExit`` (``auth.require`` & co).

    ``settings``: default ``Settings()`` (``CLEANEXIT_*``). ``authenticator``: who checks
    passwords at ``/auth/login`` — the bundled user table (``cleanexit users add``), your own
    object, or ``None`` for no password login (your routes call ``auth.start_session``).
    ``claims``: a hook adding application claims to every access token. ``runtime``: parts
    already built with ``build_runtime`` (then ``authenticator``/``claims`` are its own);
    ``auth``: its ``auth_for(runtime)``, when routes had to be declared before this call.
    """
    if runtime is None:
        runtime = auth.runtime if auth is not None and auth.runtime else None
    if runtime is None:
        runtime = build_runtime(settings or Settings(), authenticator=authenticator, claims=claims)
    if auth is None:
        auth = auth_for(runtime)
    rt = runtime

    @contextlib.asynccontextmanager
    async def lifespan(_: object) -> AsyncIterator[None]:
        async with rt.lifespan():
            yield

    # FastAPI merges an included router's lifespan into the app's: the app's own lifespan
    # (or on_startup handlers) keep running, cleanexit's runs inside it.
    auth.router.lifespan_context = lifespan
    app.include_router(auth.router)
    app.add_exception_handler(CleanexitError, on_cleanexit_error)
    app.add_middleware(BodyLimitMiddleware, limit=rt.settings.max_body_bytes, prefix="/auth")
    document(app)
    # CLEANEXIT_CORS_ORIGINS (issue 14): a browser app on another origin of the same site.
    # Added last, so outermost: a preflight is answered before anything else sees it.
    add_cors(app, rt.settings.cors_origin_list())
    add_metrics_route(app, rt)  # CLEANEXIT_METRICS_TOKEN (issue 15)
    app.state.cleanexit = auth
    return auth


def add_metrics_route(app: FastAPI, runtime: Runtime) -> None:
    """``GET /metrics`` behind ``CLEANEXIT_METRICS_TOKEN``, when metrics are on with a token."""
    token = runtime.settings.metrics_token
    if runtime.metrics is None or token is None:
        return
    endpoint = MetricsEndpoint(runtime.metrics, token=token.get_secret_value())

    async def metrics(request: Request) -> Response:
        status, headers, body = await endpoint(request.headers.get("authorization", ""))
        return Response(body, status_code=status, headers=dict(headers))

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)


def auth_for(runtime: Runtime) -> CleanExit:
    """``CleanExit`` with every HTTP setting taken from ``runtime.settings``."""
    # One mapping of settings to the endpoints' options, shared with Flask and Django.
    endpoints = endpoints_for(runtime)
    auth = CleanExit(
        runtime.service, runtime.guard, endpoints=endpoints, providers=runtime.providers
    )
    auth.runtime = runtime
    return auth
