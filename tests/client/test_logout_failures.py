"""Logout step 1 fails in every way; steps 2-4 (reset, purge, callbacks) run anyway.

Real loopback sockets throughout: a closed port, a server answering 500, one that hangs,
one that resets the connection mid-request, a name that does not resolve, cancellation.
Each case runs against the sync client and the async twin.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cleanexit.client import INITIAL_STATE, AsyncClient, Client, StaticKey
from cleanexit.clock import ManualClock
from tests.client.conftest import Callbacks, MakeClient
from tests.client.loopback import ScriptedServer

LOGIN = {"/auth/login": "login"}


def login(make_client: MakeClient, server: ScriptedServer, callbacks: Callbacks, **kw: Any) -> Any:
    client = make_client(server.url, logout_timeout=kw.pop("logout_timeout", 0.5), **kw)
    client.on_logout(callbacks)
    client.login("alice", "pw")
    assert client.state.authenticated
    return client


def assert_clean_exit(client: Any, state_path: Path, callbacks: Callbacks) -> None:
    assert client.state == INITIAL_STATE
    assert not state_path.exists()
    assert not state_path.with_name("auth-state.logout-pending").exists()
    assert list(state_path.parent.iterdir()) == []
    assert len(callbacks.results) == 1


def test_server_confirms(make_client: MakeClient, state_path: Path, callbacks: Callbacks) -> None:
    with ScriptedServer({**LOGIN, "/auth/logout": "logout-ok"}) as server:
        client = login(make_client, server, callbacks)
        result = client.logout()
        assert result.server_confirmed and result.clean and not result.queued_for_retry
        assert_clean_exit(client, state_path, callbacks)
        ((_, _, headers, body),) = server.hits("/auth/logout")
    assert headers["Authorization"] == "Bearer at-1"  # both tokens were sent
    assert json.loads(body) == {"scope": "current", "refresh_token": "cxr_1"}
    assert callbacks.results == [result]
    assert result.server.verdict == "ended"
    assert result.describe() == "server ended session sid-1; local state purged"


@pytest.mark.parametrize(
    ("route", "verdict", "said"),
    [
        ("logout-ok", "ended", "server ended session sid-1"),
        (
            "already-ended",
            "already_ended",
            "server had already ended the session (nothing left to revoke)",
        ),
        (
            "unrecognised",
            "not_recognised",
            "server did not recognise the credentials (HTTP 401 invalid_token: no valid access "
            "or refresh token); nothing was confirmed revoked",
        ),
        (
            "invalid-grant",
            "not_recognised",
            "server did not recognise the credentials (HTTP 400 invalid_grant: refresh token "
            "refused); nothing was confirmed revoked",
        ),
        ("500", "error", "server did NOT confirm revocation (HTTP 500 server_error)"),
    ],
)
def test_finding1_logout_reports_what_the_server_did(
    make_client: MakeClient,
    state_path: Path,
    callbacks: Callbacks,
    route: str,
    verdict: str,
    said: str,
) -> None:
    """Only a 200 may be called "the server ended the session" (issue 9, finding 1)."""
    with ScriptedServer({**LOGIN, "/auth/logout": route}) as server:
        client = login(make_client, server, callbacks)
        result = client.logout()
        assert len(server.hits("/auth/logout")) == 1
    assert result.server.verdict == verdict
    assert result.server_confirmed is (verdict == "ended")
    assert result.server.session_over is (verdict in ("ended", "already_ended"))
    assert result.describe() == f"{said}; local state purged"
    if verdict != "ended":
        assert "server ended" not in result.describe()
    assert_clean_exit(client, state_path, callbacks)


def test_finding1_expired_access_token_is_sent_with_the_refresh_token_in_one_request(
    make_client: MakeClient, state_path: Path, callbacks: Callbacks
) -> None:
    """After a break the access token has expired: still one request, both credentials."""
    clock = ManualClock()
    with ScriptedServer({**LOGIN, "/auth/logout": "logout-ok"}) as server:
        client = login(make_client, server, callbacks, clock=clock)
        clock.advance(3600)  # the access token (600 s) expired an hour ago
        assert client.state.tokens.access_expires_at < clock()
        result = client.logout()
        ((_, _, headers, body),) = server.hits("/auth/logout")
    assert headers["Authorization"] == "Bearer at-1"
    assert json.loads(body) == {"scope": "current", "refresh_token": "cxr_1"}
    assert result.server_confirmed
    assert_clean_exit(client, state_path, callbacks)


@pytest.mark.parametrize(
    ("route", "expected_error", "status"),
    [
        ("500", "server_error", 500),
        ("hang", "timed out", None),
        ("reset", "network error (RemoteProtocolError)", None),
        ("truncated", "network error (RemoteProtocolError)", None),
    ],
)
def test_server_fails(
    make_client: MakeClient,
    state_path: Path,
    callbacks: Callbacks,
    route: str,
    expected_error: str,
    status: int | None,
) -> None:
    with ScriptedServer({**LOGIN, "/auth/logout": route}) as server:
        client = login(make_client, server, callbacks)
        started = time.monotonic()
        result = client.logout()
        elapsed = time.monotonic() - started
    assert not result.server_confirmed
    assert result.server.attempted and result.server.status == status
    assert result.server.error == expected_error or result.server.error.startswith("network error")
    assert result.server.verdict in ("error", "timeout", "network_error")
    assert elapsed < 3  # the logout timeout (0.5 s) bounds a hanging server
    assert_clean_exit(client, state_path, callbacks)
    assert "did NOT confirm" in result.describe()


def test_server_down(make_client: MakeClient, state_path: Path, callbacks: Callbacks) -> None:
    with ScriptedServer(LOGIN) as server:
        client = login(make_client, server, callbacks)
    # the server is gone: connections to its port are refused
    result = client.logout()
    assert result.server.error == "could not connect"
    assert_clean_exit(client, state_path, callbacks)


def test_dns_failure(
    make_client: MakeClient, state_path: Path, key: StaticKey, callbacks: Callbacks
) -> None:
    client = make_client("http://cleanexit-test.invalid", logout_timeout=2)
    _seed(client, "http://cleanexit-test.invalid")
    client.on_logout(callbacks)
    result = client.logout()
    assert result.server.error == "could not connect"
    assert_clean_exit(client, state_path, callbacks)


def _seed(client: Any, server_url: str) -> None:
    """Log a client in without a server (a state file written as a login would)."""
    from cleanexit._secret import Secret
    from cleanexit.client import Tokens

    tokens = Tokens(Secret("at-x"), Secret("cxr_x"))
    client.store.login_succeeded(server_url=server_url, user="alice", session_id="s", tokens=tokens)


def test_keyboard_interrupt_sync(
    state_dir: Path, state_path: Path, key: StaticKey, callbacks: Callbacks
) -> None:
    with ScriptedServer({**LOGIN, "/auth/logout": "hang"}) as server:
        client = Client(server.url, state_dir=state_dir, key=key, logout_timeout=5)
        client.on_logout(callbacks)
        client.login("alice", "pw")
        main = threading.main_thread().ident
        assert main is not None
        timer = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            client.logout()
        timer.join()
    assert_clean_exit(client, state_path, callbacks)
    assert callbacks.results[0].server.error == "interrupted"
    client.close()


def test_cancellation_async(
    state_dir: Path, state_path: Path, key: StaticKey, callbacks: Callbacks
) -> None:
    async def scenario(url: str) -> AsyncClient:
        client = AsyncClient(url, state_dir=state_dir, key=key, logout_timeout=5)
        client.on_logout(callbacks)
        await client.login("alice", "pw")
        task = asyncio.create_task(client.logout())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()
        return client

    with ScriptedServer({**LOGIN, "/auth/logout": "hang"}) as server:
        client = asyncio.run(scenario(server.url))
    assert_clean_exit(client, state_path, callbacks)
    assert callbacks.results[0].server.error == "interrupted"


def test_second_logout_is_a_noop(
    make_client: MakeClient, state_path: Path, callbacks: Callbacks
) -> None:
    with ScriptedServer({**LOGIN, "/auth/logout": "logout-ok"}) as server:
        client = login(make_client, server, callbacks)
        client.logout()
        again = client.logout()
        assert len(server.hits("/auth/logout")) == 1
    assert again.noop and again.clean and not again.server.attempted
    assert_clean_exit(client, state_path, callbacks)


def test_scope_others_keeps_the_local_session(
    make_client: MakeClient, state_path: Path, callbacks: Callbacks
) -> None:
    with ScriptedServer({**LOGIN, "/auth/logout": "logout-ok"}) as server:
        client = login(make_client, server, callbacks)
        result = client.logout("others")
        ((_, _, _, body),) = server.hits("/auth/logout")
    assert json.loads(body)["scope"] == "others"
    assert result.server_confirmed and not result.local_state_reset
    assert client.state.authenticated and state_path.exists()
    assert callbacks.results == []


def test_callback_failure_does_not_stop_the_others(
    make_client: MakeClient, state_path: Path, callbacks: Callbacks
) -> None:
    def broken(result: Any) -> None:
        raise RuntimeError("navigation failed")

    with ScriptedServer(LOGIN) as server:
        client = make_client(server.url, logout_timeout=0.5)
        client.on_logout(broken)
        client.on_logout(callbacks)
        client.login("alice", "pw")
    client.logout()
    assert_clean_exit(client, state_path, callbacks)
