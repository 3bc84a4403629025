"""The one place where errors become HTTP: status, RFC 6750 challenge, JSON body.

Bodies are ``{"error", "error_description"}`` (+ ``error_reason`` on ``invalid_grant``);
descriptions come from our own exceptions and never echo request input, so no token or
password text can leak through an error. A ``ConfigurationError`` met while serving is the
application's bug, not the client's: 500 with a generic body, the description in the log.
"""

from __future__ import annotations

import logging
import time

from ...errors import (
    CleanexitError,
    ConfigurationError,
    CredentialsMissingError,
    CsrfError,
    InsufficientScopeError,
    InvalidClientError,
    InvalidCredentialsError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidTokenError,
    KeysUnavailableError,
    NotFoundError,
    RateLimitedError,
    StoreUnavailableError,
)
from .messages import NO_STORE, Response

__all__ = ["REALM", "error_response", "status_of"]

log = logging.getLogger("cleanexit.http")
REALM = 'Bearer realm="cleanexit"'
# Store errors name hosts, ports, paths and versions: the log gets them, bodies never (issue 15).
PUBLIC_UNAVAILABLE = "the revocation state cannot be checked right now; retry shortly"
_LOG_EVERY = 5.0  # seconds between two logged store errors (an outage must not flood the log)
_logged_at = float("-inf")
_STATUS: list[tuple[type[CleanexitError], int]] = [
    (CredentialsMissingError, 401),
    (InvalidTokenError, 401),
    (InvalidCredentialsError, 401),
    (InvalidClientError, 401),
    (InvalidGrantError, 400),
    (InvalidRequestError, 400),
    (InsufficientScopeError, 403),
    (CsrfError, 403),
    (NotFoundError, 404),
    (RateLimitedError, 429),
    (ConfigurationError, 500),
    (StoreUnavailableError, 503),
    (KeysUnavailableError, 503),  # issue 11: an external issuer's keys, fail closed
]


def status_of(exc: CleanexitError) -> int:
    return next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)


def error_response(exc: CleanexitError) -> Response:
    status = status_of(exc)
    headers = list(NO_STORE)
    if isinstance(exc, InvalidTokenError):
        # RFC 6750 §3: the challenge names the error; the description says which check failed.
        description = exc.description.replace('"', "'")
        challenge = f'{REALM}, error="invalid_token", error_description="{description}"'
        headers.append(("WWW-Authenticate", challenge))
    elif isinstance(exc, InsufficientScopeError):
        scope = " ".join(exc.scopes).replace('"', "'")
        headers.append(
            ("WWW-Authenticate", f'{REALM}, error="insufficient_scope", scope="{scope}"')
        )
    elif isinstance(exc, CredentialsMissingError | InvalidCredentialsError):
        headers.append(("WWW-Authenticate", REALM))  # §3.1: no error code when nothing was sent
    elif isinstance(exc, InvalidClientError):
        headers.append(("WWW-Authenticate", 'Basic realm="cleanexit"'))
    elif isinstance(exc, StoreUnavailableError | KeysUnavailableError):
        headers.append(("Retry-After", "1"))
    elif isinstance(exc, RateLimitedError):
        headers.append(("Retry-After", str(exc.retry_after)))  # RFC 6585 §4
    body: dict[str, str]
    if isinstance(exc, StoreUnavailableError):
        _log_store_error(exc)
        body = {"error": exc.error_code, "error_description": PUBLIC_UNAVAILABLE}
        return Response(status, body, headers)
    if status == 500:
        log.error("cleanexit is misconfigured: %s", exc.description)
        body = {"error": "server_error", "error_description": "internal error"}
        return Response(500, body, headers)
    body = {"error": exc.error_code or "unauthorized", "error_description": exc.description}
    if isinstance(exc, InvalidGrantError):
        body["error_reason"] = exc.reason  # RFC 6749 §5.2 allows extension members
    return Response(status, body, headers)


def _log_store_error(exc: StoreUnavailableError) -> None:
    global _logged_at
    now = time.monotonic()
    if now - _logged_at >= _LOG_EVERY:
        _logged_at = now
        log.warning("answering 503: %s", exc.description)
