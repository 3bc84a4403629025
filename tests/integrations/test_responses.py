"""The one place errors become HTTP: status, challenge header, body, and nothing echoed."""

from __future__ import annotations

import json

import pytest

from cleanexit import errors
from cleanexit.integrations.fastapi.responses import error_response

CASES = [
    (errors.CredentialsMissingError(), 401, 'Bearer realm="cleanexit"'),
    (
        errors.ExpiredTokenError(),
        401,
        'Bearer realm="cleanexit", error="invalid_token", error_description="expired"',
    ),
    (
        errors.RevokedTokenError("revoked: session ended"),
        401,
        'Bearer realm="cleanexit", error="invalid_token", error_description="revoked: session ended"',
    ),
    (errors.InvalidGrantError(), 400, None),
    (errors.InvalidRequestError(), 400, None),
    (errors.CsrfError(), 403, None),
    (errors.NotFoundError(), 404, None),
    (errors.InvalidClientError(), 401, 'Basic realm="cleanexit"'),
    (errors.StoreUnavailableError(), 503, None),
]


@pytest.mark.parametrize(("exc", "status", "challenge"), CASES)
def test_mapping(exc: errors.CleanexitError, status: int, challenge: str | None) -> None:
    response = error_response(exc)
    assert response.status_code == status
    assert response.headers.get("www-authenticate") == challenge
    assert response.headers["cache-control"] == "no-store"
    body = json.loads(bytes(response.body))
    extra = {"error_reason"} if isinstance(exc, errors.InvalidGrantError) else set()
    assert set(body) == {"error", "error_description", *extra}
    assert body["error"]


@pytest.mark.parametrize("reason", ["race", "reused", "invalid"])
def test_invalid_grant_tells_the_client_what_happened(reason: str) -> None:
    """Issue 9 finding 4: a client must tell a race (adopt the winner's pair, keep the old
    token as evidence) from theft and from a dead token."""
    body = json.loads(bytes(error_response(errors.InvalidGrantError(reason=reason)).body))
    assert body["error"] == "invalid_grant" and body["error_reason"] == reason


def test_503_says_when_to_retry() -> None:
    assert error_response(errors.StoreUnavailableError()).headers["retry-after"] == "1"


def test_quotes_cannot_break_the_challenge() -> None:
    header = error_response(errors.ClaimError('wrong "x"')).headers["www-authenticate"]
    assert header.count('"') == 6


def test_store_errors_tell_the_log_not_the_client(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 15: a 503 body never names the store's host, port, path or version."""
    import cleanexit.integrations._http.errors as http_errors

    http_errors._logged_at = float("-inf")
    exc = errors.StoreUnavailableError(
        "redis: ConnectionError: Error 111 connecting to 10.1.2.3:6379"
    )
    response = error_response(exc)
    body = json.loads(bytes(response.body))
    assert response.status_code == 503 and body["error"] == "temporarily_unavailable"
    assert (
        "10.1.2.3" not in body["error_description"] and "6379" not in bytes(response.body).decode()
    )
    assert "10.1.2.3:6379" in caplog.text


def test_readiness_body_has_no_hosts_or_versions() -> None:
    from cleanexit.integrations.fastapi.app import readiness

    store = {
        "backend": "redis", "where": "10.1.2.3:6379", "mode": "replica", "redis_version": "7.2.4",
        "persistence": {"durable": True, "detail": "appendonly yes"}, "path": "/srv/x.db",
    }  # fmt: skip
    replica = {"mode": "replica", "fresh": True, "entries": 3, "error": "10.1.2.3:6379 refused"}
    body = json.dumps(readiness(store, replica))
    assert "10.1.2.3" not in body and "7.2.4" not in body and "/srv" not in body
    assert readiness(store, replica)["store"] == {
        "backend": "redis",
        "mode": "replica",
        "durable": True,
    }
