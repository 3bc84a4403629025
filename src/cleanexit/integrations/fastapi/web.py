"""Serving a browser app next to the API, and letting one on another origin call it (issue 14).

``CLEANEXIT_WEB_DIR`` serves a built single-page app (``index.html`` + ``assets/``, e.g. the Vite
build of ``examples/react-redux``) at ``/`` instead of the demo page; any other page path (a
client-side route such as ``/dashboard``) answers the same ``index.html``, API paths keep their
JSON 404. ``CLEANEXIT_CORS_ORIGINS`` lets an app served from other origins of the same site
call the API with credentials: exact origins only, never ``*`` (a credentialed wildcard would
hand every site the user's session).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles

__all__ = ["API_PREFIXES", "add_cors", "mount_spa"]

# First path segments that belong to the API: never answered with the app's index.html.
API_PREFIXES = frozenset(
    {"auth", "me", ".well-known", "healthz", "readyz", "docs", "openapi.json", "assets"}
)


def mount_spa(app: FastAPI, directory: Path, *, assets: type[StaticFiles] = StaticFiles) -> None:
    """``/`` and every non-API page path -> ``directory/index.html``; ``/assets/*`` static."""
    index = directory / "index.html"
    if not index.is_file():
        raise FileNotFoundError(f"CLEANEXIT_WEB_DIR: no index.html in {directory}")
    if (directory / "assets").is_dir():
        app.mount("/assets", assets(directory=directory / "assets"), name="assets")

    @app.get("/{path:path}", include_in_schema=False)
    async def page(path: str, request: Request) -> FileResponse:
        if path.split("/", 1)[0] in API_PREFIXES:
            raise HTTPException(404)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})


def add_cors(app: FastAPI, origins: Sequence[str]) -> None:
    """Credentialed CORS for exactly ``origins`` (already validated by ``Settings``)."""
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_credentials=True,  # the refresh cookie on /auth/*
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-CSRF-Token"],
        # The client reads the RFC 6750 challenge to tell `expired` (refresh) from `revoked`.
        expose_headers=["WWW-Authenticate", "Retry-After"],
        max_age=600,
    )
