"""Shared fixtures. Real components (uvicorn processes, SQLite files, redis-server, Chromium)
are started by the fixtures themselves; under CI (CI=true) a missing one is a failure."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"
