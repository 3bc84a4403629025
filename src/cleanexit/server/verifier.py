"""Verifying access tokens: pinned algorithm, pinned type, claims checked against our clock.

Signature checking is PyJWT's (``PyJWS.decode_complete`` with exactly one allowed algorithm);
the header and claim rules are ours, so the revocation check only ever sees verified claims
(design invariant 4) and every failure is a precise ``InvalidTokenError`` (RFC 6750 §3.1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jwt
import orjson

from ..clock import Clock, system_clock
from ..errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    ImmatureTokenError,
    MalformedTokenError,
)
from .keys import KeyRing
from .tokens import AccessClaims

__all__ = ["MAX_TOKEN_LENGTH", "Verifier", "check_claims"]

MAX_TOKEN_LENGTH = 4096  # ours are ~400 bytes; anything larger is hostile or foreign
MAX_CLAIM_LENGTH = 256
ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})  # RFC 9068 §4
_STRING_CLAIMS = ("iss", "sub", "sid", "jti")
_jws = jwt.PyJWS()


class Verifier:
    """Turns a bearer string into ``AccessClaims`` or raises ``InvalidTokenError``."""

    def __init__(
        self,
        *,
        keys: KeyRing,
        issuer: str,
        audience: str,
        leeway: int = 0,
        clock: Clock = system_clock,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self._clock = clock

    def verify(self, token: str) -> AccessClaims:
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
            raise MalformedTokenError("malformed: empty or oversized token")
        if not token.isascii() or token.count(".") != 2:
            raise MalformedTokenError()
        payload = self._verify_signature(token)
        return check_claims(
            payload,
            issuer=self.issuer,
            audience=self.audience,
            now=self._clock(),
            leeway=self.leeway,
        )

    def _verify_signature(self, token: str) -> Any:
        try:
            header = _jws.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise MalformedTokenError() from exc
        key = self._check_header(header)
        try:
            decoded = _jws.decode_complete(token, key.verifier, algorithms=[key.algorithm])
        except jwt.InvalidSignatureError as exc:
            raise BadSignatureError() from exc
        except jwt.InvalidTokenError as exc:
            raise MalformedTokenError() from exc
        try:
            return orjson.loads(decoded["payload"])
        except orjson.JSONDecodeError as exc:
            raise MalformedTokenError("malformed: payload is not JSON") from exc

    def _check_header(self, header: Mapping[str, Any]) -> Any:
        if header.get("alg") != self.keys.algorithm:
            raise BadSignatureError("bad signature: algorithm not allowed")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPES:
            raise ClaimError("wrong token type")
        if "crit" in header or "b64" in header:
            raise MalformedTokenError("malformed: unsupported header parameter")
        key = self.keys.get(header.get("kid"))
        if key is None:
            raise BadSignatureError("bad signature: unknown key")
        return key


def check_claims(
    payload: object, *, issuer: str, audience: str, now: float, leeway: int = 0
) -> AccessClaims:
    """The claim rules every access token must pass, whatever verified its signature."""
    if not isinstance(payload, dict):
        raise MalformedTokenError("malformed: payload is not an object")
    for name in _STRING_CLAIMS:
        value = payload.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= MAX_CLAIM_LENGTH:
            raise ClaimError(f"missing claim: {name}")
    if payload["iss"] != issuer:
        raise ClaimError("wrong issuer")
    aud = payload.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise ClaimError("wrong audience")
    iat, exp = _numeric(payload, "iat"), _numeric(payload, "exp")
    if now >= exp + leeway:
        raise ExpiredTokenError()
    nbf = payload.get("nbf")
    if iat > now + leeway or (nbf is not None and _numeric(payload, "nbf") > now + leeway):
        raise ImmatureTokenError()
    client_id = payload.get("client_id")
    return AccessClaims(
        iss=payload["iss"],
        aud=audience,
        sub=payload["sub"],
        sid=payload["sid"],
        jti=payload["jti"],
        iat=int(iat),
        exp=int(exp),
        client_id=client_id if isinstance(client_id, str) else "",
    )


def _numeric(payload: Mapping[str, Any], name: str) -> float:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ClaimError(f"missing claim: {name}")
    return float(value)
