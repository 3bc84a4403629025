"""Operating it (issue 15), against real `cleanexit serve` processes: metrics of two workers
equal what was done, the audit trail of the seed scenario, login throttling across two
instances sharing a store, and forwarded headers only from trusted proxies."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.support.server import DEMO_PASSWORD, ServerProcess, free_port, start_server

pytestmark = pytest.mark.slow


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me(server: ServerProcess, token: str, **headers: str) -> int:
    return httpx.get(server.url + "/me", headers={**bearer(token), **headers}).status_code


def login(server: ServerProcess, user: str, password: str, **headers: str) -> httpx.Response:
    return httpx.post(
        server.url + "/auth/login", json={"username": user, "password": password}, headers=headers
    )


# -- metrics -----------------------------------------------------------------------------------
def scrape(url: str) -> dict[str, float]:
    text = httpx.get(url, timeout=5).text
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_metrics_of_two_workers_equal_what_was_done(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "CLEANEXIT_METRICS": "true",
        "CLEANEXIT_METRICS_ADDRESS": f"127.0.0.1:{port}",
        "CLEANEXIT_LOGIN_FREE_ATTEMPTS": "100",  # this scenario is not about throttling
    }
    with start_server(tmp_path, env=env, workers=2) as server:
        first, second, third = (server.login() for _ in range(3))
        for _ in range(2):
            assert login(server, "bob", "wrong password").status_code == 401
        for _ in range(5):
            assert me(server, first["access_token"]) == 200
        rotated = httpx.post(
            server.url + "/auth/refresh", json={"refresh_token": second["refresh_token"]}
        )
        assert rotated.status_code == 200
        out = httpx.post(server.url + "/auth/logout", headers=bearer(first["access_token"]))
        assert out.status_code == 200
        for _ in range(4):
            assert me(server, first["access_token"]) == 401
        for _ in range(3):
            assert me(server, "abc.def.ghi") == 401
        everywhere = httpx.post(
            server.url + "/auth/logout",
            headers=bearer(third["access_token"]),
            json={"scope": "all"},
        )
        assert everywhere.status_code == 200 and len(everywhere.json()["revoked"]["sessions"]) == 2
        expected = {
            'cleanexit_auth_events_total{kind="login",outcome="success"}': 3,
            'cleanexit_auth_events_total{kind="login",outcome="failure"}': 2,
            'cleanexit_auth_events_total{kind="session",outcome="created"}': 3,
            'cleanexit_auth_events_total{kind="refresh",outcome="rotated"}': 1,
            'cleanexit_auth_events_total{kind="logout",outcome="current"}': 1,
            'cleanexit_auth_events_total{kind="logout",outcome="all"}': 1,
            'cleanexit_sessions_ended_total{reason="logout"}': 3,
            'cleanexit_revocation_checks_total{result="accepted"}': 5,
            'cleanexit_revocation_checks_total{result="revoked_sid"}': 4,
            'cleanexit_token_rejections_total{reason="malformed"}': 3,
            "cleanexit_logout_duration_seconds_count": 2,
            "cleanexit_refresh_duration_seconds_count": 1,
        }
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 10  # each worker writes its counts once a second
        while True:
            got = scrape(url)
            seen = {name: got.get(name) for name in expected}
            if seen == expected or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert seen == expected
        assert got["cleanexit_revocation_view_entries"] >= 3  # jti + sid entries at least
        assert got["cleanexit_replica_stale"] == 0
        text = httpx.get(url).text
        for secret in ("alice", first["access_token"], first["refresh_token"]):
            assert secret not in text  # no user or token ever in a label
        assert httpx.get(server.url + "/metrics").status_code == 404  # not on the API's port


# -- the audit trail ------------------------------------------------------------------------------
def test_audit_log_of_the_seed_scenario(tmp_path: Path) -> None:
    audit = tmp_path / "audit" / "audit.log"
    spoof = {"X-Forwarded-For": "203.0.113.66", "User-Agent": "seed-scenario/1.0"}
    with start_server(tmp_path, env={"CLEANEXIT_AUDIT_LOG": str(audit)}) as server:
        pair = login(server, "alice", DEMO_PASSWORD, **spoof).json()
        renewed = httpx.post(
            server.url + "/auth/refresh", json={"refresh_token": pair["refresh_token"]},
            headers=spoof,
        ).json()  # fmt: skip
        stolen = renewed["access_token"]
        assert me(server, stolen) == 200
        out = httpx.post(server.url + "/auth/logout", headers={**bearer(stolen), **spoof})
        assert out.status_code == 200
        assert me(server, stolen, **spoof) == 401  # the attacker's replay
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [line["event"] for line in lines] == [
        "authn_login_success",
        "session_created",
        "session_renewed",
        "authn_token_revoked",
        "session_expired",
        "session_use_after_expire",
    ]
    sid = pair["session_id"]
    for line in lines:
        assert line["user"] == "alice" and line["session_id"] == sid, line
        assert line["client_ip"] == "127.0.0.1", line  # X-Forwarded-For from no trusted proxy
        assert line["user_agent"] == "seed-scenario/1.0", line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", line["ts"]), line
    assert lines[4]["sessions_ended"] == [sid] and lines[4]["reason"] == "logout"
    assert lines[5]["level"] == "WARN"
    text = audit.read_text()
    issued = [pair["access_token"], pair["refresh_token"], stolen, renewed["refresh_token"]]
    for token in [*issued, DEMO_PASSWORD]:
        assert token not in text
        for part in token.split("."):  # not even one segment of a JWT
            assert len(part) < 16 or part not in text
    assert audit.stat().st_mode & 0o077 == 0


# -- login throttling -----------------------------------------------------------------------------
THROTTLE = {
    "CLEANEXIT_LOGIN_BACKOFF": "2",
    "CLEANEXIT_LOGIN_BACKOFF_MAX": "2",
    "CLEANEXIT_TRUSTED_PROXIES": "127.0.0.1",  # the test plays a proxy: one address per case
}


def attempts(
    servers: list[ServerProcess], user: str, password: str, address: str, n: int
) -> list[tuple[int, str | None]]:
    answers = []
    for i in range(n):
        r = login(servers[i % len(servers)], user, password, **{"X-Forwarded-For": address})
        answers.append((r.status_code, r.headers.get("retry-after")))
        assert r.status_code in (401, 429), r.text
        if r.status_code == 429:
            assert r.json()["error"] == "too_many_requests"
    return answers


def test_throttling_across_two_instances_sharing_a_store(tmp_path: Path) -> None:
    with (
        start_server(tmp_path, env=THROTTLE) as a,
        ServerProcess(a.data_dir, env=THROTTLE).start() as b,
    ):
        answers = attempts([a, b], "alice", "wrong password", "198.51.100.1", 20)
        assert [status for status, _ in answers[:5]] == [401] * 5  # 5 free, on either instance
        limited = [int(after) for status, after in answers if status == 429 and after]
        assert limited and all(1 <= after <= 2 for after in limited)
        assert len(limited) == sum(1 for status, _ in answers if status == 429)

        time.sleep(max(limited[-1], 2) + 0.2)  # the back-off is over: the right password works
        right = login(b, "alice", DEMO_PASSWORD, **{"X-Forwarded-For": "198.51.100.1"})
        assert right.status_code == 200
        listed = httpx.get(a.url + "/auth/sessions", headers=bearer(right.json()["access_token"]))
        ips = {s["ip"] for s in listed.json()["sessions"]}
        assert ips == {"198.51.100.1"}  # through the trusted proxy: the client's address
        # Behind a proxy (trusted proxies set), a loopback bind still means https outside:
        # the refresh cookie keeps Secure (issue 15: a default proxy_pass lost it).
        cookie = httpx.post(
            a.url + "/auth/login",
            json={"username": "bob", "password": DEMO_PASSWORD, "refresh_in_cookie": True},
        )
        assert cookie.status_code == 200
        refresh = next(c for c in cookie.headers.get_list("set-cookie") if "cleanexit_refresh" in c)
        assert "Secure" in refresh

        # No user enumeration: an unknown name is throttled exactly like a known one.
        known = attempts([a, b], "alice", "wrong password", "198.51.100.2", 8)
        unknown = attempts([a, b], "nobody-at-all", "wrong password", "198.51.100.3", 8)
        assert [s for s, _ in known] == [s for s, _ in unknown] == [401] * 5 + [429] * 3
        assert {after for _, after in known[5:] + unknown[5:]} <= {"1", "2"}
