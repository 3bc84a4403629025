"""``keys list | rotate | retire`` and ``config show`` (issue 15)."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.cli.run import cleanexit, one_line_error

EDDSA = {"CLEANEXIT_ALGORITHM": "EdDSA"}


def kids(listing: str) -> list[str]:
    return [line.split()[0] for line in listing.splitlines()[1:]]


def test_keys_rotate_prints_the_runbook_and_list_shows_until_when(tmp_path: Path) -> None:
    first = cleanexit("keys", "rotate", "--data-dir", tmp_path, env=EDDSA)
    assert first.returncode == 0 and "the first one" in first.stdout
    second = cleanexit("keys", "rotate", "--data-dir", tmp_path, env=EDDSA)
    assert "restart the instances one at a time" in second.stdout
    assert "the previous key verifies until" in second.stdout
    listing = cleanexit("keys", "list", "--data-dir", tmp_path, env=EDDSA)
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert "active: signs new tokens" in lines[1] and "verifies until" in lines[2]


def test_keys_retire_a_retired_key_never_the_active_one(tmp_path: Path) -> None:
    for _ in range(2):
        cleanexit("keys", "rotate", "--data-dir", tmp_path, env=EDDSA)
    active, old = kids(cleanexit("keys", "list", "--data-dir", tmp_path, env=EDDSA).stdout)
    refused = cleanexit("keys", "retire", active, "--data-dir", tmp_path, env=EDDSA)
    assert "keys rotate` first" in one_line_error(refused)
    done = cleanexit("keys", "retire", old, "--data-dir", tmp_path, env=EDDSA)
    assert done.returncode == 0 and "restart every instance" in done.stdout
    assert kids(cleanexit("keys", "list", "--data-dir", tmp_path, env=EDDSA).stdout) == [active]
    again = cleanexit("keys", "retire", old, "--data-dir", tmp_path, env=EDDSA)
    assert again.returncode == 1


def test_keys_list_hs256_names_secrets_by_kid_only(tmp_path: Path) -> None:
    secret, previous = secrets.token_urlsafe(40), secrets.token_urlsafe(40)
    env = {"CLEANEXIT_SECRET": secret, "CLEANEXIT_PREVIOUS_SECRETS": previous}
    listing = cleanexit("keys", "list", "--data-dir", tmp_path, env=env)
    assert listing.returncode == 0 and "CLEANEXIT_SECRET" in listing.stdout
    assert "not yet retired" in listing.stdout
    assert secret not in listing.stdout and previous not in listing.stdout


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    secret, token = secrets.token_urlsafe(40), secrets.token_urlsafe(40)
    env = {
        "CLEANEXIT_SECRET": secret,
        "CLEANEXIT_STORE_URL": "redis://admin:hunter2hunter2@redis.internal:6379/0",
        "CLEANEXIT_INTROSPECTION_CLIENTS": f"rs:{token}",
        "CLEANEXIT_METRICS": "true",
        "CLEANEXIT_METRICS_TOKEN": token,
        "CLEANEXIT_LOGIN_BACKOFF": "2",
    }
    done = cleanexit("config", "show", "--data-dir", tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for hidden in (secret, token, "hunter2"):
        assert hidden not in out
    assert "CLEANEXIT_SECRET=*** (set)\n" in out
    assert "CLEANEXIT_STORE_URL=redis://***@redis.internal:6379/0\n" in out
    assert "clients: rs;" in out
    assert "CLEANEXIT_LOGIN_BACKOFF=2.0\n" in out and "CLEANEXIT_ACCESS_TTL=600  (default)" in out


def test_admin_revocations_join_a_file_audit_trail(tmp_path: Path) -> None:
    from tests.support.server import start_server

    audit = tmp_path / "audit.log"
    with start_server(tmp_path, env={"CLEANEXIT_AUDIT_LOG": str(audit)}) as server:
        server.login("alice")
        done = cleanexit(
            "revoke", "--user", "alice", "--data-dir", server.data_dir,
            env={"CLEANEXIT_AUDIT_LOG": str(audit)},
        )  # fmt: skip
        assert done.returncode == 0 and done.stderr == ""
    events = [line for line in audit.read_text().splitlines() if '"reason":"admin"' in line]
    assert len(events) == 1 and '"event":"session_expired"' in events[0]
