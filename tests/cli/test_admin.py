"""The admin CLI against real data directories (and a running server where it matters)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.server import start_server

pytestmark = pytest.mark.slow


def cli(
    *args: str, data_dir: Path, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cleanexit", *args, "--data-dir", str(data_dir)],
        input=stdin, capture_output=True, text=True, check=check,
    )  # fmt: skip


def test_users_add_from_stdin_and_list(tmp_path: Path) -> None:
    done = cli("users", "add", "carol", data_dir=tmp_path, stdin="a long enough password\n")
    assert "added user 'carol'" in done.stdout
    assert "a long enough password" not in done.stdout + done.stderr
    assert cli("users", "list", data_dir=tmp_path).stdout.split() == ["carol"]
    again = cli("users", "add", "carol", data_dir=tmp_path, stdin="another password\n", check=False)
    assert again.returncode != 0 and "already exists" in again.stderr


def test_sessions_list_revoke_session_and_prune(tmp_path: Path) -> None:
    with start_server(tmp_path) as server:
        data = server.data_dir
        pair = server.login("alice")
        listed = cli("sessions", "list", "--user", "alice", data_dir=data).stdout
        assert pair["session_id"] in listed
        done = cli("revoke", "--session", pair["session_id"], data_dir=data)
        assert f"revoked session {pair['session_id']}" in done.stdout
        r = httpx.get(
            server.url + "/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
        )
        assert r.status_code == 401
        missing = cli("revoke", "--session", "nope", data_dir=data, check=False)
        assert missing.returncode == 1 and "nothing revoked" in missing.stdout
        assert "pruned" in cli("prune", data_dir=data).stdout


def test_revoke_needs_exactly_one_target(tmp_path: Path) -> None:
    assert cli("revoke", data_dir=tmp_path, check=False).returncode == 2


def test_eddsa_server_with_key_rotation(tmp_path: Path) -> None:
    env = {"CLEANEXIT_ALGORITHM": "EdDSA"}
    with start_server(tmp_path, env=env) as server:
        old = server.login()["access_token"]
        (key,) = httpx.get(server.url + "/.well-known/jwks.json").json()["keys"]
        assert key["kty"] == "OKP" and key["alg"] == "EdDSA" and "d" not in key
        done = subprocess.run(
            [sys.executable, "-m", "cleanexit", "keys", "rotate", "--data-dir", str(server.data_dir)],
            capture_output=True, text=True, check=True, env={**__import__("os").environ, **env},
        )  # fmt: skip
        assert "new EdDSA signing key" in done.stdout
        server.restart()
        keys = httpx.get(server.url + "/.well-known/jwks.json").json()["keys"]
        assert len(keys) == 2
        # The token signed before the rotation still verifies; new tokens use the new key.
        assert (
            httpx.get(server.url + "/me", headers={"Authorization": f"Bearer {old}"}).status_code
            == 200
        )
        new = server.login()["access_token"]
        assert (
            httpx.get(server.url + "/me", headers={"Authorization": f"Bearer {new}"}).status_code
            == 200
        )


def test_keys_prune_deletes_only_keys_that_no_longer_verify(tmp_path: Path) -> None:
    from cleanexit.server.keystore import rotate_signing_key

    now = __import__("time").time()
    # Each key is retired when the next one is created, and verifies 600 s (ACCESS_TTL) more.
    oldest = rotate_signing_key(tmp_path, algorithm="EdDSA", now=now - 7200)
    retired_long_ago = rotate_signing_key(tmp_path, algorithm="EdDSA", now=now - 3600)
    still_verifying = rotate_signing_key(tmp_path, algorithm="EdDSA", now=now - 1200)
    active = rotate_signing_key(tmp_path, algorithm="EdDSA", now=now - 60)
    done = subprocess.run(
        [sys.executable, "-m", "cleanexit", "keys", "prune", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, check=True,
        env={**__import__("os").environ, "CLEANEXIT_ALGORITHM": "EdDSA"},
    )  # fmt: skip
    assert "2 retired key file(s) deleted" in done.stdout
    assert not oldest.exists() and not retired_long_ago.exists()
    assert still_verifying.exists() and active.exists()
