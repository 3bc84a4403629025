"""Assembly from settings: HS256 rotation with CLEANEXIT_PREVIOUS_SECRETS, generated secret."""

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
