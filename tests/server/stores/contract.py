"""The store contract, executable. Every backend's test class inherits ``StoreContract`` and
overrides the ``store`` fixture; a new backend proves itself by passing this suite."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import pytest

from cleanexit.server.revocation import Revocation, RevocationKind, RevocationView
from cleanexit.server.stores import RefreshRecord, RotationStatus, SessionRecord, Store
from cleanexit.server.tokens import AccessClaims

NOW = 1_700_000_000.0
IDLE = 3600.0
GRACE = 5.0
DENY = NOW + 600


def h(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def session(
    sid: str, sub: str = "alice", *, created: float = NOW, ttl: float = 86400
) -> SessionRecord:
    return SessionRecord(sid, sub, created, created, created + ttl, "pytest", "127.0.0.1")


def refresh(name: str, sid: str, *, at: float = NOW, ttl: float = IDLE) -> RefreshRecord:
    return RefreshRecord(h(name), sid, at, at + ttl)


def claims(
    *, sid: str = "s1", sub: str = "alice", jti: str = "j1", iat: int = int(NOW)
) -> AccessClaims:
    return AccessClaims("https://issuer", "api", sub, sid, jti, iat, iat + 600, "cleanexit")


class StoreContract:
    """Inherit and provide ``store`` (an opened, empty store)."""

    @pytest.fixture
    async def store(self) -> AsyncIterator[Store]:  # pragma: no cover - overridden
        raise NotImplementedError
        yield  # noqa: PT022 - an async generator, like the overrides

    async def rotate(self, store: Store, old: str, new: str, *, now: float = NOW + 10):
        return await store.rotate_refresh(
            h(old), h(new), now=now, idle_ttl=IDLE, grace=GRACE, deny_until=now + 600
        )

    # -- sessions --------------------------------------------------------------------------
    async def test_create_list_get(self, store: Store) -> None:
        await store.create_session(session("s1"), refresh("r1", "s1"))
        await store.create_session(session("s2", created=NOW + 1), refresh("r2", "s2"))
        await store.create_session(session("s3", sub="bob"), refresh("r3", "s3"))
        listed = await store.list_sessions("alice", now=NOW + 2)
        assert [s.sid for s in listed] == ["s1", "s2"]
        got = await store.get_session("s3")
        assert got is not None and got.sub == "bob" and got.user_agent == "pytest"
        assert await store.get_session("nope") is None

    async def test_expired_sessions_are_not_listed(self, store: Store) -> None:
        await store.create_session(session("s1", ttl=10), refresh("r1", "s1"))
        assert await store.list_sessions("alice", now=NOW + 11) == []

    # -- rotation ---------------------------------------------------------------------------
    async def test_rotation_issues_a_new_current_token(self, store: Store) -> None:
        await store.create_session(session("s1"), refresh("r1", "s1"))
        rotation = await self.rotate(store, "r1", "r2")
        assert rotation.status is RotationStatus.ROTATED
        assert rotation.session is not None and rotation.session.last_seen == NOW + 10
        assert rotation.refresh_expires_at == NOW + 10 + IDLE
        assert await store.session_for_refresh(h("r1"), now=NOW + 11) is None
        current = await store.session_for_refresh(h("r2"), now=NOW + 11)
        assert current is not None and current.sid == "s1"

    async def test_reuse_within_grace_is_a_race_not_theft(self, store: Store) -> None:
        await store.create_session(session("s1"), refresh("r1", "s1"))
        await self.rotate(store, "r1", "r2")
        race = await self.rotate(store, "r1", "r3", now=NOW + 10 + GRACE)
        assert race.status is RotationStatus.RACE
        assert (await store.session_for_refresh(h("r2"), now=NOW + 16)) is not None
        assert await store.session_for_refresh(h("r3"), now=NOW + 16) is None

    async def test_reuse_after_grace_ends_the_whole_session(self, store: Store) -> None:
        await store.create_session(session("s1"), refresh("r1", "s1"))
        await self.rotate(store, "r1", "r2")
        stolen = await self.rotate(store, "r1", "r3", now=NOW + 100)
        assert stolen.status is RotationStatus.REUSED
        ended = await store.get_session("s1")
        assert ended is None or ended.ended_at is not None
        assert await store.session_for_refresh(h("r2"), now=NOW + 101) is None
        assert (
            await self.rotate(store, "r2", "r4", now=NOW + 102)
        ).status is RotationStatus.INVALID
        events = await store.events(sub="alice")
        assert [e.kind for e in events] == ["refresh_token_reuse"] and events[0].sid == "s1"
        revs, _ = await store.revocations(since=None, now=NOW + 101)
        assert Revocation.session("s1", expires_at=NOW + 700) in revs

    async def test_unknown_expired_and_dead_tokens_are_invalid(self, store: Store) -> None:
        assert (await self.rotate(store, "ghost", "x")).status is RotationStatus.INVALID
        await store.create_session(session("s1"), refresh("r1", "s1", ttl=5))
        assert (await self.rotate(store, "r1", "r2", now=NOW + 6)).status is RotationStatus.INVALID
        await store.create_session(session("s2", ttl=20), refresh("r5", "s2"))
        assert (await self.rotate(store, "r5", "r6", now=NOW + 21)).status is RotationStatus.INVALID

    async def test_new_refresh_expiry_is_capped_by_the_session(self, store: Store) -> None:
        await store.create_session(session("s1", ttl=100), refresh("r1", "s1"))
        rotation = await self.rotate(store, "r1", "r2")
        assert rotation.refresh_expires_at == NOW + 100

    async def test_concurrent_rotations_have_exactly_one_winner(self, store: Store) -> None:
        await store.create_session(session("s1"), refresh("r1", "s1"))
        results = await asyncio.gather(*(self.rotate(store, "r1", f"n{i}") for i in range(8)))
        statuses = sorted(r.status.value for r in results)
        assert statuses.count("rotated") == 1
        assert set(statuses) <= {"rotated", "race"}

    # -- ending sessions --------------------------------------------------------------------
    async def test_end_sessions_revokes_sid_and_refresh(self, store: Store) -> None:
        await store.create_session(session("s1"), refresh("r1", "s1"))
        assert await store.end_sessions(
            ["s1", "ghost"], now=NOW, reason="logout", deny_until=DENY
        ) == ["s1"]
        assert await store.end_sessions(["s1"], now=NOW, reason="logout", deny_until=DENY) == []
        assert await store.session_for_refresh(h("r1"), now=NOW) is None
        assert (await self.rotate(store, "r1", "r2")).status is RotationStatus.INVALID
        assert await store.list_sessions("alice", now=NOW) == []
        revs, _ = await store.revocations(since=None, now=NOW)
        assert revs == [Revocation.session("s1", expires_at=DENY)]

    async def test_end_user_sessions_keeps_one_and_sets_cutoff(self, store: Store) -> None:
        for sid in ("s1", "s2", "s3"):
            await store.create_session(session(sid), refresh("r" + sid, sid))
        await store.create_session(session("b1", sub="bob"), refresh("rb1", "b1"))
        ended = await store.end_user_sessions(
            "alice", now=NOW, reason="others", deny_until=DENY, keep_sid="s2"
        )
        assert sorted(ended) == ["s1", "s3"]
        assert [s.sid for s in await store.list_sessions("alice", now=NOW)] == ["s2"]
        ended = await store.end_user_sessions(
            "alice", now=NOW, reason="all", deny_until=DENY, cutoff=NOW
        )
        assert ended == ["s2"]
        assert [s.sid for s in await store.list_sessions("bob", now=NOW)] == ["b1"]
        revs, _ = await store.revocations(since=None, now=NOW)
        assert Revocation.user("alice", cutoff=NOW, expires_at=DENY) in revs

    async def test_cutoff_alone_with_no_sessions(self, store: Store) -> None:
        ended = await store.end_user_sessions(
            "carol", now=NOW, reason="all", deny_until=DENY, cutoff=NOW
        )
        assert ended == []
        revs, _ = await store.revocations(since=None, now=NOW)
        assert [r.kind for r in revs] == [RevocationKind.USER]

    async def test_revoke_token_once(self, store: Store) -> None:
        assert await store.revoke_token("https://issuer", "j1", expires_at=DENY) is True
        assert await store.revoke_token("https://issuer", "j1", expires_at=DENY) is False
        revs, _ = await store.revocations(since=None, now=NOW)
        assert revs == [Revocation.token("https://issuer", "j1", expires_at=DENY)]

    # -- change feed ------------------------------------------------------------------------
    async def test_feed_snapshot_then_incremental(self, store: Store) -> None:
        await store.revoke_token("https://issuer", "old", expires_at=NOW + 1)
        await store.revoke_token("https://issuer", "j1", expires_at=DENY)
        snapshot, cursor = await store.revocations(since=None, now=NOW + 2)
        assert snapshot == [Revocation.token("https://issuer", "j1", expires_at=DENY)]
        nothing, cursor2 = await store.revocations(since=cursor, now=NOW + 2)
        assert nothing == []
        await store.revoke_token("https://issuer", "j2", expires_at=DENY)
        new, _ = await store.revocations(since=cursor2, now=NOW + 2)
        assert new == [Revocation.token("https://issuer", "j2", expires_at=DENY)]

    async def test_change_marker_moves_on_every_revocation(self, store: Store) -> None:
        before = store.change_marker()
        if before is None:
            # No cheap marker: the store must bring a replica that stays fresh by other means
            # (the Redis stream tail); the polling replica would pull on every request.
            from cleanexit.server.replica import PollingReplica

            assert not isinstance(store.make_replica(clock=lambda: NOW), PollingReplica)
            return
        await store.revoke_token("https://issuer", "j1", expires_at=DENY)
        middle = store.change_marker()
        assert middle != before
        await store.end_user_sessions("alice", now=NOW, reason="all", deny_until=DENY, cutoff=NOW)
        assert store.change_marker() not in (before, middle)

    async def test_view_built_from_the_feed_refuses_revoked_claims(self, store: Store) -> None:
        await store.create_session(session("s1"), refresh("r1", "s1"))
        await store.create_session(session("s2"), refresh("r2", "s2"))
        await store.revoke_token("https://issuer", "jx", expires_at=DENY)
        await store.end_sessions(["s2"], now=NOW, reason="logout", deny_until=DENY)
        await store.end_user_sessions("carol", now=NOW, reason="all", deny_until=DENY, cutoff=NOW)
        view = RevocationView()
        view.apply((await store.revocations(since=None, now=NOW))[0])
        assert view.reason(claims()) is None
        assert view.reason(claims(jti="jx")) == "revoked"
        assert view.reason(claims(sid="s2")) == "session ended"
        assert view.reason(claims(sub="carol", iat=int(NOW) - 1)) == "logged out everywhere"
        assert view.reason(claims(sub="carol", iat=int(NOW))) is None

    # -- upkeep -----------------------------------------------------------------------------
    async def test_prune_drops_only_what_cannot_matter(self, store: Store) -> None:
        await store.create_session(session("s1"), refresh("r1", "s1", ttl=50))
        await store.create_session(session("s2"), refresh("r2", "s2"))
        await store.revoke_token("https://issuer", "short", expires_at=NOW + 10)
        await store.revoke_token("https://issuer", "long", expires_at=NOW + 1000)
        pruned = await store.prune(now=NOW + 100)
        assert pruned >= 2
        revs, _ = await store.revocations(since=None, now=NOW)
        assert [r.key for r in revs] == ["https://issuer\x1flong"]
        assert await store.session_for_refresh(h("r1"), now=NOW + 40) is None
        assert await store.session_for_refresh(h("r2"), now=NOW + 100) is not None

    async def test_ping_reports_the_backend(self, store: Store) -> None:
        info = await store.ping()
        assert info["backend"] == store.name
