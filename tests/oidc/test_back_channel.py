"""Resource-server mode against a real OpenID Provider (issue 11).

panva/oidc-provider (OpenID Certified) runs under Node on a loopback port; users sign in
through its real endpoints and their JWT access tokens call cleanexit-protected APIs. When the
session ends at the OP, *the OP* sends the back-channel logout tokens (none is forged by these
tests unless a test is about a forged one), and the same access tokens must then be refused:

* ``sqlite``: one ``cleanexit serve`` with two worker processes sharing the SQLite store;
* ``redis_a`` / ``redis_b``: two instances sharing one real Redis; the OP calls A, B must
  refuse within the replica bound (measured here);
* ``sub_only``: a client whose logout tokens carry ``sub`` only (no ``sid``): a user cutoff.

Forged logout tokens are signed with the OP's own private key (the test generated its keys),
so each one is refused by the check it is about, not by an unknown signature.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hmac
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from cleanexit.server.oidc import BACKCHANNEL_LOGOUT_EVENT
from tests.support.oidc_provider import (
    RESOURCE,
    Browser,
    OpenIDProvider,
    client,
    node_binary,
    rsa_jwk,
    wait_for,
)
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess, free_port

pytestmark = [pytest.mark.slow, pytest.mark.redis]

SECRET = "a-shared-test-secret-of-at-least-32-bytes-0123456789"
STALE = 0.5  # CLEANEXIT_STALE_AFTER of the Redis instances
BOUND = 2.0  # seconds: logout at the OP -> 401 on every instance, asserted on every trial


def issuers(op_issuer: str, client_id: str, **options: Any) -> str:
    return json.dumps(
        [
            {
                "issuer": op_issuer,
                "audience": RESOURCE,
                "client_id": client_id,
                "typ": "at+jwt",  # RFC 9068: nothing but an access token passes
                "max_token_lifetime": 900,
                "jwks_cache_ttl": 2,
                "jwks_refresh_cooldown": 0.5,
                **options,
            }
        ]
    )


def server(where: Path, op_issuer: str, client_id: str, **kw: Any) -> ServerProcess:
    env = {"CLEANEXIT_SECRET": SECRET, "CLEANEXIT_ISSUERS": issuers(op_issuer, client_id)}
    env.update(kw.pop("env", {}))
    return ServerProcess(where, demo=False, env=env, **kw)


def start_all(*servers: ServerProcess) -> None:
    with concurrent.futures.ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(lambda s: s.start(), servers))


def me(target: ServerProcess, token: str, *, fresh: bool = False) -> httpx.Response:
    # fresh: a new connection per request, so the kernel spreads them over the workers
    headers = {"Authorization": f"Bearer {token}", **({"Connection": "close"} if fresh else {})}
    return httpx.get(target.url + "/me", headers=headers, timeout=5.0)


def every_worker(target: ServerProcess, token: str) -> set[int]:
    return {me(target, token, fresh=True).status_code for _ in range(12)}


def revocations(target: ServerProcess) -> int:
    return int(httpx.get(target.url + "/readyz").json()["store"]["revocations"])


class Deployment:
    def __init__(self, tmp: Path, redis: RedisServer) -> None:
        op_port = free_port()
        self.issuer = f"http://127.0.0.1:{op_port}"
        self.sqlite = server(tmp / "sqlite", self.issuer, "api-sqlite", workers=2)
        redis_env = {"CLEANEXIT_STORE_URL": redis.url, "CLEANEXIT_STALE_AFTER": str(STALE)}
        self.redis_a = server(tmp / "redis-a", self.issuer, "api-redis", env=redis_env)
        self.redis_b = server(tmp / "redis-b", self.issuer, "api-redis", env=redis_env)
        self.sub_only = server(tmp / "sub-only", self.issuer, "api-sub")
        self.servers = [self.sqlite, self.redis_a, self.redis_b, self.sub_only]
        logout = "/auth/backchannel-logout"
        self.key = rsa_jwk("op-key-1")
        self.op = OpenIDProvider(
            tmp / "op",
            port=op_port,
            keys=[self.key],
            clients=[
                client("api-sqlite", self.sqlite.url + logout),
                client("api-redis", self.redis_a.url + logout),
                client("api-sub", self.sub_only.url + logout, session_required=False),
            ],
            allow=[s.url for s in self.servers],
        )
        self.browsers: list[Browser] = []

    def browser(self) -> Browser:
        self.browsers.append(Browser(self.op))
        return self.browsers[-1]

    def close(self) -> None:
        for browser in self.browsers:
            browser.close()
        self.op.stop()
        for s in self.servers:
            s.stop()

    def sign(self, payload: dict[str, Any], **headers: Any) -> str:
        """A token signed with the OP's own key: for forged-logout tests only."""
        key = RSAAlgorithm.from_jwk(json.dumps(self.key))
        head = {"kid": self.key["kid"], "typ": "logout+jwt", **headers}
        return jwt.encode(payload, key, algorithm="RS256", headers=head)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    node_binary()  # under CI a missing Node fails here; elsewhere it skips
    with RedisServer(tmp_path_factory.mktemp("redis")) as redis:
        d = Deployment(tmp_path_factory.mktemp("oidc"), redis)
        try:
            d.op.start()
            start_all(*d.servers)
            yield d
        finally:
            d.close()


def backchannel_to(d: Deployment, target: ServerProcess) -> list[dict[str, Any]]:
    return [c for c in d.op.backchannel_calls() if c["url"].startswith(target.url)]


# -- signed in at the OP -> the API answers; logged out at the OP -> every instance refuses -------
def test_the_op_token_is_accepted(deployment: Deployment) -> None:
    d = deployment
    tokens = d.browser().sign_in("api-sqlite", "alice")
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    answer = me(d.sqlite, tokens["access_token"])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "sub": "alice", "session_id": claims["sid"], "iat": claims["iat"], "exp": claims["exp"]
    }  # fmt: skip
    # An ID token of the same OP is not an access token (its aud is the client, no at+jwt).
    assert me(d.sqlite, tokens["id_token"]).status_code == 401


def test_op_logout_refuses_the_token_on_every_instance(deployment: Deployment) -> None:
    d = deployment
    browser = d.browser()
    for_sqlite = browser.sign_in("api-sqlite", "erin")["access_token"]
    for_redis = browser.sign_in("api-redis", "erin")["access_token"]  # same OP session
    assert every_worker(d.sqlite, for_sqlite) == {200}
    assert {me(s, for_redis).status_code for s in (d.redis_a, d.redis_b)} == {200}
    calls = len(d.op.backchannel_calls())
    assert browser.log_out().status_code in (302, 303)
    # The OP answered after its back-channel calls: both were answered 200.
    made = d.op.backchannel_calls()[calls:]
    assert sorted(c["status"] for c in made) == [200, 200], d.op.errors()
    answer = me(d.redis_b, for_redis)
    deadline = time.monotonic() + STALE
    while answer.status_code == 200 and time.monotonic() < deadline:
        answer = me(d.redis_b, for_redis)
    assert answer.status_code == 401
    assert 'error_description="revoked: session ended"' in answer.headers["www-authenticate"]
    assert me(d.redis_a, for_redis).status_code == 401
    assert every_worker(d.sqlite, for_sqlite) == {401}


def first_401(
    target: ServerProcess, token: str, polling: threading.Barrier, stop: threading.Event
) -> float | None:
    """Poll ``/me`` every 2 ms (one kept-alive connection) until 401: its wall time. Not back
    to back: on two shared cores that would starve the servers being measured. The barrier
    holds the logout until every poller has its connection and a 200."""
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as http:
        assert http.get(target.url + "/me").status_code == 200
        polling.wait()
        while not stop.is_set():
            if http.get(target.url + "/me").status_code == 401:
                return time.time()
            time.sleep(0.002)
    return None


def test_logout_at_the_op_to_401_at_the_api_delay(deployment: Deployment) -> None:
    """Measured while it happens: pollers hammer Redis instance B (which the OP never calls)
    and the SQLite deployment (a worker chosen by the kernel) with the user's token while the
    user confirms logout at the OP. Printed with -s for the docs; every trial within BOUND."""
    d = deployment
    trials = 15
    confirm, sent, answered = [], [], []
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for i in range(trials):
            browser = Browser(d.op)
            try:
                t_sql = browser.sign_in("api-sqlite", f"user{i}")["access_token"]
                t_red = browser.sign_in("api-redis", f"user{i}")["access_token"]
                assert me(d.redis_b, t_red).status_code == me(d.sqlite, t_sql).status_code == 200
                calls, stop = len(d.op.backchannel_calls()), threading.Event()
                polling = threading.Barrier(3)
                polls = [pool.submit(first_401, d.redis_b, t_red, polling, stop),
                         pool.submit(first_401, d.sqlite, t_sql, polling, stop)]  # fmt: skip
                polling.wait(timeout=10)
                started = time.time()
                browser.log_out()
                try:
                    refused = [p.result(timeout=BOUND) for p in polls]
                finally:
                    stop.set()
                expected = calls + 2
                wait_for(lambda n=expected: len(d.op.backchannel_calls()) >= n)  # its stdout
                made = d.op.backchannel_calls()[calls:]
                calls_to = {c["url"].split("/auth")[0]: c for c in made}
                for target, when in zip((d.redis_b, d.sqlite), refused, strict=True):
                    assert when is not None
                    call = calls_to[d.redis_a.url if target is d.redis_b else d.sqlite.url]
                    confirm.append((target is d.sqlite, when - started))
                    sent.append((target is d.sqlite, when - call["started"]))
                    answered.append((target is d.sqlite, when - call["at"]))
            finally:
                browser.close()

    def summary(samples: list[tuple[bool, float]], sqlite: bool) -> str:
        ms = sorted(x * 1000 for s, x in samples if s is sqlite)
        return f"p50 {statistics.median(ms):.1f} ms, max {ms[-1]:.1f} ms"

    for name, samples in (
        ("logout confirmed at the OP", confirm),
        ("the OP's back-channel request sent", sent),
        ("our 200 read by the OP (negative: refused before)", answered),
    ):
        print(
            f"\n{name} -> first 401, {trials} logouts (2 ms polls): Redis instance B "
            f"{summary(samples, False)}; SQLite workers {summary(samples, True)}"
        )
    assert all(x < BOUND for _, x in confirm)


def test_sub_only_logout_is_a_user_cutoff(deployment: Deployment) -> None:
    d = deployment
    bob, carol = d.browser(), d.browser()
    token = bob.sign_in("api-sub", "bob")["access_token"]
    assert "sid" not in jwt.decode(token, options={"verify_signature": False})
    other = carol.sign_in("api-sub", "carol")["access_token"]
    before = len(backchannel_to(d, d.sub_only))
    assert bob.log_out().status_code in (302, 303)
    # The OP makes its back-channel call on its own time: wait for it (a busy machine).
    wait_for(lambda: len(backchannel_to(d, d.sub_only)) > before)
    (call,) = backchannel_to(d, d.sub_only)[-1:]
    sent = jwt.decode(call["logout_token"], options={"verify_signature": False})
    assert "sid" not in sent and sent["sub"] == "bob"
    answer = me(d.sub_only, token)
    assert answer.status_code == 401
    assert "revoked: logged out everywhere" in answer.headers["www-authenticate"]
    assert me(d.sub_only, other).status_code == 200  # another user: untouched
    time.sleep(max(0.0, sent["iat"] + 1 - time.time()))  # the logout's own second is refused
    again = d.browser().sign_in("api-sub", "bob")["access_token"]
    assert me(d.sub_only, again).status_code == 200  # signing in again works


def test_a_replayed_logout_token_is_refused_on_every_instance(deployment: Deployment) -> None:
    d = deployment
    browser = d.browser()
    browser.sign_in("api-redis", "frank")
    browser.log_out()
    token = backchannel_to(d, d.redis_a)[-1]["logout_token"]
    for target in (d.redis_a, d.redis_b):  # B was never sent it: the store remembers
        replay = httpx.post(target.url + "/auth/backchannel-logout", data={"logout_token": token})
        assert replay.status_code == 400
        assert replay.json() == {
            "error": "invalid_request",
            "error_description": "logout token refused: already used (jti replayed)",
        }
        assert replay.headers["cache-control"] == "no-store"


def _claims(d: Deployment, sid: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": d.issuer, "aud": "api-sqlite", "iat": now, "exp": now + 120,
            "jti": f"forged-{time.monotonic_ns()}", "sid": sid,
            "events": {BACKCHANNEL_LOGOUT_EVENT: {}}}  # fmt: skip
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def _unsigned(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, None, algorithm="none", headers={"typ": "logout+jwt"})


FORGED = {
    "wrong aud": ({"aud": "api-redis"}, {}, "wrong audience"),
    "wrong iss": ({"iss": "https://evil.example"}, {}, "unknown issuer"),
    "missing events": ({"events": None}, {}, "missing claim: events"),
    "a nonce": ({"nonce": "n-0S6_WzA2Mj"}, {}, "a nonce is not allowed"),
    "expired iat": ({"iat": int(time.time()) - 3600, "exp": None}, {}, "too old (iat)"),
    "far-future iat": ({"iat": int(time.time()) + 3600, "exp": None}, {}, "iat is in the future"),
    "no typ": ({}, {"typ": None}, "wrong token type"),
    "an ID token's typ": ({}, {"typ": "JWT"}, "wrong token type"),
}


@pytest.mark.parametrize("case", [*FORGED, "alg not allowed", "unsigned", "another key"])
def test_forged_logout_tokens_are_400_and_revoke_nothing(deployment: Deployment, case: str) -> None:
    d = deployment
    browser = d.browser()
    token = browser.sign_in("api-sqlite", "grace")["access_token"]
    sid = jwt.decode(token, options={"verify_signature": False})["sid"]
    if case in FORGED:
        changes, headers, why = FORGED[case]
        logout_token = d.sign(_claims(d, sid, **changes), **headers)
    elif case == "alg not allowed":  # HS256 keyed with the OP's public key (RS/HS confusion)
        logout_token, why = _hmac_with_public_key(d, _claims(d, sid)), "algorithm not allowed"
    elif case == "unsigned":
        logout_token, why = _unsigned(_claims(d, sid)), "algorithm not allowed"
    else:  # a well-formed token signed with a key that is not the OP's
        stranger = rsa_jwk("op-key-1")  # even under the OP's kid
        key = RSAAlgorithm.from_jwk(json.dumps(stranger))
        logout_token = jwt.encode(
            _claims(d, sid), key, algorithm="RS256",  # type: ignore[arg-type]
            headers={"kid": "op-key-1", "typ": "logout+jwt"},
        )  # fmt: skip
        why = "bad signature"
    before = revocations(d.sqlite)
    answer = httpx.post(
        d.sqlite.url + "/auth/backchannel-logout", data={"logout_token": logout_token}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert why in answer.json()["error_description"]
    assert answer.headers["cache-control"] == "no-store"
    assert revocations(d.sqlite) == before  # nothing recorded
    assert every_worker(d.sqlite, token) == {200}  # nothing revoked


def _hmac_with_public_key(d: Deployment, payload: dict[str, Any]) -> str:
    public = RSAAlgorithm.from_jwk(json.dumps({k: d.key[k] for k in ("kty", "n", "e")}))
    pem = public.public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "logout+jwt", "kid": d.key["kid"]}
    signing_input = ".".join(_b64(json.dumps(x).encode()) for x in (header, payload))
    return f"{signing_input}.{_b64(hmac.digest(pem, signing_input.encode(), 'sha256'))}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_bad_input_is_4xx_never_5xx(deployment: Deployment) -> None:
    url = deployment.sqlite.url + "/auth/backchannel-logout"
    for kwargs in (
        {},
        {"data": {"logout_token": ""}},
        {"data": {"logout_token": "not.a.jwt"}},
        {"data": {"logout_token": "a.b.c.d.e"}},
        {"data": {"other": "x"}},
        {"json": {"logout_token": "x"}},
        {"content": b"\xff\xfe", "headers": {"content-type": "application/x-www-form-urlencoded"}},
    ):
        answer = httpx.post(url, **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == 400, (kwargs, answer.text)
        assert answer.headers["cache-control"] == "no-store"


def test_admin_revocation_of_a_provider_user(deployment: Deployment) -> None:
    """``cleanexit revoke --issuer ISS --sub SUB`` against the running deployment's store."""
    d = deployment
    token = d.browser().sign_in("api-sqlite", "heidi")["access_token"]
    assert every_worker(d.sqlite, token) == {200}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANEXIT_")}
    env["CLEANEXIT_ISSUERS"] = d.sqlite.env["CLEANEXIT_ISSUERS"]
    done = subprocess.run(
        [sys.executable, "-m", "cleanexit", "revoke", "--issuer", d.issuer, "--sub", "heidi",
         "--data-dir", str(d.sqlite.data_dir)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("revoked every token issued to 'heidi' before ")
    assert every_worker(d.sqlite, token) == {401}


# -- the OP's keys: rotation, outage ----------------------------------------------------------------
def test_jwks_rotation_and_outage(tmp_path: Path) -> None:
    """A new signing key at the OP (old tokens still valid, new ones verified after one
    refresh), then the old key withdrawn (its tokens refused once the cache refreshes), then
    the OP down: the last good keys keep working; an instance that never got keys answers 503
    (fail closed) and recovers when the OP is back."""
    node_binary()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    api = server(tmp_path / "api", issuer, "api-rot")
    old_key, new_key = rsa_jwk("old"), rsa_jwk("new")
    op = OpenIDProvider(
        tmp_path / "op", port=port, keys=[old_key], allow=[api.url],
        clients=[client("api-rot", api.url + "/auth/backchannel-logout")],
    )  # fmt: skip
    cold: ServerProcess | None = None
    with op, api.start():
        browser = Browser(op)
        old_token = browser.sign_in("api-rot", "ivan")["access_token"]
        assert me(api, old_token).status_code == 200
        browser.close()

        op.restart(keys=[new_key, old_key])  # signs with "new", still publishes "old"
        browser = Browser(op)
        new_token = browser.sign_in("api-rot", "ivan")["access_token"]
        assert jwt.get_unverified_header(new_token)["kid"] == "new"
        time.sleep(0.6)  # past the refresh cooldown (0.5 s) since the last fetch
        assert me(api, new_token).status_code == 200  # unknown kid: one refresh, then known
        assert me(api, old_token).status_code == 200
        browser.close()

        op.restart(keys=[new_key])  # "old" withdrawn
        time.sleep(2.5)  # past the cache lifetime (2 s): the next request refreshes
        me(api, new_token)
        deadline = time.monotonic() + 5
        while me(api, old_token).status_code == 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        answer = me(api, old_token)
        assert answer.status_code == 401 and "unknown key" in answer.headers["www-authenticate"]

        op.stop()  # the JWKS endpoint is down
        time.sleep(2.5)  # a refresh is attempted, and fails
        for _ in range(3):
            assert me(api, new_token).status_code == 200  # the last good keys
            time.sleep(0.3)
        ready = httpx.get(api.url + "/readyz").json()
        assert ready["providers"][issuer]["error"]  # the failed refresh is visible
        assert ready["providers"][issuer]["keys"] == ["new"]

        cold = server(tmp_path / "cold", issuer, "api-rot").start()  # never saw a key
        answer = me(cold, new_token)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "temporarily_unavailable"
        assert answer.headers["retry-after"] == "1"

        op.start()
        deadline = time.monotonic() + 5
        while me(cold, new_token).status_code == 503:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert me(cold, new_token).status_code == 200
    if cold is not None:
        cold.stop()
