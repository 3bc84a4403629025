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
