"""No 5xx on hostile input, on every framework: a smaller run of ``tests/e2e/test_fuzz.py``'s
properties (arbitrary bearer strings, JSON bodies and bytes on every endpoint)."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.test_fuzz import bodies, check, header_text

from .conftest import App

pytestmark = pytest.mark.slow
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
AUTH = [
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("GET", "/auth/sessions"),
    ("DELETE", "/auth/sessions/abc"),
    ("POST", "/auth/revoke"),
    ("POST", "/auth/introspect"),
]


def endpoints(app: App) -> list[tuple[str, str]]:
    return AUTH + [("GET", path) for path in (*app.framework.protected, "/orders")]


@FUZZ
@given(token=header_text)
def test_arbitrary_bearer_strings(app: App, token: str) -> None:
    value = f"Bearer {token}".strip(" \t")
    with httpx.Client(base_url=app.url, timeout=10) as client:
        for method, path in endpoints(app):
            response = client.request(
                method, path, headers={"Authorization": value.encode("latin-1")}
            )
            check(response, token.strip(" \t"))


@FUZZ
@given(body=bodies)
def test_arbitrary_json_bodies(app: App, body: object) -> None:
    raw = json.dumps(body)
    with httpx.Client(base_url=app.url, timeout=10) as client:
        for method, path in AUTH:
            response = client.request(
                method, path, content=raw, headers={"content-type": "application/json"}
            )
            check(response, "")


@FUZZ
@given(
    raw=st.binary(max_size=300),
    ctype=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain",
         "multipart/form-data", "multipart/form-data; boundary=x"]
    ),
)  # fmt: skip
def test_arbitrary_bytes(app: App, raw: bytes, ctype: str) -> None:
    with httpx.Client(base_url=app.url, timeout=10) as client:
        for method, path in AUTH:
            if method != "GET":
                check(
                    client.request(method, path, content=raw, headers={"content-type": ctype}), ""
                )
