"""The admin CLI against real data directories (and a running server where it matters)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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
        env={k: v for k, v in os.environ.items() if not k.startswith("CLEANEXIT_")},
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
        where = f"sqlite://{data / 'cleanexit.db'} (data dir {data})"
        done = cli("revoke", "--session", pair["session_id"], data_dir=data)
        assert done.stdout == f"revoked session {pair['session_id']} in {where}\n"
        r = httpx.get(
            server.url + "/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
        )
        assert r.status_code == 401
        # Nothing recorded: exit 1, one line on stderr naming the store.
        for sid in ("nope", pair["session_id"]):  # unknown, already ended
            missing = cli("revoke", "--session", sid, data_dir=data, check=False)
            assert missing.returncode == 1 and missing.stdout == ""
            assert missing.stderr == (
                f"cleanexit: nothing revoked in {where}: no active session {sid!r}\n"
            )
        pruned = cli("prune", data_dir=data)
        assert pruned.stdout.startswith("pruned ") and pruned.stdout.endswith(f"from {where}\n")


def test_revoke_user_says_what_it_recorded(tmp_path: Path) -> None:
    """Sessions ended and the cutoff, every time; a user with no active session still gets a
    cutoff (exit 0, said so); an unknown name is pointed out."""
    with start_server(tmp_path) as server:
        data = server.data_dir
        first, second = server.login("alice"), server.login("alice")
        done = cli("revoke", "--user", "alice", data_dir=data)
        lines = done.stdout.splitlines()
        assert (
            lines[0]
            == f"logged 'alice' out everywhere in sqlite://{data / 'cleanexit.db'} (data dir {data})"
        )
        assert lines[1].startswith("  sessions ended: 2 (")
        assert first["session_id"] in lines[1] and second["session_id"] in lines[1]
        assert lines[2].startswith("  cutoff set: tokens issued to 'alice' before ")
        for pair in (first, second):
            me = httpx.get(
                server.url + "/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
            )
            assert me.status_code == 401

        again = cli("revoke", "--user", "alice", data_dir=data)
        assert again.returncode == 0 and again.stderr == ""
        assert "  sessions ended: 0 (none was active)" in again.stdout
        assert "  cutoff set:" in again.stdout

        typo = cli("revoke", "--user", "alcie", data_dir=data)
        assert typo.returncode == 0 and "  cutoff set:" in typo.stdout
        assert typo.stderr == f"cleanexit: warning: 'alcie' is not a user in {data / 'users.db'}\n"


def test_store_url_is_the_store_acted_on(tmp_path: Path) -> None:
    """--store-url (and CLEANEXIT_STORE_URL) choose the store, whatever the data directory."""
    other = tmp_path / "other"
    other.mkdir()
    with start_server(tmp_path) as server:
        sid = server.login("alice")["session_id"]
        url = f"sqlite://{server.data_dir / 'cleanexit.db'}"
        listed = cli("sessions", "list", "--user", "alice", "--store-url", url, data_dir=other)
        assert sid in listed.stdout
        assert f"active sessions of 'alice' in {url} (data dir {other}): 1" in listed.stderr
        done = subprocess.run(
            [sys.executable, "-m", "cleanexit", "revoke", "--session", sid, "--data-dir", str(other)],
            capture_output=True, text=True, check=True,
            env={**os.environ, "CLEANEXIT_STORE_URL": url},
        )  # fmt: skip
        assert done.stdout == f"revoked session {sid} in {url} (data dir {other})\n"
    assert (
        "no active sessions for 'alice'"
        in cli("sessions", "list", "--user", "alice", "--store-url", url, data_dir=other).stdout
    )


def test_users_add_creates_a_data_dir_and_says_so(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    done = cli("users", "add", "carol", data_dir=fresh, stdin="a long enough password\n")
    assert done.stdout.splitlines() == [
        f"added user 'carol' to {fresh / 'users.db'}",
        f"created data dir {fresh}",
    ]
    twice = cli("users", "add", "carol", data_dir=fresh, stdin="another password\n", check=False)
    assert twice.returncode == 1 and twice.stdout == ""
    assert twice.stderr == (
        f"cleanexit: user 'carol' already exists in {fresh / 'users.db'}: nothing added\n"
    )
    listed = cli("users", "list", data_dir=fresh)
    assert listed.stdout == "carol\n" and listed.stderr == f"1 user(s) in {fresh / 'users.db'}\n"


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


@pytest.mark.redis
def test_revoke_and_prune_on_a_redis_store(tmp_path: Path) -> None:
    """The admin commands reach the Redis store the servers share (--store-url), and the
    server refuses the revoked session's token."""
    from tests.support.redis_server import RedisServer

    secret = "a-shared-test-secret-of-at-least-32-bytes-0123456789"
    admin_dir = tmp_path / "admin"
    admin_dir.mkdir()
    with RedisServer(tmp_path / "redis") as redis:
        env = {"CLEANEXIT_STORE_URL": redis.url, "CLEANEXIT_SECRET": secret}
        with start_server(tmp_path, env=env) as server:
            pair = server.login("alice")
            done = subprocess.run(
                [sys.executable, "-m", "cleanexit", "revoke", "--user", "alice",
                 "--store-url", redis.url, "--data-dir", str(admin_dir)],
                capture_output=True, text=True, check=True,
                env={**os.environ, "CLEANEXIT_SECRET": secret},
            )  # fmt: skip
            assert done.stdout.startswith(
                f"logged 'alice' out everywhere in {redis.url} (data dir {admin_dir})\n"
                f"  sessions ended: 1 ({pair['session_id']})\n"
            )
            headers = {"Authorization": f"Bearer {pair['access_token']}"}
            deadline = time.monotonic() + 5
            while httpx.get(server.url + "/me", headers=headers).status_code != 401:
                assert time.monotonic() < deadline, "never refused"
                time.sleep(0.05)
        pruned = cli("prune", "--store-url", redis.url, data_dir=admin_dir)
        assert pruned.stdout.endswith(f"row(s) from {redis.url} (data dir {admin_dir})\n")
