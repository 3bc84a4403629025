"""Starlette responses from the framework-neutral ones, and the error handlers of an app.

Errors become HTTP in one place (``integrations._http.errors``); this module only renders
what it decided. ``install_error_handlers`` is for the standalone app, which owns every route:
an app that embeds cleanexit keeps its own handlers, and ``wiring.install`` adds only the one
for cleanexit's errors.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...errors import CleanexitError, InvalidRequestError
from .._http import NO_STORE, Response, describe_validation
from .._http import error_response as neutral_error

__all__ = [
    "NO_STORE",
    "FastJSONResponse",
    "error_response",
    "install_error_handlers",
    "json_response",
    "on_cleanexit_error",
    "render",
]

log = logging.getLogger("cleanexit.http")
_NO_STORE = dict(NO_STORE)


class FastJSONResponse(JSONResponse):
    """JSON rendered by orjson (already a dependency, for token payloads): a few µs less per
    response than the standard library on every protected call."""

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return FastJSONResponse(
        body, status_code=status, headers={**_NO_STORE, **headers} if headers else _NO_STORE
    )


def render(response: Response) -> JSONResponse:
    """A neutral response as Starlette's (repeated headers such as ``Set-Cookie`` kept)."""
    rendered = FastJSONResponse(response.body, status_code=response.status)
    rendered.raw_headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers
    )
    return rendered


def error_response(exc: CleanexitError) -> JSONResponse:
    return render(neutral_error(exc))


async def on_cleanexit_error(_: Request, exc: Exception) -> JSONResponse:
    """The handler ``install`` adds: ``auth.require`` in the app's own routes raises these."""
    assert isinstance(exc, CleanexitError)
    return error_response(exc)


def install_error_handlers(app: FastAPI) -> None:
    """Every error of the standalone app as our JSON, never a traceback or echoed input."""

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(InvalidRequestError(describe_validation(exc.errors())))

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(
            exc.status_code, "invalid_request"
        )
        headers = dict(exc.headers or {})
        return json_response(
            {"error": code, "error_description": str(exc.detail)}, exc.status_code, headers
        )

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s while serving a request", type(exc).__name__, exc_info=exc)
        return json_response({"error": "server_error", "error_description": "internal error"}, 500)

    app.add_exception_handler(CleanexitError, on_cleanexit_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
