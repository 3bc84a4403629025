"""The opt-in revocation outbox: only the refresh token kept, encrypted; retried later."""

from __future__ import annotations

import json
from pathlib import Path

from cleanexit.client import INITIAL_STATE, StaticKey, open_state
from cleanexit.client.persistence.envelope import open_sealed
from cleanexit.clock import ManualClock
from tests.client.conftest import MakeClient
from tests.client.loopback import ScriptedServer

ROUTES = {"/auth/login": "login", "/auth/logout": "500"}


def test_unconfirmed_logout_keeps_only_the_refresh_token(
    make_client: MakeClient, state_path: Path, key: StaticKey
) -> None:
    with ScriptedServer(ROUTES) as server:
        client = make_client(server.url, use_outbox=True, logout_timeout=0.5)
        client.login("alice", "pw")
        result = client.logout()
        assert result.queued_for_retry and client.state == INITIAL_STATE
        assert "queued" in result.describe()
        outbox_path = state_path.with_name("revocation-outbox.bin")
        assert [p.name for p in state_path.parent.iterdir()] == [outbox_path.name]
        raw = outbox_path.read_bytes()
        assert b"cxr_1" not in raw  # encrypted at rest
        plain = open_sealed(key._key, raw, purpose="revocation-outbox/v1")
        assert b"cxr_1" in plain and b"at-1" not in plain  # no access token kept

        server.routes["/auth/logout"] = "logout-ok"
        report = client.flush_outbox()
        assert (report.confirmed, report.pending) == (1, 0)
        assert not outbox_path.exists()
        (_, _, headers, body) = server.hits("/auth/logout")[-1]
    assert "Authorization" not in headers
    assert json.loads(body) == {"scope": "current", "refresh_token": "cxr_1"}


def test_retry_that_fails_again_stays_pending(make_client: MakeClient, state_path: Path) -> None:
    with ScriptedServer(ROUTES) as server:
        client = make_client(server.url, use_outbox=True, logout_timeout=0.5)
        client.login("alice", "pw")
        client.logout("all")
        server.routes["/auth/logout"] = "reset"
        assert client.flush_outbox().pending == 1
        server.routes["/auth/logout"] = "404"  # the server says the token is not usable: drop
        assert client.flush_outbox().dropped == 1
        assert json.loads(server.hits("/auth/logout")[-1][3])["scope"] == "all"
    assert not state_path.with_name("revocation-outbox.bin").exists()


def test_outbox_is_opt_in_per_logout(make_client: MakeClient, state_path: Path) -> None:
    with ScriptedServer(ROUTES) as server:
        client = make_client(server.url, use_outbox=True, logout_timeout=0.5)
        client.login("alice", "pw")
        assert not client.logout(queue=False).queued_for_retry
    assert list(state_path.parent.iterdir()) == []


def test_confirmed_logout_queues_nothing(make_client: MakeClient, state_path: Path) -> None:
    with ScriptedServer({**ROUTES, "/auth/logout": "logout-ok"}) as server:
        client = make_client(server.url, use_outbox=True)
        client.login("alice", "pw")
        assert not client.logout().queued_for_retry
    assert list(state_path.parent.iterdir()) == []


def test_expired_entries_are_dropped(state_dir: Path, key: StaticKey) -> None:
    from cleanexit._secret import Secret
    from cleanexit.client import OutboxEntry

    clock = ManualClock()
    _, outbox = open_state(state_dir, key=key, clock=clock)
    outbox.add(OutboxEntry("http://s", Secret("cxr_a"), "current", clock(), clock() + 60))
    assert len(outbox.entries()) == 1
    clock.advance(61)
    assert outbox.entries() == []
    outbox.settle(set(), set())
    assert not outbox.path.exists()
