"""The standalone user table: demo users are marked and exist only with --demo (issue 9,
finding 7), including tables written before the mark existed."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from cleanexit.errors import InvalidCredentialsError, InvalidGrantError, InvalidRequestError
from cleanexit.runtime import build_runtime
from cleanexit.server.users import DEMO_PASSWORD, SqliteUsers
from cleanexit.settings import Settings

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def legacy_table(path: Path, users: dict[str, str]) -> None:
    """The schema and rows `serve --demo` wrote before demo users were marked."""
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, "
            "created_at REAL NOT NULL, disabled INTEGER NOT NULL DEFAULT 0)"
        )
        for name, password in users.items():
            db.execute(
                "INSERT INTO users (username, password_hash, created_at) VALUES (?,?,?)",
                (name, FAST.hash(password), time.time()),
            )


def test_finding7_legacy_demo_users_are_marked_as_demo(tmp_path: Path) -> None:
    legacy_table(
        tmp_path / "users.db",
        {"alice": DEMO_PASSWORD, "bob": "bob changed his password", "carol": DEMO_PASSWORD},
    )
    users = SqliteUsers(tmp_path / "users.db", hasher=FAST)
    # Only the demo names still on the published password: bob changed his, carol was
    # added by hand under another name.
    assert users.demo_usernames() == ["alice"]
    assert users.check("bob", "bob changed his password") == "bob"


def test_demo_users_are_added_marked_and_removed(tmp_path: Path) -> None:
    users = SqliteUsers(tmp_path / "users.db", hasher=FAST)
    users.add("bob", "bob's real password")
    assert users.add_demo() == ["alice"]  # a real bob is left alone
    assert users.demo_usernames() == ["alice"]
    users.remove_demo(["alice", "bob"])
    assert users.usernames() == ["bob"]


def test_finding7_the_published_password_cannot_be_given_to_a_user(tmp_path: Path) -> None:
    users = SqliteUsers(tmp_path / "users.db", hasher=FAST)
    with pytest.raises(InvalidRequestError, match="published") as caught:
        users.add("dave", DEMO_PASSWORD)
    assert DEMO_PASSWORD not in caught.value.description


def test_rehash_keeps_the_demo_mark(tmp_path: Path) -> None:
    SqliteUsers(tmp_path / "users.db", hasher=FAST).add_demo()
    stronger = SqliteUsers(tmp_path / "users.db", hasher=PasswordHasher(time_cost=2))
    assert stronger.check("alice", DEMO_PASSWORD) == "alice"  # rehashed with the new params
    assert stronger.demo_usernames() == ["alice", "bob"]


@pytest.mark.anyio
async def test_finding7_start_without_demo_ends_demo_users_and_their_sessions(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, store_url=f"sqlite://{tmp_path / 'c.db'}")
    demo = build_runtime(settings.model_copy(update={"demo": True}))
    demo.users.add_demo()
    await demo.start()
    pair = await demo.service.login("alice", DEMO_PASSWORD)
    await demo.stop()

    plain = build_runtime(settings)
    await plain.start()
    try:
        assert plain.users.usernames() == []
        with pytest.raises(InvalidCredentialsError):
            await plain.service.login("alice", DEMO_PASSWORD)
        with pytest.raises(InvalidGrantError):
            await plain.service.refresh(pair.refresh_token)
        assert await plain.retire_demo_users() == []  # nothing left: idempotent
    finally:
        await plain.stop()
