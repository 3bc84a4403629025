"""Security events, as the core reports them (issue 15).

``SessionService`` calls an ``Observer`` with an ``AuthEvent`` for everything an operator
watches or an auditor asks about: logins, refreshes, logouts, revocations, throttling. The
observers are the audit log (``server.audit``: one JSON line per event) and the metrics
(``server.metrics``: counters and histograms); the core knows neither.

Names follow the OWASP Logging Vocabulary (``authn_login_success``, ``session_expired``, ...).
An event carries identifiers only — user, session id, ``jti``, a fingerprint — never a token,
password or secret, so nothing that reads events can leak one (design invariant 6).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "AUTHN_LOGIN_FAIL",
    "AUTHN_LOGIN_FAIL_MAX",
    "AUTHN_LOGIN_SUCCESS",
    "AUTHN_TOKEN_REUSE",
    "AUTHN_TOKEN_REVOKED",
    "EXCESS_RATE_LIMIT_EXCEEDED",
    "SESSION_CREATED",
    "SESSION_EXPIRED",
    "SESSION_RENEWED",
    "SESSION_USE_AFTER_EXPIRE",
    "AuthEvent",
    "Observer",
    "fan_out",
]

# OWASP Logging Vocabulary (cheat sheet "Logging Vocabulary"): the event names we emit.
AUTHN_LOGIN_SUCCESS: Final = "authn_login_success"
AUTHN_LOGIN_FAIL: Final = "authn_login_fail"
AUTHN_LOGIN_FAIL_MAX: Final = "authn_login_fail_max"  # a failure that starts a back-off
# an access token deny-listed, a cutoff set:
AUTHN_TOKEN_REVOKED: Final = "authn_token_revoked"  # noqa: S105 - an event name
# a rotated refresh token presented again:
AUTHN_TOKEN_REUSE: Final = "authn_token_reuse"  # noqa: S105 - an event name
EXCESS_RATE_LIMIT_EXCEEDED: Final = "excess_rate_limit_exceeded"  # a login refused (429)
SESSION_CREATED: Final = "session_created"
SESSION_RENEWED: Final = "session_renewed"  # refresh-token rotation
SESSION_EXPIRED: Final = "session_expired"  # a session ended (logout, admin, theft, ...)
SESSION_USE_AFTER_EXPIRE: Final = "session_use_after_expire"  # a revoked token presented


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthEvent:
    """One security event. ``kind``/``outcome`` are the bounded metric labels; ``name`` the
    OWASP vocabulary name of the audit line (``None``: counted, not audited)."""

    kind: str  # login, refresh, logout, session_end, token_revoke, session_start
    outcome: str  # success, failure, throttled, rotated, race, reused, invalid, ...
    name: str | None = None
    user: str = ""
    session_id: str = ""
    ip: str = ""
    user_agent: str = ""
    description: str = ""
    level: str = "INFO"  # WARN for what may be an attack
    seconds: float | None = None  # how long the operation took (latency histograms)
    sessions: Sequence[str] = ()  # the sessions an operation ended
    reason: str = ""  # why sessions ended (logout, admin, refresh_token_reuse, ...)
    extra: Mapping[str, Any] = field(default_factory=dict)  # identifiers only, never secrets


Observer = Callable[[AuthEvent], None]


def fan_out(observers: Sequence[Observer]) -> Observer | None:
    """One observer calling each of ``observers`` in turn (``None`` when there are none)."""
    chosen = tuple(observers)
    if not chosen:
        return None
    if len(chosen) == 1:
        return chosen[0]

    def each(event: AuthEvent) -> None:
        for observer in chosen:
            observer(event)

    return each
