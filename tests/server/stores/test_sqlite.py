from __future__ import annotations

import asyncio
import multiprocessing
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cleanexit.errors import StoreUnavailableError
from cleanexit.server.stores import RotationStatus, Store
from cleanexit.server.stores.sqlite import SqliteStore

from .contract import DENY, GRACE, IDLE, NOW, StoreContract, h, refresh, session

pytestmark = pytest.mark.anyio


class TestSqliteStore(StoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[Store]:
        store = SqliteStore(tmp_path / "cleanexit.db")
        await store.open()
        yield store
        await store.close()


async def test_files_are_private(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "data" / "cleanexit.db")
    await store.open()
    assert stat.S_IMODE(os.stat(tmp_path / "data").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    await store.close()


async def test_revocations_survive_a_restart(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "c.db")
    await first.open()
    await first.create_session(session("s1"), refresh("r1", "s1"))
    await first.end_sessions(["s1"], now=NOW, reason="logout", deny_until=DENY)
    await first.close()
    second = SqliteStore(tmp_path / "c.db")
    await second.open()
    revs, _ = await second.revocations(since=None, now=NOW)
    assert [r.key for r in revs] == ["s1"]
    await second.close()


async def test_a_second_connection_sees_the_marker_move(tmp_path: Path) -> None:
    """Two stores on one file stand for two worker processes of one server."""
    a, b = SqliteStore(tmp_path / "c.db"), SqliteStore(tmp_path / "c.db")
    await a.open()
    await b.open()
    seen = b.change_marker()
    _, cursor = await b.revocations(since=None, now=NOW)
    await a.revoke_token("https://issuer", "j1", expires_at=DENY)
    assert b.change_marker() != seen
    new, _ = await b.revocations(since=cursor, now=NOW)
    assert [r.key for r in new] == ["https://issuer\x1fj1"]
    await a.close()
    await b.close()


async def test_rotation_race_between_connections(tmp_path: Path) -> None:
    stores = [SqliteStore(tmp_path / "c.db") for _ in range(4)]
    for store in stores:
        await store.open()
    await stores[0].create_session(session("s1"), refresh("r1", "s1"))
    results = await asyncio.gather(
        *(
            s.rotate_refresh(
                h("r1"), h(f"n{i}"), now=NOW + 1, idle_ttl=IDLE, grace=GRACE, deny_until=DENY
            )
            for i, s in enumerate(stores)
        )
    )
    assert [r.status for r in results].count(RotationStatus.ROTATED) == 1
    for store in stores:
        await store.close()


def _rotate_in_child(path: str, index: int, barrier: multiprocessing.synchronize.Barrier) -> str:
    async def run() -> str:
        store = SqliteStore(path)
        await store.open()
        barrier.wait()
        result = await store.rotate_refresh(
            h("r1"), h(f"p{index}"), now=NOW + 1, idle_ttl=IDLE, grace=GRACE, deny_until=DENY
        )
        await store.close()
        return result.status.value

    return asyncio.run(run())


async def test_rotation_race_between_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "c.db")
    store = SqliteStore(path)
    await store.open()
    await store.create_session(session("s1"), refresh("r1", "s1"))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(4)
        with ctx.Pool(4) as pool:
            statuses = await asyncio.to_thread(
                pool.starmap, _rotate_in_child, [(path, i, barrier) for i in range(4)]
            )
    assert statuses.count("rotated") == 1, statuses
    await store.close()


async def test_driver_errors_become_store_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    await store.open()
    await store.close()
    with pytest.raises(StoreUnavailableError):
        await store.revoke_token("i", "j", expires_at=DENY)
