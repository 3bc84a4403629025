"""Application claims: what an app adds to its access tokens (``scope``, ``roles``, ``tenant``).

The names cleanexit owns cannot be set (their meaning is the revocation check's), and the
encoded claims are bounded, so a token stays well under the verifier's size limit. An app
supplies claims per session (``start_session(sub, claims=...)``, kept with the session) and/or
through a hook called each time a token is issued — at session start and at every refresh —
so a role change reaches the next token without a new login (issue 10).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from .stores.base import SessionRecord

__all__ = [
    "MAX_CLAIMS_BYTES",
    "RESERVED_CLAIMS",
    "AppClaimsError",
    "ClaimsHook",
    "app_claims",
    "check_claims_mapping",
]

# Registered JWT claims (RFC 7519 §4.1) and ours: set by the issuer only.
RESERVED_CLAIMS = frozenset({"iss", "aud", "sub", "sid", "jti", "iat", "exp", "nbf", "client_id"})
MAX_CLAIMS_BYTES = 2048  # the application's claims as JSON; tokens are refused past 4 KiB

ClaimsHook = Callable[["SessionRecord"], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]


class AppClaimsError(ConfigurationError):
    """The application's claims cannot go into a token (a bug in the app, not bad input)."""

    error_code = "invalid_app_claims"


def check_claims_mapping(claims: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``claims``, or ``AppClaimsError`` naming what is wrong (never the values)."""
    if not isinstance(claims, Mapping):
        raise AppClaimsError("application claims must be a mapping of names to JSON values")
    taken = sorted(name for name in claims if name in RESERVED_CLAIMS)
    if taken:
        raise AppClaimsError(f"claims {', '.join(taken)} are set by cleanexit and cannot be given")
    if not all(isinstance(name, str) and name for name in claims):
        raise AppClaimsError("claim names must be non-empty strings")
    try:
        size = len(orjson.dumps(dict(claims)))
    except TypeError as exc:
        raise AppClaimsError("application claims must be JSON values") from exc
    if size > MAX_CLAIMS_BYTES:
        raise AppClaimsError(
            f"application claims take {size} bytes as JSON, more than {MAX_CLAIMS_BYTES}"
        )
    return dict(claims)


async def app_claims(session: SessionRecord, hook: ClaimsHook | None) -> dict[str, Any]:
    """The claims of the next token of ``session``: its own, then the hook's on top."""
    claims = dict(session.claims)
    if hook is not None:
        computed = hook(session)
        if inspect.isawaitable(computed):
            computed = await computed
        claims.update(check_claims_mapping(computed))
    return check_claims_mapping(claims) if claims else claims
