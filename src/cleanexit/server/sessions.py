"""Sessions: login, refresh rotation, logout in three scopes, session lists, RFC 7009 / 7662.

Framework-free; the HTTP integration calls it. Every revocation is committed to the store and
applied to this process's view before the call returns, so the instance that answered refuses
the token at once (invariant 2), whatever the store's replication delay to other instances.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..clock import Clock, system_clock
from ..errors import InvalidCredentialsError, InvalidGrantError, InvalidTokenError, NotFoundError
from .replica import Guard
from .revocation import Revocation
from .stores.base import RefreshRecord, RotationStatus, SessionRecord, Store
from .tokens import (
    REFRESH_PREFIX,
    AccessClaims,
    TokenIssuer,
    hash_refresh_token,
    new_id,
    new_refresh_token,
)

__all__ = [
    "Authenticator",
    "LogoutResult",
    "Scope",
    "SessionPolicy",
    "SessionService",
    "TokenPair",
]

log = logging.getLogger("cleanexit.sessions")
Scope = Literal["current", "others", "all"]
MAX_REFRESH_LENGTH = 128


class Authenticator(Protocol):
    """What the host application supplies: checks a password, returns the subject or None.

    It must take similar time whether or not the user exists (no user enumeration)."""

    async def authenticate(self, username: str, password: str) -> str | None: ...


@dataclass(frozen=True, kw_only=True)
class SessionPolicy:
    access_ttl: int = 600
    refresh_idle_ttl: int = 14 * 86400
    refresh_absolute_ttl: int = 30 * 86400
    refresh_grace: float = 5.0  # two tabs refreshing at once is not theft
    leeway: int = 0


@dataclass(frozen=True, slots=True, repr=False)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    session_id: str
    sub: str

    def __repr__(self) -> str:
        return f"TokenPair(session_id={self.session_id!r}, sub={self.sub!r})"


@dataclass(frozen=True, slots=True)
class LogoutResult:
    """What a logout really revoked (invariant 8: never a silent success)."""

    scope: Scope
    session_id: str | None
    sessions: Sequence[str] = ()
    access_token: bool = False
    user_cutoff: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "session_id": self.session_id,
            "revoked": {
                "sessions": list(self.sessions),
                "access_token": self.access_token,
                "refresh_tokens": len(self.sessions),
                "user_cutoff": self.user_cutoff,
            },
        }


class SessionService:
    def __init__(
        self,
        *,
        store: Store,
        issuer: TokenIssuer,
        guard: Guard,
        authenticator: Authenticator,
        policy: SessionPolicy | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.store = store
        self.issuer = issuer
        self.guard = guard
        self.authenticator = authenticator
        self.policy = policy or SessionPolicy(access_ttl=issuer.access_ttl)
        self._clock = clock

    # -- login and refresh ---------------------------------------------------------------
    async def login(
        self, username: str, password: str, *, user_agent: str = "", ip: str = ""
    ) -> TokenPair:
        sub = await self.authenticator.authenticate(username, password)
        if sub is None:
            raise InvalidCredentialsError()
        now, p = self._clock(), self.policy
        sid, refresh = new_id(), new_refresh_token()
        session = SessionRecord(
            sid, sub, now, now, now + p.refresh_absolute_ttl, user_agent[:256], ip[:64]
        )
        refresh_exp = min(now + p.refresh_idle_ttl, session.expires_at)
        record = RefreshRecord(hash_refresh_token(refresh), sid, now, refresh_exp)
        await self.store.create_session(session, record)
        return self._pair(sub, sid, refresh, refresh_exp, now)

    async def refresh(self, refresh_token: str) -> TokenPair:
        old = _refresh_hash(refresh_token)
        if old is None:
            raise InvalidGrantError()
        now, p = self._clock(), self.policy
        new = new_refresh_token()
        rotation = await self.store.rotate_refresh(
            old,
            hash_refresh_token(new),
            now=now,
            idle_ttl=p.refresh_idle_ttl,
            grace=p.refresh_grace,
            deny_until=self._deny_until(now),
        )
        if rotation.status is RotationStatus.ROTATED:
            assert rotation.session is not None
            s = rotation.session
            return self._pair(s.sub, s.sid, new, rotation.refresh_expires_at, now)
        if rotation.status is RotationStatus.REUSED:
            assert rotation.session is not None
            log.warning(
                "refresh token reuse detected: session %s of %s ended (possible theft)",
                rotation.session.sid,
                rotation.session.sub,
            )
            self._apply(
                [Revocation.session(rotation.session.sid, expires_at=self._deny_until(now))]
            )
            raise InvalidGrantError("refresh token reuse detected: the session was ended")
        if rotation.status is RotationStatus.RACE:
            raise InvalidGrantError("refresh token was just rotated by a concurrent request")
        raise InvalidGrantError()

    def _pair(self, sub: str, sid: str, refresh: str, refresh_exp: float, now: float) -> TokenPair:
        access = self.issuer.issue(sub=sub, sid=sid)
        return TokenPair(
            access_token=access.token,
            refresh_token=refresh,
            expires_in=access.claims.exp - access.claims.iat,
            refresh_expires_in=max(0, int(refresh_exp - now)),
            session_id=sid,
            sub=sub,
        )

    # -- logout --------------------------------------------------------------------------
    async def logout(
        self,
        *,
        claims: AccessClaims | None,
        refresh_token: str | None = None,
        scope: Scope = "current",
    ) -> LogoutResult:
        """End what ``scope`` names. ``claims`` are verified access-token claims (revocation
        already checked); a refresh token alone also identifies the session."""
        refresh_session = await self._refresh_session(refresh_token)
        if claims is None and refresh_session is None:
            raise InvalidTokenError("no valid access or refresh token")
        sub = claims.sub if claims else refresh_session.sub  # type: ignore[union-attr]
        sid = claims.sid if claims else refresh_session.sid  # type: ignore[union-attr]
        now = self._clock()
        deny = self._deny_until(now)
        token_revoked = False
        if claims is not None and scope != "others":
            token_revoked = await self._revoke_access(claims)
        cutoff: float | None = None
        if scope == "current":
            sids = [sid]
            if refresh_session and refresh_session.sub == sub and refresh_session.sid != sid:
                sids.append(refresh_session.sid)
            ended = await self.store.end_sessions(sids, now=now, reason="logout", deny_until=deny)
        else:
            keep = sid if scope == "others" else None
            cutoff = float(int(now)) if scope == "all" else None
            ended = await self.store.end_user_sessions(
                sub,
                now=now,
                reason=f"logout:{scope}",
                deny_until=deny,
                keep_sid=keep,
                cutoff=cutoff,
            )
        revs = [Revocation.session(s, expires_at=deny) for s in ended]
        if cutoff is not None:
            revs.append(Revocation.user(sub, cutoff=cutoff, expires_at=deny))
        self._apply(revs)
        return LogoutResult(scope, sid, tuple(ended), token_revoked, cutoff)

    async def end_session(self, claims: AccessClaims, sid: str) -> LogoutResult:
        """End one of the caller's own sessions (``DELETE /auth/sessions/{sid}``)."""
        session = await self.store.get_session(sid)
        now = self._clock()
        if session is None or session.sub != claims.sub or not session.active(now):
            raise NotFoundError("no such active session")
        deny = self._deny_until(now)
        ended = await self.store.end_sessions([sid], now=now, reason="revoked", deny_until=deny)
        self._apply([Revocation.session(s, expires_at=deny) for s in ended])
        return LogoutResult("current", claims.sid, tuple(ended), False)

    async def revoke_user(self, sub: str, *, reason: str = "admin") -> LogoutResult:
        """Log a user out everywhere (password change, account disabled)."""
        now = self._clock()
        deny, cutoff = self._deny_until(now), float(int(now))
        ended = await self.store.end_user_sessions(
            sub, now=now, reason=reason, deny_until=deny, cutoff=cutoff
        )
        self._apply([Revocation.session(s, expires_at=deny) for s in ended])
        self._apply([Revocation.user(sub, cutoff=cutoff, expires_at=deny)])
        return LogoutResult("all", None, tuple(ended), False, cutoff)

    async def revoke_session(self, sid: str, *, reason: str = "admin") -> LogoutResult:
        now = self._clock()
        deny = self._deny_until(now)
        ended = await self.store.end_sessions([sid], now=now, reason=reason, deny_until=deny)
        self._apply([Revocation.session(s, expires_at=deny) for s in ended])
        return LogoutResult("current", sid, tuple(ended), False)

    async def sessions(self, claims: AccessClaims) -> list[SessionRecord]:
        return await self.store.list_sessions(claims.sub, now=self._clock())

    # -- RFC 7009 and RFC 7662 -----------------------------------------------------------
    async def revoke(self, token: str) -> None:
        """RFC 7009 §2.1: revoke whatever the token is; unknown tokens are not an error."""
        if token.startswith(REFRESH_PREFIX):
            session = await self._refresh_session(token)
            if session is not None:
                await self.revoke_session(session.sid, reason="rfc7009")
            return
        try:
            claims = await self.guard.authenticate(token)
        except InvalidTokenError:
            return  # §2.2: invalid tokens need no revocation
        await self._revoke_access(claims)

    async def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 §2.2: ``active`` only for a token that is valid right now."""
        if token.startswith(REFRESH_PREFIX):
            session = await self._refresh_session(token)
            if session is None:
                return {"active": False}
            return {
                "active": True,
                "token_type": "refresh_token",
                "sub": session.sub,
                "sid": session.sid,
                "iss": self.issuer.issuer,
            }
        try:
            claims = await self.guard.authenticate(token)
        except InvalidTokenError:
            return {"active": False}
        return {
            "active": True,
            "token_type": "access_token",
            "sub": claims.sub,
            "sid": claims.sid,
            "jti": claims.jti,
            "iss": claims.iss,
            "aud": claims.aud,
            "iat": claims.iat,
            "exp": claims.exp,
            "client_id": claims.client_id,
        }

    # -- helpers -------------------------------------------------------------------------
    async def _refresh_session(self, token: str | None) -> SessionRecord | None:
        digest = _refresh_hash(token)
        if digest is None:
            return None
        return await self.store.session_for_refresh(digest, now=self._clock())

    async def _revoke_access(self, claims: AccessClaims) -> bool:
        expires = claims.exp + self.policy.leeway
        revoked = await self.store.revoke_token(claims.iss, claims.jti, expires_at=expires)
        self._apply([Revocation.token(claims.iss, claims.jti, expires_at=expires)])
        return revoked

    def _deny_until(self, now: float) -> float:
        # Every access token of a session ended now has expired by then.
        return now + self.policy.access_ttl + self.policy.leeway + 1

    def _apply(self, revocations: list[Revocation]) -> None:
        self.guard.replica.view.apply(revocations)


def _refresh_hash(token: object) -> bytes | None:
    if (
        not isinstance(token, str)
        or not token.startswith(REFRESH_PREFIX)
        or len(token) > MAX_REFRESH_LENGTH
    ):
        return None
    return hash_refresh_token(token)
