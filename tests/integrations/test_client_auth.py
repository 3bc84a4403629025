"""RFC 7662 client authentication: digests of equal length compared, unknown clients cost
the same, failures throttled per address (issue 9, finding 7)."""

from __future__ import annotations

import base64
import hmac
import secrets
from pathlib import Path

import pytest

from cleanexit.clock import ManualClock
from cleanexit.errors import InvalidClientError, RateLimitedError
from cleanexit.integrations._http import AuthEndpoints, Request, error_response
from cleanexit.integrations._http import endpoints as auth_module
from cleanexit.runtime import build_runtime
from cleanexit.server.throttle import FailureThrottle
from cleanexit.settings import Settings

SECRET = secrets.token_urlsafe(32)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(0.0)


@pytest.fixture
def auth(tmp_path: Path, clock: ManualClock) -> AuthEndpoints:
    rt = build_runtime(Settings(data_dir=tmp_path, store_url="memory://"))
    throttle = FailureThrottle(limit=3, window=60, clock=clock)
    return AuthEndpoints(
        rt.service, rt.guard, introspection_clients={"rs": SECRET}, client_throttle=throttle
    )


def request(client: str, secret: str, address: str = "198.51.100.7") -> Request:
    basic = base64.b64encode(f"{client}:{secret}".encode()).decode()
    return Request(headers={"authorization": f"Basic {basic}"}, client=address)


def test_finding7_introspection_secret_comparison_is_fixed_length(
    auth: AuthEndpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", spy)
    auth._authenticate_client(request("rs", SECRET))
    for client, guess in [("rs", "x"), ("rs", SECRET[:-1]), ("rs", "y" * 500), ("nobody", "z")]:
        with pytest.raises(InvalidClientError):
            auth._authenticate_client(request(client, guess, address=guess))
    assert seen == [(32, 32)] * 5  # the same work for every guess, known client or not


def test_finding7_failed_client_authentication_is_throttled(
    auth: AuthEndpoints, clock: ManualClock
) -> None:
    for _ in range(3):
        with pytest.raises(InvalidClientError):
            auth._authenticate_client(request("rs", "wrong"))
    with pytest.raises(RateLimitedError) as caught:
        auth._authenticate_client(request("rs", SECRET))  # right, but blocked
    response = error_response(caught.value)
    assert response.status == 429 and ("Retry-After", "60") in response.headers
    auth._authenticate_client(request("rs", SECRET, address="198.51.100.8"))  # others pass
    clock.advance(60)
    auth._authenticate_client(request("rs", SECRET))


def test_no_clients_configured_refuses_everyone(tmp_path: Path) -> None:
    rt = build_runtime(Settings(data_dir=tmp_path, store_url="memory://"))
    with pytest.raises(InvalidClientError):
        AuthEndpoints(rt.service, rt.guard)._authenticate_client(request("rs", ""))
