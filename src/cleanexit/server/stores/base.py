"""The store contract every backend implements (memory, SQLite, Redis).

A store keeps sessions, refresh-token families, security events and the revocation log. The
revocation log is also a change feed: ``revocations(since=None)`` is a snapshot of live entries,
``revocations(since=cursor)`` what was committed after it, so an in-process view can replicate
it. Every method that mutates commits durably before it returns (invariant 2), and driver
errors leave a store only as ``StoreUnavailableError`` (fail closed, invariant 3).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..attempts import AttemptOp, AttemptPolicy, Attempts
from ..revocation import Revocation

if TYPE_CHECKING:
    from ..replica import Replica

__all__ = [
    "RACE_EVENT",
    "REUSE_EVENT",
    "Cursor",
    "RefreshRecord",
    "Rotation",
    "RotationRequest",
    "RotationStatus",
    "SecurityEvent",
    "SessionRecord",
    "Store",
    "cutoff_entry",
    "decide_rotation",
    "race_event",
]

Cursor = Any  # opaque to callers: an int for SQLite/memory, a stream id for Redis


@dataclass(frozen=True, slots=True)
class SessionRecord:
    sid: str
    sub: str
    created_at: float
    last_seen: float
    expires_at: float  # the absolute lifetime: no refresh extends it
    user_agent: str = ""
    ip: str = ""
    ended_at: float | None = None
    end_reason: str | None = None
    # The latest ``exp`` of any access token issued for this session (never past
    # ``expires_at``): how long its ``sid`` must stay denied once it ends, whatever the
    # access-token lifetime is configured to today (issue 9, finding 5).
    access_until: float = 0.0
    # Application claims given at session start (issue 10), in every token of the session.
    claims: Mapping[str, Any] = field(default_factory=dict)

    def active(self, now: float) -> bool:
        return self.ended_at is None and now < self.expires_at

    def endable(self, now: float, *, leeway: float) -> bool:
        """Not ended, and a refresh token or an access token of it may still be accepted."""
        return self.ended_at is None and now < max(self.expires_at, self.deny_until(leeway))

    def deny_until(self, leeway: float) -> float:
        """Until when its ``sid`` must stay denied: every access token of it has expired then."""
        return self.access_until + leeway + 1

    def ended(self, *, now: float, reason: str) -> SessionRecord:
        return replace(self, ended_at=now, end_reason=reason)

    def revocation(self, leeway: float) -> Revocation:
        return Revocation.session(self.sid, expires_at=self.deny_until(leeway))


@dataclass(frozen=True, slots=True, repr=False)
class RefreshRecord:
    token_hash: bytes  # SHA-256 of the token; the token itself is never stored
    sid: str
    issued_at: float
    expires_at: float  # idle expiry, capped by the session's absolute expiry
    rotated_at: float | None = None
    rotated_by: str = ""  # fingerprint of the client that rotated it (grace-window events)

    def __repr__(self) -> str:
        return f"RefreshRecord(sid={self.sid!r}, rotated={self.rotated_at is not None})"

    def current(self, now: float) -> bool:
        return self.rotated_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    at: float
    kind: str  # e.g. "refresh_token_reuse"
    sub: str
    sid: str
    detail: str = ""


class RotationStatus(StrEnum):
    ROTATED = "rotated"  # the one winner: a new refresh token was stored
    RACE = "race"  # already rotated moments ago (tabs racing): refused, session kept
    REUSED = "reused"  # rotated long ago: theft, the whole session was ended
    INVALID = "invalid"  # unknown, expired, or its session is over


@dataclass(frozen=True, slots=True)
class Rotation:
    status: RotationStatus
    session: SessionRecord | None = None
    refresh_expires_at: float = 0.0
    # RACE only: whether the client that won the rotation looks like this one.
    same_client: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RotationRequest:
    """What ``Store.rotate_refresh`` needs besides the two hashes."""

    now: float
    idle_ttl: float
    grace: float
    access_until: float  # exp of the access token the caller will issue (capped by the store)
    leeway: float = 0.0
    client: str = ""  # fingerprint of the requesting client
    keep_rotated: int = 64  # rotated tokens kept per family for reuse detection


RACE_EVENT = "refresh_token_race"
REUSE_EVENT = "refresh_token_reuse"


def race_event(session: SessionRecord, *, now: float, same_client: bool) -> SecurityEvent:
    detail = "same client" if same_client else "different client"
    return SecurityEvent(now, RACE_EVENT, session.sub, session.sid, detail)


def cutoff_entry(
    cutoff: Revocation, ended: Sequence[SessionRecord], *, leeway: float
) -> Revocation:
    """The user revocation, kept at least as long as any ended session's tokens can live."""
    until = max([cutoff.expires_at, *(s.deny_until(leeway) for s in ended)])
    return replace(cutoff, expires_at=until)


def decide_rotation(
    old: RefreshRecord | None, session: SessionRecord | None, *, now: float, grace: float
) -> RotationStatus:
    """The rotation rule, shared by every store (the Redis store mirrors it in Lua)."""
    if old is None or session is None or not session.active(now):
        return RotationStatus.INVALID
    if old.rotated_at is not None:
        return RotationStatus.RACE if now - old.rotated_at <= grace else RotationStatus.REUSED
    if now >= old.expires_at:
        return RotationStatus.INVALID
    return RotationStatus.ROTATED


class Store(abc.ABC):
    """Base contract. ``tests/server/stores/contract.py`` is its executable form."""

    name: str = "store"

    # -- sessions and refresh families ---------------------------------------------------
    @abc.abstractmethod
    async def create_session(self, session: SessionRecord, refresh: RefreshRecord) -> None: ...

    @abc.abstractmethod
    async def rotate_refresh(
        self, old_hash: bytes, new_hash: bytes, r: RotationRequest
    ) -> Rotation:
        """Atomically: exactly one caller per refresh token gets ``ROTATED``.

        ``ROTATED``: the old token is marked rotated (by ``r.client``), the new one stored, the
        session's ``last_seen`` and ``access_until`` moved (the latter to ``r.access_until``,
        capped at the session's absolute expiry), and rotated tokens of the family beyond the
        ``r.keep_rotated`` most recent dropped (bounded growth, issue 9 finding 8).
        ``RACE``: a ``refresh_token_race`` event is recorded, ``same_client`` set.
        ``REUSED``: the session is ended (its ``sid`` denied until ``deny_until(r.leeway)``) and
        a ``refresh_token_reuse`` event recorded, in the same atomic step.
        """

    @abc.abstractmethod
    async def find_refresh(self, token_hash: bytes) -> tuple[RefreshRecord, SessionRecord] | None:
        """The stored record of any token of a family (current or rotated) and its session."""

    async def session_for_refresh(self, token_hash: bytes, *, now: float) -> SessionRecord | None:
        """The active session a current (not rotated, not expired) refresh token belongs to."""
        found = await self.find_refresh(token_hash)
        if found is None:
            return None
        record, session = found
        return session if record.current(now) and session.active(now) else None

    @abc.abstractmethod
    async def get_session(self, sid: str) -> SessionRecord | None: ...

    @abc.abstractmethod
    async def list_sessions(self, sub: str, *, now: float) -> list[SessionRecord]:
        """The user's active sessions, oldest first."""

    @abc.abstractmethod
    async def end_sessions(
        self,
        sids: Sequence[str],
        *,
        now: float,
        reason: str,
        leeway: float,
        extra: Sequence[Revocation] = (),
    ) -> list[Revocation]:
        """In one atomic step: end these sessions (those still ``endable``), drop their refresh
        tokens, deny each ``sid`` until its ``deny_until(leeway)``, and record ``extra`` (an
        access token's ``jti``). Returns the ``sid`` revocations of the sessions this call
        ended (issue 9 finding 3: a logout is never half done)."""

    @abc.abstractmethod
    async def end_user_sessions(
        self,
        sub: str,
        *,
        now: float,
        reason: str,
        leeway: float,
        keep_sid: str | None = None,
        cutoff: Revocation | None = None,
        extra: Sequence[Revocation] = (),
    ) -> list[Revocation]:
        """``end_sessions`` for every endable session of ``sub`` but ``keep_sid``, oldest first;
        with ``cutoff`` (a user revocation), also refuse every access token of ``sub`` with
        ``iat < cutoff.cutoff``, kept at least until ``cutoff.expires_at`` and at least as long
        as any ended session's ``deny_until(leeway)``; that user revocation, as recorded, comes
        last in the result. One atomic step where the backend can."""

    @abc.abstractmethod
    async def revoke_token(self, iss: str, jti: str, *, expires_at: float) -> bool:
        """Deny-list one access token until its exp; False if it already was."""

    @abc.abstractmethod
    async def record(
        self, revocations: Sequence[Revocation], *, now: float, once: bool = False
    ) -> list[bool]:
        """Record revocations of tokens this store keeps no session for — an external
        issuer's ``(iss, jti)``, ``sid`` and ``(iss, sub)`` cutoff (issue 11) — in one atomic
        step. For each, whether it changed anything: an entry whose live entries already
        reach as far (expiry, and cutoff for a user) is left as it is.

        ``once``: the first revocation is a token entry that must not be live yet (a
        back-channel logout token's ``(iss, jti)``: used once only, on every instance); if it
        is, nothing at all is recorded and every answer is False."""

    @abc.abstractmethod
    async def events(self, *, sub: str | None = None, limit: int = 100) -> list[SecurityEvent]:
        """Security events, newest first."""

    # -- the change feed the in-process view replicates ----------------------------------
    @abc.abstractmethod
    async def revocations(
        self, *, since: Cursor | None, now: float
    ) -> tuple[list[Revocation], Cursor]:
        """``since=None``: every live revocation (a snapshot); else those committed after
        ``since``. Returns them with the cursor to pass next time, both read from one
        consistent snapshot: a revocation committed while this runs is either returned or
        after the returned cursor, never skipped (issue 9 finding 2)."""

    def change_marker(self) -> object:
        """A cheap, synchronous value that changes whenever a revocation is committed by any
        process sharing this store (false alarms allowed, misses not). ``None`` means the
        store cannot tell cheaply, so the replica must use another way to stay fresh."""
        return None

    def make_replica(self, *, clock: Callable[[], float]) -> Replica:
        """The replica that keeps a process's view fresh; stores without a cheap change
        marker (Redis) return their own."""
        from ..replica import PollingReplica

        return PollingReplica(store=self, clock=clock)

    # -- login attempts (issue 15: throttling shared by every instance) -----------------
    @abc.abstractmethod
    async def attempts(
        self, key: str, op: AttemptOp, *, now: float, policy: AttemptPolicy
    ) -> tuple[Attempts, bool]:
        """In one atomic step across every process sharing the store: read ``key``'s record,
        apply ``attempts.decide_attempts(record, op, now=now, policy=policy)``, store what it
        returns (delete on ``None``; keep it until ``Attempts.expires(policy)``), and return
        ``(stored record or Attempts(), whether the attempt may go ahead)``."""

    # -- upkeep --------------------------------------------------------------------------
    @abc.abstractmethod
    async def prune(self, *, now: float) -> int:
        """Delete what can no longer matter; return how many rows went."""

    @abc.abstractmethod
    async def ping(self) -> dict[str, Any]:
        """Readiness details; raises ``StoreUnavailableError`` when unreachable."""

    async def open(self) -> None:
        """Connect / create schema. Idempotent."""

    async def close(self) -> None:
        """Release connections. Idempotent."""
