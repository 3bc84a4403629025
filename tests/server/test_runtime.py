"""Assembly from settings: HS256 rotation with CLEANEXIT_PREVIOUS_SECRETS, generated secret,
the PostgreSQL store's options."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cleanexit.errors import BadSignatureError
from cleanexit.runtime import build_runtime
from cleanexit.settings import Settings

OLD = "old-secret-0123456789abcdefghijklmnopqrstuvwxyz"
NEW = "new-secret-0123456789abcdefghijklmnopqrstuvwxyz"


def test_previous_secrets_keep_verifying_after_rotation(tmp_path: Path) -> None:
    before = build_runtime(Settings(data_dir=tmp_path, secret=OLD))
    token = before.service.issuer.issue(sub="alice", sid="s1").token
    after = build_runtime(Settings(data_dir=tmp_path, secret=NEW, previous_secrets=f" {OLD} ,"))
    assert after.guard.verifier.verify(token).sub == "alice"
    fresh = after.service.issuer.issue(sub="alice", sid="s2").token
    assert after.keys.active.kid != before.keys.active.kid
    dropped = build_runtime(Settings(data_dir=tmp_path, secret=NEW))
    assert dropped.guard.verifier.verify(fresh).sid == "s2"
    with pytest.raises(BadSignatureError):
        dropped.guard.verifier.verify(token)


def test_generated_secret_is_private_and_stable(tmp_path: Path) -> None:
    first = build_runtime(Settings(data_dir=tmp_path))
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    second = build_runtime(Settings(data_dir=tmp_path))
    assert first.keys.active.kid == second.keys.active.kid


def test_a_postgresql_url_selects_the_postgres_store_with_every_setting(tmp_path: Path) -> None:
    """Nothing a setting controls is dropped on the way to the store (no connection yet)."""
    from cleanexit.server.stores.postgres import NotifyReplica, PostgresStore

    settings = Settings(
        data_dir=tmp_path,
        store_url="postgres://app:pw@db.internal:6432/app",
        stale_after=0.7,
        fail_open=True,
        postgres_schema="auth",
        postgres_pool_size=3,
        postgres_listen_url="postgresql://app:pw@db-primary.internal:5432/app",
    )
    runtime = build_runtime(settings)
    store = runtime.store
    assert isinstance(store, PostgresStore) and isinstance(runtime.replica, NotifyReplica)
    assert (store.stale_after, store.fail_open, store.pool_size) == (0.7, True, 3)
    assert store.sql.schema == "auth" and store.where == "db.internal:6432/app"
    assert store.listen_where == "db-primary.internal:5432/app"
    assert runtime.replica.stale_after == 0.7 and "pw" not in repr(store)


def test_a_bad_postgres_schema_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from cleanexit.cli.admin import load_settings
    from cleanexit.errors import ConfigurationError

    monkeypatch.setenv("CLEANEXIT_POSTGRES_SCHEMA", 'x"; DROP TABLE users; --')
    with pytest.raises(ConfigurationError, match="CLEANEXIT_POSTGRES_SCHEMA"):
        load_settings()
