"""Back-Channel Logout 1.0 §2.6: every check a receiver must make, each refusal named."""

from __future__ import annotations

from typing import Any

import pytest

from cleanexit.clock import ManualClock
from cleanexit.errors import InvalidLogoutTokenError, KeysUnavailableError
from cleanexit.server.oidc import (
    BACKCHANNEL_LOGOUT_EVENT,
    ExternalVerifier,
    IssuerVerifier,
    JwksCache,
    read_logout_token,
)

from .provider import JWKS_URI, OP, T0, FakeFetch, Provider, trusted
from .test_verifier import forge

pytestmark = pytest.mark.anyio
NOW = T0 + 5


@pytest.fixture
def op() -> Provider:
    provider = Provider()
    provider.add("RS256")
    provider.add("ES256")
    return provider


def verifiers(op: Provider, **options: Any) -> ExternalVerifier:
    clock = ManualClock(NOW)
    issuer = trusted(algorithms=("RS256",), **options)
    cache = JwksCache(issuer, fetch=FakeFetch({JWKS_URI: op.jwks}), clock=clock)
    return ExternalVerifier([IssuerVerifier(issuer, cache, clock=clock)])


async def read(op: Provider, token: str, **options: Any) -> Any:
    return await read_logout_token(token, verifiers(op, **options), now=NOW)


async def test_a_valid_logout_token(op: Provider) -> None:
    token = await read(op, op.sign(op.logout(jti="lo-1"), typ="logout+jwt"))
    assert (token.issuer.issuer, token.jti, token.sid, token.sub) == (OP, "lo-1", "op-s1", "alice")
    # Remembered until it could no longer be accepted: exp (before iat + max age) + 1.
    assert token.replay_until == T0 + 120 + 1


async def test_sid_or_sub_alone(op: Provider) -> None:
    assert (await read(op, op.sign(op.logout(sid=None), typ="logout+jwt"))).sid is None
    assert (await read(op, op.sign(op.logout(sub=None), typ="logout+jwt"))).sub is None


NO_EVENT = {"http://schemas.openid.net/event/other": {}}


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"aud": "orders-api"}, "wrong audience"),
        ({"aud": ["someone-else"]}, "wrong audience"),
        ({"azp": "someone-else"}, "wrong authorized party (azp)"),
        ({"iss": "https://evil.example"}, "unknown issuer"),
        ({"events": None}, "missing claim: events"),
        ({"events": NO_EVENT}, "events has no back-channel logout event"),
        ({"events": {BACKCHANNEL_LOGOUT_EVENT: "yes"}}, "events has no back-channel logout event"),
        ({"nonce": "n-0S6_WzA2Mj"}, "a nonce is not allowed (§2.4)"),
        ({"sid": None, "sub": None}, "neither sid nor sub"),
        ({"jti": None}, "missing claim: jti"),
        ({"sid": 12}, "invalid claim: sid"),
        ({"iat": NOW + 60, "exp": NOW + 180}, "iat is in the future"),
        ({"iat": NOW - 301, "exp": NOW + 60}, "too old (iat)"),
        ({"iat": T0 - 200, "exp": NOW - 1}, "expired"),
        ({"iat": None}, "missing claim: iat"),
    ],
)
async def test_refusals(op: Provider, claims: dict[str, Any], why: str) -> None:
    with pytest.raises(InvalidLogoutTokenError) as refused:
        await read(op, op.sign(op.logout(**claims), typ="logout+jwt"))
    assert refused.value.description == f"logout token refused: {why}"
    assert refused.value.error_code == "invalid_request"


@pytest.mark.parametrize(
    ("typ", "strict", "accepted"),
    [
        ("logout+jwt", True, True),
        ("application/logout+jwt", True, True),
        (None, True, False),
        ("JWT", True, False),  # an ID token's type: ASVS 5 V10.5.5
        (None, False, True),  # require_logout_typ=False: a provider older than the spec
        ("JWT", False, True),
        ("at+jwt", False, False),  # never an access token
    ],
)
async def test_typ(op: Provider, typ: str | None, strict: bool, accepted: bool) -> None:
    token = op.sign(op.logout(), typ=typ)
    if accepted:
        await read(op, token, require_logout_typ=strict)
        return
    with pytest.raises(InvalidLogoutTokenError, match="wrong token type"):
        await read(op, token, require_logout_typ=strict)


async def test_signature_and_algorithm(op: Provider) -> None:
    rs = next(iter(op.keys))
    unsigned = forge({"alg": "none", "typ": "logout+jwt", "kid": rs}, op.logout())
    with pytest.raises(InvalidLogoutTokenError, match="algorithm not allowed"):
        await read(op, unsigned)
    es = list(op.keys)[1]  # ES256: a key of the provider, but not an allowed algorithm
    with pytest.raises(InvalidLogoutTokenError, match="algorithm not allowed"):
        await read(op, op.sign(op.logout(), kid=es, typ="logout+jwt"))
    head, _, sig = op.sign(op.logout(), typ="logout+jwt").split(".")
    body = op.sign(op.logout(sub="bob"), typ="logout+jwt").split(".")[1]
    with pytest.raises(InvalidLogoutTokenError, match="bad signature"):
        await read(op, f"{head}.{body}.{sig}")
    with pytest.raises(InvalidLogoutTokenError, match="encrypted tokens"):
        await read(op, "a.b.c.d.e")


async def test_an_issuer_without_client_id_sends_no_logout_tokens(op: Provider) -> None:
    with pytest.raises(InvalidLogoutTokenError, match="not configured for this issuer"):
        await read(op, op.sign(op.logout(), typ="logout+jwt"), client_id=None)


async def test_keys_that_cannot_be_fetched_are_503_not_400(op: Provider) -> None:
    clock = ManualClock(NOW)
    issuer = trusted()
    cache = JwksCache(issuer, fetch=FakeFetch({}), clock=clock)
    down = ExternalVerifier([IssuerVerifier(issuer, cache, clock=clock)])
    with pytest.raises(KeysUnavailableError):
        await read_logout_token(op.sign(op.logout(), typ="logout+jwt"), down, now=NOW)
