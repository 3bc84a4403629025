"""End to end against a real ``cleanexit serve`` process on loopback."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cleanexit.client import (
    INITIAL_STATE,
    Client,
    SessionCompromisedError,
    SessionEndedError,
    StaticKey,
)
from cleanexit.client._core import RACED
from tests.client.conftest import PASSWORD, Callbacks, MakeClient


def stolen(server: Any, access: str) -> int:
    """What an attacker holding the old access token gets."""
    headers = {"Authorization": f"Bearer {access}"}
    return httpx.get(server.url + "/me", headers=headers).status_code


def refresh_status(server: Any, refresh: str) -> int:
    return httpx.post(server.url + "/auth/refresh", json={"refresh_token": refresh}).status_code


def secrets(client: Any) -> tuple[str, str]:
    tokens = client.state.tokens
    return tokens.access_token.reveal(), tokens.refresh_token.reveal()


@pytest.fixture
def pair(own_server: Any, make_client: MakeClient, tmp_path: Path) -> tuple[Any, Any]:
    """Two logged-in clients of alice, each with its own state directory."""
    first = make_client(own_server.url)
    second = make_client(own_server.url, state_dir=tmp_path / "second")
    first.login("alice", PASSWORD)
    second.login("alice", PASSWORD)
    return first, second


def test_login_and_authenticated_calls(own_server: Any, pair: tuple[Any, Any]) -> None:
    first, _ = pair
    me = first.me()
    assert me["sub"] == "alice" and me["session_id"] == first.state.session_id
    mine = [s for s in first.sessions() if s["current"]]
    assert [s["session_id"] for s in mine] == [first.state.session_id]


def test_logout_current(own_server: Any, pair: tuple[Any, Any], state_path: Path) -> None:
    first, second = pair
    access, refresh = secrets(first)
    result = first.logout()
    assert result.server_confirmed and result.clean
    assert result.server.revoked["sessions"] == [result.session_id]
    assert first.state == INITIAL_STATE and not state_path.exists()
    assert stolen(own_server, access) == 401
    assert refresh_status(own_server, refresh) == 400
    assert second.me()["sub"] == "alice"  # other sessions live on


def test_logout_others(own_server: Any, pair: tuple[Any, Any], state_path: Path) -> None:
    first, second = pair
    callbacks = Callbacks()
    second.on_logout(callbacks)
    result = first.logout("others")
    assert result.server_confirmed and second.state.session_id in result.server.revoked["sessions"]
    assert first.state.authenticated and state_path.exists()
    assert first.me()["sub"] == "alice"
    with pytest.raises(SessionEndedError):  # the server tells the other client it is over
        second.me()
    assert second.state == INITIAL_STATE and len(callbacks.results) == 1


def test_logout_all(own_server: Any, pair: tuple[Any, Any], state_path: Path) -> None:
    first, second = pair
    access_first, _ = secrets(first)
    access_second, refresh_second = secrets(second)
    result = first.logout("all")
    assert result.server_confirmed and result.clean
    assert first.state == INITIAL_STATE and not state_path.exists()
    assert stolen(own_server, access_first) == 401
    assert stolen(own_server, access_second) == 401
    assert refresh_status(own_server, refresh_second) == 400


def test_automatic_refresh(short_ttl_server: Any, make_client: MakeClient, state_file: Any) -> None:
    client = make_client(short_ttl_server.url)
    client.login("alice", PASSWORD)
    before = client.state.tokens
    time.sleep(2.5)  # the real server's access tokens live 2 s
    assert client.me()["sub"] == "alice"
    after = client.state.tokens
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token
    assert state_file.load().state.tokens == after
    assert client.logout().server_confirmed


def test_concurrent_expiry_refreshes_once_against_the_real_server(
    short_ttl_server: Any, state_dir: Path, key: StaticKey
) -> None:
    client = Client(short_ttl_server.url, state_dir=state_dir, key=key)
    client.login("alice", PASSWORD)
    time.sleep(2.5)
    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(client.get("/me").status_code))
               for _ in range(6)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 6 and client.state.authenticated
    assert client.logout().server_confirmed  # rotation stayed sound: no reuse detected
    client.close()


def test_stop_server_logout_nothing_left(
    tmp_path: Path, make_client: MakeClient, state_dir: Path, callbacks: Callbacks
) -> None:
    """The issue's "done when": log in, stop the server, log out, nothing left on disk."""
    from tests.support.server import start_server

    (tmp_path / "srv").mkdir()
    server = start_server(tmp_path / "srv")
    try:
        client = make_client(server.url, key=None, logout_timeout=1, on_logout=[callbacks])
        client.login("alice", PASSWORD)
        access, _refresh = secrets(client)
        server.stop()
        result = client.logout()
        assert not result.server_confirmed and result.server.error == "could not connect"
        assert client.state == INITIAL_STATE and len(callbacks.results) == 1
        assert [p.relative_to(state_dir).as_posix() for p in sorted(state_dir.rglob("*"))] == [
            "data",
            "keys",
        ]  # two empty directories; the key was shredded too (issue 9, finding 8)
        server.start()
        assert stolen(server, access) == 200  # honest: never revoked, expires on its own
    finally:
        server.stop()


def test_outbox_revokes_after_the_server_returns(
    tmp_path: Path, make_client: MakeClient, state_dir: Path
) -> None:
    from tests.support.server import start_server

    (tmp_path / "srv").mkdir()
    server = start_server(tmp_path / "srv")
    try:
        client = make_client(server.url, logout_timeout=1, use_outbox=True)
        client.login("alice", PASSWORD)
        access, refresh = secrets(client)
        server.stop()
        assert client.logout().queued_for_retry
        server.start()
        assert client.flush_outbox().confirmed == 1
        assert stolen(server, access) == 401
        assert refresh_status(server, refresh) == 400
        assert list((state_dir / "data").iterdir()) == []
    finally:
        server.stop()


# -- issue 9: the paths real users take ---------------------------------------------------


def test_finding1_logout_after_idle_ends_server_session(
    short_ttl_server: Any, make_client: MakeClient, state_path: Path
) -> None:
    """The most common real logout: after a break, with an expired access token."""
    client = make_client(short_ttl_server.url)
    client.login("alice", PASSWORD)
    access, refresh = secrets(client)
    time.sleep(2.5)  # a break: the access token (2 s) expired and nothing refreshed it
    assert stolen(short_ttl_server, access) == 401

    result = client.logout()
    assert result.server.verdict == "ended", result.describe()
    assert result.server.revoked["sessions"] == [result.session_id]
    assert result.describe().startswith(f"server ended session {result.session_id}")
    assert client.state == INITIAL_STATE and not state_path.exists()
    assert refresh_status(short_ttl_server, refresh) == 400  # the refresh token is dead


def test_finding1_logout_with_a_revoked_access_token_ends_server_session(
    own_server: Any, make_client: MakeClient
) -> None:
    """An access token revoked on its own (RFC 7009) does not block the refresh token."""
    client = make_client(own_server.url)
    client.login("alice", PASSWORD)
    access, refresh = secrets(client)
    assert httpx.post(own_server.url + "/auth/revoke", data={"token": access}).status_code == 200
    result = client.logout()
    assert result.server.verdict == "ended", result.describe()
    assert refresh_status(own_server, refresh) == 400


def test_finding4_thief_who_refreshes_first_loses_the_session(
    short_ttl_server: Any, make_client: MakeClient, callbacks: Callbacks
) -> None:
    """The thief refreshes just before the victim: the victim's client ends the session."""
    client = make_client(short_ttl_server.url, refresh_race_wait=0.5, on_logout=[callbacks])
    client.login("alice", PASSWORD)
    _access, refresh = secrets(client)
    time.sleep(2.2)  # the access token expired; the thief, who read its exp, refreshes first
    thief = httpx.post(short_ttl_server.url + "/auth/refresh", json={"refresh_token": refresh})
    assert thief.status_code == 200
    stolen_pair = thief.json()

    with pytest.raises(SessionCompromisedError) as info:
        client.me()  # 401 expired -> refresh -> "race" -> no pair of ours -> server logout
    assert info.value.description == RACED
    assert callbacks.results[0].server.verdict == "ended"
    assert client.state == INITIAL_STATE
    assert refresh_status(short_ttl_server, stolen_pair["refresh_token"]) == 400
    assert stolen(short_ttl_server, stolen_pair["access_token"]) == 401
