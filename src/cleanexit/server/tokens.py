"""Issuing tokens: short-lived access JWTs (RFC 9068 profile) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import jwt

from ..clock import Clock, system_clock
from .keys import KeyRing

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "REFRESH_PREFIX",
    "AccessClaims",
    "IssuedAccessToken",
    "TokenIssuer",
    "hash_refresh_token",
    "new_id",
    "new_refresh_token",
]

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - RFC 9068 §2.1: no other JWT can stand in for an access token
REFRESH_PREFIX = "cxr_"  # lets secret scanners and token_type_hint-less revocation spot them


_RESERVED = frozenset({"iss", "aud", "sub", "sid", "jti", "iat", "exp", "nbf", "client_id"})


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified claims of an access token: the standard ones typed (the only input the
    revocation check uses), the application's (``scope``, ``roles``, ...) in ``extra``."""

    iss: str
    aud: str
    sub: str
    sid: str
    jti: str
    iat: int
    exp: int
    client_id: str
    # The whole verified payload; read it through ``extra`` (read-only, ours left out).
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def extra(self) -> Mapping[str, Any]:
        """The application's claims, read-only."""
        return MappingProxyType({k: v for k, v in self.payload.items() if k not in _RESERVED})

    @property
    def scopes(self) -> frozenset[str]:
        """The ``scope`` claim (RFC 8693 §4.2: space-separated; a JSON list is taken too)."""
        scope = self.payload.get("scope")
        if isinstance(scope, str):
            return frozenset(scope.split())
        if isinstance(scope, list):
            return frozenset(s for s in scope if isinstance(s, str))
        return frozenset()


@dataclass(frozen=True, slots=True, repr=False)
class IssuedAccessToken:
    token: str
    claims: AccessClaims

    def __repr__(self) -> str:
        return f"IssuedAccessToken(jti={self.claims.jti!r}, exp={self.claims.exp})"


class TokenIssuer:
    """Signs access tokens with the key ring's active key."""

    def __init__(
        self,
        *,
        keys: KeyRing,
        issuer: str,
        audience: str,
        access_ttl: int = 600,
        client_id: str = "cleanexit",
        clock: Clock = system_clock,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.access_ttl = access_ttl
        self.client_id = client_id
        self._clock = clock

    def issue(
        self,
        *,
        sub: str,
        sid: str,
        iat: int | None = None,
        exp: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> IssuedAccessToken:
        """Sign a token; ``iat``/``exp`` default to now and now + ``access_ttl`` (the session
        service passes both, so what it records for the session is what the token says).
        ``extra``: application claims, already checked (``claims.check_claims_mapping``)."""
        iat = int(self._clock()) if iat is None else iat
        exp = iat + self.access_ttl if exp is None else exp
        jti = new_id()
        payload = {
            **(extra or {}),
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "sid": sid,
            "jti": jti,
            "iat": iat,
            "exp": exp,
            "client_id": self.client_id,
        }
        claims = AccessClaims(
            self.issuer, self.audience, sub, sid, jti, iat, exp, self.client_id, payload
        )
        key = self.keys.active
        token = jwt.encode(
            payload,
            key.signer,
            algorithm=key.algorithm,
            headers={"typ": ACCESS_TOKEN_TYPE, "kid": key.kid},
        )
        return IssuedAccessToken(token=token, claims=claims)


def new_id() -> str:
    """128 random bits, URL-safe: session ids and ``jti``."""
    return secrets.token_urlsafe(16)


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> bytes:
    """Refresh tokens carry 256 random bits, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
