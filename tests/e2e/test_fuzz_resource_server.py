"""Property-based, resource-server mode (issue 11): arbitrary bearer strings and arbitrary
logout tokens never produce a 5xx, and the back-channel receiver answers every bad one 400.

The trusted issuer's keys are real (this server's own EdDSA JWKS, so nothing is down and no
503 is legitimate); none of the generated tokens is signed with them.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.e2e.test_fuzz import FUZZ, check, header_text, json_values
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow
OP = "https://op.fuzz.example"
LOGOUT = "/auth/backchannel-logout"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("fuzz-rs") / "data", demo=False)
    issuer = {"issuer": OP, "audience": "api", "client_id": "web", "algorithms": ["EdDSA"],
              "jwks_uri": server.url + "/.well-known/jwks.json", "jwks_refresh_cooldown": 0.2}  # fmt: skip
    server.env.update({"CLEANEXIT_ALGORITHM": "EdDSA", "CLEANEXIT_ISSUERS": json.dumps([issuer])})
    with server.start():
        # Its first fetch ran before it listened (its own JWKS): wait for the keys.
        deadline = time.monotonic() + 10
        while not httpx.get(server.url + "/readyz").json()["providers"][OP]["keys"]:
            assert time.monotonic() < deadline, "the issuer's keys were never fetched"
            httpx.get(server.url + "/me", headers={"Authorization": "Bearer " + _kick()})
            time.sleep(0.3)
        yield server


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def _kick() -> str:
    """A token of the issuer naming an unknown key: it makes the server fetch the JWKS."""
    header = b64(json.dumps({"alg": "EdDSA", "kid": "kick"}).encode())
    return f"{header}.{b64(json.dumps({'iss': OP}).encode())}.AAAA"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# JWT-shaped: a header and a payload as JSON (naming the trusted issuer, often), any signature.
headers = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["EdDSA", "none", "HS256", "RS256"]) | json_values,
        "typ": st.sampled_from(["logout+jwt", "at+jwt", "JWT"]) | json_values,
        "kid": json_values,
        "crit": json_values,
    },
)
payloads = st.fixed_dictionaries(
    {"iss": st.just(OP) | json_values},
    optional={
        name: json_values
        for name in ("aud", "sub", "sid", "jti", "iat", "exp", "nonce", "events", "nbf", "azp")
    },
)
jwt_shaped = st.builds(
    lambda h, p, s: f"{b64(json.dumps(h).encode())}.{b64(json.dumps(p).encode())}.{b64(s)}",
    headers,
    payloads,
    st.binary(max_size=80),
)


@FUZZ
@given(token=header_text | jwt_shaped)
def test_arbitrary_bearer_strings(client: httpx.Client, token: str) -> None:
    for method, path in (("GET", "/me"), ("GET", "/auth/sessions"), ("POST", "/auth/logout")):
        value = f"Bearer {token}".strip(" \t").encode("latin-1", "replace")
        check(client.request(method, path, headers={"Authorization": value}), token.strip())


@FUZZ
@given(token=st.text(max_size=300) | jwt_shaped)
def test_arbitrary_logout_tokens_are_400(client: httpx.Client, token: str) -> None:
    response = client.post(LOGOUT, data={"logout_token": token})
    assert response.status_code == 400, response.text
    assert response.headers["cache-control"] == "no-store"
    check(response, token)


@FUZZ
@given(raw=st.binary(max_size=300), ctype=st.sampled_from(
    ["application/x-www-form-urlencoded", "application/json", "multipart/form-data", "text/plain"]
))  # fmt: skip
def test_arbitrary_bytes(client: httpx.Client, raw: bytes, ctype: str) -> None:
    response = client.post(LOGOUT, content=raw, headers={"content-type": ctype})
    assert 400 <= response.status_code < 500, response.text
