"""Public keys from a JWKS, and their signature checks (issue 11).

A JWK becomes a ``cryptography`` public key only for the algorithms its issuer is configured
with (RFC 8725 §3.1); the check for a key is built once, so verifying a provider's token costs
the signature primitive plus a few microseconds (RS256, PS256 here; ES256 and EdDSA are the
fast path's own checks). A JWK that cannot be used is skipped, never fatal: one odd key must
not cost an issuer all the others.
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from ..fastpath import b64decode_strict, signature_check

__all__ = ["MIN_RSA_BITS", "PublicKey", "SignatureCheck", "public_keys"]

SignatureCheck = Callable[[bytes, str], bool]
MIN_RSA_BITS = 2048  # RFC 7518 §3.3
_KTY = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}
_CURVE = {"ES256": "P-256", "EdDSA": "Ed25519"}


@dataclass(frozen=True, slots=True)
class PublicKey:
    """One usable key of an issuer: its ``kid`` (may be empty), its algorithm, its check."""

    kid: str
    algorithm: str
    check: SignatureCheck

    def __repr__(self) -> str:
        return f"PublicKey(kid={self.kid!r}, algorithm={self.algorithm!r})"


def public_keys(jwks: object, algorithms: Iterable[str]) -> list[PublicKey]:
    """Every key of a JWKS document usable with one of ``algorithms`` (RFC 7517 §5)."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise ValueError("not a JWK set: no 'keys' list")
    allowed = tuple(algorithms)
    found: list[PublicKey] = []
    for jwk in jwks["keys"]:
        if not isinstance(jwk, Mapping) or jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid", "")
        if not isinstance(kid, str):
            continue
        # A key that names its algorithm is used with that one only (RFC 7517 §4.4).
        named = jwk.get("alg")
        if named is not None and named not in allowed:
            continue
        for alg in allowed if named is None else (named,):
            key = _key(jwk, alg)
            if key is not None:
                found.append(PublicKey(kid, alg, _check(alg, key)))
    return found


def _key(jwk: Mapping[str, Any], alg: str) -> object | None:
    if jwk.get("kty") != _KTY[alg] or jwk.get("crv", _CURVE.get(alg)) != _CURVE.get(alg):
        return None
    try:
        if alg in ("RS256", "PS256"):
            n, e = _uint(jwk.get("n")), _uint(jwk.get("e"))
            if n is None or e is None or n.bit_length() < MIN_RSA_BITS:
                return None
            return rsa.RSAPublicNumbers(e, n).public_key()
        x = b64decode_strict(jwk.get("x", "")) if isinstance(jwk.get("x"), str) else None
        if alg == "EdDSA":
            return ed25519.Ed25519PublicKey.from_public_bytes(x) if x else None
        y = b64decode_strict(jwk["y"]) if isinstance(jwk.get("y"), str) else None
        if x is None or y is None or len(x) != 32 or len(y) != 32:
            return None
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x), int.from_bytes(y), ec.SECP256R1()
        )
        return numbers.public_key()  # checks the point is on the curve
    except (ValueError, TypeError, binascii.Error):
        return None


def _uint(value: object) -> int | None:
    raw = b64decode_strict(value) if isinstance(value, str) else None
    return int.from_bytes(raw) if raw else None


def _check(alg: str, key: object) -> SignatureCheck:
    if alg in ("ES256", "EdDSA"):
        return signature_check(alg, key)
    assert isinstance(key, rsa.RSAPublicKey)
    return _rsa(key, alg)


def _rsa(public: rsa.RSAPublicKey, alg: str) -> SignatureCheck:
    sha256 = hashes.SHA256()
    # RFC 7518 §3.5: PSS with MGF1-SHA-256 and a salt as long as the hash.
    pad = (
        padding.PKCS1v15()
        if alg == "RS256"
        else padding.PSS(mgf=padding.MGF1(sha256), salt_length=sha256.digest_size)
    )
    size = math.ceil(public.key_size / 8)
    verify = public.verify

    def check(signing_input: bytes, signature: str) -> bool:
        raw = b64decode_strict(signature)
        if raw is None or len(raw) != size:  # RFC 8017 §8.2.2: exactly k octets
            return False
        try:
            verify(raw, signing_input, pad, sha256)
        except InvalidSignature:
            return False
        return True

    return check
