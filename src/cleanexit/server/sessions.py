"""Sessions: login, refresh rotation, logout in three scopes, session lists, RFC 7009 / 7662.

Framework-free; the HTTP integration calls it. Every revocation is committed to the store and
applied to this process's view before the call returns, so the instance that answered refuses
the token at once (invariant 2), whatever the store's replication delay to other instances.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..clock import Clock, Sleep, system_clock
from ..errors import (
    CleanexitError,
    ConfigurationError,
    ExpiredTokenError,
    InvalidCredentialsError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidTokenError,
    NotFoundError,
    RateLimitedError,
    RevokedTokenError,
)
from . import events as ev
from .claims import ClaimsHook, app_claims, check_claims_mapping
from .events import AuthEvent, Observer
from .guard import Guard
from .login_throttle import LoginThrottle
from .revocation import Revocation, RevocationKind
from .stores.base import RefreshRecord, RotationRequest, RotationStatus, SessionRecord, Store
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
    "client_fingerprint",
]

log = logging.getLogger("cleanexit.sessions")
Scope = Literal["current", "others", "all"]
MAX_REFRESH_LENGTH = 128
MAX_SUB_LENGTH = 256  # the verifier refuses longer string claims


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
    keep_rotated: int = 64  # rotated refresh tokens kept per session for reuse detection


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
    # For the audit line only, never in the response: whose, and which access token.
    sub: str | None = field(default=None, compare=False)
    jti: str | None = field(default=None, compare=False)

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
        authenticator: Authenticator | None = None,
        claims: ClaimsHook | None = None,
        policy: SessionPolicy | None = None,
        clock: Clock = system_clock,
        sleep: Sleep = asyncio.sleep,
        throttle: LoginThrottle | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.store = store
        self.issuer = issuer
        self.guard = guard
        self.authenticator = authenticator  # None: the app signs users in itself
        self.claims_hook = claims
        self.policy = policy or SessionPolicy(access_ttl=issuer.access_ttl)
        self._clock = clock
        self._sleep = sleep
        self.throttle = throttle  # login back-off shared through the store (issue 15)
        self.observer = observer  # audit log and metrics (issue 15)

    def _emit(self, **fields: Any) -> None:
        if self.observer is not None:
            self.observer(AuthEvent(**fields))

    # -- sessions, login and refresh -----------------------------------------------------
    async def start_session(
        self,
        sub: str,
        *,
        claims: Mapping[str, Any] | None = None,
        user_agent: str = "",
        ip: str = "",
        _login: bool = False,
    ) -> TokenPair:
        """A new session for a user the application has already authenticated (its own
        password check, OAuth callback, magic link, passkey). ``claims`` go into every access
        token of the session, with the claims hook's on top; names cleanexit owns are refused
        (``AppClaimsError``) before anything is stored."""
        if not isinstance(sub, str) or not 0 < len(sub) <= MAX_SUB_LENGTH or not sub.isprintable():
            # Printable: an external issuer's subjects are keyed "<iss>\x1f<sub>" (issue 11),
            # which no subject of ours can then spell.
            raise InvalidRequestError(f"a subject is 1 to {MAX_SUB_LENGTH} printable characters")
        own = check_claims_mapping(claims or {})
        now = await self._past_cutoff(sub, self._clock())
        p = self.policy
        sid, refresh = new_id(), new_refresh_token()
        expires = now + p.refresh_absolute_ttl
        access_exp = min(int(now) + p.access_ttl, int(expires))
        session = SessionRecord(
            sid, sub, now, now, expires, user_agent[:256], ip[:64], None, None, access_exp, own
        )
        extra = await app_claims(session, self.claims_hook)  # before anything is stored
        refresh_exp = min(now + p.refresh_idle_ttl, session.expires_at)
        record = RefreshRecord(hash_refresh_token(refresh), sid, now, refresh_exp)
        await self.store.create_session(session, record)
        who = {"user": sub, "session_id": sid, "ip": ip, "user_agent": user_agent}
        if _login:  # the audit trail: the password check, then the session it opened
            self._emit(
                kind="login", outcome="success", name=ev.AUTHN_LOGIN_SUCCESS,
                description="password accepted", **who,
            )  # fmt: skip
        self._emit(
            kind="session", outcome="created", name=ev.SESSION_CREATED,
            description="session created", **who,
        )  # fmt: skip
        return self._pair(session, refresh, refresh_exp, now, extra)

    async def login(
        self, username: str, password: str, *, user_agent: str = "", ip: str = ""
    ) -> TokenPair:
        """Check a password with the ``Authenticator``, then ``start_session``."""
        if self.authenticator is None:
            raise ConfigurationError("password login needs an Authenticator")
        who = {"user": username[:128], "ip": ip, "user_agent": user_agent}
        ticket = None
        if self.throttle is not None:
            try:
                ticket = await self.throttle.admit(username, ip)
            except RateLimitedError as exc:
                self._emit(
                    kind="login", outcome="throttled", name=ev.EXCESS_RATE_LIMIT_EXCEEDED,
                    level="WARN", description="sign-in refused during a back-off",
                    extra={"retry_after": exc.retry_after}, **who,
                )  # fmt: skip
                raise
        sub = await self.authenticator.authenticate(username, password)
        if sub is None:
            backoff = ticket is not None and ticket.backs_off(self._clock())
            self._emit(
                kind="login", outcome="failure", level="WARN",
                name=ev.AUTHN_LOGIN_FAIL_MAX if backoff else ev.AUTHN_LOGIN_FAIL,
                description="wrong username or password" + ("; back-off starts" * backoff),
                **who,
            )  # fmt: skip
            raise InvalidCredentialsError()
        if self.throttle is not None and ticket is not None:
            await self.throttle.succeeded(ticket)
        pair = await self.start_session(sub, user_agent=user_agent, ip=ip, _login=True)
        return pair

    async def refresh(self, refresh_token: str, *, user_agent: str = "", ip: str = "") -> TokenPair:
        started = time.perf_counter()
        try:
            pair = await self._refresh(refresh_token, user_agent=user_agent, ip=ip)
        except InvalidGrantError as exc:
            s: SessionRecord | None = getattr(exc, "session", None)
            who = {"user": s.sub, "session_id": s.sid} if s else {}
            self._refreshed(exc.reason, time.perf_counter() - started, ip, user_agent, **who)
            raise
        self._refreshed(
            "rotated", time.perf_counter() - started, ip, user_agent,
            user=pair.sub, session_id=pair.session_id,
        )  # fmt: skip
        return pair

    def _refreshed(
        self, outcome: str, seconds: float, ip: str, user_agent: str, **who: str
    ) -> None:
        sid = who.get("session_id", "")
        who.update(ip=ip, user_agent=user_agent)
        if outcome == "reused":
            self._emit(
                kind="refresh", outcome="reused", name=ev.AUTHN_TOKEN_REUSE, level="WARN",
                description="a rotated refresh token was presented again: session ended "
                "(possible theft)", seconds=seconds, sessions=[sid] if sid else [],
                reason="refresh_token_reuse", **who,
            )  # fmt: skip
        elif outcome == "race":
            self._emit(
                kind="refresh", outcome="race", name=ev.AUTHN_TOKEN_REUSE, level="WARN",
                description="a refresh token rotated moments ago was presented again "
                "(within the grace window: session kept)", seconds=seconds,
                extra={"within_grace": True}, **who,
            )  # fmt: skip
        elif outcome == "rotated":
            self._emit(
                kind="refresh", outcome="rotated", name=ev.SESSION_RENEWED,
                description="refresh token rotated", seconds=seconds, **who,
            )  # fmt: skip
        else:  # unknown, expired or of an ended session: counted, not audited
            self._emit(kind="refresh", outcome="invalid", seconds=seconds, **who)

    async def _refresh(self, refresh_token: str, *, user_agent: str, ip: str) -> TokenPair:
        old = _refresh_hash(refresh_token)
        if old is None:
            raise InvalidGrantError(reason="invalid")
        now, p = self._clock(), self.policy
        new = new_refresh_token()
        request = RotationRequest(
            now=now,
            idle_ttl=p.refresh_idle_ttl,
            grace=p.refresh_grace,
            access_until=int(now) + p.access_ttl,
            leeway=p.leeway,
            client=client_fingerprint(user_agent, ip),
            keep_rotated=p.keep_rotated,
        )
        # The hook runs before the rotation: if it fails, the refresh token is still current.
        extra = await self._claims_for_refresh(old)
        rotation = await self.store.rotate_refresh(old, hash_refresh_token(new), request)
        s = rotation.session
        if rotation.status is RotationStatus.ROTATED:
            assert s is not None
            now = await self._past_cutoff(s.sub, now)
            if extra is None:
                extra = await app_claims(s, None)
            return self._pair(s, new, rotation.refresh_expires_at, now, extra)
        if rotation.status is RotationStatus.REUSED:
            assert s is not None
            log.warning(
                "refresh token reuse: session %s of %s ended (possible theft)", s.sid, s.sub
            )
            self._apply([Revocation.session(s.sid, expires_at=s.deny_until(p.leeway))])
            raise _with_session(
                InvalidGrantError(
                    "refresh token reuse detected: the session was ended", reason="reused"
                ),
                s,
            )
        if rotation.status is RotationStatus.RACE:
            assert s is not None
            if not rotation.same_client:
                log.warning(
                    "refresh token of session %s of %s presented again by a different client "
                    "within the grace window (possible theft)",
                    s.sid,
                    s.sub,
                )
            raise _with_session(
                InvalidGrantError(
                    "refresh token was just rotated by a concurrent request", reason="race"
                ),
                s,
            )
        raise InvalidGrantError(reason="invalid")

    async def _claims_for_refresh(self, old: bytes) -> dict[str, Any] | None:
        if self.claims_hook is None:
            return None
        found = await self.store.find_refresh(old)
        return None if found is None else await app_claims(found[1], self.claims_hook)

    def _pair(
        self,
        s: SessionRecord,
        refresh: str,
        refresh_exp: float,
        now: float,
        extra: Mapping[str, Any],
    ) -> TokenPair:
        # The token never outlives what the store recorded for the session (access_until).
        iat = int(now)
        exp = min(iat + self.policy.access_ttl, int(s.access_until))
        access = self.issuer.issue(sub=s.sub, sid=s.sid, iat=iat, exp=exp, extra=extra)
        return TokenPair(
            access_token=access.token,
            refresh_token=refresh,
            expires_in=max(0, exp - iat),
            refresh_expires_in=max(0, int(refresh_exp - now)),
            session_id=s.sid,
            sub=s.sub,
        )

    async def _past_cutoff(self, sub: str, now: float) -> float:
        """A user logged out everywhere this very second: tokens with that ``iat`` are refused,
        so a new one waits for the next second (at most one) rather than be born revoked."""
        cutoff = await self.guard.replica.cutoff(sub)
        if cutoff is None or int(now) >= cutoff:
            return now
        await self._sleep(cutoff - now)
        return max(self._clock(), cutoff)

    # -- logout --------------------------------------------------------------------------
    async def logout(
        self,
        *,
        bearer: str | None = None,
        refresh_token: str | None = None,
        scope: Scope = "current",
        user_agent: str = "",
        ip: str = "",
    ) -> LogoutResult:
        """``_logout``, reported to the observer (audit line, metrics, latency)."""
        started = time.perf_counter()
        try:
            result = await self._logout(bearer=bearer, refresh_token=refresh_token, scope=scope)
        except CleanexitError as exc:
            self._emit(
                kind="logout", outcome="refused", seconds=time.perf_counter() - started,
                ip=ip, user_agent=user_agent, description=exc.description,
            )  # fmt: skip
            raise
        self._ended(
            result, kind="logout", outcome=scope, reason="logout", ip=ip, user_agent=user_agent,
            seconds=time.perf_counter() - started,
        )  # fmt: skip
        return result

    def _ended(self, result: LogoutResult, *, kind: str, outcome: str, reason: str,
               user: str = "", **fields: Any) -> None:  # fmt: skip
        """What a logout or a revocation ended: a token line, then a session line."""
        common = {"user": result.sub or user, "session_id": result.session_id or "", **fields}
        seconds = common.pop("seconds", None)
        revoked: dict[str, Any] = {}
        if result.jti is not None:
            revoked["jti"] = result.jti
        if result.user_cutoff is not None:
            revoked["user_cutoff"] = result.user_cutoff
        if revoked:
            self._emit(
                kind="", outcome="", name=ev.AUTHN_TOKEN_REVOKED, extra=revoked,
                description="access token deny-listed" if "jti" in revoked
                else "every token issued so far refused", **common,
            )  # fmt: skip
        self._emit(
            kind=kind, outcome=outcome, seconds=seconds, sessions=list(result.sessions),
            reason=reason, name=ev.SESSION_EXPIRED if result.sessions else None,
            description=f"{len(result.sessions)} session(s) ended ({reason})",
            extra={"scope": result.scope}, **common,
        )  # fmt: skip

    async def _logout(
        self,
        *,
        bearer: str | None = None,
        refresh_token: str | None = None,
        scope: Scope = "current",
    ) -> LogoutResult:
        """End what ``scope`` names, with whatever credentials the caller holds.

        Any credential that identifies the session ends it (design invariant 9): a current or
        already-rotated refresh token of its family, or an authentic access token even when it
        is expired or already revoked (its ``sid`` names the session). A forged bearer beside a
        valid refresh token does not block it. ``others`` and ``all`` need a live credential.
        Nothing ended (the session was over already) is an error, never a silent success.
        """
        found = await self._identify(bearer, refresh_token)
        now, leeway = self._clock(), self.policy.leeway
        claims = found.claims
        # An unexpired bearer is deny-listed too, in the same atomic step as its session.
        extra = []
        if claims is not None and claims.exp + leeway > now and scope != "others":
            extra.append(Revocation.token(claims.iss, claims.jti, expires_at=claims.exp + leeway))
        if scope == "current":
            sids = list(dict.fromkeys(s for s in (claims and claims.sid, found.family_sid) if s))
            revs = await self.store.end_sessions(
                sids, now=now, reason="logout", leeway=leeway, extra=extra
            )
            self._apply([*extra, *revs])
            if not revs:
                raise RevokedTokenError("revoked: session ended")
            sub = claims.sub if claims else found.family.sub if found.family else None
            return _result("current", sids[0], revs, access_token=bool(extra), sub=sub,
                           jti=claims.jti if extra and claims else None)  # fmt: skip
        sub, sid = found.live_identity(scope)
        revs = await self.store.end_user_sessions(
            sub,
            now=now,
            reason=f"logout:{scope}",
            leeway=leeway,
            keep_sid=sid if scope == "others" else None,
            cutoff=self._cutoff(sub, now) if scope == "all" else None,
            extra=extra,
        )
        self._apply([*extra, *revs])
        return _result(scope, sid, revs, access_token=bool(extra), sub=sub,
                       jti=claims.jti if extra and claims else None)  # fmt: skip

    async def _identify(self, bearer: str | None, refresh_token: str | None) -> _Presented:
        claims: AccessClaims | None = None
        live = False
        error: InvalidTokenError | None = None
        if bearer is not None:
            try:
                claims = self.guard.verifier.verify(bearer, allow_expired=True)
            except InvalidTokenError as exc:
                error = exc
            else:
                live = await self._live(claims)
        family = await self._family(refresh_token)
        if claims is None and family is None:
            raise error or InvalidTokenError("no valid access or refresh token")
        now = self._clock()
        current = family is not None and family[0].current(now) and family[1].active(now)
        return _Presented(claims, live, family[1] if family else None, current, error)

    async def _live(self, claims: AccessClaims) -> bool:
        if claims.exp + self.policy.leeway <= self._clock():
            return False
        try:
            await self.guard.check(claims)
        except RevokedTokenError:
            return False
        return True

    async def _family(self, token: str | None) -> tuple[RefreshRecord, SessionRecord] | None:
        digest = _refresh_hash(token)
        return None if digest is None else await self.store.find_refresh(digest)

    def _cutoff(self, sub: str, now: float) -> Revocation:
        # Refuses every iat up to and including this second (iat is whole seconds), kept at
        # least one access-token lifetime; the store extends it to its sessions' last tokens.
        floor = now + self.policy.access_ttl + self.policy.leeway + 1
        return Revocation.user(sub, cutoff=float(int(now) + 1), expires_at=floor)

    async def end_session(
        self, claims: AccessClaims, sid: str, *, user_agent: str = "", ip: str = ""
    ) -> LogoutResult:
        """End one of the caller's own sessions (``DELETE /auth/sessions/{sid}``)."""
        session = await self.store.get_session(sid)
        now, leeway = self._clock(), self.policy.leeway
        if session is None or session.sub != claims.sub or not session.endable(now, leeway=leeway):
            raise NotFoundError("no such active session")
        revs = await self.store.end_sessions([sid], now=now, reason="revoked", leeway=leeway)
        self._apply(revs)
        result = _result("current", claims.sid, revs, sub=claims.sub)
        self._ended(result, kind="session_revoke", outcome="user", reason="revoked",
                    ip=ip, user_agent=user_agent)  # fmt: skip
        return result

    async def revoke_user(self, sub: str, *, reason: str = "admin") -> LogoutResult:
        """Log a user out everywhere (password change, account disabled)."""
        now = self._clock()
        revs = await self.store.end_user_sessions(
            sub, now=now, reason=reason, leeway=self.policy.leeway, cutoff=self._cutoff(sub, now)
        )
        self._apply(revs)
        result = _result("all", None, revs, sub=sub)
        self._ended(result, kind="session_revoke", outcome=reason, reason=reason)
        return result

    async def revoke_session(self, sid: str, *, reason: str = "admin") -> LogoutResult:
        now = self._clock()
        revs = await self.store.end_sessions(
            [sid], now=now, reason=reason, leeway=self.policy.leeway
        )
        self._apply(revs)
        result = _result("current", sid, revs)
        self._ended(result, kind="session_revoke", outcome=reason, reason=reason)
        return result

    async def sessions(self, claims: AccessClaims) -> list[SessionRecord]:
        return await self.store.list_sessions(claims.sub, now=self._clock())

    # -- RFC 7009 and RFC 7662 -----------------------------------------------------------
    async def revoke(self, token: str) -> None:
        """RFC 7009 §2.1: revoke whatever the token is; unknown tokens are not an error. A
        refresh token of a family (current or rotated) ends its session, as logout would."""
        if token.startswith(REFRESH_PREFIX):
            family = await self._family(token)
            self._emit(kind="token_revoke", outcome="refresh" if family else "ignored")
            if family is not None:
                await self.revoke_session(family[1].sid, reason="rfc7009")
            return
        try:
            claims = await self.guard.authenticate_own(token)
        except InvalidTokenError:
            self._emit(kind="token_revoke", outcome="ignored")
            return  # §2.2: invalid tokens need no revocation
        await self._revoke_access(claims)
        self._emit(
            kind="token_revoke", outcome="access", name=ev.AUTHN_TOKEN_REVOKED, user=claims.sub,
            session_id=claims.sid, extra={"jti": claims.jti}, description="RFC 7009 revocation",
        )  # fmt: skip

    def report_refused(self, exc: RevokedTokenError, *, ip: str = "", user_agent: str = "") -> None:
        """A revoked access token was presented (a copy replayed after logout, say)."""
        self._emit(
            kind="", outcome="", name=ev.SESSION_USE_AFTER_EXPIRE, level="WARN",
            user=exc.sub, session_id=exc.sid, ip=ip, user_agent=user_agent,
            description=exc.description,
        )  # fmt: skip

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
            claims = await self.guard.authenticate_own(token)
        except InvalidTokenError:
            return {"active": False}
        return {
            **claims.extra,  # the application's claims (scope, roles, ...), RFC 7662 §2.2
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

    def _apply(self, revocations: Sequence[Revocation]) -> None:
        self.guard.replica.view.apply(list(revocations))


def _result(
    scope: Scope,
    sid: str | None,
    revs: Sequence[Revocation],
    *,
    access_token: bool = False,
    sub: str | None = None,
    jti: str | None = None,
) -> LogoutResult:
    """What the store recorded, as the caller is told it (invariant 8)."""
    ended = tuple(r.key for r in revs if r.kind is RevocationKind.SESSION)
    cutoff = next((r.cutoff for r in revs if r.kind is RevocationKind.USER), None)
    return LogoutResult(scope, sid, ended, access_token, cutoff, sub=sub, jti=jti)


def _with_session(exc: InvalidGrantError, session: SessionRecord) -> InvalidGrantError:
    exc.session = session  # type: ignore[attr-defined]  # who it was, for the audit line
    return exc


@dataclass(frozen=True, slots=True)
class _Presented:
    """What the credentials of a logout request identify."""

    claims: AccessClaims | None  # an authentic access token, maybe expired or revoked
    live: bool  # ... and still accepted (unexpired, unrevoked)
    family: SessionRecord | None  # the session of a refresh token of a known family
    current: bool  # ... which is that session's current, unexpired token
    bearer_error: InvalidTokenError | None

    @property
    def family_sid(self) -> str | None:
        return self.family.sid if self.family else None

    def live_identity(self, scope: Scope) -> tuple[str, str]:
        """``(sub, sid)`` from a credential that still works: ``others`` and ``all`` reach the
        user's other sessions, which a dead credential must not."""
        if self.claims is not None and self.live:
            return self.claims.sub, self.claims.sid
        if self.family is not None and self.current:
            return self.family.sub, self.family.sid
        raise self.bearer_error or ExpiredTokenError(
            f"scope {scope!r} needs an unexpired access token or a current refresh token"
        )


def client_fingerprint(user_agent: str, ip: str) -> str:
    """Who rotated a refresh token, without keeping who: 64 bits of a hash of UA and address."""
    return hashlib.sha256(f"{ip}\0{user_agent}".encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _refresh_hash(token: object) -> bytes | None:
    if (
        not isinstance(token, str)
        or not token.startswith(REFRESH_PREFIX)
        or len(token) > MAX_REFRESH_LENGTH
    ):
        return None
    return hash_refresh_token(token)
