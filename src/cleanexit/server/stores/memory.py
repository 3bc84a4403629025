"""The in-memory store: one process, tests, and the reference the others are held to."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..attempts import AttemptOp, AttemptPolicy, Attempts, decide_attempts
from ..revocation import Revocation
from .base import (
    REUSE_EVENT,
    Cursor,
    RefreshRecord,
    Rotation,
    RotationRequest,
    RotationStatus,
    SecurityEvent,
    SessionRecord,
    Store,
    cutoff_entry,
    decide_rotation,
    race_event,
)

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    name = "memory"

    def __init__(self) -> None:
        self._sessions: dict[str, SessionRecord] = {}
        self._refresh: dict[bytes, RefreshRecord] = {}
        self._log: list[tuple[int, Revocation]] = []
        self._events: list[SecurityEvent] = []
        self._seq = 0
        self._lock = asyncio.Lock()
        self._attempts: dict[str, tuple[Attempts, float]] = {}  # key -> record, expires

    def __repr__(self) -> str:
        return f"MemoryStore(sessions={len(self._sessions)}, revocations={len(self._log)})"

    async def create_session(self, session: SessionRecord, refresh: RefreshRecord) -> None:
        self._sessions[session.sid] = session
        self._refresh[refresh.token_hash] = refresh

    async def rotate_refresh(
        self, old_hash: bytes, new_hash: bytes, r: RotationRequest
    ) -> Rotation:
        async with self._lock:
            old = self._refresh.get(old_hash)
            session = self._sessions.get(old.sid) if old else None
            status = decide_rotation(old, session, now=r.now, grace=r.grace)
            if status is RotationStatus.RACE:
                assert old is not None and session is not None
                same = old.rotated_by == r.client
                self._events.append(race_event(session, now=r.now, same_client=same))
                return Rotation(status, session, same_client=same)
            if status is RotationStatus.REUSED:
                assert session is not None
                self._end(session, now=r.now, reason=REUSE_EVENT, leeway=r.leeway)
                self._events.append(SecurityEvent(r.now, REUSE_EVENT, session.sub, session.sid))
            if status is not RotationStatus.ROTATED:
                return Rotation(status, session)
            assert old is not None and session is not None
            expires = min(r.now + r.idle_ttl, session.expires_at)
            self._refresh[old_hash] = replace(old, rotated_at=r.now, rotated_by=r.client)
            self._refresh[new_hash] = RefreshRecord(new_hash, session.sid, r.now, expires)
            self._drop_rotated(session.sid, keep=r.keep_rotated)
            access = max(session.access_until, min(r.access_until, session.expires_at))
            session = replace(session, last_seen=r.now, access_until=access)
            self._sessions[session.sid] = session
            return Rotation(status, session, expires)

    def _drop_rotated(self, sid: str, *, keep: int) -> None:
        rotated = [r for r in self._refresh.values() if r.sid == sid and r.rotated_at is not None]
        rotated.sort(key=lambda r: r.rotated_at or 0.0, reverse=True)
        for record in rotated[keep:]:
            del self._refresh[record.token_hash]

    async def find_refresh(self, token_hash: bytes) -> tuple[RefreshRecord, SessionRecord] | None:
        record = self._refresh.get(token_hash)
        session = self._sessions.get(record.sid) if record else None
        return (record, session) if record and session else None

    async def get_session(self, sid: str) -> SessionRecord | None:
        return self._sessions.get(sid)

    async def list_sessions(self, sub: str, *, now: float) -> list[SessionRecord]:
        found = [s for s in self._sessions.values() if s.sub == sub and s.active(now)]
        return sorted(found, key=lambda s: s.created_at)

    async def end_sessions(
        self,
        sids: Sequence[str],
        *,
        now: float,
        reason: str,
        leeway: float,
        extra: Sequence[Revocation] = (),
    ) -> list[Revocation]:
        # No await inside: atomic with respect to every other coroutine of the process.
        ended = [
            self._end(session, now=now, reason=reason, leeway=leeway)
            for sid in dict.fromkeys(sids)
            if (session := self._sessions.get(sid)) is not None
            and session.endable(now, leeway=leeway)
        ]
        for rev in extra:
            self._add(rev)
        return ended

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
        sessions = [
            s
            for s in self._sessions.values()
            if s.sub == sub and s.sid != keep_sid and s.endable(now, leeway=leeway)
        ]
        sessions.sort(key=lambda s: s.created_at)
        ended = [self._end(session, now=now, reason=reason, leeway=leeway) for session in sessions]
        if cutoff is not None:
            ended.append(cutoff_entry(cutoff, sessions, leeway=leeway))
            self._append(ended[-1])
        for rev in extra:
            self._add(rev)
        return ended

    async def revoke_token(self, iss: str, jti: str, *, expires_at: float) -> bool:
        return self._add(Revocation.token(iss, jti, expires_at=expires_at))

    async def record(
        self, revocations: Sequence[Revocation], *, now: float, once: bool = False
    ) -> list[bool]:
        # No await inside: atomic with respect to every other coroutine of the process.
        revs = list(revocations)
        if once and revs and self._reach(revs[0], now) is not None:
            return [False] * len(revs)
        changed = []
        for rev in revs:
            reach = self._reach(rev, now)
            new = reach is None or rev.expires_at > reach[0] or rev.cutoff > reach[1]
            if new:
                self._append(rev)
            changed.append(new)
        return changed

    def _reach(self, rev: Revocation, now: float) -> tuple[float, float] | None:
        """How far the live entries of ``rev``'s key reach: (latest expiry, latest cutoff)."""
        live = [
            r
            for _, r in self._log
            if r.kind is rev.kind and r.key == rev.key and r.expires_at > now
        ]
        if not live:
            return None
        return max(r.expires_at for r in live), max(r.cutoff for r in live)

    def _add(self, rev: Revocation) -> bool:
        """Record a token revocation unless it already is (False then)."""
        if any(r.key == rev.key and r.kind is rev.kind for _, r in self._log):
            return False
        self._append(rev)
        return True

    async def events(self, *, sub: str | None = None, limit: int = 100) -> list[SecurityEvent]:
        found = [e for e in reversed(self._events) if sub is None or e.sub == sub]
        return found[:limit]

    async def revocations(
        self, *, since: Cursor | None, now: float
    ) -> tuple[list[Revocation], Cursor]:
        start = 0 if since is None else int(since)
        found = [r for seq, r in self._log if seq > start and r.expires_at > now]
        return found, self._seq

    def change_marker(self) -> object:
        return self._seq

    async def attempts(
        self, key: str, op: AttemptOp, *, now: float, policy: AttemptPolicy
    ) -> tuple[Attempts, bool]:
        # No await inside: atomic with respect to every other coroutine of the process.
        found = self._attempts.get(key)
        record, admitted = decide_attempts(found[0] if found else None, op, now=now, policy=policy)
        if record is None:
            self._attempts.pop(key, None)
            return Attempts(), admitted
        self._attempts[key] = (record, record.expires(policy))
        return record, admitted

    async def prune(self, *, now: float) -> int:
        stale = [key for key, (_, until) in self._attempts.items() if until <= now]
        for key in stale:
            del self._attempts[key]
        before = len(self._log) + len(self._refresh) + len(self._sessions) + len(stale)
        self._log = [(seq, r) for seq, r in self._log if r.expires_at > now]
        self._refresh = {h: r for h, r in self._refresh.items() if r.expires_at > now}
        self._sessions = {k: s for k, s in self._sessions.items() if s.active(now)}
        return before - (len(self._log) + len(self._refresh) + len(self._sessions))

    async def ping(self) -> dict[str, Any]:
        return {"backend": self.name, "revocations": len(self._log)}

    def _end(self, session: SessionRecord, *, now: float, reason: str, leeway: float) -> Revocation:
        self._sessions[session.sid] = session.ended(now=now, reason=reason)
        self._refresh = {h: r for h, r in self._refresh.items() if r.sid != session.sid}
        self._append(rev := session.revocation(leeway))
        return rev

    def _append(self, rev: Revocation) -> None:
        self._seq += 1
        self._log.append((self._seq, rev))
