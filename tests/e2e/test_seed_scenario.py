"""The seed scenario: a copied access token answers 401 the moment logout returns — on the
same process, after a restart, and on other worker processes sharing the data directory."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess, start_server

pytestmark = pytest.mark.slow


def me(server: ServerProcess, token: str) -> httpx.Response:
    # A fresh connection each time, as a stolen-token curl would make.
    return httpx.get(server.url + "/me", headers={"Authorization": f"Bearer {token}"})


def logout(server: ServerProcess, token: str, **body: str) -> httpx.Response:
    return httpx.post(
        server.url + "/auth/logout", headers={"Authorization": f"Bearer {token}"}, json=body or None
    )


def test_stolen_token_is_refused_after_logout_and_after_restart(tmp_path: Path) -> None:
    with start_server(tmp_path) as server:
        stolen = server.login()["access_token"]
        assert me(server, stolen).status_code == 200
        response = logout(server, stolen)
        assert response.status_code == 200
        assert response.json()["revoked"]["access_token"] is True
        replay = me(server, stolen)
        assert replay.status_code == 401
        assert 'error="invalid_token"' in replay.headers["www-authenticate"]
        assert "revoked" in replay.json()["error_description"]
        assert stolen not in replay.text

        server.restart()
        assert me(server, stolen).status_code == 401
        fresh = server.login()["access_token"]
        assert me(server, fresh).status_code == 200


def test_logout_on_one_process_refuses_on_another(tmp_path: Path) -> None:
    """Two `cleanexit serve` processes on one data directory: deterministic cross-process."""
    with start_server(tmp_path) as a, ServerProcess(a.data_dir).start() as b:
        stolen = a.login()["access_token"]
        assert me(b, stolen).status_code == 200  # b has the token's view warm
        assert logout(a, stolen).status_code == 200
        assert me(b, stolen).status_code == 401  # the very next request on b


def test_logout_with_two_uvicorn_workers(tmp_path: Path) -> None:
    with start_server(tmp_path, workers=2) as server:
        stolen = server.login()["access_token"]
        warm = [me(server, stolen).status_code for _ in range(10)]
        assert warm == [200] * 10
        assert logout(server, stolen).status_code == 200
        replays = [me(server, stolen).status_code for _ in range(30)]
        assert replays == [401] * 30  # whichever worker accepts the connection
