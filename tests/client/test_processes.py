"""Several processes, one persisted state; and a process killed in the middle of logout."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cleanexit.client import INITIAL_STATE, Client, SessionEndedError, StaticKey
from cleanexit.client.persistence import encode_key
from tests.client.conftest import PASSWORD, Callbacks, MakeClient
from tests.client.loopback import ScriptedServer

ROOT = Path(__file__).resolve().parents[2]


def run_child(command: str, state_dir: Path, key: StaticKey) -> subprocess.CompletedProcess[str]:
    secret = encode_key(key.get_key(create=False) or b"")
    return subprocess.run(
        [sys.executable, "-m", "tests.client.child", command, str(state_dir), secret],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_crash_between_reset_and_purge_is_finished_at_next_start(
    state_dir: Path, state_path: Path, key: StaticKey
) -> None:
    with ScriptedServer({"/auth/login": "login", "/auth/logout": "logout-ok"}) as server:
        Client(server.url, state_dir=state_dir, key=key).login("alice", "pw")
        child = run_child("crash-logout", state_dir, key)
    assert child.returncode == -9, child.stderr
    assert child.stdout.split() == ["rehydrated:authenticated", "reset:unauthenticated"]
    marker = state_path.with_name("auth-state.logout-pending")
    assert state_path.exists() and marker.exists()  # killed before the purge

    restarted = Client(state_dir=state_dir, key=key)
    assert restarted.state == INITIAL_STATE  # purge finished before rehydration
    assert not state_path.exists() and not marker.exists()


def test_logout_in_one_process_ends_the_other(
    live_server: Any, make_client: MakeClient, state_dir: Path, state_path: Path, key: StaticKey
) -> None:
    callbacks = Callbacks()
    client = make_client(live_server.url, on_logout=[callbacks])
    client.login("alice", PASSWORD)
    old_access = client.state.tokens.access_token.reveal()
    assert client.me()["sub"] == "alice"

    child = run_child("logout", state_dir, key)
    assert child.returncode == 0, child.stderr
    assert "server ended session" in child.stdout

    with pytest.raises(SessionEndedError):
        client.me()
    assert client.state == INITIAL_STATE
    assert not state_path.exists()  # not resurrected by the stale process
    assert len(callbacks.results) == 1
    assert callbacks.results[0].reason == "ended by another process"
    stolen = httpx.get(live_server.url + "/me", headers={"Authorization": f"Bearer {old_access}"})
    assert stolen.status_code == 401


def test_tokens_refreshed_by_another_process_are_adopted(
    short_ttl_server: Any, make_client: MakeClient, state_dir: Path, key: StaticKey
) -> None:
    client = make_client(short_ttl_server.url)
    client.login("alice", PASSWORD)
    first = client.state.tokens
    time.sleep(2.5)  # the access token (TTL 2 s) expires on the real server
    child = run_child("me", state_dir, key)  # refreshes and saves the rotated pair
    assert child.returncode == 0, child.stderr

    assert client.me()["sub"] == "alice"  # adopts the child's pair: no refresh-token reuse
    assert client.state.tokens.refresh_token != first.refresh_token
    assert client.state.authenticated
    assert client.logout().server_confirmed
