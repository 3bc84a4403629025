"""A refresh refused because someone else rotated the token first (issue 9, finding 4).

The refresh token that lost the race is the only proof that someone else holds the session:
the client adopts the pair one of its own processes saved, or ends the session on the server
with the old token, or keeps it to present again. It never silently throws it away.

Real loopback sockets and real state files; each case runs on ``Client`` and ``AsyncClient``.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cleanexit._secret import Secret
from cleanexit.client import (
    INITIAL_STATE,
    Client,
    ServerError,
    SessionCompromisedError,
    SessionEndedError,
    StaticKey,
    Tokens,
)
from cleanexit.client._core import RACE_UNCONFIRMED, RACED, REUSED
from tests.client.conftest import Callbacks, MakeClient
from tests.client.loopback import Recorded, ScriptedServer

ROUTES = {
    "/auth/login": "login",
    "/me": "me-first-expired",
    "/auth/refresh": "race",
    "/auth/logout": "logout-ok",
}


def logged_in(make_client: MakeClient, server: ScriptedServer, callbacks: Callbacks) -> Any:
    client = make_client(server.url, refresh_race_wait=0.5, logout_timeout=1)
    client.on_logout(callbacks)
    client.login("alice", "pw")
    return client


def test_finding4_race_adopts_the_pair_another_process_saved(
    make_client: MakeClient, state_dir: Path, key: StaticKey, callbacks: Callbacks
) -> None:
    with ScriptedServer(ROUTES) as server:
        client = logged_in(make_client, server, callbacks)
        other = Client(state_dir=state_dir, key=key)  # another process on the same state
        assert other.state.authenticated

        def other_process_wins(request: Recorded) -> None:
            # Its refresh of the same token was answered first; it saves its pair a moment
            # after our refresh has already been refused.
            pair = Tokens(Secret("at-2"), Secret("cxr_2"))
            threading.Timer(0.2, other.store.token_refreshed, (), {
                "session_id": "sid-1", "tokens": pair
            }).start()  # fmt: skip

        server.on_request["/auth/refresh"] = other_process_wins
        assert client.me() == {"sub": "alice", "session_id": "sid-1"}
        assert server.hits("/me")[-1][2]["Authorization"] == "Bearer at-2"
        assert server.hits("/auth/logout") == []
        other.close()
    assert client.state.authenticated
    assert client.state.tokens.refresh_token.reveal() == "cxr_2"
    assert callbacks.results == []


@pytest.mark.parametrize(
    ("logout_route", "verdict", "reason"),
    [
        ("logout-ok", "ended", RACED),
        ("already-ended", "already_ended", RACED),
        ("unrecognised", "not_recognised", RACE_UNCONFIRMED),
    ],
)
def test_finding4_race_with_an_unknown_party_ends_the_session_on_the_server(
    make_client: MakeClient,
    state_path: Path,
    callbacks: Callbacks,
    logout_route: str,
    verdict: str,
    reason: str,
) -> None:
    with ScriptedServer({**ROUTES, "/auth/logout": logout_route}) as server:
        client = logged_in(make_client, server, callbacks)
        started = time.monotonic()
        with pytest.raises(SessionCompromisedError) as info:
            client.me()
        waited = time.monotonic() - started
        ((_, _, headers, body),) = server.hits("/auth/logout")
    assert waited >= 0.5  # it first waited for a pair from one of its own processes
    # The old credentials, both of them, went to the server before anything was forgotten.
    assert headers["Authorization"] == "Bearer at-1"
    assert json.loads(body) == {"scope": "current", "refresh_token": "cxr_1"}
    assert info.value.description == reason
    assert client.state == INITIAL_STATE and not state_path.exists()
    (result,) = callbacks.results
    assert result.reason == reason and result.server.verdict == verdict


@pytest.mark.parametrize("logout_route", ["500", "hang"])
def test_finding4_race_unconfirmed_keeps_the_old_refresh_token_for_reuse_detection(
    make_client: MakeClient, state_path: Path, callbacks: Callbacks, logout_route: str
) -> None:
    with ScriptedServer({**ROUTES, "/auth/logout": logout_route}) as server:
        client = logged_in(make_client, server, callbacks)
        with pytest.raises(ServerError, match="session is kept"):
            client.me()
        # Not dropped: still held, still on disk, to be presented again.
        assert client.state.tokens.refresh_token.reveal() == "cxr_1"
        assert state_path.exists() and callbacks.results == []

        # Presented again after the grace window: the server detects the reuse and ends it.
        server.routes["/auth/refresh"] = "reused"
        with pytest.raises(SessionCompromisedError) as info:
            client.me()
        assert json.loads(server.hits("/auth/refresh")[-1][3]) == {"refresh_token": "cxr_1"}
    assert info.value.description == REUSED
    assert client.state == INITIAL_STATE and not state_path.exists()
    assert [r.reason for r in callbacks.results] == [REUSED]


def test_finding4_reuse_is_reported_as_possible_theft(
    make_client: MakeClient, state_path: Path, callbacks: Callbacks
) -> None:
    with ScriptedServer({**ROUTES, "/auth/refresh": "reused"}) as server:
        client = logged_in(make_client, server, callbacks)
        with pytest.raises(SessionCompromisedError, match="possible theft"):
            client.me()
        assert server.hits("/auth/logout") == []  # the server already ended the session
    assert client.state == INITIAL_STATE and not state_path.exists()
    assert [r.reason for r in callbacks.results] == [REUSED]


def test_finding4_a_refusal_without_reason_is_invalid_not_theft(
    make_client: MakeClient, state_path: Path, callbacks: Callbacks
) -> None:
    with ScriptedServer({**ROUTES, "/auth/refresh": "invalid-grant"}) as server:
        client = logged_in(make_client, server, callbacks)
        with pytest.raises(SessionEndedError) as info:
            client.me()
        assert server.hits("/auth/logout") == []
    assert not isinstance(info.value, SessionCompromisedError)
    assert [r.reason for r in callbacks.results] == ["refresh refused"]
    assert client.state == INITIAL_STATE and not state_path.exists()
