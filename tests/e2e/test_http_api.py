"""The HTTP API end to end, against a real `cleanexit serve` process."""

from __future__ import annotations

import base64
import concurrent.futures
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import DEMO_PASSWORD, ServerProcess, start_server

pytestmark = pytest.mark.slow
CLIENT_ID, CLIENT_SECRET = "resource-server", "introspection-secret-for-tests"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "CLEANEXIT_REFRESH_GRACE": "1",
        "CLEANEXIT_INTROSPECTION_CLIENTS": f"{CLIENT_ID}:{CLIENT_SECRET}",
    }
    with start_server(tmp_path_factory.mktemp("api"), env=env, workers=2) as server:
        yield server


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get(server: ServerProcess, path: str, token: str) -> httpx.Response:
    return httpx.get(server.url + path, headers=bearer(token))


def post(
    server: ServerProcess, path: str, *, token: str | None = None, **kw: object
) -> httpx.Response:
    return httpx.post(server.url + path, headers=bearer(token) if token else None, **kw)  # type: ignore[arg-type]


# -- login ---------------------------------------------------------------------------------
def test_login_shape(server: ServerProcess) -> None:
    body = server.login()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    assert body["refresh_token"].startswith("cxr_") and len(body["refresh_token"]) == 47
    assert set(body) >= {"access_token", "refresh_token", "expires_in", "session_id"}


def test_wrong_credentials_look_the_same(server: ServerProcess) -> None:
    def attempt(user: str) -> tuple[int, dict[str, str], float]:
        start = time.perf_counter()
        r = post(server, "/auth/login", json={"username": user, "password": "wrong password"})
        return r.status_code, r.json(), time.perf_counter() - start

    known, unknown = attempt("alice"), attempt("mallory")
    assert (
        known[:2]
        == unknown[:2]
        == (
            401,
            {"error": "invalid_credentials", "error_description": "wrong username or password"},
        )
    )
    # Both pay one argon2 verification; the bound is loose, it only catches a skipped hash.
    assert unknown[2] > known[2] / 4


def test_responses_are_never_cached(server: ServerProcess) -> None:
    r = post(server, "/auth/login", json={"username": "alice", "password": DEMO_PASSWORD})
    assert r.headers["cache-control"] == "no-store"


# -- refresh -------------------------------------------------------------------------------
def test_refresh_rotates(server: ServerProcess) -> None:
    first = server.login()
    r = post(server, "/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["session_id"] == first["session_id"]
    assert get(server, "/me", second["access_token"]).status_code == 200


def test_reuse_after_grace_ends_the_session(server: ServerProcess) -> None:
    first = server.login()
    second = post(server, "/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    time.sleep(1.2)  # past CLEANEXIT_REFRESH_GRACE=1
    stolen = post(server, "/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert "reuse" in stolen.json()["error_description"]
    # The thief's reuse ended the whole family: the legitimate pair is dead too.
    assert (
        post(server, "/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code
        == 400
    )
    assert get(server, "/me", second["access_token"]).status_code == 401
    assert get(server, "/me", first["access_token"]).status_code == 401


def test_concurrent_refreshes_have_one_winner(server: ServerProcess) -> None:
    token = server.login()["refresh_token"]

    def refresh(_: int) -> int:
        return post(server, "/auth/refresh", json={"refresh_token": token}).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(refresh, range(8)))
    assert sorted(statuses) == [200] + [400] * 7


@pytest.mark.parametrize("value", ["cxr_unknown", "garbage", "", "x" * 300])
def test_bad_refresh_tokens(server: ServerProcess, value: str) -> None:
    r = post(server, "/auth/refresh", json={"refresh_token": value})
    assert r.status_code == 400 and r.json()["error"] in ("invalid_grant", "invalid_request")


# -- logout scopes -------------------------------------------------------------------------
def test_logout_current_keeps_other_sessions(server: ServerProcess) -> None:
    a, b = server.login("bob"), server.login("bob")
    r = post(server, "/auth/logout", token=a["access_token"], json={"scope": "current"})
    assert r.json()["revoked"]["sessions"] == [a["session_id"]]
    assert r.headers["clear-site-data"] == '"cache", "cookies", "storage"'
    assert get(server, "/me", a["access_token"]).status_code == 401
    assert (
        post(server, "/auth/refresh", json={"refresh_token": a["refresh_token"]}).status_code == 400
    )
    assert get(server, "/me", b["access_token"]).status_code == 200
    post(server, "/auth/logout", token=b["access_token"])


def test_logout_others_keeps_the_caller(server: ServerProcess) -> None:
    me_, other1, other2 = server.login("bob"), server.login("bob"), server.login("bob")
    r = post(server, "/auth/logout", token=me_["access_token"], json={"scope": "others"})
    assert r.status_code == 200
    assert sorted(r.json()["revoked"]["sessions"]) == sorted(
        [other1["session_id"], other2["session_id"]]
    )
    assert "clear-site-data" not in r.headers
    assert get(server, "/me", me_["access_token"]).status_code == 200
    assert get(server, "/me", other1["access_token"]).status_code == 401
    assert get(server, "/me", other2["access_token"]).status_code == 401
    post(server, "/auth/logout", token=me_["access_token"])


def test_logout_all_sets_a_cutoff(server: ServerProcess) -> None:
    one, two = server.login("bob"), server.login("bob")
    r = post(server, "/auth/logout", token=one["access_token"], json={"scope": "all"})
    body = r.json()["revoked"]
    assert sorted(body["sessions"]) == sorted([one["session_id"], two["session_id"]])
    assert body["user_cutoff"] is not None
    assert get(server, "/me", two["access_token"]).status_code == 401
    fresh = server.login("bob")  # logging in again after "everywhere" works
    assert get(server, "/me", fresh["access_token"]).status_code == 200
    post(server, "/auth/logout", token=fresh["access_token"])


def test_logout_with_only_the_refresh_token(server: ServerProcess) -> None:
    pair = server.login()
    r = post(server, "/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200 and r.json()["revoked"]["sessions"] == [pair["session_id"]]
    assert get(server, "/me", pair["access_token"]).status_code == 401


def test_logout_without_credentials_is_401(server: ServerProcess) -> None:
    r = post(server, "/auth/logout")
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="cleanexit"'
    r = post(server, "/auth/logout", json={"refresh_token": "cxr_nope"})
    assert r.status_code == 401


def test_second_logout_is_an_honest_401(server: ServerProcess) -> None:
    pair = server.login()
    assert post(server, "/auth/logout", token=pair["access_token"]).status_code == 200
    again = post(server, "/auth/logout", token=pair["access_token"])
    assert again.status_code == 401  # nothing left to revoke: no silent success


# -- sessions ------------------------------------------------------------------------------
def test_session_list_and_revoke(server: ServerProcess) -> None:
    laptop = server.login("bob")
    phone = httpx.post(
        server.url + "/auth/login",
        json={"username": "bob", "password": DEMO_PASSWORD},
        headers={"User-Agent": "phone/1.0"},
    ).json()
    listed = get(server, "/auth/sessions", laptop["access_token"]).json()["sessions"]
    by_id = {s["session_id"]: s for s in listed}
    assert by_id[laptop["session_id"]]["current"] is True
    assert by_id[phone["session_id"]]["current"] is False
    assert by_id[phone["session_id"]]["user_agent"] == "phone/1.0"
    assert by_id[phone["session_id"]]["ip"] == "127.0.0.1"
    r = httpx.delete(
        server.url + f"/auth/sessions/{phone['session_id']}", headers=bearer(laptop["access_token"])
    )
    assert r.status_code == 200 and r.json()["revoked"]["sessions"] == [phone["session_id"]]
    assert get(server, "/me", phone["access_token"]).status_code == 401
    assert (
        post(server, "/auth/refresh", json={"refresh_token": phone["refresh_token"]}).status_code
        == 400
    )
    post(server, "/auth/logout", token=laptop["access_token"], json={"scope": "all"})


def test_cannot_end_someone_elses_session(server: ServerProcess) -> None:
    alice, bob = server.login("alice"), server.login("bob")
    r = httpx.delete(
        server.url + f"/auth/sessions/{alice['session_id']}", headers=bearer(bob["access_token"])
    )
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert get(server, "/me", alice["access_token"]).status_code == 200
    r = httpx.delete(server.url + "/auth/sessions/nope", headers=bearer(bob["access_token"]))
    assert r.status_code == 404


# -- admin: per-user cutoff from the CLI while the server runs -------------------------------
def test_cli_revoke_user_logs_out_everywhere(server: ServerProcess) -> None:
    pair = server.login("bob")
    done = subprocess.run(
        [sys.executable, "-m", "cleanexit", "revoke", "--user", "bob", "--data-dir", str(server.data_dir)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "logged 'bob' out everywhere" in done.stdout
    ended = done.stdout.split("sessions ended: ", 1)[1].split("\n", 1)[0]
    assert pair["session_id"] in ended  # with any other session bob left in earlier tests
    assert get(server, "/me", pair["access_token"]).status_code == 401
    assert (
        post(server, "/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
        == 400
    )


# -- RFC 7009 / RFC 7662 -------------------------------------------------------------------
def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def introspect(
    server: ServerProcess, token: str, creds: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET)
) -> httpx.Response:
    return httpx.post(server.url + "/auth/introspect", data={"token": token}, headers=basic(*creds))


def test_rfc7009_revoke_refresh_token_ends_the_session(server: ServerProcess) -> None:
    pair = server.login()
    r = httpx.post(
        server.url + "/auth/revoke",
        data={"token": pair["refresh_token"], "token_type_hint": "refresh_token"},
    )
    assert r.status_code == 200
    assert get(server, "/me", pair["access_token"]).status_code == 401


def test_rfc7009_revoke_access_token(server: ServerProcess) -> None:
    pair = server.login()
    assert (
        httpx.post(server.url + "/auth/revoke", data={"token": pair["access_token"]}).status_code
        == 200
    )
    assert get(server, "/me", pair["access_token"]).status_code == 401
    assert (
        post(server, "/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
        == 200
    )


def test_rfc7009_unknown_token_is_200_and_missing_token_is_400(server: ServerProcess) -> None:
    assert httpx.post(server.url + "/auth/revoke", data={"token": "whatever"}).status_code == 200
    r = httpx.post(server.url + "/auth/revoke", data={})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_rfc7662_introspection(server: ServerProcess) -> None:
    pair = server.login()
    active = introspect(server, pair["access_token"]).json()
    assert (
        active["active"] is True
        and active["sub"] == "alice"
        and active["sid"] == pair["session_id"]
    )
    assert introspect(server, pair["refresh_token"]).json()["token_type"] == "refresh_token"
    post(server, "/auth/logout", token=pair["access_token"])
    assert introspect(server, pair["access_token"]).json() == {"active": False}
    assert introspect(server, pair["refresh_token"]).json() == {"active": False}
    assert introspect(server, "junk").json() == {"active": False}


def test_rfc7662_needs_client_credentials(server: ServerProcess) -> None:
    r = httpx.post(server.url + "/auth/introspect", data={"token": "x"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert introspect(server, "x", (CLIENT_ID, "wrong")).status_code == 401
    assert introspect(server, "x", ("nobody", CLIENT_SECRET)).status_code == 401


# -- cookie mode (browser clients) ---------------------------------------------------------
def test_cookie_mode_with_csrf(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url) as browser:
        r = browser.post(
            "/auth/login",
            json={"username": "alice", "password": DEMO_PASSWORD, "refresh_in_cookie": True},
        )
        body = r.json()
        assert "refresh_token" not in body and body["csrf_token"]
        cookie = r.headers.get_list("set-cookie")
        refresh_cookie = next(c for c in cookie if c.startswith("cleanexit_refresh="))
        assert "HttpOnly" in refresh_cookie and "Path=/auth" in refresh_cookie
        assert "SameSite=strict" in refresh_cookie or "samesite=strict" in refresh_cookie.lower()
        # Without the CSRF header, the cookie is not honoured.
        assert browser.post("/auth/refresh").status_code == 403
        r = browser.post("/auth/refresh", headers={"X-CSRF-Token": body["csrf_token"]})
        assert r.status_code == 200 and "refresh_token" not in r.json()
        access = r.json()["access_token"]
        assert browser.post("/auth/logout").status_code == 403  # cookie alone needs CSRF too
        r = browser.post("/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
        assert r.status_code == 200
        cleared = " ".join(r.headers.get_list("set-cookie"))
        assert 'cleanexit_refresh=""' in cleared and "Max-Age=0" in cleared
        assert get(server, "/me", access).status_code == 401


# -- the rest ------------------------------------------------------------------------------
def test_health_readiness_jwks_and_demo(server: ServerProcess) -> None:
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(server.url + "/readyz").json()
    assert ready["status"] == "ready" and ready["store"]["backend"] == "sqlite"
    assert httpx.get(server.url + "/.well-known/jwks.json").json() == {"keys": []}
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_oversized_body_is_413(server: ServerProcess) -> None:
    r = httpx.post(
        server.url + "/auth/login",
        content=b"x" * 200_000,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"] == "request_too_large"


def test_server_log_never_contains_tokens(server: ServerProcess) -> None:
    pair = server.login()
    get(server, "/me", pair["access_token"] + "x")
    post(server, "/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    log = server.log()
    assert pair["access_token"] not in log and pair["refresh_token"] not in log
    assert DEMO_PASSWORD not in log.replace(f"password: '{DEMO_PASSWORD}'", "")


def test_weak_secret_is_a_clear_startup_error(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "d", env={"CLEANEXIT_SECRET": "hunter2"})
    with pytest.raises(RuntimeError, match="too weak"):
        server.start(timeout=20)


def test_cookie_mode_logout_with_a_dead_cookie_clears_it(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url) as browser:
        r = browser.post(
            "/auth/login",
            json={"username": "alice", "password": DEMO_PASSWORD, "refresh_in_cookie": True},
        )
        csrf = r.json()["csrf_token"]
        assert browser.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
        # The browser lost the response (offline): it still holds the cookie, now dead.
        browser.cookies.set(
            "cleanexit_refresh", r.cookies["cleanexit_refresh"], domain="127.0.0.1", path="/auth"
        )
        browser.cookies.set("cleanexit_csrf", csrf, domain="127.0.0.1", path="/")
        again = browser.post("/auth/logout", headers={"X-CSRF-Token": csrf})
        assert again.status_code == 401
        assert 'cleanexit_refresh=""' in " ".join(again.headers.get_list("set-cookie"))


def test_hashed_assets_are_cached_forever(server: ServerProcess) -> None:
    page = httpx.get(server.url + "/").text
    asset = page.split('src="', 1)[1].split('"', 1)[0]
    r = httpx.get(server.url + asset)
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
