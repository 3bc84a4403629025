"""An external issuer's access tokens: its keys and our rules, every refusal precise."""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from cleanexit.clock import ManualClock
from cleanexit.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidTokenError,
    KeysUnavailableError,
    MalformedTokenError,
)
from cleanexit.server.oidc import ExternalVerifier, IssuerVerifier, JwksCache, TrustedIssuer
from cleanexit.server.revocation import scoped_key

from .provider import AUD, CLIENT, JWKS_URI, OP, T0, FakeFetch, Provider, public_jwk, trusted

pytestmark = pytest.mark.anyio
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + 10)


@pytest.fixture
def op() -> Provider:
    provider = Provider()
    for alg in ALGORITHMS:
        provider.add(alg)
    return provider


@pytest.fixture
def fetch(op: Provider) -> FakeFetch:
    return FakeFetch({JWKS_URI: op.jwks})


def make(fetch: FakeFetch, clock: ManualClock, **options: Any) -> ExternalVerifier:
    issuer = trusted(**options)
    cache = JwksCache(issuer, fetch=fetch, clock=clock)
    return ExternalVerifier([IssuerVerifier(issuer, cache, clock=clock)])


@pytest.fixture
def verifier(fetch: FakeFetch, clock: ManualClock) -> ExternalVerifier:
    return make(fetch, clock)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    parts = (json.dumps(header).encode(), json.dumps(payload).encode(), signature)
    return ".".join(b64(p) for p in parts)


@pytest.mark.parametrize("alg", ALGORITHMS)
async def test_each_algorithm_verifies(alg: str, op: Provider, verifier: ExternalVerifier) -> None:
    kid = next(k for k, (a, _) in op.keys.items() if a == alg)
    claims, keys = await verifier.verify(op.sign(op.access(scope="orders:read"), kid=kid))
    assert (claims.iss, claims.sub, claims.sid, claims.jti) == (OP, "alice", "op-s1", "op-j1")
    assert claims.aud == AUD and claims.client_id == CLIENT and claims.scopes == {"orders:read"}
    # Revocation keys: sid and sub scoped by issuer, from the verified claims.
    assert keys.sid == scoped_key(OP, "op-s1") and keys.sub == scoped_key(OP, "alice")
    assert keys.jti == "op-j1" and keys.iat == T0


async def test_a_verified_header_is_remembered(
    op: Provider, verifier: ExternalVerifier, fetch: FakeFetch
) -> None:
    token = op.sign(op.access())
    await verifier.verify(token)
    await verifier.verify(op.sign(op.access(jti="another")))
    assert fetch.calls == [JWKS_URI]  # one fetch; the second token's header was known


async def test_sid_and_jti_are_optional_sub_and_iat_are_not(
    op: Provider, verifier: ExternalVerifier
) -> None:
    claims, keys = await verifier.verify(op.sign(op.access(sid=None, jti=None)))
    assert (claims.sid, claims.jti, keys.sid, keys.jti) == ("", "", "", "")
    with pytest.raises(ClaimError, match="missing claim: sub"):
        await verifier.verify(op.sign(op.access(sub=None)))
    with pytest.raises(ClaimError, match="missing claim: iat"):
        await verifier.verify(op.sign(op.access(iat=None)))


@pytest.mark.parametrize(
    ("claims", "error", "description"),
    [
        ({"aud": "another-api"}, ClaimError, "wrong audience"),
        ({"aud": [CLIENT]}, ClaimError, "wrong audience"),
        ({"iss": "https://other.example"}, ClaimError, "unknown issuer"),
        ({"iss": OP + "/"}, ClaimError, "unknown issuer"),  # exact, not "the same URL"
        ({"exp": T0 + 5}, ExpiredTokenError, "expired"),
        ({"iat": T0 + 100, "exp": T0 + 200}, ImmatureTokenError, "not yet valid"),
        ({"nbf": T0 + 100}, ImmatureTokenError, "not yet valid"),
        ({"exp": T0 + 3601}, ClaimError, "implausible iat or exp"),  # max_token_lifetime
        ({"sid": 7}, ClaimError, "invalid claim: sid"),
        ({"sub": "x" * 257}, ClaimError, "missing claim: sub"),
        ({"events": {}}, ClaimError, "wrong token type"),  # a logout token's claims
    ],
)
async def test_claim_rules(
    op: Provider,
    verifier: ExternalVerifier,
    claims: dict[str, Any],
    error: type[InvalidTokenError],
    description: str,
) -> None:
    with pytest.raises(error) as refused:
        await verifier.verify(op.sign(op.access(**claims)))
    assert refused.value.description == description


async def test_typ_is_enforced_when_configured(
    op: Provider, fetch: FakeFetch, clock: ManualClock
) -> None:
    strict = make(fetch, clock, typ="at+jwt")
    await strict.verify(op.sign(op.access(), typ="application/at+jwt"))  # RFC 7515 §4.1.9
    for typ in ("JWT", None):
        with pytest.raises(ClaimError, match="wrong token type"):
            await strict.verify(op.sign(op.access(), typ=typ))


async def test_a_logout_token_is_never_an_access_token(
    op: Provider, verifier: ExternalVerifier
) -> None:
    with pytest.raises(ClaimError, match="wrong token type"):
        await verifier.verify(op.sign(op.access(), typ="logout+jwt"))


async def test_unsigned_and_hmac_tokens_are_refused(
    op: Provider, verifier: ExternalVerifier
) -> None:
    """RFC 8725 §2.1: ``none``, and HS256 keyed with the provider's public key (the classic
    RS/HS confusion) — the algorithm comes from configuration, never the header."""
    kid = next(iter(op.keys))
    with pytest.raises(BadSignatureError, match="algorithm not allowed"):
        await verifier.verify(forge({"alg": "none", "kid": kid}, op.access()))
    pem = (
        op.keys[kid][1]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header, payload = {"alg": "HS256", "kid": kid, "typ": "at+jwt"}, op.access()
    unsigned = forge(header, payload)[:-1]  # "<header>.<payload>." without the dot
    signature = hmac.digest(pem, unsigned.encode(), "sha256")  # keyed with the public key
    with pytest.raises(BadSignatureError, match="algorithm not allowed"):
        await verifier.verify(forge(header, payload, signature))


async def test_only_configured_algorithms(
    op: Provider, fetch: FakeFetch, clock: ManualClock
) -> None:
    rs_only = make(fetch, clock, algorithms=("RS256",))
    es = next(k for k, (a, _) in op.keys.items() if a == "ES256")
    with pytest.raises(BadSignatureError, match="algorithm not allowed"):
        await rs_only.verify(op.sign(op.access(), kid=es))


async def test_a_key_is_used_with_its_own_algorithm_only(
    op: Provider, verifier: ExternalVerifier
) -> None:
    """An RS256 key named in the JWKS does not verify a PS256 signature made with it."""
    rs = next(k for k, (a, _) in op.keys.items() if a == "RS256")
    token = jwt.encode(op.access(), op.keys[rs][1], algorithm="PS256", headers={"kid": rs})
    with pytest.raises(BadSignatureError, match="unknown key"):
        await verifier.verify(token)


async def test_bad_signature_and_unknown_kid(
    op: Provider, verifier: ExternalVerifier, fetch: FakeFetch
) -> None:
    token = op.sign(op.access())
    head, _body, sig = token.split(".")
    other = op.sign(op.access(sub="mallory")).split(".")[1]
    with pytest.raises(BadSignatureError, match=r"^bad signature$"):
        await verifier.verify(f"{head}.{other}.{sig}")
    with pytest.raises(BadSignatureError, match="unknown key"):
        await verifier.verify(op.sign(op.access(), headers={"kid": "made-up"}))


@pytest.mark.parametrize(
    ("token", "description"),
    [
        ("", "malformed: empty or oversized token"),
        ("a.b", "malformed"),
        ("a.b.c.d.e", "malformed: encrypted tokens (JWE) are not accepted"),
        ("x" * 9000, "malformed: empty or oversized token"),
        ("é.b.c", "malformed"),
    ],
)
async def test_malformed(verifier: ExternalVerifier, token: str, description: str) -> None:
    with pytest.raises(MalformedTokenError) as refused:
        await verifier.verify(token)
    assert refused.value.description == description


async def test_crit_is_not_understood(op: Provider, verifier: ExternalVerifier) -> None:
    token = op.sign(op.access(), headers={"crit": ["exp"], "exp": 1})
    with pytest.raises(MalformedTokenError, match="unsupported header parameter"):
        await verifier.verify(token)


async def test_keys_are_never_fetched_from_the_token(
    op: Provider, verifier: ExternalVerifier, fetch: FakeFetch
) -> None:
    """RFC 8725 §3.10: jku / x5u / jwk in a header are ignored; only the configured JWKS."""
    attacker = Provider()
    kid = attacker.add("RS256", kid="attacker")
    jwk = public_jwk(attacker.keys[kid][1], kid, "RS256")
    token = attacker.sign({**op.access()}, headers={"jku": "https://evil.example/jwks", "jwk": jwk})
    with pytest.raises(BadSignatureError, match="unknown key"):
        await verifier.verify(token)
    assert set(fetch.calls) == {JWKS_URI}


async def test_no_keys_at_all_fails_closed(op: Provider, clock: ManualClock) -> None:
    down = FakeFetch({})
    with pytest.raises(KeysUnavailableError):
        await make(down, clock).verify(op.sign(op.access()))


async def test_weak_rsa_keys_and_foreign_curves_are_skipped(clock: ManualClock) -> None:
    op = Provider()
    op.keys["weak"] = ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=1024))
    op.add("ES256", kid="p256")
    jwks = op.jwks()
    jwks["keys"][1]["crv"] = "P-384"  # says it is another curve: not an ES256 key
    with pytest.raises(KeysUnavailableError):  # neither key is usable: no keys at all
        await make(FakeFetch({JWKS_URI: jwks}), clock).verify(op.sign(op.access(), kid="p256"))


async def test_keys_without_alg_serve_each_allowed_algorithm_of_their_type(
    op: Provider, clock: ManualClock
) -> None:
    verifier = make(FakeFetch({JWKS_URI: lambda: op.jwks(named=False)}), clock)
    for kid in op.keys:
        await verifier.verify(op.sign(op.access(), kid=kid))


MUTATION = st.tuples(st.integers(0, 10_000), st.sampled_from("AQgwB-_x9"))


@given(mutations=st.lists(MUTATION, min_size=1, max_size=3))
@settings(max_examples=150, deadline=None)
async def test_never_accepts_what_pyjwt_refuses(mutations: list[tuple[int, str]]) -> None:
    """PyJWT as the oracle: a token we accept, PyJWT (with the same key, algorithm,
    audience, issuer) accepts too, whatever is changed in it."""
    op = _ORACLE
    token = list(_ORACLE_TOKEN)
    for position, char in mutations:
        token[position % len(token)] = char
    mutated = "".join(token)
    try:
        await _ORACLE_VERIFIER.verify(mutated)
    except (InvalidTokenError, KeysUnavailableError):
        return
    alg, key = next(iter(op.keys.values()))
    jwt.decode(
        mutated, key.public_key(), algorithms=[alg], audience=AUD, issuer=OP,
        options={"verify_exp": False, "verify_iat": False},
    )  # fmt: skip


_ORACLE = Provider()
_ORACLE.add("ES256")
_ORACLE_TOKEN = _ORACLE.sign(_ORACLE.access())
_ORACLE_ISSUER: TrustedIssuer = trusted(algorithms=("ES256",))
_ORACLE_VERIFIER = ExternalVerifier(
    [
        IssuerVerifier(
            _ORACLE_ISSUER,
            JwksCache(
                _ORACLE_ISSUER,
                fetch=FakeFetch({JWKS_URI: _ORACLE.jwks()}),
                clock=ManualClock(T0 + 10),
            ),
            clock=ManualClock(T0 + 10),
        )
    ]
)
