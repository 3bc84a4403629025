"""The demo page in headless Chromium against a real `cleanexit serve --demo` (issue 6).

Each test is one scenario a person could play by hand at http://127.0.0.1:8000/.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess, start_server
from tests.web.demo import (
    DemoPage,
    assert_no_auth_data,
    refresh_cookie_is_dead,
    replay_from_outside,
)
from tests.web.driver import Context

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NewContext = Callable[..., Context]


def demo(
    new_context: NewContext, server: ServerProcess, *, init_script: str | None = None
) -> DemoPage:
    return DemoPage(new_context(init_script=init_script).new_page(), server.url).open()


def test_seed_scenario_stolen_token_dies_with_logout(
    new_context: NewContext, server: ServerProcess, screenshots: Path
) -> None:
    page = demo(new_context, server)
    page.page.screenshot(screenshots / "01-sign-in.png")
    page.sign_in("alice")
    token = page.steal_token()
    assert replay_from_outside(server.url, token).status_code == 200
    assert page.replay_in_page() == 200

    # Signed in: the persisted profile is AES-GCM ciphertext under a non-extractable key.
    stored = page.storage()
    [(slot, sealed)] = stored["localStorage"].items()
    assert slot == "persist:cleanexit.auth" and sealed.startswith("cx1.")
    assert "alice" not in sealed and token not in repr(stored)
    [key] = stored["indexedDB"]["cleanexit"]["keys"]
    assert key == {"cryptoKey": True, "extractable": False, "algorithm": "AES-GCM"}
    refresh = next(c for c in stored["cookies"] if c["name"] == "cleanexit_refresh")
    assert refresh["httpOnly"] and refresh["path"] == "/auth" and refresh["sameSite"] == "Strict"
    page.page.screenshot(screenshots / "02-signed-in-token-stolen.png")

    page.log_out()
    assert page.url == server.url + "/"
    assert_no_auth_data(page.storage(), secrets=[token, "alice"])
    assert page.notice()["outcome"] == "revoked"

    outside = replay_from_outside(server.url, token)
    assert outside.status_code == 401
    assert 'error="invalid_token"' in outside.headers["WWW-Authenticate"]
    assert page.replay_in_page() == 401
    page.page.screenshot(screenshots / "03-after-logout-replay-401.png")


def test_logout_while_server_is_stopped_still_purges_and_redirects(
    new_context: NewContext, tmp_path: Path, screenshots: Path
) -> None:
    server = start_server(tmp_path)
    try:
        page = demo(new_context, server)
        page.sign_in("alice")
        token = page.steal_token()
        server.stop()

        page.log_out()  # connection refused: the client half runs all the same
        assert page.url == server.url + "/"
        # The HttpOnly refresh cookie cannot be removed by script; it is what ends the session
        # once the server is back, so the page keeps a (secret-free) marker saying so.
        stored = page.storage()
        assert stored["localStorage"].get("cleanexit.pendingLogout") == "current"
        assert_no_auth_data(
            stored, secrets=[token, "alice"], allow_pending_logout=True, cookies_cleared=False
        )
        notice = page.notice()
        assert notice["outcome"] == "unreachable"
        page.page.screenshot(screenshots / "04-logout-server-down.png")

        server.start()  # same port, same data directory
        page.reload()  # start-up finishes the logout with the cookie alone
        page.page.wait_until("localStorage.getItem('cleanexit.pendingLogout') === null")
        assert replay_from_outside(server.url, token).status_code == 401
        assert page.is_signed_out()
        assert_no_auth_data(page.storage(), secrets=[token, "alice"])
    finally:
        server.stop()


@pytest.mark.parametrize("channel", ["broadcast-channel", "storage-event"])
def test_logout_in_one_tab_logs_out_the_other(
    new_context: NewContext, server: ServerProcess, channel: str
) -> None:
    # The fallback path: a browser without BroadcastChannel uses the storage event.
    script = "delete window.BroadcastChannel;" if channel == "storage-event" else None
    context = new_context(init_script=script)
    first = DemoPage(context.new_page(), server.url).open()
    first.sign_in("alice")
    second = DemoPage(context.new_page(), server.url).open()
    second.wait_signed_in()  # restored from the shared refresh cookie
    assert second.page.evaluate("typeof BroadcastChannel") == (
        "undefined" if channel == "storage-event" else "function"
    )

    first.log_out()
    second.wait_signed_out()
    assert second.is_signed_out()
    assert second.notice()["reason"] == "other-tab"
    assert_no_auth_data(second.storage(), secrets=["alice"])


def test_log_out_everywhere_from_a_second_browser(
    new_context: NewContext, server: ServerProcess, screenshots: Path
) -> None:
    laptop = demo(new_context, server)
    laptop.sign_in("alice")
    laptop_token = laptop.steal_token()
    phone = demo(new_context, server)
    phone.sign_in("alice")
    phone_token = phone.steal_token()

    devices = phone.devices()
    assert len(devices) == 2 and sum(d["current"] == "true" for d in devices) == 1
    phone.page.screenshot(screenshots / "05-your-devices.png")

    phone.log_out_everywhere()
    assert phone.notice()["outcome"] == "revoked"
    for token in (laptop_token, phone_token):
        assert replay_from_outside(server.url, token).status_code == 401

    # The laptop learns at its next request (here: refreshing the device list) and forgets.
    laptop.page.click("reload-devices")
    laptop.wait_signed_out()
    assert laptop.notice()["reason"] == "session-ended"
    stored = laptop.storage()
    assert_no_auth_data(stored, secrets=[laptop_token, "alice"], cookies_cleared=False)
    assert "cleanexit_csrf" not in {c["name"] for c in stored["cookies"]}
    assert refresh_cookie_is_dead(server.url, stored)


def test_revoke_one_device(new_context: NewContext, server: ServerProcess) -> None:
    laptop = demo(new_context, server)
    laptop.sign_in("alice")
    phone = demo(new_context, server)
    phone.sign_in("alice")
    phone_token = phone.steal_token()

    other = next(d for d in laptop.devices() if d["current"] == "false")
    laptop.page.click("revoke")
    laptop.page.wait_until("document.querySelectorAll('[data-testid=device]').length === 1")
    assert replay_from_outside(server.url, phone_token).status_code == 401
    assert other["session"] not in laptop.page.text("devices")
    assert not laptop.is_signed_out()


def test_reload_while_signed_in_restores_from_the_cookie(
    new_context: NewContext, server: ServerProcess
) -> None:
    page = demo(new_context, server)
    page.sign_in("bob")
    # The encrypted profile is written asynchronously: reload only once it has landed (on a
    # busy machine the reload could otherwise overtake it and start signed out).
    page.page.wait_until("localStorage.getItem('persist:cleanexit.auth') !== null")
    page.page.clear_log()
    page.reload()
    page.wait_signed_in()
    assert "POST /auth/refresh" in page.page.requests()


def test_reload_after_logout_stays_logged_out(
    new_context: NewContext, server: ServerProcess
) -> None:
    page = demo(new_context, server)
    page.sign_in("alice")
    page.log_out()
    page.page.clear_log()

    page.reload()
    assert page.is_signed_out()
    assert page.page.text("status") == "Signed out"
    # Nothing was left to restore from: the page did not even try.
    assert not [r for r in page.page.requests() if r.startswith("POST /auth/")]

    page.open("/#/account")  # the signed-in route, by hand
    assert page.is_signed_out()
    page.wait_signed_out()


# -- issue 9: the paths real users take ---------------------------------------------------


def short_lived_server(tmp_path: Path) -> ServerProcess:
    """Access tokens live 2 s: a break longer than that is "after lunch"."""
    return start_server(tmp_path, env={"CLEANEXIT_ACCESS_TTL": "2"})


def cookie_jar(page: DemoPage) -> dict[str, str]:
    return {c["name"]: c["value"] for c in page.storage()["cookies"]}


def test_finding1_logout_after_idle_ends_server_session(
    new_context: NewContext, tmp_path: Path
) -> None:
    with short_lived_server(tmp_path) as server:
        page = DemoPage(new_context(clock=True).new_page(), server.url).open()
        page.sign_in("alice")
        token = page.steal_token()
        refresh = cookie_jar(page)["cleanexit_refresh"]
        page.page.pause_clock()  # the laptop sleeps: no silent refresh, no polling
        time.sleep(2.5)
        assert replay_from_outside(server.url, token).status_code == 401  # expired meanwhile

        page.log_out()  # bearer (expired) + refresh cookie + CSRF header, in one request
        notice = page.notice()
        assert notice["outcome"] == "revoked", notice["text"]
        assert "the server ended this session" in (notice["text"] or "")
        jar = {"cookies": [{"name": "cleanexit_refresh", "value": refresh}]}
        assert refresh_cookie_is_dead(server.url, jar), "the session outlived the logout"
        assert_no_auth_data(page.storage(), secrets=[token, "alice"])


def test_finding4_thief_who_refreshes_first_loses_the_session(
    new_context: NewContext, tmp_path: Path
) -> None:
    with short_lived_server(tmp_path) as server:
        page = DemoPage(new_context(clock=True).new_page(), server.url).open()
        page.sign_in("alice")
        page.page.pause_clock()  # hold the page's silent refresh until the thief has gone first
        jar = cookie_jar(page)  # malware copies the cookie jar, HttpOnly cookie included
        thief = httpx.post(
            server.url + "/auth/refresh",
            cookies={k: jar[k] for k in ("cleanexit_refresh", "cleanexit_csrf")},
            headers={"X-CSRF-Token": jar["cleanexit_csrf"]},
            timeout=10,
        )
        assert thief.status_code == 200
        thief_access, thief_refresh = (
            thief.json()["access_token"],
            thief.cookies["cleanexit_refresh"],
        )

        page.page.resume_clock()  # the page refreshes with its (now rotated) cookie: "race"
        page.page.wait_until("!!document.querySelector('[data-testid=notice]')", timeout=15_000)
        notice = page.notice()
        assert notice["reason"] == "refresh-raced", notice["text"]
        assert notice["outcome"] == "revoked", notice["text"]
        assert "possible theft" in (notice["text"] or "")
        page.wait_signed_out()
        # The session was ended with the victim's old credentials: the thief's pair died too.
        assert replay_from_outside(server.url, thief_access).status_code == 401
        stolen_jar = {"cookies": [{"name": "cleanexit_refresh", "value": thief_refresh}]}
        assert refresh_cookie_is_dead(server.url, stolen_jar)
