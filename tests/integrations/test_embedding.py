"""Issue 10: cleanexit in an app that already exists — one call wires it, the app keeps its own
users, routes, lifespan and errors, and its claims reach every token.

The README snippet runs as written under a real uvicorn; the finer behaviours run in process
(FastAPI's TestClient runs the lifespan, so the real store opens and closes)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from cleanexit.integrations.fastapi import Claims, install
from cleanexit.server.claims import AppClaimsError
from cleanexit.server.stores.base import SessionRecord
from cleanexit.settings import Settings
from tests.support.server import AppProcess

README = Path(__file__).resolve().parents[2] / "README.md"
PASSWORD = "a long enough password"


def readme_snippet() -> str:
    """The first Python block under "Using it in your FastAPI app", exactly as printed."""
    text = README.read_text()
    section = text[text.index("## Using it in your FastAPI app") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README lost its embedding snippet"
    return match.group(1)


@pytest.mark.slow
def test_the_readme_snippet_runs_as_written(tmp_path: Path) -> None:
    """The seed scenario on the snippet pasted into a fresh app: 401 on replay, never 500."""
    (tmp_path / "app.py").write_text(readme_snippet())
    data = tmp_path / "data"
    add = subprocess.run(
        [sys.executable, "-m", "cleanexit", "users", "add", "alice", "--password-stdin",
         "--data-dir", str(data)],
        input=PASSWORD, text=True, capture_output=True, check=False,
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    with AppProcess("app:app", cwd=tmp_path, data_dir=data) as app:
        app.start()
        url = app.url
        nothing = httpx.get(url + "/orders")
        assert nothing.status_code == 401 and nothing.headers["www-authenticate"]
        forged = httpx.get(url + "/orders", headers={"Authorization": "Bearer a.b.c"})
        assert (
            forged.status_code == 401
            and 'error="invalid_token"' in forged.headers["www-authenticate"]
        )
        wrong = httpx.post(url + "/auth/login", json={"username": "alice", "password": "nope"})
        assert wrong.status_code == 401
        pair = httpx.post(url + "/auth/login", json={"username": "alice", "password": PASSWORD})
        stolen = pair.json()["access_token"]
        bearer = {"Authorization": f"Bearer {stolen}"}
        assert httpx.get(url + "/orders", headers=bearer).json() == {"orders for": "alice"}
        assert httpx.post(url + "/auth/logout", headers=bearer).status_code == 200
        replay = httpx.get(url + "/orders", headers=bearer)
        assert replay.status_code == 401 and "revoked" in replay.headers["www-authenticate"]
        app.restart()
        assert httpx.get(app.url + "/orders", headers=bearer).status_code == 401
    assert "Traceback" not in app.log()


# -- in process ----------------------------------------------------------------------------
@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", cookie_secure=False)


class Members:
    """An app's own user table (here a dict), behind the Authenticator protocol."""

    def __init__(self) -> None:
        self.roles = {"ada": "admin", "bob": "member"}

    async def authenticate(self, username: str, password: str) -> str | None:
        return username if username in self.roles and password == PASSWORD else None

    async def claims(self, session: SessionRecord) -> dict[str, Any]:
        role = self.roles[session.sub]
        scope = "orders:read orders:write" if role == "admin" else "orders:read"
        return {"roles": [role], "scope": scope}


def embedded_app(settings: Settings, members: Members, **kw: Any) -> tuple[FastAPI, list[str]]:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def own_lifespan(_: FastAPI) -> AsyncIterator[None]:
        events.append("app up")
        yield
        events.append("app down")

    app = FastAPI(lifespan=own_lifespan)
    auth = install(app, settings, authenticator=members, claims=members.claims, **kw)

    @app.get("/orders")
    async def orders(claims: Claims = Depends(auth.require_scope("orders:read"))) -> Any:
        return {"sub": claims.sub, "roles": claims.extra["roles"]}

    @app.post("/orders")
    async def order(claims: Claims = Depends(auth.require_scope("orders:write"))) -> Any:
        return {"ordered by": claims.sub}

    @app.post("/magic/{who}")  # the app's own sign-in, ending in a cleanexit session
    async def magic(who: str, request: Request, cookie: bool = False) -> JSONResponse:
        return await auth.start_session(request, who, claims={"amr": ["email"]}, cookie=cookie)

    @app.get("/validated/{n}")  # the app's own validation errors stay FastAPI's
    async def validated(n: int) -> int:
        return n

    return app, events


@pytest.fixture
def members() -> Members:
    return Members()


@pytest.fixture
def client(settings: Settings, members: Members) -> Iterator[TestClient]:
    app, _ = embedded_app(settings, members)
    with TestClient(app) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_install_runs_inside_the_apps_own_lifespan(settings: Settings, members: Members) -> None:
    app, events = embedded_app(settings, members)
    with TestClient(app) as client:
        assert events == ["app up"]
        login = client.post("/auth/login", json={"username": "ada", "password": PASSWORD})
        assert login.status_code == 200  # the store is open: the lifespan ran
    assert events == ["app up", "app down"]


def test_claims_reach_every_token_and_change_at_the_next_refresh(
    client: TestClient, members: Members
) -> None:
    pair = client.post("/auth/login", json={"username": "bob", "password": PASSWORD}).json()
    assert client.get("/orders", headers=bearer(pair["access_token"])).json() == {
        "sub": "bob",
        "roles": ["member"],
    }
    denied = client.post("/orders", headers=bearer(pair["access_token"]))
    assert denied.status_code == 403 and denied.json()["error"] == "insufficient_scope"
    challenge = denied.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="orders:write"' in challenge
    members.roles["bob"] = "admin"  # promoted: the next refresh carries it
    fresh = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json()
    assert client.post("/orders", headers=bearer(fresh["access_token"])).status_code == 200


def test_start_session_answers_like_login(client: TestClient) -> None:
    body = client.post("/magic/ada").json()
    assert set(body) == {
        "access_token", "refresh_token", "token_type", "expires_in", "refresh_expires_in",
        "session_id",
    }  # fmt: skip
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "ada" and claims["amr"] == ["email"] and claims["roles"] == ["admin"]
    cookie = client.post("/magic/ada?cookie=true")
    assert "refresh_token" not in cookie.json() and "csrf_token" in cookie.json()
    assert "cleanexit_refresh" in cookie.headers["set-cookie"]
    logout = client.post("/auth/logout", headers=bearer(body["access_token"]))
    assert logout.status_code == 200
    assert client.get("/orders", headers=bearer(body["access_token"])).status_code == 401


def test_reserved_and_oversized_claims_are_clear_errors(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    service = app.state.cleanexit.service
    for bad in ({"sub": "mallory"}, {"exp": 1}, {"sid": "x", "iss": "y"}):
        with pytest.raises(AppClaimsError, match="set by cleanexit"):
            client.portal.call(lambda b=bad: service.start_session("ada", claims=b))  # type: ignore[union-attr, misc]
    with pytest.raises(AppClaimsError, match="bytes"):
        client.portal.call(lambda: service.start_session("ada", claims={"blob": "x" * 5000}))  # type: ignore[union-attr]
    with pytest.raises(AppClaimsError, match="JSON"):
        client.portal.call(lambda: service.start_session("ada", claims={"when": object()}))  # type: ignore[union-attr]


def test_a_failing_claims_hook_is_a_500_that_keeps_the_refresh_token(
    settings: Settings, members: Members
) -> None:
    app, _ = embedded_app(settings, members)
    with TestClient(app, raise_server_exceptions=False) as client:
        pair = client.post("/auth/login", json={"username": "bob", "password": PASSWORD}).json()
        members.roles.clear()  # the hook now fails (KeyError): a bug of the app
        failed = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert failed.status_code == 500 and pair["refresh_token"] not in failed.text
        members.roles["bob"] = "member"  # fixed: the same refresh token still works
        again = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert again.status_code == 200


def test_an_app_without_password_login_has_no_login_route(settings: Settings) -> None:
    app = FastAPI()
    auth = install(app, settings, authenticator=None)

    @app.post("/sso/{who}")
    async def sso(who: str, request: Request) -> JSONResponse:
        return await auth.start_session(request, who)

    with TestClient(app) as client:
        assert client.post("/auth/login", json={"username": "a", "password": "b"}).status_code in (
            404,
            405,
        )
        pair = client.post("/sso/ada").json()
        assert client.post("/auth/logout", headers=bearer(pair["access_token"])).status_code == 200
    assert not (settings.data_dir / "users.db").exists()  # no bundled user table was made


def test_the_apps_own_errors_stay_its_own(client: TestClient) -> None:
    own = client.get("/validated/not-a-number")
    assert own.status_code == 422 and "detail" in own.json()  # FastAPI's, as the app had it
    ours = client.post("/auth/login", json={"username": 5, "password": "secret-password"})
    assert ours.status_code == 400 and ours.json()["error"] == "invalid_request"
    assert "secret-password" not in ours.text
    big = client.post("/auth/login", content=b"{" + b" " * 70_000 + b"}")
    assert big.status_code == 413


def test_every_setting_reaches_the_wiring(tmp_path: Path, members: Members) -> None:
    settings = Settings(
        data_dir=tmp_path,
        cookie_secure=True,
        clear_site_data='"cookies"',
        introspection_clients="rs:" + "k9" * 20,
        cors_origins="https://app.example.test",  # issue 14
    )
    app, _ = embedded_app(settings, members)
    with TestClient(app, base_url="https://testserver") as client:
        login = client.post(
            "/auth/login", json={"username": "ada", "password": PASSWORD, "refresh_in_cookie": True}
        )
        assert "Secure" in login.headers["set-cookie"]
        token = login.json()["access_token"]
        introspected = client.post(
            "/auth/introspect", data={"token": token}, auth=("rs", "k9" * 20)
        )
        assert introspected.json()["active"] is True and introspected.json()["roles"] == ["admin"]
        logout = client.post("/auth/logout", headers=bearer(token))
        assert logout.headers["clear-site-data"] == '"cookies"'
        preflight = client.options(
            "/auth/refresh",
            headers={"Origin": "https://app.example.test", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.headers["access-control-allow-origin"] == "https://app.example.test"
        assert preflight.headers["access-control-allow-credentials"] == "true"


def test_services_verifying_with_the_jwks_see_the_same_claims(
    tmp_path: Path, members: Members
) -> None:
    app, _ = embedded_app(Settings(data_dir=tmp_path, algorithm="EdDSA"), members)
    with TestClient(app) as client:
        token = client.post("/magic/ada").json()["access_token"]
        runtime = app.state.cleanexit.runtime
        jwks = runtime.keys.jwks(now=runtime.clock())
    key = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(token, key, algorithms=["EdDSA"], audience="cleanexit-api")
    assert claims["roles"] == ["admin"] and claims["scope"] == "orders:read orders:write"
