"""Sans-I/O: build the requests of the HTTP contract (docs/api.md), read its answers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from cleanexit._secret import Secret
from cleanexit.client.errors import ForeignOriginError, ServerError, ServerUnreachableError
from cleanexit.client.outbox import OutboxEntry
from cleanexit.client.result import Scope, ServerOutcome
from cleanexit.client.state import Tokens
from cleanexit.errors import InvalidCredentialsError

__all__ = [
    "USER_AGENT",
    "Grant",
    "authorize",
    "classify_unauthorized",
    "error_for",
    "failure_outcome",
    "login_request",
    "logout_outcome",
    "logout_request",
    "outbox_request",
    "parse_grant",
    "refresh_request",
    "resolve",
]

USER_AGENT = "cleanexit-client/0.1"
_DESCRIPTION = re.compile(r'error_description="([^"]*)"')
_REFRESHABLE = {"expired", "revoked"}
_ENDED = {"session ended", "logged out everywhere"}


@dataclass(frozen=True, slots=True)
class Grant:
    tokens: Tokens
    session_id: str


def resolve(base_url: str, target: str | httpx.URL) -> httpx.URL:
    """Join ``target`` to the server URL; refuse any other origin (the token would leak)."""
    base = httpx.URL(base_url)
    url = base.join(target)
    if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
        raise ForeignOriginError()
    return url


def _timeout(seconds: float) -> dict[str, Any]:
    return {"timeout": httpx.Timeout(seconds).as_dict()}


def _post(
    base_url: str, path: str, timeout: float, *, headers: dict[str, str] | None = None, **kw: Any
) -> httpx.Request:
    headers = {"User-Agent": USER_AGENT, **(headers or {})}
    url = resolve(base_url, path)
    return httpx.Request("POST", url, headers=headers, extensions=_timeout(timeout), **kw)


def login_request(base_url: str, username: str, password: Secret, timeout: float) -> httpx.Request:
    body = {"username": username, "password": password.reveal()}
    return _post(base_url, "/auth/login", timeout, json=body)


def refresh_request(base_url: str, refresh_token: Secret, timeout: float) -> httpx.Request:
    return _post(base_url, "/auth/refresh", timeout, json={"refresh_token": refresh_token.reveal()})


def logout_request(base_url: str, tokens: Tokens, scope: Scope, timeout: float) -> httpx.Request:
    """Send both tokens: the access token may have expired, the refresh token still names
    the session (docs/api.md, ``POST /auth/logout``)."""
    body: dict[str, str] = {"scope": scope}
    if tokens.refresh_token is not None:
        body["refresh_token"] = tokens.refresh_token.reveal()
    headers = {"Authorization": f"Bearer {tokens.access_token.reveal()}"}
    return _post(base_url, "/auth/logout", timeout, json=body, headers=headers)


def outbox_request(entry: OutboxEntry, timeout: float) -> httpx.Request:
    body = {"scope": entry.scope, "refresh_token": entry.refresh_token.reveal()}
    return _post(entry.server_url, "/auth/logout", timeout, json=body)


def authorize(request: httpx.Request, access_token: Secret) -> httpx.Request:
    headers = request.headers.copy()
    headers["Authorization"] = f"Bearer {access_token.reveal()}"
    return httpx.Request(
        request.method,
        request.url,
        headers=headers,
        content=request.content,
        extensions=request.extensions,
    )


def parse_grant(response: httpx.Response, *, now: float) -> Grant:
    """A login or refresh answer (200) as new tokens; anything else raises."""
    if response.status_code != 200:
        raise error_for(response)
    body = _json(response)
    try:
        tokens = Tokens(
            access_token=Secret(str(body["access_token"])),
            refresh_token=_opt_secret(body.get("refresh_token")),
            access_expires_at=now + float(body["expires_in"]),
            refresh_expires_at=_opt_deadline(now, body.get("refresh_expires_in")),
        )
        return Grant(tokens, str(body["session_id"]))
    except (KeyError, TypeError, ValueError):
        raise ServerError("malformed token response", status=200) from None


def classify_unauthorized(response: httpx.Response) -> Literal["refresh", "ended"] | None:
    """What a 401 means for the session (RFC 6750 §3 ``WWW-Authenticate``)."""
    if response.status_code != 401:
        return None
    header = response.headers.get("www-authenticate", "")
    if 'error="invalid_token"' not in header:
        return None
    match = _DESCRIPTION.search(header)
    # docs/api.md says "session ended"; tolerate a "revoked: " prefix on the reason too.
    description = (match.group(1) if match else "").removeprefix("revoked: ")
    if description in _REFRESHABLE:
        return "refresh"
    return "ended" if description in _ENDED else None


def error_for(response: httpx.Response) -> ServerError | InvalidCredentialsError:
    code, description = _error_fields(response)
    if code == "invalid_credentials":
        return InvalidCredentialsError()
    return ServerError(
        f"HTTP {response.status_code} {code}: {description}", status=response.status_code
    )


def logout_outcome(response: httpx.Response) -> ServerOutcome:
    status = response.status_code
    if status == 200:
        revoked = _json(response).get("revoked")
        if isinstance(revoked, dict):
            return ServerOutcome(attempted=True, confirmed=True, status=status, revoked=revoked)
        return ServerOutcome(True, status=status, error="no revocation report", retryable=True)
    code, _ = _error_fields(response)
    return ServerOutcome(True, status=status, error=code, retryable=status >= 500)


def failure_outcome(exc: BaseException | None) -> ServerOutcome:
    """Step 1 did not produce an answer: say why, briefly (no token can be in it)."""
    if exc is None:
        return ServerOutcome(attempted=True, error="interrupted", retryable=True)
    if isinstance(exc, ServerUnreachableError):
        exc = exc.__cause__ or exc
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        reason = "timed out"
    elif isinstance(exc, httpx.ConnectError):
        reason = "could not connect"
    elif isinstance(exc, httpx.TransportError):
        reason = f"network error ({type(exc).__name__})"
    else:
        reason = f"unexpected error ({type(exc).__name__})"
    return ServerOutcome(attempted=True, error=reason, retryable=True)


def _error_fields(response: httpx.Response) -> tuple[str, str]:
    body = _json(response)
    return str(body.get("error", "unknown")), str(body.get("error_description", ""))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _opt_secret(value: object) -> Secret | None:
    return Secret(value) if isinstance(value, str) and value else None


def _opt_deadline(now: float, seconds: object) -> float | None:
    return now + float(seconds) if isinstance(seconds, int | float) else None
