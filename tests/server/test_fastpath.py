"""The fast path is PyJWT's equal: published vectors, and PyJWT as the oracle on random and
mutated tokens (bit flips, segment swaps, re-encodings, header variants, re-signed junk)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cleanexit._secret import Secret
from cleanexit.clock import ManualClock
from cleanexit.errors import InvalidTokenError
from cleanexit.server.fastpath import (
    FastPath,
    b64decode_strict,
    header_segment,
    hmac_sha256,
    signature_check,
)
from cleanexit.server.keys import KeyRing, generate_private_pem
from cleanexit.server.tokens import AccessClaims, TokenIssuer
from cleanexit.server.verifier import Verifier, check_claims

ISS, AUD = "https://auth.example", "api"
NOW = 1_800_000_000
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
RINGS = {
    "HS256": KeyRing.from_secrets(Secret("k" * 8 + "0123456789abcdefghijklmnopqrstuvwxyz")),
    "EdDSA": KeyRing.from_private_pems(generate_private_pem("EdDSA")),
    "ES256": KeyRing.from_private_pems(generate_private_pem("ES256")),
}
ORACLE = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


# -- published vectors, through the primitive layer -------------------------------------------
# Our pinned-header rules refuse these tokens (no kid, no at+jwt type), so they go through the
# primitives the fast path is made of; PyJWT must agree with each one as well.
RFC7515_A1 = (  # HS256, RFC 7515 appendix A.1
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)
RFC7515_A1_KEY = (
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
)
RFC7520_4_4 = (  # HS256 with a kid, RFC 7520 §4.4 (key: §3.5)
    "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9."
    "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250"
    "byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hl"
    "cmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4."
    "s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0"
)
RFC7520_KEY = "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"
FRODO = (
    "It\u2019s a dangerous business, Frodo, going out your door. You step onto the road, and if "
    "you don't keep your feet, there\u2019s no knowing where you might be swept off to."
)
RFC7515_A3 = (  # ES256, RFC 7515 appendix A.3
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
)
RFC7515_A3_XY = (
    "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
)
RFC8037_A4 = (  # Ed25519, RFC 8037 appendix A.4
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"


def _vector_cases() -> list[tuple[str, str, Any]]:
    x, y = (int.from_bytes(unb64(c)) for c in RFC7515_A3_XY)
    p256 = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    ed = ed25519.Ed25519PublicKey.from_public_bytes(unb64(RFC8037_X))
    return [
        ("HS256", RFC7515_A1, unb64(RFC7515_A1_KEY)),
        ("HS256", RFC7520_4_4, unb64(RFC7520_KEY)),
        ("ES256", RFC7515_A3, p256),
        ("EdDSA", RFC8037_A4, ed),
    ]


@pytest.mark.parametrize(("alg", "token", "key"), _vector_cases())
def test_published_vectors(alg: str, token: str, key: Any) -> None:
    signing_input, _, signature = token.rpartition(".")
    check = signature_check(alg, key)
    assert check(signing_input.encode(), signature)
    # PyJWT, the oracle, agrees on the same vector.
    decoded = jwt.PyJWS().decode_complete(token, key, algorithms=[alg])
    assert b64decode_strict(signing_input.partition(".")[2]) == decoded["payload"]
    # One flipped bit of the message or of the signature is refused.
    assert not check(signing_input.encode() + b"x", signature)
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    assert not check(signing_input.encode(), flipped)


def test_rfc7520_payload_and_hmac() -> None:
    signing_input, _, signature = RFC7520_4_4.rpartition(".")
    assert b64decode_strict(signing_input.partition(".")[2]) == FRODO.encode()
    assert b64(hmac_sha256(unb64(RFC7520_KEY))(signing_input.encode())) == signature


@given(key=st.binary(max_size=200), msg=st.binary(max_size=600))
@settings(max_examples=300, deadline=None)
def test_hmac_sha256_equals_hmac_digest(key: bytes, msg: bytes) -> None:
    """RFC 2104 with the key schedule done once: equal to the standard library for every key
    length (empty, shorter than a block, exactly 64 bytes, hashed when longer)."""
    assert hmac_sha256(key)(msg) == hmac.digest(key, msg, "sha256")


JUNK = st.one_of(st.sampled_from("=+/ .\n\t!é\x00"), st.characters(), st.sampled_from(ALPHABET))


@given(data=st.binary(max_size=64), pos=st.integers(0, 100), extra=st.lists(JUNK, max_size=3))
@settings(max_examples=1500, deadline=None)
def test_b64decode_strict_agrees_with_pyjwt(data: bytes, pos: int, extra: list[str]) -> None:
    """Whatever our decoder accepts, PyJWT's decodes to the same bytes; canonical unpadded
    encodings are always accepted; padded forms are left to PyJWT."""
    clean = b64(data)
    assert b64decode_strict(clean) == data
    i = pos % (len(clean) + 1)
    for segment in (clean[:i] + "".join(extra) + clean[i:], clean[:-1] + "".join(extra)):
        ours = b64decode_strict(segment)
        try:
            theirs: bytes | None = jwt.PyJWS._decode_base64url_segment(segment.encode(), "x")
        except (jwt.DecodeError, UnicodeEncodeError):  # lone surrogates cannot even be bytes
            theirs = None
        if ours is not None:
            assert ours == theirs
        elif theirs is not None:
            assert segment.endswith("=")


# -- random and mutated tokens, PyJWT as the oracle -------------------------------------------
def _text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(alphabet=ALPHABET, min_size=1, max_size=30),
        st.text(max_size=300),
        st.just(""),
    )


def _number() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(NOW - 1000, NOW + 1000),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
        st.just("1800000000"),
    )


CLAIMS = st.fixed_dictionaries(
    {
        "iss": st.one_of(st.just(ISS), _text(), st.none()),
        "aud": st.one_of(st.just(AUD), st.just([AUD, "x"]), st.just(["x"]), _text(), st.none()),
        "sub": st.one_of(st.just("alice"), _text(), st.none(), st.integers()),
        "sid": st.one_of(st.just("s1"), _text(), st.none()),
        "jti": st.one_of(st.just("j1"), _text(), st.none()),
        "iat": st.one_of(st.just(NOW - 10), _number()),
        "exp": st.one_of(st.just(NOW + 600), _number()),
        "client_id": st.one_of(st.just("cleanexit"), _text(), st.none(), st.integers()),
    },
    optional={"nbf": _number(), "extra": st.text(max_size=20)},
)


def _payload_bytes(claims: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in claims.items() if v is not None}).encode()


def _sign(alg: str, signing_input: bytes) -> str:
    key = RINGS[alg].active
    algorithm = jwt.get_algorithm_by_name(alg)
    return b64(algorithm.sign(signing_input, algorithm.prepare_key(key.signer)))


def _resigned(alg: str, header: str, payload: str) -> str:
    return f"{header}.{payload}.{_sign(alg, f'{header}.{payload}'.encode())}"


def _header_variants(alg: str) -> list[dict[str, Any]]:
    kid = RINGS[alg].active.kid
    return [
        {"typ": "at+jwt", "kid": kid, "alg": alg},  # same header, another key order
        {"alg": alg, "kid": kid, "typ": "application/at+jwt"},
        {"alg": alg, "kid": kid, "typ": "JWT"},
        {"alg": alg, "kid": kid},
        {"alg": "none", "kid": kid, "typ": "at+jwt"},
        {"alg": "HS384", "kid": kid, "typ": "at+jwt"},
        {"alg": alg, "kid": "other", "typ": "at+jwt"},
        {"alg": alg, "kid": kid, "typ": "at+jwt", "crit": ["b64"], "b64": False},
        {"alg": alg, "kid": kid, "typ": "at+jwt", "jku": "https://evil.example/"},
        {"alg": alg, "kid": 7, "typ": "at+jwt"},
    ]


Mutation = Callable[[str], str]


@st.composite
def mutations(draw: st.DrawFn, alg: str) -> Mutation:
    kind = draw(st.integers(0, 11))
    index = draw(st.integers(0, 10_000))
    char = draw(st.sampled_from(ALPHABET + "=+/.!é \x00"))
    variant = draw(st.sampled_from(_header_variants(alg)))
    junk = draw(st.binary(max_size=40))

    def mutate(token: str) -> str:
        h, p, s = token.split(".")
        if kind == 0:
            return token
        if kind == 1:  # one character replaced anywhere (bit flips and worse)
            i = index % len(token)
            return token[:i] + char + token[i + 1 :]
        if kind == 2:  # a segment padded with '=' (PyJWT tolerates some), signature kept
            return ".".join(seg + "=" * (index % 3) if n == index % 3 else seg
                            for n, seg in enumerate((h, p, s)))  # fmt: skip
        if kind == 3:  # payload padded, then re-signed: only the encoding differs
            return _resigned(alg, h, p + "=" * (1 + index % 2))
        if kind == 4:  # payload's last character made non-canonical, re-signed
            last = ALPHABET[(ALPHABET.index(p[-1]) + 1 + index % 3) % 64]
            return _resigned(alg, h, p[:-1] + last)
        if kind == 5:  # segments swapped
            return ".".join((h, s, p) if index % 2 else (p, h, s))
        if kind == 6:  # another header, re-signed
            return _resigned(alg, b64(json.dumps(variant).encode()), p)
        if kind == 7:  # junk payload under our header, re-signed
            return _resigned(alg, h, b64(junk))
        if kind == 8:  # truncated signature
            return f"{h}.{p}.{s[: index % len(s)]}"
        if kind == 9:  # signature of another algorithm's key
            other = "EdDSA" if alg != "EdDSA" else "HS256"
            return f"{h}.{p}.{_sign(other, f'{h}.{p}'.encode())}"
        if kind == 10:  # whitespace or a standard-alphabet character inside, re-signed
            i = index % len(p)
            return _resigned(alg, h, p[:i] + char + p[i:])
        return f"{h}.{p}.{s}{char}"  # appended character

    return mutate


def _outcome(verifier: Verifier, token: str) -> tuple[object, ...]:
    try:
        return ("ok", verifier.verify(token))
    except InvalidTokenError as exc:
        return (type(exc), exc.description)


def _check_against_oracle(alg: str, claims: dict[str, Any], mutate: Mutation) -> None:
    ring = RINGS[alg]
    key = ring.active
    header = header_segment(key)
    genuine = _resigned(alg, header, b64(_payload_bytes(claims)))
    token = mutate(genuine)
    assume(token.count(".") == 2)
    clock = ManualClock(NOW)
    fast = Verifier(keys=ring, issuer=ISS, audience=AUD, clock=clock)
    slow = Verifier(keys=ring, issuer=ISS, audience=AUD, clock=clock, fast_path=False)
    # 1. The whole verifier answers exactly as the PyJWT path does, success or failure.
    assert _outcome(fast, token) == _outcome(slow, token)
    # 2. Whatever the fast path accepts, PyJWT accepts with the same header and payload.
    payload = FastPath(ring).payload(token)
    if payload is not None:
        decoded = jwt.PyJWS().decode_complete(token, key.verifier, algorithms=[alg])
        assert decoded["payload"] == payload
        assert decoded["header"] == {"alg": alg, "kid": key.kid, "typ": "at+jwt"}
    # 3. Our own tokens never fall back.
    if token == genuine:
        assert payload is not None


@given(claims=CLAIMS, mutate=mutations("HS256"))
@ORACLE
def test_hs256_matches_pyjwt(claims: dict[str, Any], mutate: Mutation) -> None:
    _check_against_oracle("HS256", claims, mutate)


@given(claims=CLAIMS, mutate=mutations("EdDSA"))
@settings(ORACLE, max_examples=150)
def test_eddsa_matches_pyjwt(claims: dict[str, Any], mutate: Mutation) -> None:
    _check_against_oracle("EdDSA", claims, mutate)


@given(claims=CLAIMS, mutate=mutations("ES256"))
@settings(ORACLE, max_examples=150)
def test_es256_matches_pyjwt(claims: dict[str, Any], mutate: Mutation) -> None:
    _check_against_oracle("ES256", claims, mutate)


# -- the pieces around it -----------------------------------------------------------------------
@pytest.mark.parametrize("alg", ["HS256", "EdDSA", "ES256"])
def test_issued_tokens_take_the_fast_path(alg: str) -> None:
    ring = RINGS[alg]
    issued = TokenIssuer(keys=ring, issuer=ISS, audience=AUD, clock=ManualClock(NOW)).issue(
        sub="alice", sid="s1"
    )
    assert issued.token.partition(".")[0] == header_segment(ring.active)
    assert FastPath(ring).payload(issued.token) is not None
    verifier = Verifier(keys=ring, issuer=ISS, audience=AUD, clock=ManualClock(NOW))
    assert verifier.verify(issued.token) == issued.claims


def test_retired_keys_have_their_own_header() -> None:
    old, new = (
        Secret("o" * 8 + "0123456789abcdefghijklmnopqrstuvwxyz"),
        Secret("n" * 40 + "xyz0123456"),
    )
    old_token = (
        TokenIssuer(
            keys=KeyRing.from_secrets(old), issuer=ISS, audience=AUD, clock=ManualClock(NOW)
        )
        .issue(sub="a", sid="s")
        .token
    )
    assert FastPath(KeyRing.from_secrets(new, old)).payload(old_token) is not None
    assert FastPath(KeyRing.from_secrets(new)).payload(old_token) is None


def test_claims_are_real_access_claims() -> None:
    """``check_claims`` builds AccessClaims through slot descriptors: same object in every way."""
    payload = {
        "iss": ISS,
        "aud": AUD,
        "sub": "a",
        "sid": "s",
        "jti": "j",
        "iat": NOW,
        "exp": NOW + 9,
    }
    claims = check_claims(payload, issuer=ISS, audience=AUD, now=NOW)
    expected = AccessClaims(ISS, AUD, "a", "s", "j", NOW, NOW + 9, "")
    assert claims == expected and hash(claims) == hash(expected) and repr(claims) == repr(expected)
    with pytest.raises(AttributeError):
        claims.sub = "b"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("iat", "exp", "result"),
    [
        (NOW, NOW + 1, (NOW, NOW + 1)),
        (float(NOW) + 0.5, NOW + 1, "not yet valid"),  # floats keep float comparisons
        (NOW - 0.5, NOW + 1.9, (NOW - 1, NOW + 1)),
        # Far from each other: implausible, and never prunable (issue 9 finding 6).
        (-(2**60) - 1, NOW + 1, "implausible iat or exp"),
        (NOW, 2**60 + 1, "implausible iat or exp"),
        (NOW, 10**30, "implausible iat or exp"),
        (NOW, NOW + 86400, (NOW, NOW + 86400)),
        (NOW, NOW + 86401, "implausible iat or exp"),
        (True, NOW + 1, "missing claim: iat"),
    ],
)
def test_claim_times_follow_the_float_rules(iat: Any, exp: Any, result: object) -> None:
    payload = {"iss": ISS, "aud": AUD, "sub": "a", "sid": "s", "jti": "j", "iat": iat, "exp": exp}
    if isinstance(result, str):
        with pytest.raises(InvalidTokenError, match=result):
            check_claims(payload, issuer=ISS, audience=AUD, now=NOW)
    else:
        claims = check_claims(payload, issuer=ISS, audience=AUD, now=NOW)
        assert (claims.iat, claims.exp) == result


def test_hmac_key_schedule_matches_for_long_keys() -> None:
    key = b"q" * 100  # longer than a block: hashed first (RFC 2104 §2)
    assert hmac_sha256(key)(b"m") == hmac.new(key, b"m", hashlib.sha256).digest()
