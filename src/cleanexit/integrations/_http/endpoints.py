"""The ``/auth`` endpoints, written once for every framework.

Each method takes already-parsed input (a body model, a form field, a :class:`Request` view of
headers and cookies) and returns a :class:`Response`, or raises a ``CleanexitError`` that
``errors.error_response`` renders. Framework adapters (``integrations/fastapi``, ``flask``,
``django``) only translate requests and responses; no decision is made twice.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from ...errors import (
    CredentialsMissingError,
    CsrfError,
    InsufficientScopeError,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidTokenError,
    MalformedTokenError,
    RateLimitedError,
    RevokedTokenError,
)
from ...server.client_ip import ClientAddress, parse_networks
from ...server.replica import Guard
from ...server.sessions import LogoutResult, SessionService, TokenPair
from ...server.throttle import FailureThrottle
from ...server.tokens import AccessClaims
from .errors import error_response
from .messages import Request, Response

if TYPE_CHECKING:
    from ...runtime import Runtime

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "REFRESH_COOKIE",
    "AuthEndpoints",
    "LoginBody",
    "LogoutBody",
    "RefreshBody",
    "bearer",
    "check_form_token",
    "describe_validation",
    "endpoints_for",
    "parse_body",
]

REFRESH_COOKIE = "cleanexit_refresh"
CSRF_COOKIE = "cleanexit_csrf"
CSRF_HEADER = "x-csrf-token"
COOKIE_PATH = "/auth"
MAX_FORM_TOKEN = 8192


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


def describe_validation(errors: Iterable[Mapping[str, Any]]) -> str:
    """Location and message only: pydantic's ``input`` would echo passwords and tokens."""
    parts = []
    for error in list(errors)[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


M = TypeVar("M", bound=BaseModel)


@overload
def parse_body(model: type[M], raw: bytes) -> M: ...
@overload
def parse_body(model: type[M], raw: bytes, *, optional: bool) -> M | None: ...
def parse_body(model: type[M], raw: bytes, *, optional: bool = False) -> M | None:
    """Validate a JSON body for adapters whose framework does not (Flask, Django).
    ``optional``: an empty body or JSON ``null`` is ``None``, as FastAPI's optional bodies."""
    if optional and raw.strip() in (b"", b"null"):
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidRequestError(describe_validation(exc.errors())) from None


class AuthEndpoints:
    """The logic of every ``/auth`` route; see the module docstring."""

    def __init__(
        self,
        service: SessionService,
        guard: Guard,
        *,
        clear_site_data: str = '"cache", "cookies", "storage"',
        cookie_secure: bool = True,
        introspection_clients: Mapping[str, str] | None = None,
        client_throttle: FailureThrottle | None = None,
        client_address: ClientAddress | None = None,
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
        # X-Forwarded-For only from CLEANEXIT_TRUSTED_PROXIES (issue 15): one rule for the
        # address of sessions, audit lines and throttles.
        self.client_address = client_address or ClientAddress()

    def client_ip(self, request: Request) -> str:
        return self.client_address.resolve(request.client, request.header("x-forwarded-for"))

    def refused(self, request: Request, exc: RevokedTokenError) -> None:
        """A revoked access token was presented: the audit trail's ``session_use_after_expire``."""
        self.service.report_refused(exc, ip=self.client_ip(request), user_agent=request.user_agent)

    @property
    def password_login(self) -> bool:
        """Whether ``/auth/login`` exists (an app without an Authenticator has none)."""
        return self.service.authenticator is not None

    # -- authentication of requests --------------------------------------------------------
    async def authenticate(self, request: Request) -> AccessClaims:
        """Verified, unrevoked claims, or an RFC 6750 error (503 when the state is unsure)."""
        try:
            return await self.guard.authenticate(bearer(request.header("authorization")))
        except RevokedTokenError as exc:
            self.refused(request, exc)
            raise

    async def authenticate_own(self, request: Request) -> AccessClaims:
        """``authenticate`` for our own tokens only: routes about our sessions (issue 11: a
        provider's "alice" must not list or end our "alice"'s sessions)."""
        try:
            return await self.guard.authenticate_own(bearer(request.header("authorization")))
        except RevokedTokenError as exc:
            self.refused(request, exc)
            raise

    @staticmethod
    def check_scopes(claims: AccessClaims, needed: Sequence[str]) -> AccessClaims:
        if not claims.scopes.issuperset(needed):
            raise InsufficientScopeError(scopes=tuple(needed))
        return claims

    # -- routes ----------------------------------------------------------------------------
    async def login(self, body: LoginBody, request: Request) -> Response:
        pair = await self.service.login(
            body.username, body.password, user_agent=request.user_agent, ip=self.client_ip(request)
        )
        return self.tokens(pair, request, cookie=body.refresh_in_cookie)

    async def start_session(
        self,
        request: Request,
        sub: str,
        *,
        claims: Mapping[str, Any] | None = None,
        cookie: bool = False,
    ) -> Response:
        """What ``/auth/login`` answers, for a user the application signed in itself."""
        pair = await self.service.start_session(
            sub, claims=claims, user_agent=request.user_agent, ip=self.client_ip(request)
        )
        return self.tokens(pair, request, cookie=cookie)

    async def refresh(self, body: RefreshBody | None, request: Request) -> Response:
        token = body.refresh_token if body else None
        from_cookie = token is None
        if from_cookie:
            token = _cookie_refresh(request, csrf=True)
        if token is None:
            raise InvalidGrantError("no refresh token in the body or the cookie")
        try:
            pair = await self.service.refresh(
                token, user_agent=request.user_agent, ip=self.client_ip(request)
            )
        except InvalidGrantError as exc:
            response = error_response(exc)
            # Not on a race: the winner's response is setting the new cookie right now, and
            # clearing it after would strand the session (issue 9 finding 4).
            if from_cookie and exc.reason != "race":
                self._clear_cookies(response)
            return response
        return self.tokens(pair, request, cookie=from_cookie)

    async def logout(self, body: LogoutBody | None, request: Request) -> Response:
        try:
            result = await self._logout(body, request)
        except (InvalidTokenError, CredentialsMissingError) as exc:
            # Nothing valid to revoke. A dead refresh cookie is useless but still a credential
            # the browser keeps sending: clear it, as /auth/refresh does on invalid_grant.
            response = error_response(exc)
            if REFRESH_COOKIE in request.cookies:
                self._clear_cookies(response)
            return response
        response = Response(200, result.to_dict())
        if result.scope != "others":
            if self.clear_site_data:
                response.headers.append(("Clear-Site-Data", self.clear_site_data))
            self._clear_cookies(response)
        return response

    async def _logout(self, body: LogoutBody | None, request: Request) -> LogoutResult:
        # Every credential goes to the service unjudged: an expired, revoked or even forged
        # bearer must not stop a valid refresh token from ending its session (issue 9).
        authorization = request.header("authorization")
        scheme, _, value = authorization.partition(" ")
        sent_bearer = value.strip() if scheme.lower() == "bearer" else None
        refresh = body.refresh_token if body else None
        if refresh is None:
            # A cross-site form cannot send an Authorization header (that needs CORS), so
            # without one the cookie is only honoured with the double-submit CSRF header.
            refresh = _cookie_refresh(request, csrf=not authorization)
        if sent_bearer is None and refresh is None:
            raise CredentialsMissingError("send the access token (Bearer) or the refresh token")
        scope = body.scope if body else "current"
        return await self.service.logout(
            bearer=sent_bearer, refresh_token=refresh, scope=scope,
            user_agent=request.user_agent, ip=self.client_ip(request),
        )  # fmt: skip

    async def sessions(self, request: Request) -> Response:
        claims = await self.authenticate_own(request)
        listed = await self.service.sessions(claims)
        return Response(
            200,
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
            },
        )

    async def end_session(self, session_id: str, request: Request) -> Response:
        claims = await self.authenticate_own(request)
        result = await self.service.end_session(
            claims, session_id, user_agent=request.user_agent, ip=self.client_ip(request)
        )
        return Response(200, result.to_dict())

    async def revoke(self, token: str) -> Response:
        # RFC 7009 §2.1: the hint may be ignored; the token's shape tells us what it is.
        await self.service.revoke(token)
        return Response(200, {})

    async def introspect(self, token: str, request: Request) -> Response:
        self._authenticate_client(request)
        return Response(200, await self.service.introspect(token))

    # -- token responses -------------------------------------------------------------------
    def tokens(self, pair: TokenPair, request: Request, *, cookie: bool) -> Response:
        """The login/refresh answer: tokens in the body, or the refresh token in an
        ``HttpOnly`` cookie with a CSRF double-submit twin."""
        body: dict[str, Any] = {
            "access_token": pair.access_token,
            "token_type": "Bearer",
            "expires_in": pair.expires_in,
            "refresh_expires_in": pair.refresh_expires_in,
            "session_id": pair.session_id,
        }
        if not cookie:
            return Response(200, {**body, "refresh_token": pair.refresh_token})
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = Response(200, {**body, "csrf_token": csrf})
        age, secure = pair.refresh_expires_in, self.cookie_secure
        response.set_cookie(
            REFRESH_COOKIE, pair.refresh_token, max_age=age, path=COOKIE_PATH, secure=secure,
            httponly=True,
        )  # fmt: skip
        response.set_cookie(CSRF_COOKIE, csrf, max_age=age, path="/", secure=secure, httponly=False)
        return response

    def _clear_cookies(self, response: Response) -> None:
        secure = self.cookie_secure
        response.delete_cookie(REFRESH_COOKIE, path=COOKIE_PATH, secure=secure, httponly=True)
        response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, httponly=False)

    # -- RFC 7662 client authentication ----------------------------------------------------
    def _authenticate_client(self, request: Request) -> None:
        """RFC 7662 §2.1 client authentication (HTTP Basic), throttled per address."""
        address = self.client_ip(request)
        wait = self.client_throttle.retry_after(address)
        if wait:
            raise RateLimitedError(retry_after=wait)
        if not self._client_matches(request.header("authorization")):
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


def bearer(header: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header, or the RFC 6750 error for it."""
    if not header:
        raise CredentialsMissingError()
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        raise CredentialsMissingError("expected an Authorization: Bearer header")
    token = token.strip()
    if not token or " " in token:
        raise MalformedTokenError()
    return token


def check_form_token(token: object) -> str:
    """RFC 7009 / 7662 ``token`` form field: required, bounded."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_FORM_TOKEN:
        raise InvalidRequestError(f"token: a string of 1 to {MAX_FORM_TOKEN} characters")
    return token


def _cookie_refresh(request: Request, *, csrf: bool) -> str | None:
    token = request.cookies.get(REFRESH_COOKIE)
    if token is None:
        return None
    if csrf:
        expected = request.cookies.get(CSRF_COOKIE, "")
        sent = request.header(CSRF_HEADER)
        if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
            raise CsrfError()
    return token


def endpoints_for(runtime: Runtime) -> AuthEndpoints:
    """The ``/auth`` endpoints with every HTTP setting taken from ``runtime.settings``."""
    settings = runtime.settings
    return AuthEndpoints(
        runtime.service,
        runtime.guard,
        clear_site_data=settings.clear_site_data,
        cookie_secure=settings.refresh_cookie_secure(),
        introspection_clients=settings.introspection_credentials(),
        # X-Forwarded-For only through CLEANEXIT_TRUSTED_PROXIES (issue 15), as in FastAPI.
        client_address=ClientAddress(parse_networks(settings.trusted_proxies)),
    )
