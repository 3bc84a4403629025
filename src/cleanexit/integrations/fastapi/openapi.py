"""The OpenAPI document, telling the truth: clients are generated from it (issue 10).

Every ``/auth`` operation lists the statuses it really answers, each with the error body and
the headers that come with it (``WWW-Authenticate``, ``Retry-After``, ``Set-Cookie``), its
security (bearer; the refresh cookie with its CSRF header; HTTP Basic for introspection) and
its input limits. An app's own routes that depend on ``auth.require`` / ``auth.require_scope``
get the bearer scheme from FastAPI itself (the dependency is a ``SecurityBase``) and, from
``document``, the 401 / 403 / 503 they can answer. FastAPI's automatic 422 is dropped from
``/auth`` operations: they answer 400 ``invalid_request`` instead.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ROUTES",
    "SECURITY_SCHEMES",
    "BackchannelLogoutResponse",
    "EmptyResponse",
    "ErrorBody",
    "IntrospectionResponse",
    "LogoutResponse",
    "ProviderRevoked",
    "Revoked",
    "SessionView",
    "SessionsResponse",
    "TokenResponse",
    "document",
]


class ErrorBody(BaseModel):
    """Every error: a stable code and a description that never echoes the request."""

    error: str = Field(examples=["invalid_token"])
    error_description: str = Field(examples=["revoked: session ended"])
    error_reason: Literal["race", "reused", "invalid"] | None = Field(
        None, description="invalid_grant only: what the client should do next (docs/api.md)"
    )


class TokenResponse(BaseModel):
    access_token: str = Field(description="JWT, typ at+jwt (RFC 9068)")
    token_type: Literal["Bearer"]
    expires_in: int = Field(ge=0)
    refresh_expires_in: int = Field(ge=0)
    session_id: str
    refresh_token: str | None = Field(
        None, description="absent in cookie mode (refresh_in_cookie), where csrf_token is sent"
    )
    csrf_token: str | None = Field(None, description="cookie mode: echo it in X-CSRF-Token")


class Revoked(BaseModel):
    sessions: list[str]
    access_token: bool
    refresh_tokens: int = Field(ge=0)
    user_cutoff: float | None


class LogoutResponse(BaseModel):
    scope: Literal["current", "others", "all"]
    session_id: str | None
    revoked: Revoked


class SessionView(BaseModel):
    session_id: str
    created_at: float
    last_seen: float
    expires_at: float
    user_agent: str
    ip: str
    current: bool


class SessionsResponse(BaseModel):
    sessions: list[SessionView]


class ProviderRevoked(BaseModel):
    sessions: list[str] = Field(description="the provider session (sid) ended, if any")
    user_cutoff: float | None = Field(description="sub only: its tokens with iat before it")


class BackchannelLogoutResponse(BaseModel):
    """OpenID Connect Back-Channel Logout 1.0 §2.8: 200 once recorded (issue 11)."""

    issuer: str
    revoked: ProviderRevoked


class EmptyResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntrospectionResponse(BaseModel):
    """RFC 7662 §2.2; an active access token also carries the application's claims."""

    model_config = ConfigDict(extra="allow")

    active: bool
    token_type: Literal["access_token", "refresh_token"] | None = None
    sub: str | None = None
    sid: str | None = None
    jti: str | None = None
    iss: str | None = None
    aud: str | None = None
    iat: int | None = None
    exp: int | None = None
    client_id: str | None = None


SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token (RFC 6750); refused once its session is logged out.",
    },
    "refreshCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "cleanexit_refresh",
        "description": "The refresh token in cookie mode (HttpOnly, SameSite=Strict, /auth).",
    },
    "csrfHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "Double submit: the value of the cleanexit_csrf cookie.",
    },
    "introspectionClient": {
        "type": "http",
        "scheme": "basic",
        "description": "An id:secret pair of CLEANEXIT_INTROSPECTION_CLIENTS (RFC 7662 §2.1).",
    },
}

_STRING = {"schema": {"type": "string"}}
_HEADERS: dict[str, dict[str, Any]] = {
    "bearer": {
        "WWW-Authenticate": {
            **_STRING,
            "description": 'RFC 6750 §3: Bearer realm="cleanexit", error="invalid_token", '
            'error_description="…" (no error code when no credential was sent)',
        }
    },
    "basic": {"WWW-Authenticate": {**_STRING, "description": 'Basic realm="cleanexit"'}},
    "scope": {
        "WWW-Authenticate": {
            **_STRING,
            "description": 'RFC 6750 §3.1: Bearer realm="cleanexit", '
            'error="insufficient_scope", scope="…"',
        }
    },
    "retry": {"Retry-After": {**_STRING, "description": "seconds"}},
    "cookies": {
        "Set-Cookie": {
            **_STRING,
            "description": "cookie mode: cleanexit_refresh (HttpOnly, Path=/auth) and "
            "cleanexit_csrf, set or cleared",
        }
    },
}


def _error(description: str, *headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "model": ErrorBody}
    merged = {name: spec for key in headers for name, spec in _HEADERS[key].items()}
    if merged:
        response["headers"] = merged
    return response


BAD_REQUEST = _error("invalid_request: the body or a field is malformed or out of bounds")
UNAUTHORIZED = _error("invalid_token: no, a bad, an expired or a revoked access token", "bearer")
FORBIDDEN_SCOPE = _error("insufficient_scope: the token lacks a scope the route needs", "scope")
TOO_LARGE = _error("request_too_large: the body is over the configured cap")
UNAVAILABLE = _error(
    "temporarily_unavailable: the revocation state cannot be trusted (fail closed)", "retry"
)
CSRF = _error("csrf_failed: the refresh cookie came without a matching X-CSRF-Token header")

# Per route (by endpoint name): summary, response model, the statuses it can answer, security.
ROUTES: dict[str, dict[str, Any]] = {
    "login": {
        "summary": "Sign in with a username and password (the configured Authenticator)",
        "response_model": TokenResponse,
        "responses": {
            200: {"headers": _HEADERS["cookies"]},
            400: BAD_REQUEST,
            401: _error("invalid_credentials: wrong username or password", "bearer"),
            413: TOO_LARGE,
            503: UNAVAILABLE,
        },
        "openapi_extra": {"security": [{}]},
    },
    "refresh": {
        "summary": "Rotate the refresh token: a new pair; a rotated token presented again is theft",
        "response_model": TokenResponse,
        "responses": {
            200: {"headers": _HEADERS["cookies"]},
            400: _error(
                "invalid_grant (error_reason race | reused | invalid), or invalid_request",
                "cookies",
            ),
            403: CSRF,
            413: TOO_LARGE,
            503: UNAVAILABLE,
        },
        "openapi_extra": {"security": [{}, {"refreshCookie": [], "csrfHeader": []}]},
    },
    "logout": {
        "summary": "End the session any presented credential names (expired access tokens too)",
        "response_model": LogoutResponse,
        "responses": {
            200: {"headers": {**_HEADERS["cookies"], "Clear-Site-Data": _STRING}},
            400: BAD_REQUEST,
            401: _error(
                "revoked: session ended (it was over already), or nothing sent was recognised",
                "bearer",
                "cookies",
            ),
            403: CSRF,
            413: TOO_LARGE,
            503: UNAVAILABLE,
        },
        "openapi_extra": {
            "security": [
                {"bearer": []},
                {"refreshCookie": [], "csrfHeader": []},
                {"bearer": [], "refreshCookie": []},
                {},
            ]
        },
    },
    "sessions": {
        "summary": "The caller's active sessions",
        "response_model": SessionsResponse,
        "responses": {401: UNAUTHORIZED, 503: UNAVAILABLE},
        "openapi_extra": {"security": [{"bearer": []}]},
    },
    "end_session": {
        "summary": "End one of the caller's sessions",
        "response_model": LogoutResponse,
        "responses": {
            401: UNAUTHORIZED,
            404: _error("not_found: not an active session of the caller"),
            503: UNAVAILABLE,
        },
        "openapi_extra": {"security": [{"bearer": []}]},
    },
    "revoke": {
        "summary": "RFC 7009 token revocation (access or refresh token)",
        "response_model": EmptyResponse,
        "responses": {400: BAD_REQUEST, 413: TOO_LARGE, 503: UNAVAILABLE},
        "openapi_extra": {"security": [{}]},
    },
    "introspect": {
        "summary": "RFC 7662 token introspection (client authentication required)",
        "response_model": IntrospectionResponse,
        "responses": {
            400: BAD_REQUEST,
            401: _error("invalid_client: client authentication failed", "basic"),
            413: TOO_LARGE,
            429: _error("too_many_requests: too many failed client authentications", "retry"),
            503: UNAVAILABLE,
        },
        "openapi_extra": {"security": [{"introspectionClient": []}]},
    },
    "backchannel_logout": {
        "summary": "OpenID Connect Back-Channel Logout 1.0: a trusted provider ends a session",
        "response_model": BackchannelLogoutResponse,
        "responses": {
            400: _error(
                "invalid_request: the logout token was refused (which check: the description)"
            ),
            413: TOO_LARGE,
            503: _error(
                "temporarily_unavailable: the store, or the provider's keys, cannot be reached",
                "retry",
            ),
        },
        "openapi_extra": {"security": [{}]},  # the signed logout token is the credential
    },
}


def document(app: FastAPI, *, prefix: str = "/auth") -> None:
    """Make ``app.openapi()`` tell the truth about cleanexit's operations (module docstring)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        _complete(schema, prefix)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(schema: dict[str, Any], prefix: str) -> None:
    """Idempotent: FastAPI regenerates the document when routes change, or caches it."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    components.setdefault("schemas", {}).setdefault("ErrorBody", ErrorBody.model_json_schema())
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if path.startswith(prefix + "/"):
                responses.pop("422", None)  # /auth answers 400 invalid_request instead
            bearer = [r["bearer"] for r in operation.get("security", []) if "bearer" in r]
            if bearer and not path.startswith(prefix + "/"):
                _add(responses, "401", UNAUTHORIZED)
                _add(responses, "503", UNAVAILABLE)
                if any(bearer):  # roles listed (OpenAPI 3.1): require_scope
                    _add(responses, "403", FORBIDDEN_SCOPE)


def _add(responses: dict[str, Any], status: str, spec: dict[str, Any]) -> None:
    if status in responses:
        return
    entry: dict[str, Any] = {
        "description": spec["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    if "headers" in spec:
        entry["headers"] = spec["headers"]
    responses[status] = entry
