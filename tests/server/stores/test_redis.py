"""The Redis store: the shared contract (single Redis, the two-step cluster form, a real
one-node cluster), then what only Redis has: the stream replica and its freshness bound,
outages, gaps, strict mode, key expiry and durability. Every test runs against a real
redis-server that the fixtures start (tests/support/redis_server.py)."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from cleanexit.errors import ConfigurationError, StoreUnavailableError
from cleanexit.server.replica import Guard, Replica
from cleanexit.server.revocation import ProviderKeys, Revocation
from cleanexit.server.stores import RotationStatus, Store
from cleanexit.server.stores.base import RotationRequest
from cleanexit.server.stores.redis import RedisStore
from cleanexit.server.stores.redis_replica import StreamReplica, StrictReplica
from tests.support.redis_server import RedisServer

from .contract import (
    DENY,
    GRACE,
    IDLE,
    NOW,
    SID_DENY,
    StoreContract,
    claims,
    h,
    refresh,
    session,
)

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

STALE = 0.3  # short freshness bound so outage tests stay fast


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def cluster_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("cluster"), cluster=True) as server:
        yield server


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """Its own server with AOF (fsync always), so tests may kill and restart it."""
    with RedisServer(tmp_path / "redis", appendonly=True) as server:
        yield server


def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


class TestRedisStore(StoreContract):
    """Single Redis: every session script also publishes, in one atomic step."""

    options: dict[str, object] = {"publish_inline": True}
    server_fixture = "shared_redis"

    @pytest.fixture
    async def store(self, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
        server = request.getfixturevalue(self.server_fixture)
        store = RedisStore(server.url, key_prefix=prefix(), clock=lambda: NOW, **self.options)
        await store.open()
        yield store
        await store.close()

    @pytest.fixture
    async def other(self, store: Store) -> AsyncIterator[Store]:
        """Another instance on the same Redis and key prefix, with its own connections."""
        assert isinstance(store, RedisStore)
        other = RedisStore(
            store.url, key_prefix=store.keys.prefix, clock=lambda: NOW, **self.options
        )
        await other.open()
        yield other
        await other.close()


class TestRedisStoreTwoSteps(TestRedisStore):
    """The two-step form a cluster needs (session slot, then feed slot), on one Redis."""

    options = {"publish_inline": False}


class TestRedisClusterStore(TestRedisStore):
    """A real (one-node) Redis Cluster: CROSSSLOT is enforced, so the key layout is proven."""

    options = {"cluster": True}
    server_fixture = "cluster_redis"


# -- helpers --------------------------------------------------------------------------------
async def opened(url: str, **options: object) -> RedisStore:
    store = RedisStore(url, key_prefix=str(options.pop("key_prefix", "cx")), **options)  # type: ignore[arg-type]
    await store.open()
    return store


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> float:
    """Poll until true; return how long it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.002)
    return time.monotonic() - start


async def guard_check(replica: Replica, jti: str) -> str | None:
    """What the hot path does (Guard.check) for an access token with this jti."""
    guard = Guard(verifier=None, replica=replica)  # type: ignore[arg-type]
    now = int(time.time())
    try:
        await guard.check(claims(jti=jti, iat=now))
    except StoreUnavailableError:
        return "503"
    except Exception as exc:  # RevokedTokenError
        return type(exc).__name__
    return None


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> float:
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


# -- the stream replica ---------------------------------------------------------------------
async def test_replica_loads_a_snapshot_then_tails(shared_redis: RedisServer) -> None:
    p = prefix()
    a, b = (
        await opened(shared_redis.url, key_prefix=p),
        await opened(shared_redis.url, key_prefix=p),
    )
    future = time.time() + 600
    await a.revoke_token("https://issuer", "before", expires_at=future)
    replica = b.make_replica(clock=time.time)
    await replica.start()
    try:
        assert replica.is_fresh()
        assert replica.view.reason(claims(jti="before")) == "revoked"
        delays = []
        for i in range(200):  # revoke on one instance, apply on the other
            await a.revoke_token("https://issuer", f"j{i}", expires_at=future)
            done = time.perf_counter()
            while replica.view.reason(claims(jti=f"j{i}")) is None:
                assert time.perf_counter() - done < STALE
                await asyncio.sleep(0)
            delays.append(time.perf_counter() - done)
        ms = sorted(d * 1000 for d in delays)
        print(
            f"\nstream propagation over {len(ms)} revocations (revoke returned -> view has it): "
            f"p50 {statistics.median(ms):.3f} ms, p99 {ms[197]:.3f} ms, max {ms[-1]:.3f} ms"
        )
        status = replica.status()
        assert status["ready"] and status["connected"] and status["entries"] == 201
    finally:
        await replica.stop()
        await a.close()
        await b.close()


@pytest.mark.parametrize("mode", ["replica", "strict"])
async def test_replicas_on_a_cluster(cluster_redis: RedisServer, mode: str) -> None:
    p = prefix()
    a = await opened(cluster_redis.url, key_prefix=p, cluster=True)
    b = await opened(cluster_redis.url, key_prefix=p, cluster=True, mode=mode)
    replica = b.make_replica(clock=time.time)
    await replica.start()
    try:
        assert await guard_check(replica, "j1") is None
        await a.revoke_token("https://issuer", "j1", expires_at=time.time() + 600)
        # Within b's freshness bound (its stale_after), the promise a replica makes.
        await eventually(
            lambda: _answers(replica, "j1", "RevokedTokenError"), timeout=b.stale_after
        )
    finally:
        await replica.stop()
        await a.close()
        await b.close()


async def test_an_idle_replica_stays_fresh(shared_redis: RedisServer) -> None:
    store = await opened(shared_redis.url, key_prefix=prefix(), stale_after=STALE)
    replica = store.make_replica(clock=time.time)
    await replica.start()
    try:
        for _ in range(10):
            await asyncio.sleep(STALE / 2)
            assert replica.is_fresh()
    finally:
        await replica.stop()
        await store.close()


async def test_redis_killed_fails_closed_then_recovers(durable_redis: RedisServer) -> None:
    writer = await opened(durable_redis.url)
    await writer.revoke_token("https://issuer", "stolen", expires_at=time.time() + 600)
    store = await opened(durable_redis.url, stale_after=STALE)
    replica = store.make_replica(clock=time.time)
    await replica.start()
    try:
        assert await guard_check(replica, "stolen") == "RevokedTokenError"
        assert await guard_check(replica, "fine") is None
        durable_redis.stop()
        killed = time.monotonic()
        # Within the bound the view may answer; past it, every check is a 503, never a 200
        # for the revoked token, and the honest token is refused too (fail closed).
        while (answer := await guard_check(replica, "fine")) is None:
            assert await guard_check(replica, "stolen") in ("RevokedTokenError", "503")
            await asyncio.sleep(0.005)
        assert answer == "503"
        closed_after = time.monotonic() - killed
        print(f"\nSIGKILL: first 503 after {closed_after * 1000:.0f} ms (stale_after {STALE})")
        assert closed_after <= STALE + 0.1
        assert await guard_check(replica, "stolen") == "503"
        assert replica.status()["ready"] is False
        await asyncio.sleep(STALE)
        assert await guard_check(replica, "fine") == "503"
        durable_redis.start()
        await eventually(lambda: _answers(replica, "fine", None))
        assert await guard_check(replica, "stolen") == "RevokedTokenError"
        # A revocation made after the outage reaches it too.
        await writer.revoke_token("https://issuer", "later", expires_at=time.time() + 600)
        await eventually(lambda: _answers(replica, "later", "RevokedTokenError"))
        assert replica.status()["resyncs"] >= 2
    finally:
        await replica.stop()
        await store.close()
        await writer.close()


async def _answers(replica: Replica, jti: str, expected: str | None) -> bool:
    return await guard_check(replica, jti) == expected


async def test_a_silent_redis_fails_closed_within_the_bound(durable_redis: RedisServer) -> None:
    """SIGSTOP: no reset, no refusal, just silence (a partition). Timeouts must catch it."""
    store = await opened(durable_redis.url, stale_after=STALE, timeout=0.5)
    replica = store.make_replica(clock=time.time)
    await replica.start()
    try:
        assert await guard_check(replica, "fine") is None
        durable_redis.pause()
        paused = time.monotonic()
        while await guard_check(replica, "fine") is None:
            await asyncio.sleep(0.005)
        closed_after = time.monotonic() - paused
        print(f"\nSIGSTOP: first 503 after {closed_after * 1000:.0f} ms (stale_after {STALE})")
        assert closed_after <= STALE + 0.1
        # Every later request is refused without waiting a full timeout each.
        started = time.monotonic()
        assert await guard_check(replica, "fine") == "503"
        assert time.monotonic() - started < STALE + 0.05
        durable_redis.resume()
        await eventually(lambda: _answers(replica, "fine", None))
    finally:
        durable_redis.resume()
        await replica.stop()
        await store.close()


async def test_a_restart_without_persistence_keeps_what_the_view_saw(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "forgetful").start()
    writer = await opened(server.url)
    store = await opened(server.url, stale_after=STALE)
    replica = store.make_replica(clock=time.time)
    await replica.start()
    try:
        await writer.revoke_token("https://issuer", "stolen", expires_at=time.time() + 600)
        await until(lambda: replica.view.reason(claims(jti="stolen")) is not None)
        server.restart()  # everything in Redis is gone
        await eventually(lambda: _answers(replica, "fine", None))
        # The view is a union: what this process saw stays refused (until the token's exp).
        assert await guard_check(replica, "stolen") == "RevokedTokenError"
        revs, _ = await store.revocations(since=None, now=time.time())
        assert revs == []  # ...but Redis forgot it: durability matters (docs/redis.md)
    finally:
        await replica.stop()
        await store.close()
        await writer.close()
        server.stop()


async def test_a_trimmed_stream_is_a_gap_and_reloads_the_snapshot(
    shared_redis: RedisServer,
) -> None:
    p = prefix()
    writer = await opened(shared_redis.url, key_prefix=p, stream_maxlen=10)
    store = await opened(shared_redis.url, key_prefix=p, stale_after=STALE)
    replica = store.make_replica(clock=time.time)
    assert isinstance(replica, StreamReplica)
    await replica.start()
    try:
        future = time.time() + 600
        # One atomic burst far longer than the stream keeps: the tail cannot see it all.
        entries = [("jti", f"https://issuer\x1fb{i}", future, 0.0, "absent") for i in range(500)]
        await writer._publish(entries, now=time.time())
        assert await writer.client.xlen(writer.keys.feed[0]) < 500
        await until(lambda: all(replica.view.reason(claims(jti=f"b{i}")) for i in range(500)))
        assert replica.gaps >= 1
    finally:
        await replica.stop()
        await store.close()
        await writer.close()


async def test_a_feed_that_starts_over_is_a_gap(shared_redis: RedisServer) -> None:
    """The stream and its counter vanish (FLUSHALL, a failover to an empty replica): the
    numbering restarts, the tailer notices and reloads a snapshot instead of trusting it."""
    p = prefix()
    writer = await opened(shared_redis.url, key_prefix=p)
    store = await opened(shared_redis.url, key_prefix=p, stale_after=STALE)
    replica = store.make_replica(clock=time.time)
    assert isinstance(replica, StreamReplica)
    await replica.start()
    try:
        for jti in ("j1", "j2"):
            await writer.revoke_token("https://issuer", jti, expires_at=time.time() + 600)
        await until(lambda: replica.view.reason(claims(jti="j2")) is not None)
        await writer.client.delete(writer.keys.feed[0], writer.keys.feed[-1])
        await writer.revoke_token("https://issuer", "j3", expires_at=time.time() + 600)
        await until(lambda: replica.view.reason(claims(jti="j3")) is not None)
        assert replica.gaps == 1
    finally:
        await replica.stop()
        await store.close()
        await writer.close()


async def test_fail_open_serves_the_view_and_says_so(
    durable_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    writer = await opened(durable_redis.url)
    await writer.revoke_token("https://issuer", "stolen", expires_at=time.time() + 600)
    await writer.close()
    with caplog.at_level(logging.WARNING, logger="cleanexit"):
        store = await opened(durable_redis.url, stale_after=STALE, fail_open=True)
    assert "FAIL_OPEN" in caplog.text
    replica = store.make_replica(clock=time.time)
    await replica.start()
    try:
        durable_redis.stop()
        await asyncio.sleep(STALE + 0.1)
        assert not replica.is_fresh()
        with caplog.at_level(logging.WARNING, logger="cleanexit"):
            assert await guard_check(replica, "fine") is None
            assert await guard_check(replica, "stolen") == "RevokedTokenError"
        assert "FAIL-OPEN" in caplog.text
    finally:
        await replica.stop()
        await store.close()


# -- strict mode ----------------------------------------------------------------------------
async def test_strict_mode_refuses_on_the_very_next_request(durable_redis: RedisServer) -> None:
    writer = await opened(durable_redis.url)
    store = await opened(durable_redis.url, mode="strict")
    replica = store.make_replica(clock=time.time)
    assert isinstance(replica, StrictReplica) and replica.strict
    await replica.start()
    try:
        assert await guard_check(replica, "j1") is None
        await writer.revoke_token("https://issuer", "j1", expires_at=time.time() + 600)
        assert await guard_check(replica, "j1") == "RevokedTokenError"
        await writer.create_session(
            session("s9", created=time.time()), refresh("r9", "s9", at=time.time())
        )
        now = time.time()
        cutoff = Revocation.user("alice", cutoff=now, expires_at=now + 600)
        await writer.end_user_sessions("alice", now=now, reason="all", leeway=0, cutoff=cutoff)
        assert await replica.remote_reason(claims(sid="s9", jti="x")) == "session ended"
        assert await replica.remote_reason(claims(sid="s0", jti="x", iat=int(now) - 1)) == (
            "logged out everywhere"
        )
        assert replica.status()["ready"]
        durable_redis.stop()
        assert await guard_check(replica, "j2") == "503"
        assert replica.status()["ready"] is False
        durable_redis.start()
        await eventually(lambda: _answers(replica, "j2", None))
        assert await guard_check(replica, "j1") == "RevokedTokenError"
    finally:
        await replica.stop()
        await store.close()
        await writer.close()


async def test_strict_mode_scopes_an_external_issuers_keys(durable_redis: RedisServer) -> None:
    """Issue 11: the one round trip of strict mode reads the issuer-scoped keys too."""
    writer = await opened(durable_redis.url)
    store = await opened(durable_redis.url, mode="strict")
    replica = store.make_replica(clock=time.time)
    await replica.start()
    try:
        now = time.time()
        op = "https://op.example"
        await writer.record(
            [Revocation.provider_session(op, "s1", expires_at=now + 600),
             Revocation.provider_user(op, "bob", cutoff=now, expires_at=now + 600)],
            now=now,
        )  # fmt: skip
        keys = ProviderKeys.of(op, sub="alice", sid="s1", jti="", iat=int(now) - 1)
        assert await replica.remote_reason(keys) == "session ended"
        assert await replica.remote_reason(keys._replace(sid="")) is None
        bob = ProviderKeys.of(op, sub="bob", sid="", jti="", iat=int(now) - 1)
        assert await replica.remote_reason(bob) == "logged out everywhere"
        # Our own "s1" and "bob": someone else.
        assert await replica.remote_reason(claims(sid="s1", sub="bob", iat=int(now) - 1)) is None
    finally:
        await replica.stop()
        await store.close()
        await writer.close()


async def test_strict_mode_and_a_silent_redis(durable_redis: RedisServer) -> None:
    store = await opened(durable_redis.url, mode="strict", stale_after=STALE)
    replica = store.make_replica(clock=time.time)
    await replica.start()
    try:
        assert await guard_check(replica, "fine") is None
        durable_redis.pause()
        started = time.monotonic()
        assert await guard_check(replica, "fine") == "503"
        assert time.monotonic() - started < STALE + 0.1  # one socket timeout, no retry
        durable_redis.resume()
        await eventually(lambda: _answers(replica, "fine", None))
    finally:
        durable_redis.resume()
        await replica.stop()
        await store.close()


# -- the store itself -----------------------------------------------------------------------
async def test_every_key_expires(shared_redis: RedisServer) -> None:
    p = prefix()
    store = await opened(shared_redis.url, key_prefix=p)
    now = time.time()
    for sid in ("s1", "s2", "s3"):
        await store.create_session(session(sid, created=now), refresh("r" + sid, sid, at=now))
    await store.create_session(
        session("{odd}", sub="{b}", created=now), refresh("x", "{odd}", at=now)
    )

    def rotation(at: float) -> RotationRequest:
        return RotationRequest(now=at, idle_ttl=IDLE, grace=GRACE, access_until=at + 600)

    await store.rotate_refresh(h("rs1"), h("n1"), rotation(now))
    await store.rotate_refresh(h("rs2"), h("n2"), rotation(now))
    stolen = await store.rotate_refresh(h("rs2"), h("n3"), rotation(now + 60))
    assert stolen.status is RotationStatus.REUSED
    await store.end_sessions(["s3"], now=now, reason="logout", leeway=0)
    cutoff = Revocation.user("{b}", cutoff=now, expires_at=now + 600)
    await store.end_user_sessions("{b}", now=now, reason="all", leeway=0, cutoff=cutoff)
    await store.revoke_token("https://issuer", "j1", expires_at=now + 600)
    keys = [k async for k in store.client.scan_iter(match=f"{p}:*")]
    assert len(keys) > 10
    forever = [k for k in keys if await store.client.pttl(k) < 0]
    assert forever == [], forever
    await store.close()


async def test_hostile_names_do_not_share_keys(shared_redis: RedisServer) -> None:
    store = await opened(shared_redis.url, key_prefix=prefix())
    names = ["{a}", "a", "~" + "0" * 32, "", "}{", "a}b{c"]
    for i, sub in enumerate(names):
        await store.create_session(session(f"s{i}", sub=sub), refresh(f"r{i}", f"s{i}"))
    for i, sub in enumerate(names):
        assert [s.sid for s in await store.list_sessions(sub, now=NOW)] == [f"s{i}"]
    with pytest.raises(ConfigurationError):
        RedisStore(shared_redis.url, key_prefix="a{b}")
    await store.close()


async def test_rotation_race_between_instances(shared_redis: RedisServer) -> None:
    """Six instances (own connections) present one refresh token at once, twenty times over."""
    p = prefix()
    stores = [await opened(shared_redis.url, key_prefix=p, clock=lambda: NOW) for _ in range(6)]
    await stores[0].create_session(session("s1"), refresh("r1", "s1"))
    old = "r1"
    for attempt in range(20):
        results = await asyncio.gather(
            *(
                s.rotate_refresh(h(old), h(f"n{attempt}-{i}"), RotationRequest(
                    now=NOW + attempt, idle_ttl=IDLE, grace=GRACE, access_until=DENY))
                for i, s in enumerate(stores)
            )
        )  # fmt: skip
        statuses = [r.status for r in results]
        assert statuses.count(RotationStatus.ROTATED) == 1, statuses
        assert set(statuses) == {RotationStatus.ROTATED, RotationStatus.RACE}
        old = f"n{attempt}-{statuses.index(RotationStatus.ROTATED)}"
        losers = [f"n{attempt}-{i}" for i in range(6) if f"n{attempt}-{i}" != old]
        for loser in losers:  # no pair was issued to a loser
            assert await stores[0].session_for_refresh(h(loser), now=NOW + attempt) is None
    for store in stores:
        await store.close()


async def test_an_interrupted_announcement_is_finished_by_a_retry(
    shared_redis: RedisServer,
) -> None:
    """Two-step (cluster) form: the session ended, then Redis failed before the feed heard."""
    store = await opened(shared_redis.url, key_prefix=prefix(), publish_inline=False)
    await store.create_session(session("s1"), refresh("r1", "s1"))
    real = store._publish

    async def broken(*args: object, **kwargs: object) -> list[int]:
        raise StoreUnavailableError("redis: ConnectionError")

    store._publish = broken  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailableError):
        await store.end_sessions(["s1"], now=NOW, reason="logout", leeway=0)
    assert (await store.revocations(since=None, now=NOW))[0] == []
    store._publish = real  # type: ignore[method-assign]
    ended = [Revocation.session("s1", expires_at=SID_DENY)]
    assert await store.end_sessions(["s1"], now=NOW, reason="logout", leeway=0) == ended
    assert (await store.revocations(since=None, now=NOW))[0] == ended
    assert await store.end_sessions(["s1"], now=NOW, reason="logout", leeway=0) == []
    await store.close()


async def test_driver_errors_become_store_unavailable(durable_redis: RedisServer) -> None:
    store = await opened(durable_redis.url, timeout=0.5)
    durable_redis.stop()
    calls = [
        store.revoke_token("i", "j", expires_at=DENY),
        store.get_session("s1"),
        store.create_session(session("s1"), refresh("r1", "s1")),
        store.rotate_refresh(
            h("a"), h("b"), RotationRequest(now=NOW, idle_ttl=IDLE, grace=GRACE, access_until=DENY)
        ),
        store.end_sessions(["s1"], now=NOW, reason="x", leeway=0),
        store.revocations(since=None, now=NOW),
        store.ping(),
        store.prune(now=NOW),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailableError) as info:
            await call
        assert "redis" in str(info.value)
    await store.close()


# -- durability -----------------------------------------------------------------------------
async def test_require_durable_refuses_a_redis_that_keeps_nothing(
    shared_redis: RedisServer,
) -> None:
    store = RedisStore(shared_redis.url, require_durable=True)
    with pytest.raises(ConfigurationError, match="keeps nothing on disk"):
        await store.open()
    await store.close()
    relaxed = await opened(shared_redis.url, require_durable=False)
    assert (await relaxed.ping())["persistence"]["durable"] is False
    await relaxed.close()


async def test_revocations_survive_a_redis_crash_with_aof(durable_redis: RedisServer) -> None:
    store = await opened(durable_redis.url, require_durable=True, clock=lambda: NOW)
    info = await store.ping()
    assert info["persistence"] == {**info["persistence"], "aof": True, "durable": True}
    await store.create_session(session("s1"), refresh("r1", "s1"))
    await store.end_sessions(["s1"], now=NOW, reason="logout", leeway=0)
    await store.revoke_token("https://issuer", "j1", expires_at=DENY)
    durable_redis.stop()  # SIGKILL, no shutdown save
    durable_redis.start()
    revs, _ = await store.revocations(since=None, now=NOW)
    assert sorted(r.key for r in revs) == ["https://issuer\x1fj1", "s1"]
    await store.close()


async def test_ping_reports_mode_persistence_and_replica(shared_redis: RedisServer) -> None:
    store = await opened(shared_redis.url, key_prefix=prefix(), mode="replica", stale_after=STALE)
    replica = store.make_replica(clock=time.time)
    await replica.start()
    info = await store.ping()
    assert info["backend"] == "redis" and info["mode"] == "replica"
    assert info["persistence"]["aof"] is False
    assert info["replicas"][0]["fresh"] is True and info["replicas"][0]["age_s"] < STALE
    assert "@" not in info["where"]
    await replica.stop()
    await store.close()
