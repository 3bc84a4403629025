"""Configuration that must not quietly weaken the service (issue 9, finding 7), against real
``cleanexit serve`` processes: what a deployment behind a proxy, a restart after a demo, or a
guessing client actually meets."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from tests.support.server import DEMO_PASSWORD, ServerProcess, start_server

pytestmark = pytest.mark.slow
USER, PASSWORD = "carol", "carol's own long password"
CLIENT_ID, CLIENT_SECRET = "resource-server", "Zq3vX9sL0mT8rW2yB6nK4pD1fH7jC5gA"  # 32, mixed
SIGNING_SECRET = "n4Jp8sWq2Lx7Rv0Tz5Yb3Kc9Hd6Gf1Ma-production-e2e-secret"
PROXY_HEADERS: list[dict[str, str]] = [
    {},  # the client connected to 127.0.0.1 directly (what a proxy does)
    {"Host": "127.0.0.1"},  # nginx's default proxy_pass
    {"Host": "localhost:8080"},
    {"Host": "[::1]"},
    {"X-Forwarded-Proto": "http", "X-Forwarded-For": "127.0.0.1"},
    {"Host": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "localhost"},
    {"Host": "127.0.0.1", "Forwarded": "for=127.0.0.1;proto=http;host=localhost"},
]


def cli(*args: str, env: Mapping[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLEANEXIT_")}
    return subprocess.run(
        [sys.executable, "-m", "cleanexit", *args],
        input=stdin, capture_output=True, text=True, env={**clean, **env}, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A production-configured server (no demo users: one real user added beforehand)."""
    tmp = tmp_path_factory.mktemp("production")
    env = {
        "CLEANEXIT_PRODUCTION": "1",
        "CLEANEXIT_SECRET": SIGNING_SECRET,  # production never generates one (issue 15)
        "CLEANEXIT_INTROSPECTION_CLIENTS": f"{CLIENT_ID}:{CLIENT_SECRET}",
    }
    added = cli("users", "add", USER, "--data-dir", str(tmp / "data"), env=env, stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    with start_server(tmp, env=env, demo=False) as server:
        yield server


def cookie_login(server: ServerProcess, headers: Mapping[str, str]) -> httpx.Response:
    body = {"username": USER, "password": PASSWORD, "refresh_in_cookie": True}
    r = httpx.post(server.url + "/auth/login", json=body, headers=dict(headers))
    assert r.status_code == 200, r.text
    return r


@pytest.mark.parametrize("headers", PROXY_HEADERS, ids=lambda h: ",".join(h) or "direct")
def test_finding7_cookie_secure_ignores_host_header(
    production: ServerProcess, headers: dict[str, str]
) -> None:
    r = cookie_login(production, headers)
    cookies = r.headers.get_list("set-cookie")
    assert len(cookies) == 2 and all("; secure" in c.lower() for c in cookies), cookies
    # Clearing them on logout must match too, or the browser keeps the Secure ones.
    csrf = r.json()["csrf_token"]
    out = httpx.post(
        production.url + "/auth/logout",
        headers={**headers, "X-CSRF-Token": csrf},
        cookies={"cleanexit_refresh": r.cookies["cleanexit_refresh"], "cleanexit_csrf": csrf},
    )
    assert out.status_code == 200
    cleared = out.headers.get_list("set-cookie")
    assert cleared and all("; secure" in c.lower() for c in cleared), cleared


def test_loopback_serve_defaults_cookie_secure_off_but_config_wins(
    live_server: ServerProcess, tmp_path: Path
) -> None:
    """Outside production, `serve --host 127.0.0.1` (plain http on this machine) defaults
    Secure off; CLEANEXIT_COOKIE_SECURE=true turns it on whatever the request says."""
    body = {"username": "alice", "password": DEMO_PASSWORD, "refresh_in_cookie": True}
    plain = httpx.post(live_server.url + "/auth/login", json=body)
    assert not any("secure" in c.lower() for c in plain.headers.get_list("set-cookie"))
    with start_server(tmp_path, env={"CLEANEXIT_COOKIE_SECURE": "true"}) as server:
        r = httpx.post(server.url + "/auth/login", json=body, headers={"Host": "127.0.0.1"})
        assert all("; secure" in c.lower() for c in r.headers.get_list("set-cookie"))


def test_finding7_production_has_no_interactive_docs(production: ServerProcess) -> None:
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert httpx.get(production.url + path).status_code == 404, path


def test_docs_on_by_default_outside_production(live_server: ServerProcess) -> None:
    assert httpx.get(live_server.url + "/docs").status_code == 200
    assert httpx.get(live_server.url + "/openapi.json").json()["info"]["title"] == "cleanexit"


def test_production_docs_when_enabled_explicitly(tmp_path: Path) -> None:
    env = {
        "CLEANEXIT_PRODUCTION": "1",
        "CLEANEXIT_DOCS": "true",
        "CLEANEXIT_SECRET": SIGNING_SECRET,
    }
    with start_server(tmp_path, env=env, demo=False) as server:
        assert httpx.get(server.url + "/openapi.json").status_code == 200
        assert httpx.get(server.url + "/docs").status_code == 200


def test_finding7_demo_users_gone_after_restart_without_demo(tmp_path: Path) -> None:
    server = start_server(tmp_path)  # --demo
    try:
        pair = server.login("alice")
        server.stop()
        server.demo = False
        server.start()
        r = httpx.post(
            server.url + "/auth/login", json={"username": "alice", "password": DEMO_PASSWORD}
        )
        assert r.status_code == 401 and r.json()["error"] == "invalid_credentials"
        # What the demo handed out ends with it: the session and its tokens.
        me = httpx.get(
            server.url + "/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
        )
        assert me.status_code == 401
        refreshed = httpx.post(
            server.url + "/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert refreshed.status_code == 400
        assert "removed demo users alice, bob" in server.log()
    finally:
        server.stop()
    listed = cli("users", "list", "--data-dir", str(server.data_dir), env={})
    assert listed.returncode == 0 and listed.stdout.split() == []


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        ({}, ["--demo"], "demo users (--demo) have a published password"),
        ({"CLEANEXIT_DEMO": "true"}, [], "demo users (--demo) have a published password"),
        ({"CLEANEXIT_COOKIE_SECURE": "false"}, [], "CLEANEXIT_COOKIE_SECURE=false"),
        (
            {"CLEANEXIT_INTROSPECTION_CLIENTS": "rs:introspection-secret-for-tests"},
            [],
            "the secret of client 'rs' is weak (shorter than 32 characters)",
        ),
        (
            {"CLEANEXIT_INTROSPECTION_CLIENTS": "rs:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
            [],
            "the secret of client 'rs' is weak (too few distinct characters)",
        ),
    ],
    ids=["demo-flag", "demo-env", "cookie-not-secure", "short-secret", "repetitive-secret"],
)
def test_finding7_production_refuses_weakening_configuration(
    tmp_path: Path, env: dict[str, str], args: list[str], expected: str
) -> None:
    done = cli(
        "serve", *args, "--port", "1", "--data-dir", str(tmp_path),
        env={"CLEANEXIT_PRODUCTION": "1", **env},
    )  # fmt: skip
    assert done.returncode == 2
    assert "refused in production mode" in done.stderr and expected in done.stderr
    assert "Traceback" not in done.stderr
    for value in env.values():
        secret = value.partition(":")[2]
        assert not secret or secret not in done.stdout + done.stderr


def test_finding7_weak_introspection_secret_warns_outside_production(tmp_path: Path) -> None:
    weak = "rs:introspection-secret-for-tests"
    env = {"CLEANEXIT_INTROSPECTION_CLIENTS": weak}
    with start_server(tmp_path, env=env) as server:
        log = server.log()
    assert "WARNING" in log and "the secret of client 'rs' is weak" in log
    assert "introspection-secret-for-tests" not in log


def introspect(server: ServerProcess, client: str, secret: str) -> httpx.Response:
    basic = base64.b64encode(f"{client}:{secret}".encode()).decode()
    return httpx.post(
        server.url + "/auth/introspect",
        data={"token": "x"},
        headers={"Authorization": f"Basic {basic}"},
    )


def test_finding7_introspection_client_guessing_is_throttled(production: ServerProcess) -> None:
    assert introspect(production, CLIENT_ID, CLIENT_SECRET).json() == {"active": False}
    guesses = [introspect(production, CLIENT_ID, f"guess-{i}") for i in range(10)]
    guesses += [introspect(production, "nobody", "guess") for _ in range(2)]
    assert [r.status_code for r in guesses] == [401] * 10 + [429] * 2
    blocked = guesses[-1]
    assert blocked.json()["error"] == "too_many_requests"
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    # While blocked, even the right secret is refused: a blocked guesser learns nothing.
    assert introspect(production, CLIENT_ID, CLIENT_SECRET).status_code == 429
