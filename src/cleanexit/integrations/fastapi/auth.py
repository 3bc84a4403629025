"""``CleanExit``: the auth router and the one dependency every protected route uses.

auth = CleanExit(service, guard)
app.include_router(auth.router)

@app.get("/orders")
async def orders(claims: AccessClaims = Depends(auth.require)): ...
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from ...errors import (
    CredentialsMissingError,
    CsrfError,
    InvalidClientError,
    InvalidGrantError,
    InvalidTokenError,
    MalformedTokenError,
    RateLimitedError,
)
from ...server.replica import Guard
from ...server.sessions import LogoutResult, SessionService, TokenPair
from ...server.throttle import FailureThrottle
from ...server.tokens import AccessClaims
from .responses import error_response, json_response

__all__ = ["CSRF_COOKIE", "REFRESH_COOKIE", "CleanExit", "LoginBody", "LogoutBody", "RefreshBody"]

REFRESH_COOKIE = "cleanexit_refresh"
CSRF_COOKIE = "cleanexit_csrf"
CSRF_HEADER = "x-csrf-token"


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class LoginBody(_Body):
    username: StrictStr = Field(min_length=1, max_length=128)
    password: StrictStr = Field(min_length=1, max_length=1024)
    refresh_in_cookie: StrictBool = False


class RefreshBody(_Body):
    refresh_token: StrictStr | None = Field(None, max_length=256)


class LogoutBody(_Body):
    refresh_token: StrictStr | None = Field(None, max_length=256)
    scope: Literal["current", "others", "all"] = "current"


class CleanExit:
    """Routes under ``/auth`` plus ``require`` (the bearer dependency)."""

    def __init__(
        self,
        service: SessionService,
        guard: Guard,
        *,
        clear_site_data: str = '"cache", "cookies", "storage"',
        cookie_secure: bool = True,
        introspection_clients: Mapping[str, str] | None = None,
        client_throttle: FailureThrottle | None = None,
    ) -> None:
        self.service = service
        self.guard = guard
        self.clear_site_data = clear_site_data
        # Configuration only, never the request (issue 9, finding 7): behind a proxy the Host
        # header and the scheme describe the hop from the proxy, not what the browser used.
        self.cookie_secure = cookie_secure
        # Only keyed digests of client secrets are kept: every comparison is between two
        # 32-byte values, whatever the lengths of the secret and the guess.
        self._client_mac_key = secrets.token_bytes(32)
        self._client_digests = {
            client: self._client_digest(secret)
            for client, secret in (introspection_clients or {}).items()
        }
        self._unknown_client = self._client_digest(secrets.token_urlsafe(32))
        self.client_throttle = FailureThrottle() if client_throttle is None else client_throttle
        self.router = APIRouter(prefix="/auth", tags=["auth"])
        self._routes()

    # -- the dependency ------------------------------------------------------------------
    async def require(self, request: Request) -> AccessClaims:
        """Verified, unrevoked claims, or an RFC 6750 401 (503 when the state is unsure)."""
        token = _bearer(request, required=True)
        assert token is not None  # required=True raises instead of returning None
        return await self.guard.authenticate(token)

    async def optional(self, request: Request) -> AccessClaims | None:
        token = _bearer(request, required=False)
        return None if token is None else await self.guard.authenticate(token)

    # -- routes --------------------------------------------------------------------------
    def _routes(self) -> None:
        r = self.router
        r.add_api_route("/login", self.login, methods=["POST"])
        r.add_api_route("/refresh", self.refresh, methods=["POST"])
        r.add_api_route("/logout", self.logout, methods=["POST"])
        r.add_api_route("/sessions", self.sessions, methods=["GET"])
        r.add_api_route("/sessions/{session_id}", self.end_session, methods=["DELETE"])
        r.add_api_route("/revoke", self.revoke, methods=["POST"])
        r.add_api_route("/introspect", self.introspect, methods=["POST"])

    async def login(self, body: LoginBody, request: Request) -> JSONResponse:
        pair = await self.service.login(
            body.username,
            body.password,
            user_agent=request.headers.get("user-agent", ""),
            ip=request.client.host if request.client else "",
        )
        return self._token_response(pair, request, cookie=body.refresh_in_cookie)

    async def refresh(self, request: Request, body: RefreshBody | None = None) -> JSONResponse:
        token = body.refresh_token if body else None
        from_cookie = token is None
        if from_cookie:
            token = _cookie_refresh(request, csrf=True)
        if token is None:
            raise InvalidGrantError("no refresh token in the body or the cookie")
        try:
            pair = await self.service.refresh(
                token,
                user_agent=request.headers.get("user-agent", ""),
                ip=request.client.host if request.client else "",
            )
        except InvalidGrantError as exc:
            response = error_response(exc)
            # Not on a race: the winner's response is setting the new cookie right now, and
            # clearing it after would strand the session (issue 9 finding 4).
            if from_cookie and exc.reason != "race":
                self._clear_cookies(response, request)
            return response
        return self._token_response(pair, request, cookie=from_cookie)

    async def logout(self, request: Request, body: LogoutBody | None = None) -> JSONResponse:
        try:
            result = await self._logout(request, body)
        except (InvalidTokenError, CredentialsMissingError) as exc:
            # Nothing valid to revoke. A dead refresh cookie is useless but still a credential
            # the browser keeps sending: clear it, as /auth/refresh does on invalid_grant.
            response = error_response(exc)
            if REFRESH_COOKIE in request.cookies:
                self._clear_cookies(response, request)
            return response
        scope = result.scope
        headers = {}
        if scope != "others" and self.clear_site_data:
            headers["Clear-Site-Data"] = self.clear_site_data
        response = json_response(result.to_dict(), headers=headers)
        if scope != "others":
            self._clear_cookies(response, request)
        return response

    async def _logout(self, request: Request, body: LogoutBody | None) -> LogoutResult:
        # Every credential goes to the service unjudged: an expired, revoked or even forged
        # bearer must not stop a valid refresh token from ending its session (issue 9).
        bearer = _bearer_value(request)
        refresh = body.refresh_token if body else None
        if refresh is None:
            # A cross-site form cannot send an Authorization header (that needs CORS), so
            # without one the cookie is only honoured with the double-submit CSRF header.
            refresh = _cookie_refresh(request, csrf="authorization" not in request.headers)
        if bearer is None and refresh is None:
            raise CredentialsMissingError("send the access token (Bearer) or the refresh token")
        scope = body.scope if body else "current"
        return await self.service.logout(bearer=bearer, refresh_token=refresh, scope=scope)

    async def sessions(self, request: Request) -> JSONResponse:
        claims = await self.require(request)
        listed = await self.service.sessions(claims)
        return json_response(
            {
                "sessions": [
                    {
                        "session_id": s.sid,
                        "created_at": s.created_at,
                        "last_seen": s.last_seen,
                        "expires_at": s.expires_at,
                        "user_agent": s.user_agent,
                        "ip": s.ip,
                        "current": s.sid == claims.sid,
                    }
                    for s in listed
                ]
            }
        )

    async def end_session(self, session_id: str, request: Request) -> JSONResponse:
        claims = await self.require(request)
        result: LogoutResult = await self.service.end_session(claims, session_id)
        return json_response(result.to_dict())

    async def revoke(
        self,
        token: Annotated[str, Form(max_length=8192)],
        token_type_hint: Annotated[str | None, Form(max_length=64)] = None,
    ) -> JSONResponse:
        # RFC 7009 §2.1: the hint may be ignored; the token's shape tells us what it is.
        await self.service.revoke(token)
        return json_response({})

    async def introspect(
        self, request: Request, token: Annotated[str, Form(max_length=8192)]
    ) -> JSONResponse:
        self._authenticate_client(request)
        return json_response(await self.service.introspect(token))

    # -- helpers -------------------------------------------------------------------------
    def _authenticate_client(self, request: Request) -> None:
        """RFC 7662 §2.1 client authentication (HTTP Basic), throttled per address."""
        address = request.client.host if request.client else ""
        wait = self.client_throttle.retry_after(address)
        if wait:
            raise RateLimitedError(retry_after=wait)
        if not self._client_matches(request.headers.get("authorization", "")):
            self.client_throttle.failed(address)
            raise InvalidClientError()

    def _client_matches(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected = self._client_digests.get(client_id)
        # An unknown client costs the same digest and comparison as a known one.
        same = hmac.compare_digest(
            self._client_digest(secret), self._unknown_client if expected is None else expected
        )
        return same and expected is not None

    def _client_digest(self, secret: str) -> bytes:
        return hmac.digest(self._client_mac_key, secret.encode("utf-8", "surrogatepass"), "sha256")

    def _token_response(self, pair: TokenPair, request: Request, *, cookie: bool) -> JSONResponse:
        body: dict[str, Any] = {
            "access_token": pair.access_token,
            "token_type": "Bearer",
            "expires_in": pair.expires_in,
            "refresh_expires_in": pair.refresh_expires_in,
            "session_id": pair.session_id,
        }
        if not cookie:
            return json_response({**body, "refresh_token": pair.refresh_token})
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = json_response({**body, "csrf_token": csrf})
        secure = self._secure()
        response.set_cookie(
            REFRESH_COOKIE,
            pair.refresh_token,
            max_age=pair.refresh_expires_in,
            path="/auth",
            secure=secure,
            httponly=True,
            samesite="strict",
        )
        response.set_cookie(
            CSRF_COOKIE,
            csrf,
            max_age=pair.refresh_expires_in,
            path="/",
            secure=secure,
            httponly=False,
            samesite="strict",
        )
        return response

    def _clear_cookies(self, response: JSONResponse, request: Request) -> None:
        secure = self._secure()
        response.delete_cookie(
            REFRESH_COOKIE, path="/auth", secure=secure, httponly=True, samesite="strict"
        )
        response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="strict")

    def _secure(self) -> bool:
        return self.cookie_secure


def _bearer(request: Request, *, required: bool) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        if required:
            raise CredentialsMissingError()
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        if required:
            raise CredentialsMissingError("expected an Authorization: Bearer header")
        return None
    token = token.strip()
    if not token or " " in token:
        raise MalformedTokenError()
    return token


def _bearer_value(request: Request) -> str | None:
    """The bearer credential as sent, unchecked (``""`` for an empty one), or ``None``."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _cookie_refresh(request: Request, *, csrf: bool) -> str | None:
    token = request.cookies.get(REFRESH_COOKIE)
    if token is None:
        return None
    if csrf:
        expected = request.cookies.get(CSRF_COOKIE, "")
        sent = request.headers.get(CSRF_HEADER, "")
        if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
            raise CsrfError()
    return token
