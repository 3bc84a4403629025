"""The store contract every backend implements (memory, SQLite, Redis).

A store keeps sessions, refresh-token families, security events and the revocation log. The
revocation log is also a change feed: ``revocations(since=None)`` is a snapshot of live entries,
``revocations(since=cursor)`` what was committed after it, so an in-process view can replicate
it. Every method that mutates commits durably before it returns (invariant 2), and driver
errors leave a store only as ``StoreUnavailableError`` (fail closed, invariant 3).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..revocation import Revocation

if TYPE_CHECKING:
    from ..replica import Replica

__all__ = [
    "Cursor",
    "RefreshRecord",
    "Rotation",
    "RotationStatus",
    "SecurityEvent",
    "SessionRecord",
    "Store",
    "decide_rotation",
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

    def active(self, now: float) -> bool:
        return self.ended_at is None and now < self.expires_at

    def ended(self, *, now: float, reason: str) -> SessionRecord:
        return replace(self, ended_at=now, end_reason=reason)


@dataclass(frozen=True, slots=True, repr=False)
class RefreshRecord:
    token_hash: bytes  # SHA-256 of the token; the token itself is never stored
    sid: str
    issued_at: float
    expires_at: float  # idle expiry, capped by the session's absolute expiry
    rotated_at: float | None = None

    def __repr__(self) -> str:
        return f"RefreshRecord(sid={self.sid!r}, rotated={self.rotated_at is not None})"


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
        self,
        old_hash: bytes,
        new_hash: bytes,
        *,
        now: float,
        idle_ttl: float,
        grace: float,
        deny_until: float,
    ) -> Rotation:
        """Atomically: exactly one caller per refresh token gets ``ROTATED``.

        On ``REUSED`` the store has ended the session (its ``sid`` revoked until
        ``deny_until``) and recorded a ``refresh_token_reuse`` event.
        """

    @abc.abstractmethod
    async def session_for_refresh(self, token_hash: bytes, *, now: float) -> SessionRecord | None:
        """The active session a current (not rotated, not expired) refresh token belongs to."""

    @abc.abstractmethod
    async def get_session(self, sid: str) -> SessionRecord | None: ...

    @abc.abstractmethod
    async def list_sessions(self, sub: str, *, now: float) -> list[SessionRecord]:
        """The user's active sessions, oldest first."""

    @abc.abstractmethod
    async def end_sessions(
        self, sids: Sequence[str], *, now: float, reason: str, deny_until: float
    ) -> list[str]:
        """End these sessions, drop their refresh tokens, revoke their sids; return the ended."""

    @abc.abstractmethod
    async def end_user_sessions(
        self,
        sub: str,
        *,
        now: float,
        reason: str,
        deny_until: float,
        keep_sid: str | None = None,
        cutoff: float | None = None,
    ) -> list[str]:
        """End every active session of ``sub`` but ``keep_sid``; with ``cutoff``, also refuse
        every access token of ``sub`` with ``iat < cutoff`` until ``deny_until``."""

    @abc.abstractmethod
    async def revoke_token(self, iss: str, jti: str, *, expires_at: float) -> bool:
        """Deny-list one access token until its exp; False if it already was."""

    @abc.abstractmethod
    async def events(self, *, sub: str | None = None, limit: int = 100) -> list[SecurityEvent]:
        """Security events, newest first."""

    # -- the change feed the in-process view replicates ----------------------------------
    @abc.abstractmethod
    async def revocations(
        self, *, since: Cursor | None, now: float
    ) -> tuple[list[Revocation], Cursor]:
        """``since=None``: every live revocation (a snapshot); else those committed after
        ``since``. Returns them with the cursor to pass next time."""

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
