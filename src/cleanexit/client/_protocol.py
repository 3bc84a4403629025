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
    "RefusalReason",
    "authorize",
    "classify_unauthorized",
    "error_for",
    "failure_outcome",
    "login_request",
    "logout_outcome",
    "logout_request",
    "outbox_request",
    "parse_grant",
    "refresh_refusal",
    "refresh_request",
    "resolve",
]

USER_AGENT = "cleanexit-client/0.1"
_DESCRIPTION = re.compile(r'error_description="([^"]*)"')
_REFRESHABLE = {"expired", "revoked"}
_ENDED = {"session ended", "logged out everywhere"}
# A logout refused with one of these: the credentials were authentic, the session was over.
_OVER = {"revoked: session ended", "revoked: logged out everywhere"}
_OVER_TEXT = "the session had already ended"


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
    """Both tokens in one request: any credential that identifies the session ends it, an
    expired access token included (docs/api.md, ``POST /auth/logout``; issue 9)."""
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
    """The server's answer to ``POST /auth/logout`` as a verdict (see :mod:`.result`)."""
    status = response.status_code
    code, description = _error_fields(response)
    if status == 200:
        revoked = _json(response).get("revoked")
        if isinstance(revoked, dict):
            return ServerOutcome("ended", status=status, revoked=revoked)
        return ServerOutcome("error", status=status, error="no revocation report", retryable=True)
    if status == 401 and _bearer_description(response, description) in _OVER:
        return ServerOutcome("already_ended", status=status, error=_OVER_TEXT)
    if status in (400, 401, 403):
        detail = f"{code}: {description}" if description else code
        return ServerOutcome("not_recognised", status=status, error=detail)
    return ServerOutcome("error", status=status, error=code, retryable=status >= 500)


RefusalReason = Literal["race", "reused", "invalid"]


def refresh_refusal(response: httpx.Response) -> RefusalReason:
    """Why ``POST /auth/refresh`` said no: ``error_reason`` (missing or unknown = invalid)."""
    reason = _json(response).get("error_reason")
    return reason if reason in ("race", "reused") else "invalid"


def failure_outcome(exc: BaseException | None) -> ServerOutcome:
    """Step 1 did not produce an answer: say why, briefly (no token can be in it)."""
    if exc is None:
        return ServerOutcome("interrupted", error="interrupted", retryable=True)
    if isinstance(exc, ServerUnreachableError):
        exc = exc.__cause__ or exc
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return ServerOutcome("timeout", error="timed out", retryable=True)
    if isinstance(exc, httpx.ConnectError):
        return ServerOutcome("unreachable", error="could not connect", retryable=True)
    if isinstance(exc, httpx.TransportError):
        reason = f"network error ({type(exc).__name__})"
    else:
        reason = f"unexpected error ({type(exc).__name__})"
    return ServerOutcome("network_error", error=reason, retryable=True)


def _bearer_description(response: httpx.Response, fallback: str) -> str:
    match = _DESCRIPTION.search(response.headers.get("www-authenticate", ""))
    return match.group(1) if match else fallback


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
