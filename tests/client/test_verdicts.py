"""Property: whatever ``POST /auth/logout`` answers, the client claims no more than it said.

Pure logic over arbitrary answers (status, JSON body, ``WWW-Authenticate``): "server ended"
appears exactly when the server answered 200 with a revocation report, "had already ended"
only for a 401 saying the session was over, and ``cleanexit logout`` exits 0 only then
(issue 9, finding 1).
"""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from cleanexit.cli.client_cmds import logout_exit_code
from cleanexit.client import LogoutResult
from cleanexit.client._protocol import logout_outcome, refresh_refusal

DESCRIPTIONS = [
    "revoked: session ended",
    "revoked: logged out everywhere",
    "revoked",
    "expired",
    "no valid access or refresh token",
    "bad signature",
    "malformed",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"error": st.sampled_from(["invalid_token", "invalid_grant", "server_error"])},
        optional={
            "error_description": st.sampled_from(DESCRIPTIONS),
            "revoked": json_values,
            "error_reason": st.sampled_from(["race", "reused", "invalid", "other"]),
        },
    ),
)
headers = st.one_of(
    st.just({}),
    st.sampled_from(DESCRIPTIONS).map(
        lambda d: {"www-authenticate": f'Bearer error="invalid_token", error_description="{d}"'}
    ),
)
statuses = st.sampled_from([200, 201, 204, 400, 401, 403, 404, 429, 500, 502, 503])


def answer(status: int, body: Any, hdrs: dict[str, str]) -> httpx.Response:
    request = httpx.Request("POST", "http://api.test/auth/logout")
    return httpx.Response(status, json=body, headers=hdrs, request=request)


@given(statuses, bodies, headers)
def test_finding1_the_client_never_claims_more_than_the_server_said(
    status: int, body: Any, hdrs: dict[str, str]
) -> None:
    outcome = logout_outcome(answer(status, body, hdrs))
    result = LogoutResult("current", "sid", outcome, local_state_reset=True)
    said = result.describe()
    revoked_report = isinstance(body, dict) and isinstance(body.get("revoked"), dict)
    assert outcome.confirmed == (status == 200 and revoked_report)
    assert ("server ended" in said) == outcome.confirmed
    if outcome.already_ended:
        assert status == 401
        told = hdrs.get("www-authenticate", "") + str(body)
        assert "session ended" in told or "logged out everywhere" in told
    assert ("already ended" in said) == outcome.already_ended
    assert (logout_exit_code(result) == 0) == outcome.session_over


@given(statuses, bodies)
def test_finding4_only_an_explicit_race_or_reuse_is_read_as_one(status: int, body: Any) -> None:
    reason = refresh_refusal(answer(status, body, {}))
    given_reason = body.get("error_reason") if isinstance(body, dict) else None
    assert reason == (given_reason if given_reason in ("race", "reused") else "invalid")
