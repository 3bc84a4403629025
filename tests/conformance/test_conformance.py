"""The adapter conformance suite: the design invariants over HTTP, written once, run against
every framework as a real server process with two workers (``frameworks.FRAMEWORKS``)."""

from __future__ import annotations

import base64
import concurrent.futures
import time

import httpx
import pytest

from .conftest import ACCESS_TTL, CLIENT_ID, CLIENT_SECRET, App

pytestmark = pytest.mark.slow


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get(app: App, path: str, token: str) -> httpx.Response:
    return httpx.get(app.url + path, headers=bearer(token))  # a new connection each time


def post(app: App, path: str, *, token: str | None = None, **kw: object) -> httpx.Response:
    return httpx.post(app.url + path, headers=bearer(token) if token else None, **kw)  # type: ignore[arg-type]


def refresh(app: App, token: str) -> httpx.Response:
    return post(app, "/auth/refresh", json={"refresh_token": token})


# -- the seed scenario -----------------------------------------------------------------------
def test_seed_scenario_on_every_worker_and_after_a_restart(app: App) -> None:
    pair = app.login()
    stolen = pair["access_token"]
    for path in app.framework.protected:
        assert [get(app, path, stolen).status_code for _ in range(4)] == [200] * 4, path
    response = post(app, "/auth/logout", token=stolen)
    assert response.status_code == 200, response.text
    assert response.json()["revoked"]["access_token"] is True
    for path in app.framework.protected:  # at once, before the short-lived token expires
        replay = get(app, path, stolen)
        assert replay.status_code == 401, path
        challenge = replay.headers["www-authenticate"]
        assert 'error="invalid_token"' in challenge and "revoked" in challenge
        assert stolen not in replay.text
    for path in app.framework.protected:
        replays = [get(app, path, stolen).status_code for _ in range(10)]  # both workers
        assert replays == [401] * 10, path
    app.server.restart()
    assert get(app, app.framework.protected[0], stolen).status_code == 401
    fresh = app.login()["access_token"]
    assert get(app, app.framework.protected[-1], fresh).status_code == 200


def test_login_answers(app: App) -> None:
    body = app.login()
    assert body["token_type"] == "Bearer" and body["refresh_token"].startswith("cxr_")
    assert set(body) >= {"access_token", "expires_in", "refresh_expires_in", "session_id"}
    wrong = post(app, "/auth/login", json={"username": "alice", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json() == {
        "error": "invalid_credentials",
        "error_description": "wrong username or password",
    }
    assert wrong.headers["cache-control"] == "no-store"
    bad = post(app, "/auth/login", json={"username": 3})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"


def test_rfc6750_challenges(app: App) -> None:
    for path in app.framework.protected:
        nothing = httpx.get(app.url + path)
        assert nothing.status_code == 401, path
        assert nothing.headers["www-authenticate"] == 'Bearer realm="cleanexit"'
        forged = get(app, path, "a.b.c")
        assert forged.status_code == 401
        assert 'error="invalid_token"' in forged.headers["www-authenticate"]
        assert forged.json()["error"] == "invalid_token"


def test_scopes(app: App) -> None:
    alice, bob = app.login("alice"), app.login("bob")
    assert get(app, "/orders", alice["access_token"]).status_code == 200
    refused = get(app, "/orders", bob["access_token"])
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]


def test_session_list_and_delete(app: App) -> None:
    laptop = app.login("bob")
    phone = httpx.post(
        app.url + "/auth/login",
        json={"username": "bob", "password": "correct horse battery staple"},
        headers={"User-Agent": "phone/1.0"},
    ).json()
    listed = get(app, "/auth/sessions", laptop["access_token"]).json()["sessions"]
    by_id = {s["session_id"]: s for s in listed}
    assert by_id[laptop["session_id"]]["current"] is True
    assert by_id[phone["session_id"]]["user_agent"] == "phone/1.0"
    assert by_id[phone["session_id"]]["ip"] == "127.0.0.1"
    ended = httpx.delete(
        app.url + f"/auth/sessions/{phone['session_id']}", headers=bearer(laptop["access_token"])
    )
    assert ended.status_code == 200 and ended.json()["revoked"]["sessions"] == [phone["session_id"]]
    assert get(app, app.framework.protected[0], phone["access_token"]).status_code == 401
    assert refresh(app, phone["refresh_token"]).status_code == 400
    alice = app.login("alice")
    other = httpx.delete(
        app.url + f"/auth/sessions/{alice['session_id']}", headers=bearer(laptop["access_token"])
    )
    assert other.status_code == 404 and other.json()["error"] == "not_found"


def test_refresh_rotation_race_and_reuse(app: App) -> None:
    first = app.login()
    second = refresh(app, first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    race = refresh(app, first["refresh_token"])  # within CLEANEXIT_REFRESH_GRACE=1
    assert race.status_code == 400 and race.json()["error_reason"] == "race"
    time.sleep(1.2)
    reuse = refresh(app, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error_reason"] == "reused"
    assert refresh(app, second.json()["refresh_token"]).json()["error_reason"] == "invalid"
    assert get(app, app.framework.protected[0], second.json()["access_token"]).status_code == 401


def test_concurrent_refreshes_have_one_winner(app: App) -> None:
    token = app.login()["refresh_token"]
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: refresh(app, token).status_code, range(6)))
    assert sorted(statuses) == [200] + [400] * 5


def test_logout_all_sets_a_cutoff(app: App) -> None:
    one, two = app.login("bob"), app.login("bob")
    r = post(app, "/auth/logout", token=one["access_token"], json={"scope": "all"})
    assert r.status_code == 200 and r.json()["revoked"]["user_cutoff"] is not None
    assert two["session_id"] in r.json()["revoked"]["sessions"]
    assert get(app, app.framework.protected[0], two["access_token"]).status_code == 401
    again = post(app, "/auth/logout", token=one["access_token"])
    assert again.status_code == 401  # nothing left: an honest 401, never a silent success


def test_rfc7009_and_rfc7662(app: App) -> None:
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    auth = {"Authorization": f"Basic {basic}"}

    def introspect(token: str) -> dict[str, object]:
        return httpx.post(app.url + "/auth/introspect", data={"token": token}, headers=auth).json()

    pair = app.login()
    active = introspect(pair["access_token"])
    assert active["active"] is True and active["sid"] == pair["session_id"]
    me = get(app, app.framework.protected[0], pair["access_token"]).json()
    assert active["sub"] == me["sub"]
    assert introspect(pair["refresh_token"])["token_type"] == "refresh_token"
    assert httpx.post(app.url + "/auth/revoke", data={"token": pair["access_token"]}).json() == {}
    assert get(app, app.framework.protected[0], pair["access_token"]).status_code == 401
    assert introspect(pair["access_token"]) == {"active": False}
    assert httpx.post(app.url + "/auth/revoke", data={"token": pair["refresh_token"]}).is_success
    assert introspect(pair["refresh_token"]) == {"active": False}
    assert httpx.post(app.url + "/auth/revoke", data={"token": "whatever"}).status_code == 200
    missing = httpx.post(app.url + "/auth/revoke", data={})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    no_client = httpx.post(app.url + "/auth/introspect", data={"token": "x"})
    assert no_client.status_code == 401 and no_client.json()["error"] == "invalid_client"


def test_cookie_mode_with_csrf(app: App) -> None:
    with httpx.Client(base_url=app.url) as browser:
        login = browser.post(
            "/auth/login",
            json={"username": "alice", "password": "correct horse battery staple",
                  "refresh_in_cookie": True},
        )  # fmt: skip
        body = login.json()
        assert "refresh_token" not in body and body["csrf_token"]
        cookie = next(
            c for c in login.headers.get_list("set-cookie") if c.startswith("cleanexit_refresh=")
        )
        assert (
            "HttpOnly" in cookie and "Path=/auth" in cookie and "samesite=strict" in cookie.lower()
        )
        assert browser.post("/auth/refresh").status_code == 403  # no CSRF header
        rotated = browser.post("/auth/refresh", headers={"X-CSRF-Token": body["csrf_token"]})
        assert rotated.status_code == 200 and "refresh_token" not in rotated.json()
        assert browser.post("/auth/logout").status_code == 403  # the cookie alone needs CSRF
        out = browser.post("/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
        assert out.status_code == 200
        assert out.headers["clear-site-data"] == '"cache", "cookies", "storage"'
        cleared = " ".join(out.headers.get_list("set-cookie"))
        assert "cleanexit_refresh=" in cleared and "Max-Age=0" in cleared
        assert "cleanexit_refresh" not in browser.cookies
        assert (
            get(app, app.framework.protected[0], rotated.json()["access_token"]).status_code == 401
        )


def test_logout_after_the_access_token_expired(app: App) -> None:
    """Issue 9: any credential that names the session ends it, after a break too."""
    body_pair = app.login()
    with httpx.Client(base_url=app.url) as browser:
        cookie_pair = browser.post(
            "/auth/login",
            json={"username": "alice", "password": "correct horse battery staple",
                  "refresh_in_cookie": True},
        ).json()  # fmt: skip
        refresh_cookie = browser.cookies["cleanexit_refresh"]
        time.sleep(ACCESS_TTL + 1.1)
        expired = get(app, app.framework.protected[0], body_pair["access_token"])
        assert expired.status_code == 401 and "expired" in expired.headers["www-authenticate"]
        # What a browser sends after a break: the stale bearer beside the cookie, no CSRF.
        out = browser.post("/auth/logout", headers=bearer(cookie_pair["access_token"]))
        assert out.status_code == 200, out.text
    assert refresh(app, refresh_cookie).status_code == 400
    out = post(
        app, "/auth/logout", token=body_pair["access_token"],
        json={"refresh_token": body_pair["refresh_token"]},
    )  # fmt: skip
    assert out.status_code == 200 and out.json()["revoked"]["sessions"] == [body_pair["session_id"]]
    assert refresh(app, body_pair["refresh_token"]).status_code == 400


def test_a_forged_bearer_does_not_block_the_refresh_token(app: App) -> None:
    pair = app.login()
    head, payload, _ = pair["access_token"].split(".")
    out = post(
        app, "/auth/logout", token=f"{head}.{payload}.{'A' * 43}",
        json={"refresh_token": pair["refresh_token"]},
    )  # fmt: skip
    assert out.status_code == 200, out.text
    assert get(app, app.framework.protected[0], pair["access_token"]).status_code == 401


def test_oversized_body_is_413(app: App) -> None:
    r = httpx.post(
        app.url + "/auth/login",
        content=b"x" * 200_000,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"] == "request_too_large"


def test_server_log_never_contains_tokens(app: App) -> None:
    pair = app.login()
    get(app, app.framework.protected[0], pair["access_token"] + "x")
    refresh(app, pair["refresh_token"])
    log = app.server.log()
    assert pair["access_token"] not in log and pair["refresh_token"] not in log
