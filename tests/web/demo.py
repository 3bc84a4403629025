"""The demo page's vocabulary for the browser tests, and what "no auth data left" means."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.server import DEMO_PASSWORD
from tests.web.driver import Page

READY = 'html[data-ready="true"]'
AUTH_COOKIES = {"cleanexit_refresh", "cleanexit_csrf"}


class DemoPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    # -- navigation ------------------------------------------------------------------------
    def open(self, path: str = "/") -> DemoPage:
        self.page.call("goto", url=self.base_url + path)
        self.page.wait_for(selector=READY, state="attached")
        return self

    def reload(self) -> None:
        self.page.call("reload")
        self.page.wait_for(selector=READY, state="attached")

    @property
    def url(self) -> str:
        return self.page.url

    # -- the app ---------------------------------------------------------------------------
    def sign_in(self, username: str = "alice", password: str = DEMO_PASSWORD) -> None:
        self.page.fill("username", username)
        self.page.fill("password", password)
        self.page.click("signin")
        self.wait_signed_in()

    def wait_signed_in(self) -> None:
        self.page.wait_for("profile")
        self.page.wait_for_url(self.base_url + "/#/account")
        # The profile card has loaded /me: the access token works.
        self.page.wait_until(
            "document.querySelector('[data-testid=profile-user]')?.textContent !== '…'"
        )

    def wait_signed_out(self) -> None:
        self.page.wait_for("signin-form")
        self.page.wait_for_url(self.base_url + "/")

    def is_signed_out(self) -> bool:
        return self.page.count("signin-form") == 1 and self.page.count("profile") == 0

    def log_out(self) -> None:
        self.page.click("logout")
        self.wait_signed_out()

    def log_out_everywhere(self) -> None:
        self.page.click("logout-all")
        self.wait_signed_out()

    def devices(self) -> list[dict[str, str | None]]:
        """Reloads the device list and returns its rows once the new list is shown."""
        version = self.page.attr("devices", "data-version")
        self.page.click("reload-devices")
        self.page.wait_until(
            f"document.querySelector('[data-testid=devices]')?.dataset.version !== '{version}'"
        )
        rows = self.page.evaluate(
            "[...document.querySelectorAll('[data-testid=device]')]"
            ".map(r => ({session: r.dataset.session, current: r.dataset.current}))"
        )
        return list(rows)

    def notice(self) -> dict[str, str | None]:
        self.page.wait_for("notice")
        return {
            "outcome": self.page.attr("notice", "data-outcome"),
            "reason": self.page.attr("notice", "data-reason"),
            "text": self.page.text("notice"),
        }

    # -- the attacker panel ----------------------------------------------------------------
    def steal_token(self) -> str:
        self.page.click("steal-token")
        self.page.wait_for("stolen-token")
        token = self.page.evaluate(
            "document.querySelector('[data-testid=stolen-token]').textContent"
        )
        assert isinstance(token, str) and token.count(".") == 2, "not a JWT"
        return token

    def replay_in_page(self) -> int | None:
        before = self.page.count("replay-log") and self.page.evaluate(
            "document.querySelectorAll('[data-testid=replay-log] li').length"
        )
        self.page.click("replay")
        self.page.wait_until(
            f"document.querySelectorAll('[data-testid=replay-log] li').length > {before or 0}"
        )
        status = self.page.attr("verdict", "data-status")
        return None if status in (None, "none") else int(status)

    def storage(self) -> dict[str, Any]:
        return self.page.storage()


def replay_from_outside(base_url: str, token: str) -> httpx.Response:
    """The stolen token, replayed the way `curl` on another machine would: no browser at all."""
    return httpx.get(base_url + "/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def assert_no_auth_data(
    storage: dict[str, Any],
    *,
    secrets: list[str],
    allow_pending_logout: bool = False,
    cookies_cleared: bool = True,
) -> None:
    """Nothing this origin keeps in the browser lets anyone resume or identify the session."""
    local = dict(storage["localStorage"])
    if allow_pending_logout:
        local.pop("cleanexit.pendingLogout", None)
    assert local == {}, f"localStorage still holds {sorted(local)}"
    assert storage["sessionStorage"] == {}
    # The encryption key was shredded (or Clear-Site-Data removed the database altogether).
    keys = storage["indexedDB"].get("cleanexit", {}).get("keys", [])
    assert keys == [], f"IndexedDB still holds a key: {keys}"
    dump = repr(storage)
    for secret in secrets:
        assert secret not in dump, "a secret is still stored in the browser"
    if cookies_cleared:
        left = {c["name"] for c in storage["cookies"]} & AUTH_COOKIES
        assert not left, f"auth cookies still set: {left}"


def refresh_cookie_is_dead(base_url: str, storage: dict[str, Any]) -> bool:
    """A refresh cookie script cannot delete (HttpOnly) may remain; it must be revoked."""
    cookie = next((c for c in storage["cookies"] if c["name"] == "cleanexit_refresh"), None)
    if cookie is None:
        return True
    response = httpx.post(
        base_url + "/auth/refresh",
        cookies={"cleanexit_refresh": cookie["value"], "cleanexit_csrf": "x"},
        headers={"X-CSRF-Token": "x"},
        timeout=10,
    )
    return response.status_code in (400, 401)
