"""Token validation: every hostile or foreign token is a precise InvalidTokenError (→ 401)."""

from __future__ import annotations

import base64
import contextlib
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from cleanexit._secret import Secret
from cleanexit.clock import ManualClock
from cleanexit.errors import (
    BadSignatureError,
    ClaimError,
    ConfigurationError,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidTokenError,
    MalformedTokenError,
)
from cleanexit.server.keys import KeyRing, generate_private_pem
from cleanexit.server.tokens import TokenIssuer
from cleanexit.server.verifier import Verifier

SECRET = Secret("k" * 8 + "0123456789abcdefghijklmnopqrstuvwxyz")
ISS, AUD = "https://auth.example", "api"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.0)


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.from_secrets(SECRET)


@pytest.fixture
def issuer(ring: KeyRing, clock: ManualClock) -> TokenIssuer:
    return TokenIssuer(keys=ring, issuer=ISS, audience=AUD, access_ttl=600, clock=clock)


@pytest.fixture
def verifier(ring: KeyRing, clock: ManualClock) -> Verifier:
    return Verifier(keys=ring, issuer=ISS, audience=AUD, clock=clock)


def claims(clock: ManualClock, **overrides: object) -> dict[str, object]:
    now = int(clock())
    base: dict[str, object] = {
        "iss": ISS, "aud": AUD, "sub": "alice", "sid": "s1", "jti": "j1",
        "iat": now, "exp": now + 600, "client_id": "cleanexit",
    }  # fmt: skip
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(ring: KeyRing, payload: dict[str, object], **headers: object) -> str:
    key = ring.active
    return jwt.encode(
        payload,
        key.signer,
        algorithm=key.algorithm,
        headers={"typ": "at+jwt", "kid": key.kid, **headers},
    )


def test_round_trip(issuer: TokenIssuer, verifier: Verifier) -> None:
    issued = issuer.issue(sub="alice", sid="s1")
    assert verifier.verify(issued.token) == issued.claims
    header = jwt.get_unverified_header(issued.token)
    assert header["typ"] == "at+jwt" and header["alg"] == "HS256"


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])
def test_asymmetric_round_trip_and_jwks(algorithm: str, clock: ManualClock) -> None:
    ring = KeyRing.from_private_pems(generate_private_pem(algorithm))  # type: ignore[arg-type]
    issued = TokenIssuer(keys=ring, issuer=ISS, audience=AUD, clock=clock).issue(sub="a", sid="s")
    assert (
        Verifier(keys=ring, issuer=ISS, audience=AUD, clock=clock).verify(issued.token).sub == "a"
    )
    (jwk,) = ring.jwks()["keys"]
    assert jwk["kid"] == ring.active.kid and jwk["alg"] == algorithm and "d" not in jwk


def test_rotation_old_key_still_verifies(clock: ManualClock) -> None:
    old_pem, new_pem = generate_private_pem("EdDSA"), generate_private_pem("EdDSA")
    old_ring = KeyRing.from_private_pems(old_pem)
    token = (
        TokenIssuer(keys=old_ring, issuer=ISS, audience=AUD, clock=clock)
        .issue(sub="a", sid="s")
        .token
    )
    rotated = KeyRing.from_private_pems(new_pem, old_pem)
    assert Verifier(keys=rotated, issuer=ISS, audience=AUD, clock=clock).verify(token).sub == "a"
    dropped = KeyRing.from_private_pems(new_pem)
    with pytest.raises(BadSignatureError, match="unknown key"):
        Verifier(keys=dropped, issuer=ISS, audience=AUD, clock=clock).verify(token)


def test_alg_none_is_refused(verifier: Verifier, clock: ManualClock, ring: KeyRing) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": ring.active.kid}).encode())
    token = f"{header}.{b64(json.dumps(claims(clock)).encode())}."
    with pytest.raises(BadSignatureError, match="algorithm not allowed"):
        verifier.verify(token)


def test_hs256_signed_with_a_public_key_is_refused(clock: ManualClock) -> None:
    """HS/RS confusion: an EdDSA ring must never accept HMAC keyed with its public key."""
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ring = KeyRing.from_private_pems(pem)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": ring.active.kid}).encode())
    body = b64(json.dumps(claims(clock)).encode())
    import hashlib
    import hmac

    sig = b64(hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest())
    with pytest.raises(BadSignatureError):
        Verifier(keys=ring, issuer=ISS, audience=AUD, clock=clock).verify(f"{header}.{body}.{sig}")


def test_es256_token_against_an_hs256_ring(
    verifier: Verifier, clock: ManualClock, ring: KeyRing
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(
        claims(clock), key, algorithm="ES256", headers={"typ": "at+jwt", "kid": ring.active.kid}
    )
    with pytest.raises(BadSignatureError):
        verifier.verify(token)


def test_foreign_key(verifier: Verifier, clock: ManualClock, ring: KeyRing) -> None:
    token = jwt.encode(
        claims(clock),
        "x" * 64,
        algorithm="HS256",
        headers={"typ": "at+jwt", "kid": ring.active.kid},
    )
    with pytest.raises(BadSignatureError):
        verifier.verify(token)


def test_unknown_kid_and_fetching_headers_are_ignored(
    verifier: Verifier, clock: ManualClock, ring: KeyRing
) -> None:
    with pytest.raises(BadSignatureError, match="unknown key"):
        verifier.verify(sign(ring, claims(clock), kid="other"))
    # jku / x5u / jwk are never fetched or trusted: the token still verifies only with our key.
    token = sign(
        ring, claims(clock), jku="https://evil.example/jwks", jwk={"kty": "oct", "k": "AAAA"}
    )
    assert verifier.verify(token).sub == "alice"


@pytest.mark.parametrize("typ", ["JWT", "jwt", None, "refresh+jwt", 7])
def test_wrong_type(verifier: Verifier, clock: ManualClock, ring: KeyRing, typ: object) -> None:
    key = ring.active
    headers: dict[str, object] = {"kid": key.kid, "typ": typ}
    token = jwt.encode(
        claims(clock),
        key.signer,
        algorithm="HS256",
        headers={k: v for k, v in headers.items() if v is not None},
    )
    with pytest.raises(ClaimError, match="wrong token type"):
        verifier.verify(token)


def test_application_at_jwt_type_is_accepted(
    verifier: Verifier, clock: ManualClock, ring: KeyRing
) -> None:
    assert verifier.verify(sign(ring, claims(clock), typ="application/at+JWT")).sub == "alice"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"iss": "https://evil.example"}, "wrong issuer"),
        ({"aud": "other-api"}, "wrong audience"),
        ({"aud": ["x", "y"]}, "wrong audience"),
        ({"sub": None}, "missing claim: sub"),
        ({"sid": None}, "missing claim: sid"),
        ({"jti": None}, "missing claim: jti"),
        ({"iss": None}, "missing claim: iss"),
        ({"exp": None}, "missing claim: exp"),
        ({"iat": None}, "missing claim: iat"),
        ({"exp": "tomorrow"}, "missing claim: exp"),
        ({"iat": True}, "missing claim: iat"),
        ({"sub": 42}, "missing claim: sub"),
        ({"sub": ""}, "missing claim: sub"),
        ({"jti": "j" * 1000}, "missing claim: jti"),
    ],
)
def test_claim_rules(
    verifier: Verifier, clock: ManualClock, ring: KeyRing, override: dict[str, object], message: str
) -> None:
    with pytest.raises(ClaimError, match=message):
        verifier.verify(sign(ring, claims(clock, **override)))


def test_audience_list_containing_ours(
    verifier: Verifier, clock: ManualClock, ring: KeyRing
) -> None:
    assert verifier.verify(sign(ring, claims(clock, aud=["x", AUD]))).sub == "alice"


def test_expired_and_not_yet_valid(
    verifier: Verifier, clock: ManualClock, issuer: TokenIssuer, ring: KeyRing
) -> None:
    token = issuer.issue(sub="a", sid="s").token
    clock.advance(599)
    verifier.verify(token)
    clock.advance(1)
    with pytest.raises(ExpiredTokenError):
        verifier.verify(token)
    future = sign(ring, claims(clock, iat=int(clock()) + 60, exp=int(clock()) + 600))
    with pytest.raises(ImmatureTokenError):
        verifier.verify(future)
    with pytest.raises(ImmatureTokenError):
        verifier.verify(sign(ring, claims(clock, nbf=int(clock()) + 60)))


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d", "....", "é.é.é", "a" * 5000, "eyJ.eyJ.sig", "Bearer x.y.z",
     b64(b"[]") + "." + b64(b"{}") + ".x", b64(b'{"alg":"HS256"') + ".e30.x"],
)  # fmt: skip
def test_malformed(verifier: Verifier, token: str) -> None:
    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


def test_payload_that_is_not_an_object(verifier: Verifier, ring: KeyRing) -> None:
    key = ring.active
    token = jwt.api_jws.encode(
        b"[1,2]", key.signer, algorithm="HS256", headers={"typ": "at+jwt", "kid": key.kid}
    )
    with pytest.raises(MalformedTokenError):
        verifier.verify(token)


def test_crit_header_is_refused(verifier: Verifier, clock: ManualClock, ring: KeyRing) -> None:
    with pytest.raises(MalformedTokenError):
        verifier.verify(sign(ring, claims(clock), crit=["exp"]))


def re_encodings(token: str) -> list[str]:
    """Copies of a token that a raw-string deny list would not recognise."""
    head, body, sig = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(sig[-1])
    # A 32-byte signature leaves 2 spare bits in its last base64url character.
    spare = [f"{head}.{body}.{sig[:-1]}{alphabet[last ^ bit]}" for bit in (1, 2, 3)]
    padded = [f"{head}=.{body}.{sig}", f"{head}.{body}==.{sig}", f"{head}.{body}.{sig}="]
    return [*spare, *padded, token + " ", " " + token, token.replace(".", ". ", 1)]


def test_re_encoded_copies_never_verify_as_new_tokens(
    verifier: Verifier, issuer: TokenIssuer
) -> None:
    """Invariant 4 regression: whatever string form a copy takes, either it is refused
    outright, or it verifies to the very same claims (same (iss, jti), same sid), which the
    deny list then refuses. Here PyJWT's strict base64 refuses them all."""
    issued = issuer.issue(sub="a", sid="s")
    for variant in re_encodings(issued.token):
        assert variant != issued.token
        with contextlib.suppress(InvalidTokenError):
            assert verifier.verify(variant) == issued.claims


def test_secrets_never_show_in_repr(ring: KeyRing, issuer: TokenIssuer) -> None:
    issued = issuer.issue(sub="a", sid="s")
    for text in (repr(ring), repr(ring.active), repr(issued), repr(SECRET), str(SECRET)):
        assert SECRET.reveal() not in text and issued.token not in text


@pytest.mark.parametrize("secret", ["short", "a" * 64, "abcabcabcabcabcabcabcabcabcabcabcabc"])
def test_weak_secrets_are_a_configuration_error(secret: str) -> None:
    with pytest.raises(ConfigurationError, match="too weak"):
        KeyRing.from_secrets(Secret(secret))


# -- issue 9, finding 6: hostile numbers and encodings --------------------------------------
@pytest.mark.parametrize(
    "times",
    [
        {"exp": 10**30},
        {"exp": 1e300},
        {"iat": -(10**20)},
        {"exp": 253402300800},  # past year 9999
    ],
)
def test_finding6_an_absurd_exp_or_iat_is_refused(
    verifier: Verifier, clock: ManualClock, ring: KeyRing, times: dict[str, object]
) -> None:
    token = sign(ring, claims(clock, **times))
    with pytest.raises(ClaimError, match="implausible"):
        verifier.verify(token)
    with pytest.raises(ClaimError, match="implausible"):
        verifier.verify(token, allow_expired=True)


def test_finding6_padded_segments_are_refused(verifier: Verifier, issuer: TokenIssuer) -> None:
    """PyJWT takes base64 padding; one token has one spelling here, on every path."""
    token = issuer.issue(sub="a", sid="s").token
    head, body, sig = token.split(".")
    assert len(sig) % 4 == 3  # HS256: 43 characters, so one '=' is valid padding
    assert jwt.decode(f"{head}.{body}.{sig}=", options={"verify_signature": False})
    for variant in (f"{head}.{body}.{sig}=", f"{head}.{body}==.{sig}" if len(body) % 4 == 2 else
                    f"{head}.{body}=.{sig}"):  # fmt: skip
        with pytest.raises(MalformedTokenError):
            verifier.verify(variant)


def test_allow_expired_is_for_naming_a_session_only(
    verifier: Verifier, issuer: TokenIssuer, clock: ManualClock, ring: KeyRing
) -> None:
    issued = issuer.issue(sub="a", sid="s")
    clock.advance(10_000)
    with pytest.raises(ExpiredTokenError):
        verifier.verify(issued.token)
    assert verifier.verify(issued.token, allow_expired=True) == issued.claims
    # Everything else is still checked: a forged or foreign token is no logout credential.
    with pytest.raises(BadSignatureError):
        verifier.verify(issued.token[:-3] + "AAA", allow_expired=True)
    with pytest.raises(ImmatureTokenError):
        verifier.verify(sign(ring, claims(clock, iat=int(clock()) + 60)), allow_expired=True)
