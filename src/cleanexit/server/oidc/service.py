"""Resource-server mode (issue 11): the trusted issuers, their keys, the back-channel logout
receiver, and revocation of their tokens from outside (a support desk, a fraud signal).

Every revocation goes to the store first — one atomic step, so every instance refuses within
the replica bound — and then into this process's view, so the instance that answered refuses
at once (invariant 2). Entries are keyed by issuer (``Revocation.provider_session`` /
``provider_user``) and live as long as a token they cover can: the issuer's
``max_token_lifetime`` past the moment they were recorded (invariant 5).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from ...clock import Clock, system_clock
from ...errors import ConfigurationError, InvalidLogoutTokenError, InvalidRequestError
from .. import events as ev
from ..events import AuthEvent, Observer
from ..revocation import Revocation
from .issuer import TrustedIssuer
from .jwks import Fetch, HttpFetch, JwksCache
from .logout import LogoutToken, read_logout_token
from .verifier import MAX_CLAIM_LENGTH, ExternalVerifier, IssuerVerifier

if TYPE_CHECKING:  # the replica module imports the guard, which imports this package
    from ..replica import Replica
    from ..stores.base import Store

__all__ = ["ProviderRevocation", "Providers"]

log = logging.getLogger("cleanexit.oidc")
Kind = Literal["session", "user", "token"]


@dataclass(frozen=True, slots=True)
class ProviderRevocation:
    """What was recorded for an external issuer's tokens (invariant 8: said as it is)."""

    issuer: str
    kind: Kind  # session: a sid ended; user: a cutoff on (iss, sub); token: one (iss, jti)
    value: str  # the sid, sub or jti
    until: float  # the entry lives until then
    recorded: bool  # False: an entry at least as strong was there already
    cutoff: float | None = None  # user: tokens with an iat before it are refused

    def to_dict(self) -> dict[str, Any]:
        revoked: dict[str, Any] = {
            "sessions": [self.value] if self.kind == "session" else [],
            "user_cutoff": self.cutoff,
        }
        if self.kind == "token":
            revoked["token"] = self.value
        return {"issuer": self.issuer, "revoked": revoked}


class Providers:
    """The trusted issuers of one service and what it does with their tokens."""

    def __init__(
        self,
        *,
        issuers: Sequence[TrustedIssuer],
        store: Store,
        replica: Replica,
        leeway: int = 0,
        clock: Clock = system_clock,
        fetch: Fetch | None = None,
    ) -> None:
        self.store = store
        self.replica = replica
        self.leeway = leeway
        self._clock = clock
        self._fetch = fetch if fetch is not None else HttpFetch()
        self.caches = {i.issuer: JwksCache(i, fetch=self._fetch, clock=clock) for i in issuers}
        self.verifier = ExternalVerifier(
            [IssuerVerifier(i, self.caches[i.issuer], leeway=leeway, clock=clock) for i in issuers]
        )
        self.observer: Observer | None = None  # audit trail and metrics (issue 15)

    def __repr__(self) -> str:
        return f"Providers(issuers={list(self.caches)!r})"

    @property
    def backchannel_logout(self) -> bool:
        """Whether any issuer may send logout tokens (it has a ``client_id``)."""
        return any(cache.issuer.client_id for cache in self.caches.values())

    def issuer(self, iss: str) -> TrustedIssuer:
        cache = self.caches.get(iss)
        if cache is None:
            # Names are configuration, not secrets: say which exist, so a typo is obvious.
            known = ", ".join(repr(name) for name in self.caches) or "none"
            raise ConfigurationError(f"{iss!r} is not a trusted issuer (configured: {known})")
        return cache.issuer

    # -- life ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Fetch every issuer's keys in the background: the first token need not wait."""
        for cache in self.caches.values():
            cache.refresh_soon()

    async def stop(self) -> None:
        for cache in self.caches.values():
            await cache.close()
        close = getattr(self._fetch, "aclose", None)
        if close is not None:
            await close()

    def status(self) -> dict[str, Any]:
        return {name: cache.status() for name, cache in self.caches.items()}

    # -- OpenID Connect Back-Channel Logout 1.0 ------------------------------------------
    async def logout(self, logout_token: object) -> ProviderRevocation:
        """Validate a logout token and end its ``sid`` — or, without one, set the ``(iss,
        sub)`` cutoff — in the store and this process's view; ``InvalidLogoutTokenError``
        for a token that fails any check, or that was used before (on any instance)."""
        now = self._clock()
        token = await read_logout_token(logout_token, self.verifier, now=now, leeway=self.leeway)
        used = Revocation.token(token.issuer.issuer, token.jti, expires_at=token.replay_until)
        result, revocations = self._from_logout(token, now)
        recorded = await self.store.record([used, *revocations], now=now, once=True)
        if not recorded[0]:
            raise InvalidLogoutTokenError("logout token refused: already used (jti replayed)")
        self._apply([used, *revocations])
        log.info("back-channel logout from %s: %s %s", result.issuer, result.kind, result.value)
        self._report(result, reason="backchannel", user=token.sub or "")
        return replace(result, recorded=any(recorded[1:]))

    def _report(self, result: ProviderRevocation, *, reason: str, user: str = "") -> None:
        """One audit line and count per revocation of a provider's tokens (issue 15)."""
        if self.observer is None:
            return
        session = result.kind == "session"
        extra = {"issuer": result.issuer}
        if result.kind == "token":
            extra["jti"] = result.value
        self.observer(
            AuthEvent(
                kind="session_revoke", outcome=reason, reason=reason,
                name=ev.SESSION_EXPIRED if session else ev.AUTHN_TOKEN_REVOKED,
                user=result.value if result.kind == "user" else user,
                session_id=result.value if session else "",
                sessions=[result.value] if session else [],
                description=f"{result.issuer}: {result.kind} revoked ({reason})",
                extra=extra,
            )
        )  # fmt: skip

    def _from_logout(
        self, token: LogoutToken, now: float
    ) -> tuple[ProviderRevocation, list[Revocation]]:
        issuer = token.issuer
        iss = issuer.issuer
        # The provider's clock wrote iat in both tokens: its own "now" is the cutoff, so a
        # skew between its clock and ours neither spares an old token nor condemns a new one.
        until = max(now, token.iat) + issuer.max_token_lifetime + self.leeway + 1
        revocations = []
        if token.sid is not None:  # §2.4: with a sid, that session only
            revocations.append(Revocation.provider_session(iss, token.sid, expires_at=until))
        cutoff = None
        if token.sub is not None and (token.sid is None or not issuer.access_tokens_have_sid):
            # Without a sid, every session of the user (§2.4); with one the provider's access
            # tokens do not carry, the user's tokens are the only ones that can be told apart.
            cutoff = float(int(token.iat) + 1)  # whole seconds: the logout's own second too
            revocations.append(
                Revocation.provider_user(iss, token.sub, cutoff=cutoff, expires_at=until)
            )
        kind: Kind = "session" if token.sid is not None else "user"
        value = token.sid if token.sid is not None else token.sub
        assert value is not None
        return ProviderRevocation(iss, kind, value, until, True, cutoff), revocations

    # -- revocation from outside ---------------------------------------------------------
    async def revoke_user(self, iss: str, sub: str) -> ProviderRevocation:
        """Refuse every token ``iss`` issued to ``sub`` until now (its ``iat``)."""
        issuer, now = self.issuer(iss), self._clock()
        # The provider's clock may run up to the leeway ahead of ours (we accept such iat).
        cutoff = float(int(now + self.leeway) + 1)
        until = cutoff + issuer.max_token_lifetime + self.leeway
        rev = Revocation.provider_user(iss, _value(sub, "sub"), cutoff=cutoff, expires_at=until)
        return await self._record(rev, ProviderRevocation(iss, "user", sub, until, True, cutoff))

    async def revoke_session(self, iss: str, sid: str) -> ProviderRevocation:
        """Refuse every token of the provider session ``sid`` (tokens that carry it)."""
        issuer, now = self.issuer(iss), self._clock()
        until = now + issuer.max_token_lifetime + self.leeway + 1
        rev = Revocation.provider_session(iss, _value(sid, "sid"), expires_at=until)
        return await self._record(rev, ProviderRevocation(iss, "session", sid, until, True))

    async def revoke_token(self, iss: str, jti: str) -> ProviderRevocation:
        """Refuse the one token ``(iss, jti)``, for as long as any token of ``iss`` lives."""
        issuer, now = self.issuer(iss), self._clock()
        until = now + issuer.max_token_lifetime + self.leeway + 1
        rev = Revocation.token(iss, _value(jti, "jti"), expires_at=until)
        return await self._record(rev, ProviderRevocation(iss, "token", jti, until, True))

    async def _record(self, rev: Revocation, result: ProviderRevocation) -> ProviderRevocation:
        (changed,) = await self.store.record([rev], now=self._clock())
        self._apply([rev])
        self._report(result, reason="admin")
        return replace(result, recorded=changed)

    def _apply(self, revocations: Sequence[Revocation]) -> None:
        self.replica.view.apply(list(revocations))


def _value(value: str, name: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CLAIM_LENGTH:
        raise InvalidRequestError(f"{name}: 1 to {MAX_CLAIM_LENGTH} characters")
    return value
