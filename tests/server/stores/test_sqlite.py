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
from cleanexit.server.stores.base import RotationRequest
from cleanexit.server.stores.sqlite import SCHEMA_VERSION, SqliteStore

from .contract import DENY, GRACE, IDLE, NOW, StoreContract, h, refresh, session

pytestmark = pytest.mark.anyio


class TestSqliteStore(StoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[Store]:
        store = SqliteStore(tmp_path / "cleanexit.db")
        await store.open()
        yield store
        await store.close()

    @pytest.fixture
    async def other(self, store: Store, tmp_path: Path) -> AsyncIterator[Store]:
        """Another connection on the same file, as another worker process has."""
        other = SqliteStore(tmp_path / "cleanexit.db")
        await other.open()
        yield other
        await other.close()


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
    await first.end_sessions(["s1"], now=NOW, reason="logout", leeway=0)
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
    request = RotationRequest(now=NOW + 1, idle_ttl=IDLE, grace=GRACE, access_until=DENY)
    results = await asyncio.gather(
        *(s.rotate_refresh(h("r1"), h(f"n{i}"), request) for i, s in enumerate(stores))
    )
    assert [r.status for r in results].count(RotationStatus.ROTATED) == 1
    for store in stores:
        await store.close()


def _rotate_in_child(path: str, index: int, barrier: multiprocessing.synchronize.Barrier) -> str:
    async def run() -> str:
        store = SqliteStore(path)
        await store.open()
        barrier.wait()
        request = RotationRequest(now=NOW + 1, idle_ttl=IDLE, grace=GRACE, access_until=DENY)
        result = await store.rotate_refresh(h("r1"), h(f"p{index}"), request)
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


V1_SCHEMA = """
CREATE TABLE sessions (
  sid TEXT PRIMARY KEY, sub TEXT NOT NULL, created_at REAL NOT NULL, last_seen REAL NOT NULL,
  expires_at REAL NOT NULL, user_agent TEXT NOT NULL DEFAULT '', ip TEXT NOT NULL DEFAULT '',
  ended_at REAL, end_reason TEXT);
CREATE TABLE refresh_tokens (
  token_hash BLOB PRIMARY KEY, sid TEXT NOT NULL, issued_at REAL NOT NULL,
  expires_at REAL NOT NULL, rotated_at REAL);
CREATE TABLE revocations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL,
  cutoff REAL NOT NULL DEFAULT 0, expires_at REAL NOT NULL);
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL,
  sub TEXT NOT NULL, sid TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
PRAGMA user_version=1;
"""


async def test_a_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    """A database written before access_until existed: its sessions are assumed to have tokens
    alive as long as the longest lifetime a setting allows, capped by their expiry."""
    import sqlite3

    path = tmp_path / "c.db"
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.execute(
        "INSERT INTO sessions VALUES ('s1','alice',?,?,?,'ua','ip',NULL,NULL)",
        (NOW, NOW + 100, NOW + 30 * 86400),
    )
    db.execute(
        "INSERT INTO refresh_tokens VALUES (?, 's1', ?, ?, NULL)", (h("r1"), NOW, NOW + IDLE)
    )
    db.commit()
    db.close()
    store = SqliteStore(path)
    await store.open()
    migrated = await store.get_session("s1")
    assert migrated is not None and migrated.access_until == NOW + 100 + 86400
    assert await store.session_for_refresh(h("r1"), now=NOW + 1) is not None
    ended = await store.end_sessions(["s1"], now=NOW + 200, reason="logout", leeway=0)
    assert [r.expires_at for r in ended] == [NOW + 100 + 86400 + 1]
    await store.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert migrated.claims == {}
    check.close()


async def test_a_newer_schema_is_a_clear_start_up_error(tmp_path: Path) -> None:
    import sqlite3

    from cleanexit.errors import ConfigurationError

    path = tmp_path / "c.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(ConfigurationError, match="schema version 99"):
        await SqliteStore(path).open()
