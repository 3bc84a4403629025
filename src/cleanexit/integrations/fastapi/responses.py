"""The one place where errors become HTTP: status, RFC 6750 challenge, JSON body.

Bodies are ``{"error", "error_description"}``; descriptions come from our own exceptions and
never echo request input, so no token or password text can leak through an error.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...errors import (
    CleanexitError,
    CredentialsMissingError,
    CsrfError,
    InvalidClientError,
    InvalidCredentialsError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidTokenError,
    NotFoundError,
    RateLimitedError,
    StoreUnavailableError,
)

__all__ = [
    "NO_STORE",
    "FastJSONResponse",
    "error_response",
    "install_error_handlers",
    "json_response",
]

log = logging.getLogger("cleanexit.http")
REALM = 'Bearer realm="cleanexit"'
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_STATUS: list[tuple[type[CleanexitError], int]] = [
    (CredentialsMissingError, 401),
    (InvalidTokenError, 401),
    (InvalidCredentialsError, 401),
    (InvalidClientError, 401),
    (InvalidGrantError, 400),
    (InvalidRequestError, 400),
    (CsrfError, 403),
    (NotFoundError, 404),
    (RateLimitedError, 429),
    (StoreUnavailableError, 503),
]


class FastJSONResponse(JSONResponse):
    """JSON rendered by orjson (already a dependency, for token payloads): a few µs less per
    response than the standard library on every protected call."""

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return FastJSONResponse(
        body, status_code=status, headers={**NO_STORE, **headers} if headers else NO_STORE
    )


def error_response(exc: CleanexitError) -> JSONResponse:
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidTokenError):
        # RFC 6750 §3: the challenge names the error; the description says which check failed.
        description = exc.description.replace('"', "'")
        headers["WWW-Authenticate"] = (
            f'{REALM}, error="invalid_token", error_description="{description}"'
        )
    elif isinstance(exc, CredentialsMissingError | InvalidCredentialsError):
        headers["WWW-Authenticate"] = REALM  # §3.1: no error code when nothing was sent
    elif isinstance(exc, InvalidClientError):
        headers["WWW-Authenticate"] = 'Basic realm="cleanexit"'
    elif isinstance(exc, StoreUnavailableError):
        headers["Retry-After"] = "1"
    elif isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)  # RFC 6585 §4
    code = exc.error_code or "unauthorized"
    body = {"error": code, "error_description": exc.description}
    if isinstance(exc, InvalidGrantError):
        body["error_reason"] = exc.reason  # RFC 6749 §5.2 allows extension members
    return json_response(body, status, headers)


def install_error_handlers(app: FastAPI) -> None:
    async def on_cleanexit(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CleanexitError)
        return error_response(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(InvalidRequestError(_describe(exc)))

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

    app.add_exception_handler(CleanexitError, on_cleanexit)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


def _describe(exc: RequestValidationError) -> str:
    # Location and message only: pydantic's "input" would echo passwords and tokens.
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"
