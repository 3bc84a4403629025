"""The hot path: verify a bearer token, then ask the replica whether it was revoked.

``Guard`` serves our own tokens. ``ProviderGuard`` (issue 11) also accepts the access tokens
of trusted external issuers — or only theirs — through the same revocation view, keyed by
issuer. Which one a service runs is decided once, at wiring (``runtime.build_runtime``): a
service without external issuers runs ``Guard``, whose code and cost are what they were.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ClaimError, MalformedTokenError, RevokedTokenError
from .oidc.verifier import ExternalVerifier, parse_token
from .revocation import Revocable
from .tokens import AccessClaims
from .verifier import Verifier

if TYPE_CHECKING:
    from .replica import Replica

__all__ = ["Guard", "ProviderGuard"]


class Guard:
    """The hot path: verify the token, then ask the replica whether it was revoked.

    When the replica is fresh (the common case) the answer comes from the in-process view
    without awaiting anything: ``authenticate`` then costs one coroutine, and ``check_now`` none
    (issue 5); only a stale or strict replica takes the awaiting path in ``check``.
    """

    def __init__(self, *, verifier: Verifier, replica: Replica) -> None:
        self.verifier = verifier
        self.replica = replica

    async def authenticate(self, token: str) -> AccessClaims:
        claims = self.verifier.verify(token)
        if not self.check_now(claims):
            await self.check(claims)
        return claims

    # Routes about *our* sessions (/auth/sessions, RFC 7009 / 7662) take our tokens only,
    # whatever else protected routes accept: a provider's "alice" is not our "alice".
    authenticate_own = authenticate

    def local(self, token: str) -> bool:
        """Whether ``verifier.verify`` + ``check_now_threadsafe`` may check ``token`` on the
        caller's thread (WSGI adapters); False: only ``authenticate``, on the event loop, can
        (an external issuer's token may need its JWKS fetched, issue 11)."""
        return True

    def check_now(self, claims: Revocable) -> bool:
        """``check`` without awaiting when the view may answer alone: True once decided
        (``RevokedTokenError`` if revoked), False when ``await check(claims)`` is needed.
        For the thread that writes the view (the event loop); others: ``check_now_threadsafe``.
        """
        replica = self.replica
        if replica.strict or not replica.is_fresh():
            return False
        if (reason := replica.view.reason(claims)) is not None:
            raise _revoked(reason, claims)
        return True

    def check_now_threadsafe(self, claims: Revocable) -> bool:
        """``check_now`` for readers on other threads than the view's writer (WSGI request
        threads, issue 12): a read that overlapped a write (seqlock, ``RevocationView.writes``)
        proves nothing and answers False, so the check goes the awaiting way, on the writer's
        thread. The event loop's own callers keep ``check_now``, which pays none of this."""
        replica = self.replica
        if replica.strict or not replica.is_fresh():
            return False
        view = replica.view
        before = view.writes
        if before & 1:
            return False
        try:
            reason = view.reason(claims)
        except Exception:  # a torn read of the compact arrays: ask the writer's thread
            return False
        if view.writes != before:
            return False
        if reason is not None:
            raise _revoked(reason, claims)
        return True

    # Counting hooks for callers that check without ``authenticate`` (the WSGI host, issue
    # 12): nothing here; ``counting.CountingGuard`` counts (metrics on, issue 15).
    def tally_accepted(self) -> None:
        return None

    def tally_refused(self, exc: Exception) -> None:
        return None

    async def check(self, claims: Revocable) -> None:
        replica = self.replica
        if not replica.is_fresh():
            await replica.catch_up()
        reason = (
            await replica.remote_reason(claims) if replica.strict else replica.view.reason(claims)
        )
        if reason is not None:
            raise _revoked(reason, claims)


class ProviderGuard(Guard):
    """Resource-server mode: external issuers' tokens (their revocation keys scoped by
    issuer), and ours too unless ``accept_own`` is False.

    Our own tokens are recognised by their header segment, which we wrote (one set lookup,
    then exactly ``Guard``'s path); any other token is routed by its ``iss``: a trusted issuer's
    goes to that issuer's verifier, ours (a retired key's) to ours, any other is refused with
    ``unknown issuer``.
    """

    def __init__(
        self,
        *,
        verifier: Verifier,
        replica: Replica,
        external: ExternalVerifier,
        accept_own: bool = True,
    ) -> None:
        super().__init__(verifier=verifier, replica=replica)
        self.external = external
        self.accept_own = accept_own
        self._own_headers = verifier.header_segments() if accept_own else frozenset()

    def local(self, token: str) -> bool:
        return token.partition(".")[0] in self._own_headers  # ours, on the fast path

    async def authenticate(self, token: str) -> AccessClaims:
        if token.partition(".")[0] in self._own_headers:
            return await super().authenticate(token)
        try:
            parts, payload = parse_token(token)
        except MalformedTokenError:
            if self.accept_own:  # our own rules name what is wrong with it
                return await super().authenticate(token)
            raise
        iss = payload.get("iss")
        issuer = self.external.get(iss)
        if issuer is None:
            if self.accept_own and iss == self.verifier.issuer:
                return await super().authenticate(token)
            raise ClaimError("unknown issuer")
        claims, keys = await issuer.access(token, parts, payload)
        if not self.check_now(keys):
            await self.check(keys)
        return claims


def _revoked(reason: str, claims: Revocable) -> RevokedTokenError:
    exc = RevokedTokenError(f"revoked: {reason}" if reason != "revoked" else None)
    # Whose token (verified claims, never its text): the audit trail's line (issue 15).
    exc.sub, exc.sid = claims.sub, claims.sid
    return exc
