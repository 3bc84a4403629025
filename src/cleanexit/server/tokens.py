"""Issuing tokens: short-lived access JWTs (RFC 9068 profile) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified claims of an access token; the only input the revocation check uses."""

    iss: str
    aud: str
    sub: str
    sid: str
    jti: str
    iat: int
    exp: int
    client_id: str


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
        self, *, sub: str, sid: str, iat: int | None = None, exp: int | None = None
    ) -> IssuedAccessToken:
        """Sign a token; ``iat``/``exp`` default to now and now + ``access_ttl`` (the session
        service passes both, so what it records for the session is what the token says)."""
        iat = int(self._clock()) if iat is None else iat
        claims = AccessClaims(
            iss=self.issuer,
            aud=self.audience,
            sub=sub,
            sid=sid,
            jti=new_id(),
            iat=iat,
            exp=iat + self.access_ttl if exp is None else exp,
            client_id=self.client_id,
        )
        key = self.keys.active
        token = jwt.encode(
            {
                "iss": claims.iss,
                "aud": claims.aud,
                "sub": claims.sub,
                "sid": claims.sid,
                "jti": claims.jti,
                "iat": claims.iat,
                "exp": claims.exp,
                "client_id": claims.client_id,
            },
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
