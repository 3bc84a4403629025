"""The standalone service that ``cleanexit serve`` runs: auth routes, ``/me``, health, JWKS,
and the demo page at ``/``."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from ...errors import CleanexitError
from ...runtime import Runtime, build_runtime
from ...server.tokens import AccessClaims
from ...settings import Settings
from .middleware import SecurityHeadersMiddleware
from .openapi import UNAVAILABLE
from .responses import error_response, install_error_handlers, json_response
from .web import mount_spa
from .wiring import auth_for, install

__all__ = ["ImmutableStaticFiles", "app_from_env", "create_app", "readiness"]

log = logging.getLogger("cleanexit")
STATIC = Path(str(resources.files("cleanexit") / "web" / "static"))
FALLBACK_PAGE = """<!doctype html><meta charset=utf-8><title>cleanexit</title>
<h1>cleanexit</h1><p>The demo page is not built. Run <code>make web</code>.
The API is at <code>/auth/*</code> and <code>/me</code>.</p>"""


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """The standalone service: ``install`` plus ``/me``, health, JWKS, the demo page, and
    handlers and security headers for every route (it owns them all)."""
    settings = settings or (runtime.settings if runtime else Settings())
    rt = runtime or build_runtime(settings)
    for warning in settings.warnings():
        log.warning("WARNING: %s", warning)
    docs = settings.docs_enabled()  # off in production unless CLEANEXIT_DOCS=true (issue 9)
    app = FastAPI(
        title="cleanexit",
        summary="Full session termination for JWT APIs",
        docs_url="/docs" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        redoc_url=None,
    )
    app.state.runtime = rt
    install_error_handlers(app)
    app.add_middleware(SecurityHeadersMiddleware)
    auth = auth_for(rt)  # the routes below need its dependency before install() mounts it

    @app.get("/me")
    async def me(claims: AccessClaims = Depends(auth.require)) -> JSONResponse:
        return json_response(
            {"sub": claims.sub, "session_id": claims.sid, "iat": claims.iat, "exp": claims.exp}
        )

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return json_response({"status": "ok"})

    @app.get("/readyz", responses={503: UNAVAILABLE})
    async def readyz() -> JSONResponse:
        try:
            if not rt.replica.is_fresh():
                await rt.replica.catch_up()
            store = await rt.store.ping()
        except CleanexitError as exc:
            return error_response(exc)  # the details go to the log, not the body (issue 15)
        body = readiness(store, rt.replica.status())
        if rt.providers is not None:  # issue 11: whose keys are held, and since when
            body["providers"] = rt.providers.status()
        return json_response(body)

    @app.get("/.well-known/jwks.json")
    async def jwks() -> JSONResponse:
        return JSONResponse(
            rt.keys.jwks(now=rt.clock()), headers={"Cache-Control": "public, max-age=300"}
        )

    # After the resource routes: Starlette matches in order, and resources are the hot path.
    install(app, runtime=rt, auth=auth)  # CORS (CLEANEXIT_CORS_ORIGINS) comes with it
    if settings.web_dir is not None:
        mount_spa(app, settings.web_dir, assets=ImmutableStaticFiles)  # issue 14: a built app
    else:
        _mount_demo(app)
    return app


# What /readyz may tell anyone who asks: never a store's host, port, path or version (issue 15).
_PUBLIC_REPLICA = (
    "mode", "ready", "fresh", "entries", "age_s", "stale_after_s", "fail_open", "connected",
    "listening", "resyncs", "gaps",
)  # fmt: skip


def readiness(store: dict[str, Any], replica: dict[str, Any]) -> dict[str, Any]:
    """The public /readyz body: kinds and states, no addresses or versions."""
    public_store: dict[str, Any] = {"backend": store.get("backend")}
    for key in ("mode", "revocations"):
        if key in store:
            public_store[key] = store[key]  # counts and kinds, no addresses
    for key in ("persistence", "durability"):  # Redis, PostgreSQL
        details = store.get(key)
        if isinstance(details, dict):
            public_store["durable"] = bool(details.get("durable"))
    return {
        "status": "ready",
        "store": public_store,
        "replica": {k: replica[k] for k in _PUBLIC_REPLICA if k in replica},
    }


class ImmutableStaticFiles(StaticFiles):
    """Build outputs with content hashes in their names never change: cache them for a year."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def _mount_demo(app: FastAPI) -> None:
    index = STATIC / "index.html"
    if (STATIC / "assets").is_dir():
        app.mount("/assets", ImmutableStaticFiles(directory=STATIC / "assets"), name="assets")

    @app.get("/", include_in_schema=False, response_model=None)
    async def demo() -> FileResponse | HTMLResponse:
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(FALLBACK_PAGE)


def app_from_env() -> FastAPI:
    """uvicorn factory (``--factory``): configuration from ``CLEANEXIT_*``."""
    return create_app(Settings())
