"""Issue 9, end to end: the promise on the paths real users take, against real `cleanexit serve`
processes — logout after a break, a revoked or forged bearer beside a valid refresh token,
hostile numbers, and thousands of revocations racing the pulls of two worker processes."""

from __future__ import annotations

import concurrent.futures
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from cleanexit.server.keystore import load_key_ring
from cleanexit.server.tokens import TokenIssuer
from tests.support.server import DEMO_PASSWORD, ServerProcess, start_server

pytestmark = pytest.mark.slow
ACCESS_TTL = 2  # seconds: a real "break" without a fake clock


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"CLEANEXIT_ACCESS_TTL": str(ACCESS_TTL)}
    with start_server(tmp_path_factory.mktemp("paths"), env=env, workers=2) as server:
        yield server


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refresh(server: ServerProcess, token: str) -> httpx.Response:
    return httpx.post(server.url + "/auth/refresh", json={"refresh_token": token})


def me(server: ServerProcess, token: str) -> int:
    return httpx.get(server.url + "/me", headers=bearer(token)).status_code


def wait_for_expiry(pair: dict[str, str], server: ServerProcess) -> None:
    time.sleep(ACCESS_TTL + 1.1)
    response = httpx.get(server.url + "/me", headers=bearer(pair["access_token"]))
    assert response.status_code == 401 and "expired" in response.headers["www-authenticate"]


def test_finding1_logout_after_a_break_ends_the_session(server: ServerProcess) -> None:
    pair = server.login()
    wait_for_expiry(pair, server)
    response = httpx.post(
        server.url + "/auth/logout",
        headers=bearer(pair["access_token"]),
        json={"refresh_token": pair["refresh_token"]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["revoked"]["sessions"] == [pair["session_id"]]
    assert refresh(server, pair["refresh_token"]).status_code == 400


def test_finding1_logout_after_a_break_in_cookie_mode(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url) as browser:
        login = browser.post(
            "/auth/login",
            json={"username": "alice", "password": DEMO_PASSWORD, "refresh_in_cookie": True},
        ).json()
        cookie = browser.cookies["cleanexit_refresh"]
        wait_for_expiry(login, server)
        # What a browser sends: the stale bearer and the cookie; no CSRF header is needed
        # beside an Authorization header (a cross-site form cannot send one).
        response = browser.post("/auth/logout", headers=bearer(login["access_token"]))
        assert response.status_code == 200, response.text
        assert "cleanexit_refresh" not in browser.cookies
    assert refresh(server, cookie).status_code == 400


def test_finding1_a_forged_bearer_does_not_block_the_refresh_token(server: ServerProcess) -> None:
    pair = server.login()
    head, body, _ = pair["access_token"].split(".")
    forged = f"{head}.{body}.{'A' * 43}"
    response = httpx.post(
        server.url + "/auth/logout",
        headers=bearer(forged),
        json={"refresh_token": pair["refresh_token"]},
    )
    assert response.status_code == 200, response.text
    assert me(server, pair["access_token"]) == 401


def test_finding3_a_revoked_bearer_does_not_block_the_refresh_token(server: ServerProcess) -> None:
    pair = server.login()
    assert httpx.post(server.url + "/auth/revoke", data={"token": pair["access_token"]}).is_success
    response = httpx.post(
        server.url + "/auth/logout",
        headers=bearer(pair["access_token"]),
        json={"refresh_token": pair["refresh_token"]},
    )
    assert response.status_code == 200, response.text
    assert refresh(server, pair["refresh_token"]).status_code == 400


def test_finding4_a_race_answer_says_race(server: ServerProcess) -> None:
    pair = server.login()
    assert refresh(server, pair["refresh_token"]).status_code == 200
    loser = refresh(server, pair["refresh_token"])
    assert loser.status_code == 400 and loser.json()["error_reason"] == "race"
    # The loser's old token still ends the session (the thief's new pair with it).
    response = httpx.post(
        server.url + "/auth/logout", json={"refresh_token": pair["refresh_token"]}
    )
    assert response.status_code == 200 and response.json()["revoked"]["sessions"]


def _issuer(server: ServerProcess) -> TokenIssuer:
    """Tokens signed with the server's own key, as an attacker holding it (or a bug) could."""
    keys = load_key_ring(server.data_dir, algorithm="HS256")
    return TokenIssuer(keys=keys, issuer="cleanexit", audience="cleanexit-api", access_ttl=600)


def test_finding6_absurd_numbers_are_401_never_500(server: ServerProcess) -> None:
    keys = load_key_ring(server.data_dir, algorithm="HS256")
    key = keys.active
    now = int(time.time())
    base = {"iss": "cleanexit", "aud": "cleanexit-api", "sub": "alice", "sid": "s", "jti": "j"}
    for times in (
        {"iat": now, "exp": 10**30},
        {"iat": now, "exp": 1e300},
        {"iat": -1, "exp": now + 9},
    ):
        token = jwt.encode(
            {**base, **times},
            key.signer,
            algorithm="HS256",
            headers={"typ": "at+jwt", "kid": key.kid},
        )
        response = httpx.get(server.url + "/me", headers=bearer(token))
        assert response.status_code == 401, (times, response.text)
        logout = httpx.post(server.url + "/auth/logout", headers=bearer(token))
        assert logout.status_code == 401, (times, logout.text)


def test_finding6_a_padded_signature_is_refused(server: ServerProcess) -> None:
    token = _issuer(server).issue(sub="alice", sid="s").token
    assert me(server, token) == 200
    assert me(server, token + "=") == 401


def test_finding2_no_worker_misses_a_revocation(tmp_path: Path) -> None:
    """Over a thousand RFC 7009 revocations through a two-worker server and a second process on
    the same data directory, while protected requests keep both workers pulling: afterwards
    every revoked token is refused by every worker and by the other process."""
    with (
        start_server(tmp_path, workers=2) as a,
        ServerProcess(a.data_dir, args=["--workers", "1"]).start() as b,
    ):
        issuer = _issuer(a)
        tokens = [issuer.issue(sub=f"u{i % 50}", sid=f"s{i}").token for i in range(1200)]
        stop = threading.Event()

        def load() -> None:  # keeps every process's replica pulling while commits land
            with httpx.Client() as c:
                while not stop.is_set():
                    for target in (a, b):
                        c.get(target.url + "/me", headers=bearer(random.choice(tokens)))

        def revoke(chunk: list[str]) -> None:
            with httpx.Client() as c:
                for token in chunk:
                    target = random.choice((a, b))
                    assert c.post(target.url + "/auth/revoke", data={"token": token}).is_success

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            loaders = [pool.submit(load) for _ in range(2)]
            revokers = [pool.submit(revoke, tokens[i::6]) for i in range(6)]
            for future in revokers:
                future.result()
            stop.set()
            for future in loaders:
                future.result()

        def accepted(target: ServerProcess, token: str) -> bool:
            # A new connection each time: the kernel spreads them over a's two workers.
            return httpx.get(target.url + "/me", headers=bearer(token)).status_code == 200

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            on_b = sum(pool.map(lambda t: accepted(b, t), tokens))
            on_a = sum(pool.map(lambda t: accepted(a, t), tokens * 2))
        assert (on_a, on_b) == (0, 0), f"revoked tokens accepted: {on_a} on a, {on_b} on b"
