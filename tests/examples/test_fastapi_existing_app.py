"""examples/fastapi_existing_app under a real uvicorn: the app's own sign-in ends in a
cleanexit session, its claims and scopes hold, a role change lands at the next refresh, and
the seed scenario fails for the attacker."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.server import AppProcess

pytestmark = pytest.mark.slow
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_existing_app"


def sign_in(url: str, email: str) -> dict[str, str]:
    link = httpx.post(url + "/magic-link", json={"email": email}).json()["link"]
    response = httpx.get(url + link)
    assert response.status_code == 200, response.text
    assert httpx.get(url + link).status_code == 400  # one use only
    return dict(response.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_existing_app_example(tmp_path: Path) -> None:
    with AppProcess("app:app", cwd=EXAMPLE, data_dir=tmp_path / "data") as app:
        app.start()
        url = app.url
        bob = sign_in(url, "bob@example.com")
        assert httpx.get(url + "/orders", headers=bearer(bob["access_token"])).json() == {
            "orders of": "bob@example.com",
            "roles": ["member"],
        }
        refused = httpx.post(url + "/orders", headers=bearer(bob["access_token"]))
        assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
        assert httpx.post(
            url + "/auth/login", json={"username": "a", "password": "b"}
        ).status_code in (404, 405)

        ada = sign_in(url, "ada@example.com")
        promoted = httpx.post(
            url + "/members/bob@example.com/role",
            json={"role": "admin"},
            headers=bearer(ada["access_token"]),
        )
        assert promoted.status_code == 200
        fresh = httpx.post(url + "/auth/refresh", json={"refresh_token": bob["refresh_token"]})
        assert (
            httpx.post(url + "/orders", headers=bearer(fresh.json()["access_token"])).status_code
            == 200
        )

        stolen = fresh.json()["access_token"]
        logout = httpx.post(url + "/auth/logout", headers=bearer(stolen))
        assert logout.status_code == 200
        replay = httpx.get(url + "/orders", headers=bearer(stolen))
        assert replay.status_code == 401 and "revoked" in replay.headers["www-authenticate"]
    assert "Traceback" not in app.log()
