"""The React + Redux example app (examples/react-redux, issue 14) in Debian's Chromium, built
with Vite and served by a real ``cleanexit serve`` (``CLEANEXIT_WEB_DIR``): the seed's scenario
played on the seed's own app shape — authSlice, authThunks with performLogout, a store with its
persistor, React Router, a logout button, and the redirect to ``/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.server import ServerProcess, free_port, start_server
from tests.web.demo import assert_no_auth_data, refresh_cookie_is_dead, replay_from_outside
from tests.web.driver import Context
from tests.web.example import EXAMPLE, ExamplePage, build_example, static_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NewContext = Callable[..., Context]


@pytest.fixture(scope="module")
def example_build(node: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (EXAMPLE / "node_modules" / ".package-lock.json").is_file():
        pytest.fail("examples/react-redux has no node_modules: run scripts/web-deps.sh")
    return build_example(node, tmp_path_factory.mktemp("example") / "dist", typecheck=True)


def serve(tmp_path: Path, build: Path, **env: str) -> ServerProcess:
    return start_server(tmp_path, env={"CLEANEXIT_WEB_DIR": str(build), **env})


@pytest.fixture
def example_server(tmp_path: Path, example_build: Path) -> Iterator[ServerProcess]:
    with serve(tmp_path, example_build) as server:
        yield server


def open_app(new_context: NewContext, server: ServerProcess, **kwargs: bool) -> ExamplePage:
    return ExamplePage(new_context(**kwargs).new_page(), server.url).open()


def test_seed_scenario_in_the_example_app(
    new_context: NewContext, example_server: ServerProcess, screenshots: Path
) -> None:
    app = open_app(new_context, example_server)
    app.sign_in("alice")
    token = app.steal_token()
    assert replay_from_outside(example_server.url, token).status_code == 200
    app.add_note("groceries")

    stored = app.storage()
    assert stored["localStorage"]["persist:cleanexit.auth"].startswith("cx1.")  # encrypted
    assert "groceries" in stored["localStorage"]["persist:example"]  # the app's own persist
    assert token not in repr(stored)
    app.page.screenshot(screenshots / "06-example-app-signed-in.png")

    app.log_out()
    assert app.url == example_server.url + "/"
    assert app.notice()["outcome"] == "revoked"
    # Nothing of the session: not the auth profile, not the app's persisted notes, not the key.
    assert_no_auth_data(app.storage(), secrets=[token, "groceries"])
    outside = replay_from_outside(example_server.url, token)
    assert outside.status_code == 401
    assert 'error="invalid_token"' in outside.headers["WWW-Authenticate"]
    app.page.screenshot(screenshots / "07-example-app-after-logout.png")


def test_example_logout_with_the_server_stopped(
    new_context: NewContext, tmp_path: Path, example_build: Path
) -> None:
    server = serve(tmp_path, example_build)
    try:
        app = open_app(new_context, server)
        app.sign_in("alice")
        token = app.steal_token()
        app.add_note("groceries")
        server.stop()

        app.log_out()  # connection refused: the client half runs all the same
        assert app.url == server.url + "/"
        assert app.notice()["outcome"] == "unreachable"
        stored = app.storage()
        assert stored["localStorage"].get("cleanexit.pendingLogout") == "current"
        assert_no_auth_data(
            stored, secrets=[token, "groceries"], allow_pending_logout=True, cookies_cleared=False
        )

        server.start()  # same port and data: the next start-up ends the session with the cookie
        app.reload()
        app.page.wait_until("localStorage.getItem('cleanexit.pendingLogout') === null")
        assert replay_from_outside(server.url, token).status_code == 401
        assert app.is_signed_out()
        assert_no_auth_data(app.storage(), secrets=[token, "groceries"])
    finally:
        server.stop()


def test_example_two_tabs(new_context: NewContext, example_server: ServerProcess) -> None:
    context = new_context()
    first = ExamplePage(context.new_page(), example_server.url).open()
    first.sign_in("alice")
    second = ExamplePage(context.new_page(), example_server.url).open("/dashboard")
    second.wait_signed_in("alice")  # restored from the shared refresh cookie
    token = second.steal_token()

    first.log_out()
    second.wait_signed_out()  # BroadcastChannel: the other tab forgets and goes to /
    assert second.notice()["reason"] == "other-tab"
    assert_no_auth_data(second.storage(), secrets=[token])
    assert replay_from_outside(example_server.url, token).status_code == 401


def test_example_reload_after_logout_stays_signed_out(
    new_context: NewContext, example_server: ServerProcess
) -> None:
    app = open_app(new_context, example_server)
    app.sign_in("alice")
    app.log_out()
    app.page.clear_log()

    app.reload()
    assert app.is_signed_out()
    assert app.page.text("status") == "Signed out"
    assert not [r for r in app.page.requests() if r.startswith("POST /auth/")]

    app.open("/dashboard")  # the protected route, by hand: RequireAuth sends it back to /
    app.wait_signed_out()
    assert app.is_signed_out()


def test_example_axios_refreshes_once_for_five_expired_calls(
    new_context: NewContext, tmp_path: Path, example_build: Path
) -> None:
    with serve(tmp_path, example_build, CLEANEXIT_ACCESS_TTL="2") as server:
        app = open_app(new_context, server, clock=True)
        app.sign_in("alice")
        token = app.steal_token()
        app.page.pause_clock()  # no silent refresh: the token simply expires
        time.sleep(2.5)
        assert replay_from_outside(server.url, token).status_code == 401  # expired

        app.page.clear_log()
        app.page.click("load-five")
        app.page.wait_until(
            "document.querySelector('[data-testid=burst]')?.textContent === '5/5 ok'"
        )
        requests = app.page.requests()
        assert requests.count("POST /auth/refresh") == 1, requests
        assert requests.count("GET /me") == 10, requests  # 5 refused `expired`, 5 retried
        bearers = app.page.call("log")["bearers"]
        assert len(set(bearers)) == 2  # the expired token, then the one refreshed token
        assert not refresh_cookie_is_dead(server.url, app.storage())


def test_example_with_the_api_on_another_origin(
    new_context: NewContext, node: str, tmp_path: Path
) -> None:
    """app.site.localhost:P1 (a plain static server) calls api.site.localhost:P2 (cleanexit
    serve, CLEANEXIT_CORS_ORIGINS): two origins of one site (`site.localhost`), CORS with
    credentials. `*.localhost` is loopback to Chromium and a secure context (WebCrypto, Web
    Locks), as an https deployment would be."""
    api_port = free_port()
    build = build_example(node, tmp_path / "dist", api=f"http://api.site.localhost:{api_port}")
    with static_server(build) as app_port:
        app_origin = f"http://app.site.localhost:{app_port}"
        env = {"CLEANEXIT_CORS_ORIGINS": app_origin}
        with start_server(tmp_path, port=api_port, env=env) as server:
            app = ExamplePage(new_context().new_page(), app_origin).open()
            app.sign_in("alice")  # login: credentials included, refresh cookie on the API host
            token = app.steal_token()
            assert replay_from_outside(server.url, token).status_code == 200
            stored = app.storage()
            # The API's CSRF cookie is not the app's to read: the value rides in the profile.
            assert "cleanexit_csrf" not in stored["documentCookie"]
            app.page.wait_until("localStorage.getItem('persist:cleanexit.auth') !== null")

            app.open("/")  # a new page load: restored from the API's refresh cookie + CSRF value
            app.wait_signed_in("alice")
            assert "POST /auth/refresh" in app.page.requests()

            app.log_out()
            assert app.url == app_origin + "/"
            assert app.notice()["outcome"] == "revoked"
            after = app.storage()
            assert_no_auth_data(after, secrets=[token], cookies_cleared=False)
            assert replay_from_outside(server.url, token).status_code == 401
            assert refresh_cookie_is_dead(server.url, after)
