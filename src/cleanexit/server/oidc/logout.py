"""Reading an OpenID Connect Back-Channel Logout 1.0 logout token (issue 11).

Everything §2.6 asks a receiver to validate, and nothing taken on trust: the signature with the
issuer's keys and configured algorithms, ``typ: logout+jwt`` (§2.4; ASVS 5 V10.5.5 — a
receiver without it takes an ID token for a logout token), ``iss``, ``aud`` = our client id
(and ``azp``, when present), ``iat`` neither older than ``logout_max_age`` nor in the future,
``exp`` when present, a ``jti``, the back-channel logout event as a JSON object, ``sid``
and/or ``sub``, and no ``nonce`` (§2.4: it would make the token usable as an ID token). Every
refusal is an ``InvalidLogoutTokenError`` (400, §2.8) naming the check that failed; a JWKS that
cannot be fetched at all stays a ``KeysUnavailableError`` (503: retry later).

Whether the ``jti`` was seen before is the store's to answer (every instance shares it):
``LogoutToken.replay_until`` is how long it must be remembered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import InvalidLogoutTokenError, InvalidTokenError
from .issuer import TrustedIssuer
from .verifier import MAX_CLAIM_LENGTH, ExternalVerifier, IssuerVerifier, numeric_date, parse_token

__all__ = ["BACKCHANNEL_LOGOUT_EVENT", "LogoutToken", "read_logout_token"]

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass(frozen=True, slots=True)
class LogoutToken:
    """The verified content of a logout token that passed every check."""

    issuer: TrustedIssuer
    jti: str
    iat: float
    sid: str | None
    sub: str | None
    replay_until: float  # the token is refused by its iat / exp from this moment on


async def read_logout_token(
    token: object, verifiers: ExternalVerifier, *, now: float, leeway: int = 0
) -> LogoutToken:
    """A verified ``LogoutToken`` or ``InvalidLogoutTokenError``."""
    try:
        parts, payload = parse_token(token)
        verifier = verifiers.get(payload.get("iss"))
        if verifier is None:
            raise _refused("unknown issuer")
        await _check_signature(verifier, str(token), parts)
    except InvalidTokenError as exc:
        raise _refused(exc.description) from None
    return _claims(verifier.issuer, payload, now=now, leeway=leeway)


async def _check_signature(verifier: IssuerVerifier, token: str, parts: list[str]) -> None:
    if verifier.issuer.client_id is None:
        raise _refused("back-channel logout is not configured for this issuer (no client_id)")
    check = await verifier.header_check(parts[0], logout=True)
    if not check(token[: len(parts[0]) + len(parts[1]) + 1].encode(), parts[2]):
        raise _refused("bad signature")


def _claims(
    issuer: TrustedIssuer, payload: Mapping[str, Any], *, now: float, leeway: int
) -> LogoutToken:
    get = payload.get
    aud, client_id = get("aud"), issuer.client_id
    if not (aud == client_id or (isinstance(aud, list) and client_id in aud)):
        raise _refused("wrong audience")
    if "azp" in payload and get("azp") != client_id:  # OIDC Core 1.0 §3.1.3.7, step 5
        raise _refused("wrong authorized party (azp)")
    iat = _date(payload, "iat")
    if iat > now + leeway:
        raise _refused("iat is in the future")
    last = iat + issuer.logout_max_age
    if now > last + leeway:
        raise _refused("too old (iat)")
    if "exp" in payload:
        exp = _date(payload, "exp")
        if now >= exp + leeway:
            raise _refused("expired")
        last = min(last, exp)
    _check_event(get("events"))
    if "nonce" in payload:
        raise _refused("a nonce is not allowed (§2.4)")
    jti = _string(payload, "jti")
    sid, sub = _optional(payload, "sid"), _optional(payload, "sub")
    if sid is None and sub is None:
        raise _refused("neither sid nor sub")
    return LogoutToken(issuer, jti, iat, sid, sub, replay_until=last + leeway + 1)


def _check_event(events: object) -> None:
    if not isinstance(events, Mapping):
        raise _refused("missing claim: events")
    if not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), Mapping):  # §2.4: a JSON object
        raise _refused("events has no back-channel logout event")


def _date(payload: Mapping[str, Any], name: str) -> float:
    try:
        return numeric_date(payload, name)
    except InvalidTokenError as exc:
        raise _refused(exc.description) from None


def _optional(payload: Mapping[str, Any], name: str) -> str | None:
    return None if payload.get(name) is None else _string(payload, name)


def _string(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CLAIM_LENGTH:
        raise _refused(f"missing claim: {name}" if value is None else f"invalid claim: {name}")
    return value


def _refused(why: str) -> InvalidLogoutTokenError:
    return InvalidLogoutTokenError(f"logout token refused: {why}")
