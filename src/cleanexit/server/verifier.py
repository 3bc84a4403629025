"""Verifying access tokens: pinned algorithm, pinned type, claims checked against our clock.

Signature checking is PyJWT's (``PyJWS.decode_complete`` with exactly one allowed algorithm),
except for the tokens this server issues itself, which ``fastpath.FastPath`` recognises by
their exact header bytes and verifies with the same result at a fraction of the cost (issue 5);
anything else takes the PyJWT path. The header and claim rules are ours, so the revocation
check only ever sees verified claims (design invariant 4) and every failure is a precise
``InvalidTokenError`` (RFC 6750 §3.1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
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
from .fastpath import FastPath, b64decode_strict
from .keys import KeyRing
from .tokens import AccessClaims

__all__ = ["MAX_LIFETIME", "MAX_TOKEN_LENGTH", "Verifier", "check_claims", "new_claims"]

MAX_TOKEN_LENGTH = 4096  # ours are ~400 bytes; anything larger is hostile or foreign
MAX_CLAIM_LENGTH = 256
# The longest access-token lifetime a setting allows: a signed exp further from iat is
# implausible (a key misused elsewhere, a bug) and could never be pruned (issue 9 finding 6).
MAX_LIFETIME = 86400
ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})  # RFC 9068 §4
_STRING_CLAIMS = ("iss", "sub", "sid", "jti")
_EXACT = 2**53  # integers up to this size survive a round trip through float
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
        max_lifetime: int = MAX_LIFETIME,
        clock: Clock = system_clock,
        fast_path: bool = True,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.max_lifetime = max_lifetime
        self._clock = clock
        # fast_path=False: PyJWT for every token (the oracle in tests, a baseline in benchmarks).
        self._fast = FastPath(keys if fast_path else None)

    def header_segments(self) -> frozenset[str]:
        """The exact header segments of the tokens we issue (resource-server mode tells our
        tokens from a provider's by them, before decoding anything)."""
        return self._fast.headers()

    def verify(self, token: str, allow_expired: bool = False) -> AccessClaims:
        """Verified claims, or ``InvalidTokenError``. ``allow_expired``: for logout only, where
        an authentic but expired token still names the session to end (issue 9 finding 1)."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
            raise MalformedTokenError("malformed: empty or oversized token")
        if not token.isascii() or token.count(".") != 2:
            raise MalformedTokenError()
        raw = self._fast.payload(token)
        if raw is None:
            raw = self._verify_signature(token)
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise MalformedTokenError("malformed: payload is not JSON") from exc
        return check_claims(
            payload,
            issuer=self.issuer,
            audience=self.audience,
            now=self._clock(),
            leeway=self.leeway,
            max_lifetime=self.max_lifetime,
            allow_expired=allow_expired,
        )

    def _verify_signature(self, token: str) -> bytes:
        # Only canonical, unpadded base64url (RFC 7515 §2): PyJWT also takes padded forms, and
        # one token must have one spelling (the fast path already holds to this).
        if any(b64decode_strict(segment) is None for segment in token.split(".")):
            raise MalformedTokenError("malformed: not canonical base64url")
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
        payload: bytes = decoded["payload"]
        return payload

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
        if key.not_after is not None and self._clock() >= key.not_after:
            # A retired key outlives every token it signed by access_ttl + leeway; after
            # that, a valid signature can only be a forgery with a leaked key (issue 9).
            raise BadSignatureError("bad signature: retired key")
        return key


def check_claims(
    payload: object,
    *,
    issuer: str,
    audience: str,
    now: float,
    leeway: int = 0,
    max_lifetime: int = MAX_LIFETIME,
    allow_expired: bool = False,
) -> AccessClaims:
    """The claim rules every access token must pass, whatever verified its signature.

    Written for the hot path (issue 5): one pass of local lookups, integer times without a
    float round trip; the slower helpers only run to name the claim that failed.
    """
    if not isinstance(payload, dict):
        raise MalformedTokenError("malformed: payload is not an object")
    get = payload.get
    iss, sub, sid, jti = get("iss"), get("sub"), get("sid"), get("jti")
    if not (
        isinstance(iss, str)
        and 0 < len(iss) <= MAX_CLAIM_LENGTH
        and isinstance(sub, str)
        and 0 < len(sub) <= MAX_CLAIM_LENGTH
        and isinstance(sid, str)
        and 0 < len(sid) <= MAX_CLAIM_LENGTH
        and isinstance(jti, str)
        and 0 < len(jti) <= MAX_CLAIM_LENGTH
    ):
        raise _missing_string(payload)
    if iss != issuer:
        raise ClaimError("wrong issuer")
    aud = get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise ClaimError("wrong audience")
    iat, exp = get("iat"), get("exp")
    # Integers that a float holds exactly compare and convert as the float rules would (bool
    # is not an int here, on purpose); anything else takes the float rules themselves.
    if not (type(iat) is int and type(exp) is int and iat >= -_EXACT and exp <= _EXACT):
        iat, exp = _numeric(payload, "iat"), _numeric(payload, "exp")
    if exp - iat > max_lifetime or iat < 0:
        raise ClaimError("implausible iat or exp")
    if now >= exp + leeway and not allow_expired:
        raise ExpiredTokenError()
    nbf = get("nbf")
    if iat > now + leeway or (nbf is not None and _numeric(payload, "nbf") > now + leeway):
        raise ImmatureTokenError()
    client_id = get("client_id")
    client_id = client_id if isinstance(client_id, str) else ""
    # `issuer` equals `iss` and, unlike it, has its hash cached: the revocation check uses it.
    return _new_claims(issuer, audience, sub, sid, jti, int(iat), int(exp), client_id, payload)


def _missing_string(payload: Mapping[str, Any]) -> ClaimError:
    for name in _STRING_CLAIMS:
        value = payload.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= MAX_CLAIM_LENGTH:
            break
    return ClaimError(f"missing claim: {name}")


def _claims_constructor() -> Callable[..., AccessClaims]:
    """``AccessClaims(...)`` by position, without the frozen dataclass ``__init__``.

    That ``__init__`` pays ``object.__setattr__`` per field (about 1 µs of a 5 µs verify);
    setting the same slots through their descriptors gives an identical, equally immutable
    object. ``tests/server/test_fastpath.py`` pins the equivalence.
    """
    assert not hasattr(AccessClaims, "__post_init__"), "AccessClaims grew a __post_init__"
    fields = ("iss", "aud", "sub", "sid", "jti", "iat", "exp", "client_id", "payload")
    s0, s1, s2, s3, s4, s5, s6, s7, s8 = (getattr(AccessClaims, f).__set__ for f in fields)
    new = object.__new__

    def construct(
        iss: str,
        aud: str,
        sub: str,
        sid: str,
        jti: str,
        iat: int,
        exp: int,
        client_id: str,
        payload: dict[str, Any],
    ) -> AccessClaims:
        claims: AccessClaims = new(AccessClaims)
        s0(claims, iss)
        s1(claims, aud)
        s2(claims, sub)
        s3(claims, sid)
        s4(claims, jti)
        s5(claims, iat)
        s6(claims, exp)
        s7(claims, client_id)
        s8(claims, payload)
        return claims

    return construct


_new_claims = _claims_constructor()
new_claims = _new_claims  # for the external issuers' verifier (server/oidc): the same speed


def _numeric(payload: Mapping[str, Any], name: str) -> float:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ClaimError(f"missing claim: {name}")
    return float(value)
