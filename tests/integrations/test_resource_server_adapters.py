"""Issue 11 in the Flask and Django adapters: a provider's token passes ``require_auth``
(checked on the cleanexit loop, where its JWKS is fetched), the back-channel logout route is
mounted at ``/auth/backchannel-logout`` over the same ``_http`` logic, and a logout ends it.
FastAPI: tests/oidc/ against a real OpenID Provider."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from cleanexit.integrations.flask import CleanExit, current_claims, require_auth
from cleanexit.settings import Settings
from tests.integrations.test_django import django
from tests.server.oidc.provider import AUD, CLIENT, Provider

SECRET = "rs-adapter-tests-0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def op() -> Iterator[Provider]:
    """A provider whose JWKS is served over real HTTP on loopback."""
    provider = Provider()
    provider.add("ES256")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(provider.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    provider.jwks_uri = f"http://127.0.0.1:{server.server_address[1]}/jwks"  # type: ignore[attr-defined]
    yield provider
    server.shutdown()
    server.server_close()


def issuers(op: Provider) -> list[dict[str, object]]:
    return [{"issuer": op.issuer, "audience": AUD, "client_id": CLIENT, "algorithms": ["ES256"],
             "jwks_uri": op.jwks_uri}]  # type: ignore[attr-defined]  # fmt: skip


def test_flask(tmp_path: Path, op: Provider) -> None:
    ext = CleanExit(authenticator=None)
    app = Flask(__name__)
    settings = Settings(data_dir=tmp_path, secret=SECRET, issuers=issuers(op))  # type: ignore[arg-type]
    ext.init_app(app, settings)

    @app.get("/me")
    @require_auth
    def me():  # type: ignore[no-untyped-def]
        return {"iss": current_claims.iss, "sub": current_claims.sub}

    client = app.test_client()
    now = time.time()
    token = op.sign(op.access(now))
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/me", headers=bearer).json == {"iss": op.issuer, "sub": "alice"}
    bad = client.post("/auth/backchannel-logout", data={"logout_token": "x.y.z"})
    assert bad.status_code == 400 and bad.headers["Cache-Control"] == "no-store"
    logout = op.sign(op.logout(now), typ="logout+jwt")
    done = client.post("/auth/backchannel-logout", data={"logout_token": logout})
    assert done.status_code == 200, done.json
    assert done.json == {
        "issuer": op.issuer,
        "revoked": {"sessions": ["op-s1"], "user_cutoff": None},
    }
    refused = client.get("/me", headers=bearer)
    assert refused.status_code == 401
    assert "revoked: session ended" in refused.headers["WWW-Authenticate"]
    again = client.post("/auth/backchannel-logout", data={"logout_token": logout})
    assert again.status_code == 400 and "already used" in again.json["error_description"]


def test_flask_without_issuers_has_no_receiver(tmp_path: Path) -> None:
    ext = CleanExit(authenticator=None)
    app = Flask(__name__)
    ext.init_app(app, Settings(data_dir=tmp_path, secret=SECRET))
    answer = app.test_client().post("/auth/backchannel-logout", data={"logout_token": "x"})
    assert answer.status_code == 404 and answer.json["error"] == "not_found"


def test_django(tmp_path: Path, op: Provider) -> None:
    now = time.time()
    token, logout = op.sign(op.access(now)), op.sign(op.logout(now), typ="logout+jwt")
    done = django(tmp_path, f"""
        c = Client()
        bearer = "Bearer {token}"
        print("before", c.get("/me", HTTP_AUTHORIZATION=bearer).status_code)
        r = c.post("/auth/backchannel-logout", {{"logout_token": "{logout}"}})
        print("logout", r.status_code, r["Cache-Control"], r.json()["revoked"]["sessions"])
        r = c.post("/auth/backchannel-logout", {{"logout_token": "not-a-token"}})
        print("bad", r.status_code, r.json()["error"])
        print("after", c.get("/me", HTTP_AUTHORIZATION=bearer).status_code)
    """, CLEANEXIT_ISSUERS=json.dumps(issuers(op)), CLEANEXIT_SECRET=SECRET)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [
        "before 200", "logout 200 no-store ['op-s1']", "bad 400 invalid_request", "after 401",
    ], done.stdout + done.stderr  # fmt: skip
