"""Property-based: arbitrary bearer strings and arbitrary JSON bodies on every endpoint never
produce a 5xx, and error bodies never echo what was sent (RFC 6750, invariant 6)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.server import ServerProcess, start_server

pytestmark = pytest.mark.slow
ENDPOINTS = [
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("GET", "/auth/sessions"),
    ("DELETE", "/auth/sessions/abc"),
    ("POST", "/auth/revoke"),
    ("POST", "/auth/introspect"),
    ("GET", "/me"),
]
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Header values: visible latin-1 without CR/LF (what a client can put on the wire).
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=600
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=20,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "username": json_values,
            "password": json_values,
            "refresh_token": json_values,
            "scope": st.sampled_from(["current", "others", "all", "x", ""]) | json_values,
            "refresh_in_cookie": json_values,
        },
    ),
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with start_server(tmp_path_factory.mktemp("fuzz")) as server:
        yield server


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def check(response: httpx.Response, sent: str) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert (
            {"error", "error_description"}
            <= set(body)
            <= {
                "error",
                "error_description",
                "error_reason",  # invalid_grant only: what the client should do next
            }
        )
        if len(sent) >= 8:
            assert sent not in response.text
            assert sent not in response.headers.get("www-authenticate", "")


@FUZZ
@given(token=header_text)
def test_arbitrary_bearer_strings(client: httpx.Client, token: str) -> None:
    value = f"Bearer {token}".strip(" \t")  # HTTP strips surrounding whitespace anyway
    for method, path in ENDPOINTS:
        # Bytes on the wire as sent: latin-1 covers every octet a hostile client may send.
        response = client.request(method, path, headers={"Authorization": value.encode("latin-1")})
        check(response, token.strip(" \t"))


@FUZZ
@given(body=bodies)
def test_arbitrary_json_bodies(client: httpx.Client, body: object) -> None:
    raw = json.dumps(body)
    for method, path in ENDPOINTS:
        response = client.request(
            method, path, content=raw, headers={"content-type": "application/json"}
        )
        check(response, "")


@FUZZ
@given(
    raw=st.binary(max_size=300),
    ctype=st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data",
        ]
    ),
)
def test_arbitrary_bytes(client: httpx.Client, raw: bytes, ctype: str) -> None:
    for method, path in ENDPOINTS:
        if method != "GET":
            check(client.request(method, path, content=raw, headers={"content-type": ctype}), "")


def test_hostile_forged_tokens(server: ServerProcess, client: httpx.Client) -> None:
    pair = server.login()
    head, body, sig = pair["access_token"].split(".")
    forged = [
        f"{head}.{body}.",  # stripped signature
        f"{head}.{body}",  # two segments
        f"eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.{body}.",  # alg none
        f"{head}.{body}.{sig[::-1]}",  # garbled
        f"{head}.{body[:-4]}AAAA.{sig}",  # payload edited
        "e" * 4000 + "." + body + "." + sig,  # oversized header
    ]
    for token in forged:
        response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token[:40]
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
