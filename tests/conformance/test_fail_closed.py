"""Fail closed on every framework: the Redis store's server stops mid-service, protected
requests and logout answer 503 (never 200), and service comes back with Redis."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.redis_server import RedisServer

from .conftest import App, start
from .frameworks import Framework

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def until(predicate: object, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if callable(predicate) and predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_a_stopped_redis_is_503_never_200(framework: Framework, tmp_path: Path) -> None:
    with RedisServer(tmp_path / "redis", appendonly=True) as redis:  # restarts with its data
        env = {
            "CLEANEXIT_STORE_URL": redis.url,
            "CLEANEXIT_STALE_AFTER": "0.5",
            "CLEANEXIT_ACCESS_TTL": "120",
        }
        server = start(framework, tmp_path, workers=1, **env)
        try:
            app = App(framework, server)
            pair = app.login()
            path = framework.protected[-1]
            bearer = {"Authorization": f"Bearer {pair['access_token']}"}
            assert httpx.get(app.url + path, headers=bearer).status_code == 200
            redis.stop()
            until(lambda: httpx.get(app.url + path, headers=bearer).status_code == 503, 5)
            for each in framework.protected:
                closed = httpx.get(app.url + each, headers=bearer)
                assert closed.status_code == 503, each
                assert closed.headers["retry-after"]
            out = httpx.post(app.url + "/auth/logout", headers=bearer, timeout=20)
            assert out.status_code == 503 and out.json()["error"] == "temporarily_unavailable"
            redis.start()
            until(lambda: httpx.get(app.url + path, headers=bearer).status_code == 200, 15)
            assert httpx.post(app.url + "/auth/logout", headers=bearer).status_code == 200
            assert httpx.get(app.url + path, headers=bearer).status_code == 401
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()[-3000:]
