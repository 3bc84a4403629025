"""Verifying an external issuer's access tokens (issue 11): its keys, our rules.

The issuer is chosen by the token's ``iss`` (a dictionary lookup: the signature must still
verify with *that* issuer's keys and algorithms, so a forged ``iss`` only chooses whose keys
refuse it). The header is checked against configuration — an allowed algorithm, the type, no
``crit`` — and the key comes from the issuer's JWKS (never from ``jku``/``x5u``/``jwk``: RFC
8725 §3.10). A header that verified once is remembered with its check, so a provider's token
then costs: one dictionary lookup, the signature primitive, one base64 + JSON decode and the
claim rules — a few microseconds on top of the primitive (docs/benchmarks.md).

Claims are the same rules as for our own tokens: exact issuer, audience, ``exp``, ``iat``
(required: the per-user cutoff compares it), ``nbf``, a lifetime no longer than the issuer's
``max_token_lifetime``. ``sid`` and ``jti`` are optional (many providers put neither in access
tokens): absent, they are empty in ``AccessClaims`` and the ``(iss, sub)`` cutoff still holds.
The revocation keys (``ProviderKeys``) are built from these verified claims only (invariant 4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from ...clock import Clock, system_clock
from ...errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    ImmatureTokenError,
    MalformedTokenError,
)
from ..fastpath import b64decode_strict
from ..revocation import ProviderKeys
from ..tokens import AccessClaims
from ..verifier import new_claims
from .issuer import LOGOUT_TOKEN_TYPE, TrustedIssuer
from .jwks import JwksCache
from .jws import SignatureCheck

__all__ = [
    "MAX_EXTERNAL_TOKEN_LENGTH",
    "ExternalVerifier",
    "IssuerVerifier",
    "numeric_date",
    "parse_token",
]

# Providers put groups and roles in their tokens: twice our own limit (4 KiB) before any
# decoding; anything larger is refused as malformed.
MAX_EXTERNAL_TOKEN_LENGTH = 8192
MAX_CLAIM_LENGTH = 256
_CACHED_HEADERS = 64  # distinct verified header segments remembered per issuer
_LOGOUT_TYPES = frozenset({LOGOUT_TOKEN_TYPE, "application/" + LOGOUT_TOKEN_TYPE})
_EXACT = 2**53


def parse_token(token: object) -> tuple[list[str], dict[str, Any]]:
    """The three segments and the *unverified* payload (read only to pick the issuer; it is
    trusted once the signature checks). ``MalformedTokenError`` for anything else."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_EXTERNAL_TOKEN_LENGTH:
        raise MalformedTokenError("malformed: empty or oversized token")
    if not token.isascii():
        raise MalformedTokenError()
    parts = token.split(".")
    if len(parts) == 5:
        raise MalformedTokenError("malformed: encrypted tokens (JWE) are not accepted")
    if len(parts) != 3:
        raise MalformedTokenError()
    return parts, _json_object(parts[1], "payload")


def _json_object(segment: str, what: str) -> dict[str, Any]:
    raw = b64decode_strict(segment)
    if raw is None:
        raise MalformedTokenError("malformed: not canonical base64url")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedTokenError(f"malformed: {what} is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedTokenError(f"malformed: {what} is not an object")
    return value


class IssuerVerifier:
    """One trusted issuer: the signature of its tokens, then our claim rules."""

    def __init__(
        self,
        issuer: TrustedIssuer,
        keys: JwksCache,
        *,
        leeway: int = 0,
        clock: Clock = system_clock,
    ) -> None:
        self.issuer = issuer
        self.keys = keys
        self.leeway = leeway
        self._clock = clock
        self._checks: dict[str, SignatureCheck] = {}  # verified header segment -> its check
        self._version = keys.version

    def __repr__(self) -> str:
        return f"IssuerVerifier(issuer={self.issuer.issuer!r})"

    async def access(
        self, token: str, parts: Sequence[str], payload: Mapping[str, Any]
    ) -> tuple[AccessClaims, ProviderKeys]:
        """Verified claims of an access token of this issuer (``payload`` is its own, as
        ``parse_token`` read it) and their revocation keys."""
        header = parts[0]
        if self._version != self.keys.version:  # the JWKS changed: re-derive every check
            self._checks.clear()
            self._version = self.keys.version
        check = self._checks.get(header)
        cached = check is not None
        if check is None:
            check = await self.header_check(header, logout=False)
        if not check(token[: len(header) + len(parts[1]) + 1].encode(), parts[2]):
            raise BadSignatureError()
        if not cached:
            if len(self._checks) >= _CACHED_HEADERS:
                self._checks.clear()
            self._checks[header] = check
        return self._claims(payload)

    async def header_check(self, segment: str, *, logout: bool) -> SignatureCheck:
        """The signature check a header asks for, if configuration allows it."""
        header = _json_object(segment, "header")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.issuer.algorithms:
            raise BadSignatureError("bad signature: algorithm not allowed")
        self._check_type(header.get("typ"), logout=logout)
        if "crit" in header or "b64" in header:  # RFC 7515 §4.1.11, RFC 7797: not understood
            raise MalformedTokenError("malformed: unsupported header parameter")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise MalformedTokenError("malformed: kid is not a string")
        return (await self.keys.key(kid, alg)).check

    def _check_type(self, typ: object, *, logout: bool) -> None:
        given = typ.lower() if isinstance(typ, str) else None
        if logout:
            # Back-Channel Logout 1.0 §2.4; providers that predate it send JWT or nothing.
            ok = given in _LOGOUT_TYPES or (
                not self.issuer.require_logout_typ and given in (None, "jwt")
            )
        elif given in _LOGOUT_TYPES:
            ok = False  # a logout token is never an access token
        elif self.issuer.typ is not None:
            wanted = self.issuer.typ.lower()
            ok = given in (wanted, "application/" + wanted)  # RFC 7515 §4.1.9
        else:
            ok = True
        if not ok:
            raise ClaimError("wrong token type")

    def _claims(self, payload: Mapping[str, Any]) -> tuple[AccessClaims, ProviderKeys]:
        get = payload.get
        sub, sid, jti = get("sub"), get("sid", ""), get("jti", "")
        if not (isinstance(sub, str) and 0 < len(sub) <= MAX_CLAIM_LENGTH):
            raise ClaimError("missing claim: sub")
        if not (isinstance(sid, str) and len(sid) <= MAX_CLAIM_LENGTH):
            raise ClaimError("invalid claim: sid")
        if not (isinstance(jti, str) and len(jti) <= MAX_CLAIM_LENGTH):
            raise ClaimError("invalid claim: jti")
        aud, audience = get("aud"), self.issuer.audience
        if not (aud == audience or (isinstance(aud, list) and audience in aud)):
            raise ClaimError("wrong audience")
        if "events" in payload:  # a Security Event Token (a logout token), not an access token
            raise ClaimError("wrong token type")
        iat, exp = get("iat"), get("exp")
        if not (type(iat) is int and type(exp) is int and iat >= -_EXACT and exp <= _EXACT):
            iat, exp = numeric_date(payload, "iat"), numeric_date(payload, "exp")
        if exp - iat > self.issuer.max_token_lifetime or iat < 0:
            raise ClaimError("implausible iat or exp")
        now, leeway = self._clock(), self.leeway
        if now >= exp + leeway:
            raise ExpiredTokenError()
        nbf = get("nbf")
        if iat > now + leeway or (nbf is not None and numeric_date(payload, "nbf") > now + leeway):
            raise ImmatureTokenError()
        client_id = get("client_id", get("azp"))
        iss, iat, exp = self.issuer.issuer, int(iat), int(exp)
        claims = new_claims(
            iss, audience, sub, sid, jti, iat, exp,
            client_id if isinstance(client_id, str) else "", payload,
        )  # fmt: skip
        # ProviderKeys.of, inlined: this runs on every request.
        keys = ProviderKeys(iss, f"{iss}\x1f{sub}", f"{iss}\x1f{sid}" if sid else "", jti, iat)
        return claims, keys


class ExternalVerifier:
    """The trusted issuers, by their exact ``iss``."""

    def __init__(self, issuers: Sequence[IssuerVerifier]) -> None:
        self.issuers: dict[str, IssuerVerifier] = {v.issuer.issuer: v for v in issuers}

    def __repr__(self) -> str:
        return f"ExternalVerifier(issuers={list(self.issuers)!r})"

    def get(self, iss: object) -> IssuerVerifier | None:
        return self.issuers.get(iss) if isinstance(iss, str) else None

    async def verify(self, token: str) -> tuple[AccessClaims, ProviderKeys]:
        """Verified claims of a trusted issuer's access token and their revocation keys;
        ``ClaimError("unknown issuer")`` for any other issuer."""
        parts, payload = parse_token(token)
        issuer = self.get(payload.get("iss"))
        if issuer is None:
            raise ClaimError("unknown issuer")
        return await issuer.access(token, parts, payload)


def numeric_date(payload: Mapping[str, Any], name: str) -> float:
    """A JWT NumericDate (RFC 7519 §2) claim as a float, or ``ClaimError``."""
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ClaimError(f"missing claim: {name}")
    return float(value)
