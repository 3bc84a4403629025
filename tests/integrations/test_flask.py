"""Flask specifics beyond the conformance suite: init_app keeps its state in the app,
start_session for the app's own sign-in, CORS from CLEANEXIT_CORS_ORIGINS (in process)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from cleanexit.integrations.flask import CleanExit, current_claims, host_of, require_auth
from cleanexit.settings import Settings

SECRET = "flask-tests-0123456789abcdefghijklmnopqrstuvwxyz"


def make_app(tmp_path: Path, **settings: object) -> Flask:
    ext = CleanExit(authenticator=None)
    app = Flask(__name__)
    ext.init_app(app, Settings(data_dir=tmp_path, secret=SECRET, cookie_secure=False, **settings))

    @app.post("/magic/<who>")
    def magic(who: str):  # type: ignore[no-untyped-def]
        return ext.start_session(who, claims={"amr": ["email"]}, cookie=True)

    @app.get("/me")
    @require_auth
    def me():  # type: ignore[no-untyped-def]
        return {"sub": current_claims.sub, "amr": current_claims.extra["amr"]}

    assert not any(isinstance(v, Flask) for v in vars(ext).values())  # no stored app
    assert host_of(app) is app.extensions["cleanexit"]
    return app


def test_start_session_and_no_password_login(tmp_path: Path) -> None:
    client = make_app(tmp_path).test_client()
    started = client.post("/magic/ada")
    assert started.status_code == 200 and started.json["csrf_token"]
    assert any(c.startswith("cleanexit_refresh=") for c in started.headers.getlist("Set-Cookie"))
    token = started.json["access_token"]
    assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).json == {
        "sub": "ada", "amr": ["email"],
    }  # fmt: skip
    assert client.post("/auth/login", json={"username": "a", "password": "b"}).status_code == 404


def test_cors_for_listed_origins_only(tmp_path: Path) -> None:
    client = make_app(tmp_path, cors_origins="https://app.example.com").test_client()
    asks = {"Access-Control-Request-Method": "POST"}
    ok = client.options("/auth/refresh", headers={"Origin": "https://app.example.com", **asks})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert ok.headers["Access-Control-Allow-Credentials"] == "true"
    denied = client.options("/auth/refresh", headers={"Origin": "https://evil.example", **asks})
    assert "Access-Control-Allow-Origin" not in denied.headers
    simple = client.get("/me", headers={"Origin": "https://app.example.com"})
    assert simple.status_code == 401
    assert "WWW-Authenticate" in simple.headers["Access-Control-Expose-Headers"]
