"""Shared fixtures. Real components (uvicorn processes, SQLite files, redis-server, PostgreSQL,
Chromium) are started by the fixtures themselves; under CI (CI=true) a missing one is a failure."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One real server for read-mostly tests (demo users alice and bob)."""
    from tests.support.server import start_server

    server = start_server(tmp_path_factory.mktemp("live"))
    yield server
    server.stop()


@pytest.fixture
def postgres_server():  # type: ignore[no-untyped-def]
    """A fresh PostgreSQL cluster for one test, which may kill and restart it."""
    from tests.support.postgres_server import PostgresServer

    with PostgresServer() as server:
        yield server
