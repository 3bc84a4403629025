"""The PostgreSQL store: the shared contract, then what only it has: the notify replica and its
freshness bound, lost notifications, outages, commit-ordered sequences, schema versions. Every
test runs against a real PostgreSQL cluster that the fixtures start
(tests/support/postgres_server.py)."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from cleanexit.errors import ConfigurationError, StoreUnavailableError
from cleanexit.server.revocation import Revocation
from cleanexit.server.stores import RotationStatus, Store, open_store
from cleanexit.server.stores.base import RotationRequest
from cleanexit.server.stores.postgres import NotifyReplica, PostgresStore
from cleanexit.server.stores.postgres._sql import SCHEMA_VERSION
from tests.support.checks import answers, eventually, guard_check, until
from tests.support.postgres_server import PostgresServer

from .contract import DENY, GRACE, IDLE, NOW, StoreContract, claims, h, refresh, session

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

STALE = 0.3  # short freshness bound so outage tests stay fast


@pytest.fixture(scope="module")
def shared_postgres() -> Iterator[PostgresServer]:
    """One cluster for the tests that leave it running; each uses its own schema."""
    with PostgresServer() as server:
        yield server


def schema() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


async def opened(url: str, **options: object) -> PostgresStore:
    store = PostgresStore(url, **options)  # type: ignore[arg-type]
    await store.open()
    return store


class TestPostgresStore(StoreContract):
    @pytest.fixture
    async def store(self, shared_postgres: PostgresServer) -> AsyncIterator[Store]:
        store = await opened(shared_postgres.url(), schema=schema(), clock=lambda: NOW)
        yield store
        await store.close()

    @pytest.fixture
    async def other(self, store: Store) -> AsyncIterator[Store]:
        """Another instance on the same database and schema, with its own pool."""
        assert isinstance(store, PostgresStore)
        other = await opened(store.url, schema=store.sql.schema, clock=lambda: NOW)
        yield other
        await other.close()


# -- the notify replica ---------------------------------------------------------------------
async def test_replica_loads_then_follows_notifications(shared_postgres: PostgresServer) -> None:
    s = schema()
    a = await opened(shared_postgres.url(), schema=s)
    b = await opened(shared_postgres.url(), schema=s)
    future = time.time() + 600
    await a.revoke_token("https://issuer", "before", expires_at=future)
    replica = b.make_replica(clock=time.time)
    assert isinstance(replica, NotifyReplica)
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
            f"\nNOTIFY propagation over {len(ms)} revocations (revoke returned -> view has it): "
            f"p50 {statistics.median(ms):.3f} ms, p99 {ms[197]:.3f} ms, max {ms[-1]:.3f} ms"
        )
        status = replica.status()
        assert status["ready"] and status["connected"] and status["entries"] == 201
        assert status["notifications"] >= 150  # woken, not polled
    finally:
        await replica.stop()
        await a.close()
        await b.close()


async def test_an_idle_replica_stays_fresh(shared_postgres: PostgresServer) -> None:
    store = await opened(shared_postgres.url(), schema=schema(), stale_after=STALE)
    replica = store.make_replica(clock=time.time)
    await replica.start()
    try:
        for _ in range(8):
            await asyncio.sleep(STALE / 2)
            assert replica.is_fresh()
        assert replica.status()["polls"] >= 4  # the timed pull is the heartbeat
    finally:
        await replica.stop()
        await store.close()


async def test_a_suppressed_notification_is_caught_by_the_poll(
    shared_postgres: PostgresServer,
) -> None:
    """The revocation commits but its NOTIFY never arrives: the timed pull still reads it,
    within one poll interval."""
    s = schema()
    writer = await opened(shared_postgres.url(), schema=s)
    store = await opened(shared_postgres.url(), schema=s, stale_after=STALE)
    replica = store.make_replica(clock=time.time)
    assert isinstance(replica, NotifyReplica)
    await replica.start()
    try:
        writer.sql.notify = "SELECT %s, %s"  # the NOTIFY is lost on the way
        await writer.revoke_token("https://issuer", "quiet", expires_at=time.time() + 600)
        took = await until(lambda: replica.view.reason(claims(jti="quiet")) is not None)
        print(f"\nNOTIFY suppressed: caught by the poll after {took * 1000:.0f} ms")
        assert took < STALE
        assert replica.status()["notifications"] == 0
    finally:
        await replica.stop()
        await store.close()
        await writer.close()


async def test_a_dropped_listening_connection_loses_nothing(
    shared_postgres: PostgresServer,
) -> None:
    """The listening connection is cut in the very transaction that revokes, so its NOTIFY has
    nobody to reach; the replica reconnects, reloads from its last sequence, and has it."""
    s = schema()
    writer = await opened(shared_postgres.url(), schema=s)
    store = await opened(shared_postgres.url(), schema=s, stale_after=STALE)
    replica = store.make_replica(clock=time.time)
    assert isinstance(replica, NotifyReplica)
    await replica.start()
    try:
        resyncs, pid = replica.resyncs, replica.backend_pid
        rev = Revocation.token("https://issuer", "cut", expires_at=time.time() + 600)

        async def cut_then_revoke(conn: object) -> None:
            await conn.execute("SELECT pg_terminate_backend(%s)", (pid,))  # type: ignore[attr-defined]
            from cleanexit.server.stores.postgres import _db

            await _db.record(conn, writer.sql, [rev])  # type: ignore[arg-type]

        await writer._transaction(cut_then_revoke)
        took = await until(lambda: replica.view.reason(claims(jti="cut")) is not None)
        print(f"\nlistening connection dropped: revocation caught up after {took * 1000:.0f} ms")
        assert replica.resyncs == resyncs + 1 and replica.backend_pid != pid
        assert await guard_check(replica, "cut") == "RevokedTokenError"
    finally:
        await replica.stop()
        await store.close()
        await writer.close()


async def test_postgres_killed_fails_closed_then_recovers(
    postgres_server: PostgresServer,
) -> None:
    writer = await opened(postgres_server.url(), timeout=1.0)
    await writer.revoke_token("https://issuer", "stolen", expires_at=time.time() + 600)
    store = await opened(postgres_server.url(), stale_after=STALE, timeout=1.0)
    replica = store.make_replica(clock=time.time)
    await replica.start()
    try:
        assert await guard_check(replica, "stolen") == "RevokedTokenError"
        assert await guard_check(replica, "fine") is None
        postgres_server.kill()
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
        with pytest.raises(StoreUnavailableError):
            await writer.revoke_token("https://issuer", "x", expires_at=time.time() + 600)
        postgres_server.start()  # crash recovery from the WAL, same port
        back = time.monotonic()
        await eventually(lambda: answers(replica, "fine", None))
        print(f"postgres accepting again -> 200 after {(time.monotonic() - back) * 1000:.0f} ms")
        assert await guard_check(replica, "stolen") == "RevokedTokenError"
        # The writer's pool heals by itself, and a revocation after the outage arrives.
        await eventually(lambda: _revokes(writer, "later"))
        await eventually(lambda: answers(replica, "later", "RevokedTokenError"), timeout=STALE)
        assert replica.status()["resyncs"] >= 2
    finally:
        await replica.stop()
        await store.close()
        await writer.close()


async def _revokes(store: PostgresStore, jti: str) -> bool:
    try:
        await store.revoke_token("https://issuer", jti, expires_at=time.time() + 600)
    except StoreUnavailableError:
        return False
    return True


async def test_a_silent_postgres_fails_closed_within_the_bound(
    postgres_server: PostgresServer,
) -> None:
    """SIGSTOP: no reset, no refusal, just silence (a partition). Time bounds must catch it."""
    store = await opened(postgres_server.url(), stale_after=STALE, timeout=0.5)
    replica = store.make_replica(clock=time.time)
    await replica.start()
    try:
        assert await guard_check(replica, "fine") is None
        postgres_server.pause()
        paused = time.monotonic()
        while await guard_check(replica, "fine") is None:
            await asyncio.sleep(0.005)
        closed_after = time.monotonic() - paused
        print(f"\nSIGSTOP: first 503 after {closed_after * 1000:.0f} ms (stale_after {STALE})")
        assert closed_after <= STALE + 0.1
        started = time.monotonic()  # later requests are refused without waiting
        assert await guard_check(replica, "fine") == "503"
        assert time.monotonic() - started < STALE + 0.05
        started = time.monotonic()  # and a write gives up after its own bound
        with pytest.raises(StoreUnavailableError, match="no answer in time"):
            await store.revoke_token("https://issuer", "j", expires_at=time.time() + 60)
        assert time.monotonic() - started < 0.5 + 0.2
        postgres_server.resume()
        await eventually(lambda: answers(replica, "fine", None))
    finally:
        postgres_server.resume()
        await replica.stop()
        await store.close()


async def test_fail_open_serves_the_view_and_says_so(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    writer = await opened(postgres_server.url())
    await writer.revoke_token("https://issuer", "stolen", expires_at=time.time() + 600)
    await writer.close()
    with caplog.at_level(logging.WARNING, logger="cleanexit"):
        store = await opened(postgres_server.url(), stale_after=STALE, fail_open=True)
    assert "FAIL_OPEN" in caplog.text
    replica = store.make_replica(clock=time.time)
    await replica.start()
    try:
        postgres_server.kill()
        await asyncio.sleep(STALE + 0.1)
        assert not replica.is_fresh()
        with caplog.at_level(logging.WARNING, logger="cleanexit"):
            assert await guard_check(replica, "fine") is None
            assert await guard_check(replica, "stolen") == "RevokedTokenError"
        assert "FAIL-OPEN" in caplog.text
    finally:
        await replica.stop()
        await store.close()


# -- the store itself -----------------------------------------------------------------------
async def test_concurrent_writers_never_let_a_puller_skip(shared_postgres: PostgresServer) -> None:
    """Three instances revoke at once while a fourth pulls: sequence numbers must follow
    commit order, or a puller past a later number skips an earlier one that commits late."""
    s = schema()
    writers = [await opened(shared_postgres.url(), schema=s) for _ in range(3)]
    reader = await opened(shared_postgres.url(), schema=s)
    _, cursor = await reader.revocations(since=None, now=NOW)
    seen: set[str] = set()
    remaining = len(writers)

    async def write(w: PostgresStore, n: int) -> None:
        nonlocal remaining
        for i in range(150):
            await w.revoke_token("https://issuer", f"w{n}-{i}", expires_at=DENY)
        remaining -= 1

    async def read() -> None:
        nonlocal cursor
        while True:
            finished = remaining == 0
            revs, cursor = await reader.revocations(since=cursor, now=NOW)
            seen.update(r.key for r in revs)
            if finished:
                return

    await asyncio.gather(read(), *(write(w, n) for n, w in enumerate(writers)))
    expected = {f"https://issuer\x1fw{n}-{i}" for n in range(3) for i in range(150)}
    assert not expected - seen, f"{len(expected - seen)} revocations skipped"
    for store in (*writers, reader):
        await store.close()


async def test_rotation_race_between_instances(shared_postgres: PostgresServer) -> None:
    """Six instances (own pools) present one refresh token at once, twenty times over."""
    s = schema()
    stores = [await opened(shared_postgres.url(), schema=s) for _ in range(6)]
    await stores[0].create_session(session("s1"), refresh("r1", "s1"))
    old = "r1"
    for attempt in range(20):
        request = RotationRequest(now=NOW + attempt, idle_ttl=IDLE, grace=GRACE, access_until=DENY)
        results = await asyncio.gather(
            *(
                st.rotate_refresh(h(old), h(f"n{attempt}-{i}"), request)
                for i, st in enumerate(stores)
            )
        )
        statuses = [r.status for r in results]
        assert statuses.count(RotationStatus.ROTATED) == 1, statuses
        assert set(statuses) == {RotationStatus.ROTATED, RotationStatus.RACE}
        old = f"n{attempt}-{statuses.index(RotationStatus.ROTATED)}"
        for loser in (f"n{attempt}-{i}" for i in range(6)):
            if loser != old:  # no pair was issued to a loser
                assert await stores[0].session_for_refresh(h(loser), now=NOW + attempt) is None
    for store in stores:
        await store.close()


async def test_revocations_survive_a_crash(postgres_server: PostgresServer) -> None:
    store = await opened(postgres_server.url(), clock=lambda: NOW)
    await store.create_session(session("s1"), refresh("r1", "s1"))
    await store.end_sessions(["s1"], now=NOW, reason="logout", leeway=0)
    await store.revoke_token("https://issuer", "j1", expires_at=DENY)
    postgres_server.kill()  # SIGKILL, no shutdown checkpoint
    postgres_server.start()
    revs, _ = await store.revocations(since=None, now=NOW)
    assert sorted(r.key for r in revs) == ["https://issuer\x1fj1", "s1"]
    await store.close()


async def test_a_log_that_starts_over_is_reloaded_whole(shared_postgres: PostgresServer) -> None:
    """A database restored from an older backup: the head is behind a replica's cursor."""
    s = schema()
    store = await opened(shared_postgres.url(), schema=s)
    for jti in ("j1", "j2", "j3"):
        await store.revoke_token("https://issuer", jti, expires_at=DENY)
    _, cursor = await store.revocations(since=None, now=NOW)
    shared_postgres.sql(f"DELETE FROM {s}.revocations; UPDATE {s}.revocation_head SET seq = 0")
    await store.revoke_token("https://issuer", "after", expires_at=DENY)
    revs, again = await store.revocations(since=cursor, now=NOW)
    assert [r.key for r in revs] == ["https://issuer\x1fafter"] and again == 1
    await store.close()


async def test_pruning_leaves_every_cursor_valid(shared_postgres: PostgresServer) -> None:
    """A replica whose cursor is older than the pruned rows reads on: they had expired."""
    store = await opened(shared_postgres.url(), schema=schema())
    _, old = await store.revocations(since=None, now=NOW)
    await store.revoke_token("https://issuer", "short", expires_at=NOW + 10)
    await store.revoke_token("https://issuer", "long", expires_at=NOW + 1000)
    assert await store.prune(now=NOW + 100) >= 1
    await store.revoke_token("https://issuer", "new", expires_at=NOW + 1000)
    revs, cursor = await store.revocations(since=old, now=NOW + 100)
    assert [r.key.split("\x1f")[1] for r in revs] == ["long", "new"] and cursor == 3
    await store.close()


async def test_schema_is_created_once_and_versioned(shared_postgres: PostgresServer) -> None:
    s = schema()
    stores = [PostgresStore(shared_postgres.url(), schema=s) for _ in range(4)]
    await asyncio.gather(*(st.open() for st in stores))  # instances starting together
    rows = shared_postgres.sql(f"SELECT version FROM {s}.schema_version")
    assert rows == [(SCHEMA_VERSION,)]
    tables = shared_postgres.sql(
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{s}' ORDER BY 1"
    )
    assert [t for (t,) in tables] == [
        "events", "refresh_tokens", "revocation_head", "revocations", "schema_version", "sessions",
    ]  # fmt: skip
    for store in stores:
        await store.close()


async def test_a_user_who_may_not_create_the_schema_is_told_so(
    shared_postgres: PostgresServer,
) -> None:
    name = schema()
    shared_postgres.sql(f"CREATE ROLE {name} LOGIN")
    url = shared_postgres.url().replace("cleanexit@", f"{name}@", 1)
    with pytest.raises(ConfigurationError, match="may not create the schema"):
        await PostgresStore(url, schema=name).open()


async def test_a_newer_schema_is_a_clear_start_up_error(shared_postgres: PostgresServer) -> None:
    s = schema()
    store = await opened(shared_postgres.url(), schema=s)
    await store.close()
    shared_postgres.sql(f"UPDATE {s}.schema_version SET version = 99")
    with pytest.raises(ConfigurationError, match="schema version 99"):
        await PostgresStore(shared_postgres.url(), schema=s).open()


async def test_driver_errors_become_store_unavailable_without_credentials() -> None:
    from tests.support.server import free_port

    url = f"postgresql://alice:hunter2-secret@127.0.0.1:{free_port()}/app"
    store = PostgresStore(url, timeout=0.5)
    assert "hunter2" not in repr(store)
    with pytest.raises(StoreUnavailableError) as info:
        await store.open()
    assert "hunter2" not in str(info.value) and "127.0.0.1" in str(info.value)
    with pytest.raises(StoreUnavailableError, match="not open"):
        await store.revoke_token("i", "j", expires_at=DENY)
    with pytest.raises(ConfigurationError) as bad:
        PostgresStore("postgresql://alice:hunter2@host:5432/db?bad%zz=1")
    assert "hunter2" not in str(bad.value)


async def test_a_lost_connection_mid_call_is_store_unavailable(
    postgres_server: PostgresServer,
) -> None:
    store = await opened(postgres_server.url(), timeout=0.5)
    postgres_server.kill()
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
        with pytest.raises(StoreUnavailableError, match=r"postgres at 127\.0\.0\.1"):
            await call
    await store.close()


async def test_open_store_and_ping(shared_postgres: PostgresServer) -> None:
    for scheme in ("postgresql", "postgres"):
        url = shared_postgres.url().replace("postgresql", scheme, 1)
        store = open_store(url, schema=schema(), stale_after=STALE)
        assert isinstance(store, PostgresStore)
        await store.open()
        replica = store.make_replica(clock=time.time)
        await replica.start()
        info = await store.ping()
        assert info["backend"] == "postgres" and info["durability"]["durable"] is True
        assert info["replicas"][0]["fresh"] is True and info["replicas"][0]["listening"]
        assert "@" not in info["where"]
        await replica.stop()
        await store.close()
