"""Many machines (issue 4): separate ``cleanexit serve`` processes sharing one real Redis.

A logout answered by one instance must stop the token on every other one within the bound
(replica mode) or on the very next request (strict mode); an instance that loses Redis must
answer 503, never 200 for a revoked token, and recover by itself.
"""

from __future__ import annotations

import concurrent.futures
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess, start_server

pytestmark = [pytest.mark.redis, pytest.mark.slow]

SECRET = "a-shared-test-secret-of-at-least-32-bytes-0123456789"
STALE = 0.5  # CLEANEXIT_STALE_AFTER for these tests (default 1.0)


def env(redis: RedisServer, **extra: str) -> dict[str, str]:
    return {
        "CLEANEXIT_STORE_URL": redis.url,
        "CLEANEXIT_SECRET": SECRET,  # every instance verifies every other one's tokens
        "CLEANEXIT_STALE_AFTER": str(STALE),
        "CLEANEXIT_REFRESH_GRACE": "1",
        # 12 concurrent sign-ins of alice: counted before the password check (issue 15), they
        # would meet the back-off meant for guessing.
        "CLEANEXIT_LOGIN_FREE_ATTEMPTS": "1000",
        **extra,
    }


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """AOF with fsync always: a killed Redis comes back with everything it acknowledged."""
    with RedisServer(tmp_path_factory.mktemp("redis"), appendonly=True) as server:
        yield server


@pytest.fixture(scope="module")
def instances(
    redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServerProcess]]:
    servers = [
        start_server(tmp_path_factory.mktemp(name), env=env(redis)) for name in ("a", "b", "c")
    ]
    yield servers
    for server in servers:
        server.stop()


def serve(where: Path, environment: dict[str, str]) -> ServerProcess:
    where.mkdir(parents=True, exist_ok=True)
    return start_server(where, env=environment)


def me(server: ServerProcess, token: str, client: httpx.Client | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    getter = client.get if client else httpx.get
    return getter(server.url + "/me", headers=headers, timeout=5.0).status_code


def logout(server: ServerProcess, token: str, scope: str = "current") -> httpx.Response:
    return httpx.post(
        server.url + "/auth/logout",
        headers={"Authorization": f"Bearer {token}"},
        json={"scope": scope},
    )


def until_status(server: ServerProcess, token: str, status: int, timeout: float) -> float:
    start = time.monotonic()
    with httpx.Client() as client:
        while (got := me(server, token, client)) != status:
            assert time.monotonic() - start < timeout, f"still {got} after {timeout}s"
    return time.monotonic() - start


def test_logout_on_a_stops_the_token_on_b_and_c(instances: list[ServerProcess]) -> None:
    a, b, c = instances
    token = a.login()["access_token"]
    assert [me(s, token) for s in instances] == [200, 200, 200]
    assert logout(a, token).status_code == 200
    assert me(a, token) == 401  # the answering instance: at once
    for other in (b, c):
        until_status(other, token, 401, timeout=STALE)
        assert me(other, token) == 401


def test_logout_all_on_b_reaches_a_and_c(instances: list[ServerProcess]) -> None:
    a, b, c = instances
    tokens = [s.login("bob")["access_token"] for s in instances]
    assert logout(b, tokens[1], scope="all").status_code == 200
    for server in (a, c):
        for token in tokens:
            until_status(server, token, 401, timeout=STALE)


def test_propagation_delay(instances: list[ServerProcess]) -> None:
    """Logout answered by A; the same token replayed on B back to back until 401.
    200 logouts; the numbers go to docs/redis.md."""
    a, b, _ = instances

    def login(server: ServerProcess) -> str:
        return str(server.login("alice")["access_token"])

    with concurrent.futures.ThreadPoolExecutor(12) as pool:  # argon2 is the slow part
        tokens = list(pool.map(login, instances * 67))[:200]
    delays, accepted = [], 0
    with httpx.Client() as client_a, httpx.Client() as client_b:
        for token in tokens:
            assert me(b, token, client_b) == 200
            client_a.post(a.url + "/auth/logout", headers={"Authorization": f"Bearer {token}"})
            done = time.monotonic()
            while me(b, token, client_b) != 401:
                accepted += 1
                assert time.monotonic() - done < STALE
            delays.append(time.monotonic() - done)
    ms = sorted(d * 1000 for d in delays)
    p50, p99 = statistics.median(ms), ms[197]
    print(
        f"\nlogout on A -> first 401 on B, {len(ms)} logouts: p50 {p50:.2f} ms, p99 {p99:.2f} ms,"
        f" max {ms[-1]:.2f} ms (one HTTP round trip to B included); replays B still accepted:"
        f" {accepted}"
    )
    assert p99 < STALE * 1000


def test_racing_refreshes_across_instances_have_one_winner(
    instances: list[ServerProcess],
) -> None:
    for _ in range(5):
        refresh = instances[0].login()["refresh_token"]

        def attempt(server: ServerProcess, refresh: str = refresh) -> int:
            return httpx.post(
                server.url + "/auth/refresh", json={"refresh_token": refresh}
            ).status_code

        with concurrent.futures.ThreadPoolExecutor(9) as pool:
            statuses = list(pool.map(attempt, instances * 3))
        assert sorted(statuses) == [200] + [400] * 8, statuses


def test_refresh_reuse_on_one_instance_revokes_everywhere(
    instances: list[ServerProcess],
) -> None:
    a, b, c = instances
    first = a.login()
    second = httpx.post(b.url + "/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    fresh = second.json()
    assert me(c, fresh["access_token"]) == 200
    time.sleep(1.2)  # past CLEANEXIT_REFRESH_GRACE=1: this is theft, not two tabs racing
    stolen = httpx.post(c.url + "/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert stolen.status_code == 400
    for server in instances:
        until_status(server, fresh["access_token"], 401, timeout=STALE)
        assert me(server, first["access_token"]) == 401
    again = httpx.post(a.url + "/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert again.status_code == 400


def test_readiness_reports_the_replica(instances: list[ServerProcess]) -> None:
    body = httpx.get(instances[1].url + "/readyz").json()
    assert body["status"] == "ready"
    assert body["replica"]["mode"] == "replica" and body["replica"]["fresh"] is True
    store = body["store"]
    assert (store["backend"], store["mode"], store["durable"]) == ("redis", "replica", True)
    assert "where" not in store and "redis_version" not in store  # issue 15: no host, no version


# -- strict mode ----------------------------------------------------------------------------
def test_strict_mode_refuses_on_the_very_next_request(redis: RedisServer, tmp_path: Path) -> None:
    strict = env(redis, CLEANEXIT_REDIS_MODE="strict")
    with (
        serve(tmp_path / "a", strict) as a,
        serve(tmp_path / "b", strict) as b,
    ):
        for _ in range(10):
            token = a.login()["access_token"]
            assert me(b, token) == 200
            assert logout(a, token).status_code == 200
            assert me(b, token) == 401  # no delay at all: B asked Redis
        assert httpx.get(b.url + "/readyz").json()["replica"]["mode"] == "strict"


# -- Redis outage ---------------------------------------------------------------------------
def test_redis_outage_fails_closed_and_recovers(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "redis", appendonly=True) as redis:
        servers = [serve(tmp_path / n, env(redis)) for n in ("a", "b")]
        try:
            a, b = servers
            revoked = a.login()["access_token"]
            honest = a.login()["access_token"]
            assert logout(a, revoked).status_code == 200
            until_status(b, revoked, 401, timeout=STALE)

            redis.stop()  # SIGKILL, mid-service
            killed = time.monotonic()
            with httpx.Client() as client:
                # Until the bound the view may still answer; never a 200 for the revoked token.
                while (status := me(b, honest, client)) == 200:
                    assert me(b, revoked, client) in (401, 503)
                assert status == 503
                closed_after = time.monotonic() - killed
                assert closed_after < STALE + 0.5
                for server in servers:
                    assert me(server, revoked, client) == 503
                    assert me(server, honest, client) == 503
                    ready = client.get(server.url + "/readyz")
                    assert ready.status_code == 503
                    assert ready.json()["error"] == "temporarily_unavailable"
                time.sleep(1.0)
                assert me(b, honest, client) == 503  # still closed, not timing out into 200

            redis.start()  # same port, same AOF: recovers by itself
            back = [until_status(server, honest, 200, timeout=10) for server in servers]
            print(
                f"\nRedis SIGKILL: first 503 after {closed_after * 1000:.0f} ms"
                f" (CLEANEXIT_STALE_AFTER={STALE}); back to 200 within"
                f" {max(back) * 1000:.0f} ms of redis-server accepting connections"
            )
            for server in servers:
                assert me(server, revoked) == 401  # made before the outage: still holds
                assert httpx.get(server.url + "/readyz").status_code == 200
            late = b.login()["access_token"]  # and the feed works again, B -> A
            assert logout(b, late).status_code == 200
            until_status(a, late, 401, timeout=STALE)
        finally:
            for server in servers:
                server.stop()


def test_fail_open_serves_and_warns(tmp_path: Path) -> None:
    with (
        RedisServer(tmp_path / "redis", appendonly=True) as redis,
        serve(tmp_path / "a", env(redis, CLEANEXIT_FAIL_OPEN="true")) as a,
    ):
        revoked, honest = a.login()["access_token"], a.login()["access_token"]
        assert logout(a, revoked).status_code == 200
        redis.stop()
        time.sleep(STALE + 0.2)
        assert me(a, honest) == 200  # served from the (possibly stale) view...
        assert me(a, revoked) == 401  # ...which still knows what it saw
        assert "FAIL_OPEN" in a.log() and "FAIL-OPEN" in a.log()


def test_production_refuses_a_redis_that_keeps_nothing(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "redis") as redis:
        server = ServerProcess(
            tmp_path / "a", env=env(redis, CLEANEXIT_PRODUCTION="true"), demo=False
        )
        with pytest.raises(RuntimeError, match="keeps nothing on disk"):
            server.start(timeout=15)
        (tmp_path / "b").mkdir()
        # Issue 15: production no longer takes the opt-out; only a non-production server does.
        opted_out = env(redis, CLEANEXIT_PRODUCTION="true", CLEANEXIT_REQUIRE_DURABLE_REDIS="false")
        refused = ServerProcess(tmp_path / "b" / "data", env=opted_out, demo=False)
        with pytest.raises(RuntimeError, match="CLEANEXIT_REQUIRE_DURABLE_REDIS=false"):
            refused.start(timeout=15)
        relaxed = ServerProcess(
            tmp_path / "b" / "data", env=env(redis, CLEANEXIT_REQUIRE_DURABLE_REDIS="false")
        )
        with relaxed:
            assert httpx.get(relaxed.url + "/readyz").status_code == 200
