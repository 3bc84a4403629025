"""The in-memory store: one process, tests, and the reference the others are held to."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..revocation import Revocation
from .base import (
    Cursor,
    RefreshRecord,
    Rotation,
    RotationStatus,
    SecurityEvent,
    SessionRecord,
    Store,
    decide_rotation,
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

    def __repr__(self) -> str:
        return f"MemoryStore(sessions={len(self._sessions)}, revocations={len(self._log)})"

    async def create_session(self, session: SessionRecord, refresh: RefreshRecord) -> None:
        self._sessions[session.sid] = session
        self._refresh[refresh.token_hash] = refresh

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
        async with self._lock:
            old = self._refresh.get(old_hash)
            session = self._sessions.get(old.sid) if old else None
            status = decide_rotation(old, session, now=now, grace=grace)
            if status is RotationStatus.REUSED:
                assert session is not None
                self._end(session, now=now, reason="refresh_token_reuse", deny_until=deny_until)
                self._events.append(
                    SecurityEvent(now, "refresh_token_reuse", session.sub, session.sid)
                )
            if status is not RotationStatus.ROTATED:
                return Rotation(status, session)
            assert old is not None and session is not None
            expires = min(now + idle_ttl, session.expires_at)
            self._refresh[old_hash] = replace(old, rotated_at=now)
            self._refresh[new_hash] = RefreshRecord(new_hash, session.sid, now, expires)
            session = replace(session, last_seen=now)
            self._sessions[session.sid] = session
            return Rotation(status, session, expires)

    async def session_for_refresh(self, token_hash: bytes, *, now: float) -> SessionRecord | None:
        record = self._refresh.get(token_hash)
        if record is None or record.rotated_at is not None or now >= record.expires_at:
            return None
        session = self._sessions.get(record.sid)
        return session if session and session.active(now) else None

    async def get_session(self, sid: str) -> SessionRecord | None:
        return self._sessions.get(sid)

    async def list_sessions(self, sub: str, *, now: float) -> list[SessionRecord]:
        found = [s for s in self._sessions.values() if s.sub == sub and s.active(now)]
        return sorted(found, key=lambda s: s.created_at)

    async def end_sessions(
        self, sids: Sequence[str], *, now: float, reason: str, deny_until: float
    ) -> list[str]:
        ended = []
        for sid in sids:
            session = self._sessions.get(sid)
            if session is not None and session.active(now):
                self._end(session, now=now, reason=reason, deny_until=deny_until)
                ended.append(sid)
        return ended

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
        sids = [s.sid for s in await self.list_sessions(sub, now=now) if s.sid != keep_sid]
        ended = await self.end_sessions(sids, now=now, reason=reason, deny_until=deny_until)
        if cutoff is not None:
            self._append(Revocation.user(sub, cutoff=cutoff, expires_at=deny_until))
        return ended

    async def revoke_token(self, iss: str, jti: str, *, expires_at: float) -> bool:
        rev = Revocation.token(iss, jti, expires_at=expires_at)
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

    async def prune(self, *, now: float) -> int:
        before = len(self._log) + len(self._refresh) + len(self._sessions)
        self._log = [(seq, r) for seq, r in self._log if r.expires_at > now]
        self._refresh = {h: r for h, r in self._refresh.items() if r.expires_at > now}
        self._sessions = {k: s for k, s in self._sessions.items() if s.active(now)}
        return before - (len(self._log) + len(self._refresh) + len(self._sessions))

    async def ping(self) -> dict[str, Any]:
        return {"backend": self.name, "revocations": len(self._log)}

    def _end(self, session: SessionRecord, *, now: float, reason: str, deny_until: float) -> None:
        self._sessions[session.sid] = session.ended(now=now, reason=reason)
        self._refresh = {h: r for h, r in self._refresh.items() if r.sid != session.sid}
        self._append(Revocation.session(session.sid, expires_at=deny_until))

    def _append(self, rev: Revocation) -> None:
        self._seq += 1
        self._log.append((self._seq, rev))
