"""The store contract, executable. Every backend's test class inherits ``StoreContract`` and
overrides the ``store`` fixture; a new backend proves itself by passing this suite."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from cleanexit.server.attempts import AttemptOp, AttemptPolicy, Attempts
from cleanexit.server.revocation import ProviderKeys, Revocation, RevocationView
from cleanexit.server.stores import RefreshRecord, RotationStatus, SessionRecord, Store
from cleanexit.server.stores.base import Rotation, RotationRequest
from cleanexit.server.tokens import AccessClaims

NOW = 1_700_000_000.0
IDLE = 3600.0
GRACE = 5.0
ACCESS = 600  # the access-token lifetime the fixtures' sessions were issued with
DENY = NOW + ACCESS  # jti entries in these tests
SID_DENY = NOW + ACCESS + 1  # an ended fixture session's sid: its last token's exp + leeway 0 + 1


def h(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def session(
    sid: str,
    sub: str = "alice",
    *,
    created: float = NOW,
    ttl: float = 86400,
    access: float = ACCESS,
) -> SessionRecord:
    expires = created + ttl
    return SessionRecord(
        sid, sub, created, created, expires, "pytest", "127.0.0.1",
        access_until=min(created + access, expires),
    )  # fmt: skip


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

    @pytest.fixture
    async def other(self, store: Store) -> Store:
        """A second handle on the same state, as another process would have (the same object
        where the backend has no other process to share with)."""
        return store

    async def rotate(
        self,
        store: Store,
        old: str,
        new: str,
        *,
        now: float = NOW + 10,
        client: str = "",
        keep: int = 64,
        access: float = ACCESS,
    ) -> Rotation:
        request = RotationRequest(
            now=now,
            idle_ttl=IDLE,
            grace=GRACE,
            access_until=int(now) + access,
            client=client,
            keep_rotated=keep,
        )
        return await store.rotate_refresh(h(old), h(new), request)

    async def end(self, store: Store, *sids: str, now: float = NOW, **kw: Any) -> list[str]:
        revs = await store.end_sessions(list(sids), now=now, reason="logout", leeway=0, **kw)
        return [r.key for r in revs]

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

    async def test_application_claims_are_kept_with_the_session(
        self, store: Store, other: Store
    ) -> None:
        """Issue 10: the claims given at session start come back, JSON values intact, from
        every read, on every handle, and through a rotation."""
        given = {"scope": "read write", "roles": ["a", "b"], "tenant": 7, "w": {"x": 1.5}}
        await store.create_session(replace(session("s1"), claims=given), refresh("r1", "s1"))
        got = await other.get_session("s1")
        assert got is not None and dict(got.claims) == given
        found = await other.find_refresh(h("r1"))
        assert found is not None and dict(found[1].claims) == given
        assert [dict(s.claims) for s in await other.list_sessions("alice", now=NOW)] == [given]
        rotation = await self.rotate(store, "r1", "r2")
        assert rotation.session is not None and dict(rotation.session.claims) == given
        await store.create_session(session("s2"), refresh("r3", "s2"))
        plain = await other.get_session("s2")
        assert plain is not None and dict(plain.claims) == {}

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
        # Denied until the session's last access token (issued at the rotation) has expired.
        assert Revocation.session("s1", expires_at=NOW + 10 + ACCESS + 1) in revs

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
        assert await self.end(store, "s1", "ghost") == ["s1"]
        assert await self.end(store, "s1") == []
        assert await store.session_for_refresh(h("r1"), now=NOW) is None
        assert await store.find_refresh(h("r1")) is None
        assert (await self.rotate(store, "r1", "r2")).status is RotationStatus.INVALID
        assert await store.list_sessions("alice", now=NOW) == []
        revs, _ = await store.revocations(since=None, now=NOW)
        assert revs == [Revocation.session("s1", expires_at=SID_DENY)]

    async def test_end_user_sessions_keeps_one_and_sets_cutoff(self, store: Store) -> None:
        for sid in ("s1", "s2", "s3"):
            await store.create_session(session(sid), refresh("r" + sid, sid))
        await store.create_session(session("b1", sub="bob"), refresh("rb1", "b1"))
        ended = await store.end_user_sessions(
            "alice", now=NOW, reason="others", leeway=0, keep_sid="s2"
        )
        assert sorted(r.key for r in ended) == ["s1", "s3"]
        assert [s.sid for s in await store.list_sessions("alice", now=NOW)] == ["s2"]
        cutoff = Revocation.user("alice", cutoff=NOW + 1, expires_at=NOW + 10)
        ended = await store.end_user_sessions(
            "alice", now=NOW, reason="all", leeway=0, cutoff=cutoff
        )
        # The cutoff lasts as long as the tokens of the sessions it ended, not its floor.
        user = Revocation.user("alice", cutoff=NOW + 1, expires_at=SID_DENY)
        assert ended == [Revocation.session("s2", expires_at=SID_DENY), user]
        assert [s.sid for s in await store.list_sessions("bob", now=NOW)] == ["b1"]
        revs, _ = await store.revocations(since=None, now=NOW)
        assert user in revs

    async def test_cutoff_alone_with_no_sessions(self, store: Store) -> None:
        cutoff = Revocation.user("carol", cutoff=NOW + 1, expires_at=DENY)
        ended = await store.end_user_sessions(
            "carol", now=NOW, reason="all", leeway=0, cutoff=cutoff
        )
        assert ended == [cutoff]
        revs, _ = await store.revocations(since=None, now=NOW)
        assert revs == [cutoff]

    async def test_revoke_token_once(self, store: Store) -> None:
        assert await store.revoke_token("https://issuer", "j1", expires_at=DENY) is True
        assert await store.revoke_token("https://issuer", "j1", expires_at=DENY) is False
        revs, _ = await store.revocations(since=None, now=NOW)
        assert revs == [Revocation.token("https://issuer", "j1", expires_at=DENY)]

    # -- issue 11: revocations of an external issuer's tokens --------------------------------
    async def test_record_external_revocations(self, store: Store) -> None:
        op = "https://op.example"
        sid = Revocation.provider_session(op, "ops1", expires_at=DENY)
        user = Revocation.provider_user(op, "alice", cutoff=NOW, expires_at=DENY)
        token = Revocation.token(op, "opj1", expires_at=DENY)
        assert await store.record([sid, user, token], now=NOW) == [True, True, True]
        # Nothing stronger: nothing recorded. A later cutoff or expiry: recorded.
        assert await store.record([sid, user, token], now=NOW) == [False, False, False]
        later = Revocation.provider_user(op, "alice", cutoff=NOW + 5, expires_at=DENY)
        longer = Revocation.provider_session(op, "ops1", expires_at=DENY + 10)
        assert await store.record([later, longer], now=NOW) == [True, True]
        view = RevocationView()
        view.apply((await store.revocations(since=None, now=NOW))[0])
        keys = ProviderKeys.of(op, sub="alice", sid="ops1", jti="", iat=int(NOW) + 10)
        assert view.reason(keys) == "session ended"
        assert view.reason(keys._replace(sid="")) is None  # iat after the cutoff
        assert view.reason(keys._replace(sid="", iat=int(NOW) + 4)) == "logged out everywhere"
        assert view.reason(keys._replace(sid="", jti="opj1")) == "revoked"
        # Scoped by issuer: our own "alice" and session "ops1" are someone else.
        assert view.reason(claims(sub="alice", sid="ops1", iat=int(NOW) - 100)) is None

    async def test_record_once_refuses_a_second_use_and_records_nothing(
        self, store: Store, other: Store
    ) -> None:
        op = "https://op.example"
        used = Revocation.token(op, "logout-jti", expires_at=NOW + 120)
        first = Revocation.provider_session(op, "s-a", expires_at=DENY)
        again = Revocation.provider_session(op, "s-b", expires_at=DENY)
        assert await store.record([used, first], now=NOW, once=True) == [True, True]
        # Another instance (another handle) sees the jti: refused, and s-b not recorded.
        assert await other.record([used, again], now=NOW + 1, once=True) == [False, False]
        keys = {r.key for r in (await store.revocations(since=None, now=NOW + 1))[0]}
        assert keys == {used.key, first.key}
        # Once its entry has expired the jti is unknown again (its token is refused by then).
        later = Revocation.token(op, "logout-jti", expires_at=NOW + 300)
        assert await store.record([later], now=NOW + 121, once=True) == [True]

    async def test_record_once_is_atomic_under_concurrent_deliveries(
        self, store: Store, other: Store
    ) -> None:
        op = "https://op.example"
        used = Revocation.token(op, "raced", expires_at=NOW + 120)
        end = Revocation.provider_session(op, "s-r", expires_at=DENY)
        results = await asyncio.gather(
            *(h.record([used, end], now=NOW, once=True) for h in [store, other] * 5)
        )
        assert sorted(r[0] for r in results) == [False] * 9 + [True]

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
        cutoff = Revocation.user("alice", cutoff=NOW, expires_at=DENY)
        await store.end_user_sessions("alice", now=NOW, reason="all", leeway=0, cutoff=cutoff)
        assert store.change_marker() not in (before, middle)

    async def test_view_built_from_the_feed_refuses_revoked_claims(self, store: Store) -> None:
        await store.create_session(session("s1"), refresh("r1", "s1"))
        await store.create_session(session("s2"), refresh("r2", "s2"))
        await store.revoke_token("https://issuer", "jx", expires_at=DENY)
        await self.end(store, "s2")
        cutoff = Revocation.user("carol", cutoff=NOW, expires_at=DENY)
        await store.end_user_sessions("carol", now=NOW, reason="all", leeway=0, cutoff=cutoff)
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

    # -- issue 9: the promise on the paths real users take ------------------------------------
    async def test_finding2_a_pull_never_skips_a_concurrent_revocation(
        self, store: Store, other: Store
    ) -> None:
        """One handle revokes as fast as it can while another pulls: every revocation must
        reach the puller, none skipped by a cursor read apart from its rows."""
        total = 600
        _, cursor = await other.revocations(since=None, now=NOW)
        seen: set[str] = set()
        done = asyncio.Event()

        async def writer() -> None:
            for i in range(total):
                await store.revoke_token("https://issuer", f"j{i}", expires_at=DENY)
            done.set()

        async def reader() -> None:
            nonlocal cursor
            while True:
                finished = done.is_set()
                revs, cursor = await other.revocations(since=cursor, now=NOW)
                seen.update(r.key for r in revs)
                if finished:
                    return

        await asyncio.gather(writer(), reader())
        missing = {f"https://issuer\x1fj{i}" for i in range(total)} - seen
        assert not missing, f"{len(missing)} revocations skipped by the puller"

    async def test_finding3_extra_revocations_come_with_the_session_end(self, store: Store) -> None:
        await store.create_session(session("s1"), refresh("r1", "s1"))
        jti = Revocation.token("https://issuer", "j1", expires_at=DENY)
        assert await self.end(store, "s1", extra=[jti]) == ["s1"]
        revs, _ = await store.revocations(since=None, now=NOW)
        assert jti in revs and Revocation.session("s1", expires_at=SID_DENY) in revs
        # A retry (the first answer was lost) ends nothing more and loses nothing.
        assert await self.end(store, "s1", extra=[jti]) == []
        assert await store.revoke_token("https://issuer", "j1", expires_at=DENY) is False

    async def test_finding5_a_sid_is_denied_as_long_as_its_own_tokens_live(
        self, store: Store
    ) -> None:
        """Issued under a one-hour lifetime, then the setting is lowered: the sid entry still
        covers the tokens already out (their own exp), not today's lifetime."""
        await store.create_session(session("s1", access=3600), refresh("r1", "s1"))
        await self.rotate(store, "r1", "r2", now=NOW + 100, access=3600)
        got = await store.get_session("s1")
        assert got is not None and got.access_until == NOW + 100 + 3600
        assert await self.end(store, "s1", now=NOW + 200) == ["s1"]
        revs, _ = await store.revocations(since=None, now=NOW + 200)
        assert revs == [Revocation.session("s1", expires_at=NOW + 100 + 3600 + 1)]

    async def test_finding5_access_until_never_passes_the_session_expiry(
        self, store: Store
    ) -> None:
        await store.create_session(session("s1", ttl=100), refresh("r1", "s1"))
        rotation = await self.rotate(store, "r1", "r2", now=NOW + 50)
        assert rotation.session is not None and rotation.session.access_until == NOW + 100

    async def test_finding5_a_session_past_its_absolute_expiry_ends_while_tokens_live(
        self, store: Store
    ) -> None:
        await store.create_session(session("s1", ttl=100), refresh("r1", "s1"))
        late = NOW + 100.5  # absolute expiry passed; its last token (exp NOW+100) + leeway not
        revs = await store.end_sessions(["s1"], now=late, reason="logout", leeway=5)
        assert revs == [Revocation.session("s1", expires_at=NOW + 100 + 5 + 1)]
        await store.create_session(session("s2", ttl=100), refresh("r2", "s2"))
        assert await self.end(store, "s2", now=NOW + 102) == []  # nothing of it can be alive

    async def test_finding8_rotated_tokens_kept_are_bounded(self, store: Store) -> None:
        await store.create_session(session("s1"), refresh("t0", "s1"))
        for i in range(8):
            rotation = await self.rotate(
                store, f"t{i}", f"t{i + 1}", now=NOW + 10 * (i + 1), keep=3
            )
            assert rotation.status is RotationStatus.ROTATED
        kept = [i for i in range(9) if await store.find_refresh(h(f"t{i}")) is not None]
        assert kept == [5, 6, 7, 8]  # the current token and the three most recent rotated ones
        # Reuse of a kept one is still theft: the whole session ends.
        stolen = await self.rotate(store, "t5", "x", now=NOW + 200, keep=3)
        assert stolen.status is RotationStatus.REUSED

    async def test_finding4_a_race_is_recorded_with_whether_the_client_differs(
        self, store: Store
    ) -> None:
        await store.create_session(session("s1"), refresh("r1", "s1"))
        await self.rotate(store, "r1", "r2", client="tab-a")
        same = await self.rotate(store, "r1", "r3", now=NOW + 11, client="tab-a")
        other = await self.rotate(store, "r1", "r4", now=NOW + 12, client="thief")
        assert (same.status, same.same_client) == (RotationStatus.RACE, True)
        assert (other.status, other.same_client) == (RotationStatus.RACE, False)
        events = await store.events(sub="alice")
        assert [(e.kind, e.detail) for e in events] == [
            ("refresh_token_race", "different client"),
            ("refresh_token_race", "same client"),
        ]
        assert (await store.get_session("s1")) is not None  # a race ends nothing

    async def test_find_refresh_knows_rotated_tokens_of_the_family(self, store: Store) -> None:
        await store.create_session(session("s1"), refresh("r1", "s1"))
        await self.rotate(store, "r1", "r2", client="c")
        found = await store.find_refresh(h("r1"))
        assert found is not None
        record, owner = found
        assert owner.sid == "s1" and record.rotated_at == NOW + 10 and record.rotated_by == "c"
        assert not record.current(NOW + 11)
        current = await store.find_refresh(h("r2"))
        assert current is not None and current[0].current(NOW + 11)
        assert await store.find_refresh(h("ghost")) is None

    # -- issue 15: login attempts shared by every instance ----------------------------------
    POLICY = AttemptPolicy(free=3, base=10.0, cap=40.0, forget_after=100.0)

    async def hit(self, store: Store, key: str, now: float) -> tuple[Attempts, bool]:
        return await store.attempts(key, AttemptOp.HIT, now=now, policy=self.POLICY)

    async def test_attempts_back_off_exponentially_after_the_free_ones(
        self, store: Store, other: Store
    ) -> None:
        seen = [await self.hit(store if i % 2 else other, "login:u:x", NOW + i) for i in range(3)]
        assert [(r.failures, ok) for r, ok in seen] == [(1, True), (2, True), (3, True)]
        assert seen[-1][0].blocked_until == NOW + 2 + 10  # the 3rd counted: back off 10 s
        refused, ok = await self.hit(other, "login:u:x", NOW + 11)
        assert not ok and refused.failures == 3  # refused attempts are not counted
        fourth, ok = await self.hit(store, "login:u:x", NOW + 12)
        assert ok and fourth.failures == 4 and fourth.blocked_until == NOW + 12 + 20
        fifth, ok = await self.hit(store, "login:u:x", NOW + 32)
        assert ok and fifth.blocked_until == NOW + 32 + 40
        sixth, ok = await self.hit(store, "login:u:x", NOW + 72)
        assert ok and sixth.blocked_until == NOW + 72 + 40  # capped
        other_key, ok = await self.hit(store, "login:u:y", NOW + 72)
        assert ok and other_key.failures == 1  # keys are independent

    async def test_attempts_clear_forgive_and_forget(self, store: Store, other: Store) -> None:
        for i in range(3):
            await self.hit(store, "login:ip:a", NOW + i)
        forgiven, ok = await other.attempts(
            "login:ip:a", AttemptOp.FORGIVE, now=NOW + 3, policy=self.POLICY
        )
        assert ok and forgiven.failures == 2 and forgiven.blocked_until == 0.0
        cleared, _ = await store.attempts(
            "login:ip:a", AttemptOp.CLEAR, now=NOW, policy=self.POLICY
        )
        assert cleared == Attempts()
        again, _ = await self.hit(other, "login:ip:a", NOW + 4)
        assert again.failures == 1
        later, _ = await self.hit(store, "login:ip:a", NOW + 4 + 100)  # forgotten by then
        assert later.failures == 1

    async def test_concurrent_attempts_are_all_counted(self, store: Store, other: Store) -> None:
        policy = AttemptPolicy(free=100, base=1.0, cap=1.0, forget_after=100.0)
        await asyncio.gather(
            *(
                (store if i % 2 else other).attempts(
                    "login:u:z", AttemptOp.HIT, now=NOW, policy=policy
                )
                for i in range(20)
            )
        )
        record, _ = await store.attempts("login:u:z", AttemptOp.HIT, now=NOW, policy=policy)
        assert record.failures == 21

    async def test_attempt_records_are_pruned(self, store: Store) -> None:
        await self.hit(store, "login:u:gone", NOW)
        await store.prune(now=NOW + 101)
        record, _ = await self.hit(store, "login:u:gone", NOW + 101)
        assert record.failures == 1
