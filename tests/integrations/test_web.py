"""Issue 14, server side: a built browser app served at / (CLEANEXIT_WEB_DIR), and credentialed
CORS for exact origins (CLEANEXIT_CORS_ORIGINS), on a real ``cleanexit serve``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cleanexit.errors import ConfigurationError
from cleanexit.settings import Settings
from tests.support.server import ServerProcess, start_server

APP = "https://app.example.test"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("web")
    build = tmp / "build"
    (build / "assets").mkdir(parents=True)
    (build / "index.html").write_text("<!doctype html><title>the app</title>")
    (build / "assets" / "index-abcdefgh.js").write_text("console.log('app')")
    env = {
        "CLEANEXIT_WEB_DIR": str(build),
        "CLEANEXIT_CORS_ORIGINS": f"{APP}, http://127.0.0.1:5173",
    }
    with start_server(tmp, env=env) as running:
        yield running


@pytest.mark.parametrize("path", ["/", "/dashboard", "/settings/profile"])
def test_page_paths_answer_the_apps_index(server: ServerProcess, path: str) -> None:
    response = httpx.get(server.url + path)
    assert response.status_code == 200 and "the app" in response.text
    assert response.headers["cache-control"] == "no-cache"


def test_assets_and_api_paths_keep_their_own_answers(server: ServerProcess) -> None:
    asset = httpx.get(server.url + "/assets/index-abcdefgh.js")
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    for path in ("/auth/nothing-here", "/assets/missing.js", "/.well-known/nothing"):
        response = httpx.get(server.url + path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/json"), path
    assert httpx.get(server.url + "/me").status_code == 401  # not the app's page


def test_cors_preflight_for_a_listed_origin_allows_credentials(server: ServerProcess) -> None:
    response = httpx.options(
        server.url + "/auth/refresh",
        headers={
            "Origin": APP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-csrf-token, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP  # exact, never *
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "x-csrf-token" in response.headers["access-control-allow-headers"].lower()


def test_cors_refused_origin_gets_no_grant(server: ServerProcess) -> None:
    response = httpx.options(
        server.url + "/auth/logout",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers
    simple = httpx.get(server.url + "/me", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_cors_exposes_the_bearer_challenge(server: ServerProcess) -> None:
    """The browser client reads `expired` (refresh) vs `revoked` (log out) from it."""
    response = httpx.get(
        server.url + "/me", headers={"Origin": APP, "Authorization": "Bearer not.a.jwt"}
    )
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == APP
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "www-authenticate" in exposed


@pytest.mark.parametrize(
    "origins", ["*", "https://app.example.test/", "app.example.test", "https://a.test/path"]
)
def test_cors_origins_must_be_exact(origins: str) -> None:
    with pytest.raises(ConfigurationError, match="CLEANEXIT_CORS_ORIGINS"):
        Settings(cors_origins=origins)


def test_no_cors_by_default() -> None:
    assert Settings().cors_origin_list() == ()
    assert Settings(cors_origins=" https://a.test , http://b.test:8080 ").cors_origin_list() == (
        "https://a.test",
        "http://b.test:8080",
    )


def test_web_dir_without_index_is_a_start_up_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"no index\.html"):
        start_server(tmp_path, env={"CLEANEXIT_WEB_DIR": str(tmp_path)})
