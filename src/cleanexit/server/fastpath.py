"""The fast path for the tokens this server issues, and nothing else.

A general JOSE library must parse whatever header arrives; we issue one header per key, so
the header segment of every genuine token is a byte string known in advance. The fast path
looks the segment up (no JSON, no algorithm chosen by the token: RFC 8725 §3.1), checks the
signature with ``hashlib``/``hmac`` or ``cryptography`` directly, and decodes the payload with
the same strictness as PyJWT 2.15 (canonical, unpadded base64url). Anything it does not recognise,
including every bad signature, returns ``None`` and the caller takes the PyJWT path, so
behaviour is identical by construction; ``tests/server/test_fastpath.py`` proves it with
PyJWT as the oracle on random and mutated tokens, and on RFC 7515 / 7520 / 8037 vectors.
Measured in ``docs/benchmarks.md`` (issue 5).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections.abc import Callable

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .keys import KeyRing, SigningKey
from .tokens import ACCESS_TOKEN_TYPE

__all__ = ["FastPath", "b64decode_strict", "header_segment", "hmac_sha256", "signature_check"]

SignatureCheck = Callable[[bytes, str], bool]

# base64url -> the standard alphabet for binascii; '+', '/' and '=' become invalid, so a
# segment with them (or padding) is refused here and left to PyJWT's own rules.
_URL_TO_STD = bytes.maketrans(b"-_+/=", b"+/!!!")
_STD_TO_URL = bytes.maketrans(b"+/", b"-_")
_PADDING = (b"", b"", b"==", b"=")  # by len % 4; a remainder of 1 is never valid
# Canonical encodings leave the unused low bits of the last character zero (RFC 4648 §3.5):
# 4 bits after 2 characters of a final group, 2 bits after 3.
_CANONICAL_LAST = (b"", b"", frozenset(b"AQgw"), frozenset(b"AEIMQUYcgkosw048"))
_a2b = binascii.a2b_base64
_b2a = binascii.b2a_base64
_compare = hmac.compare_digest
_BLOCK = 64  # SHA-256 block size
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def b64decode_strict(segment: str) -> bytes | None:
    """Decode unpadded, canonical base64url, or ``None``: exactly what PyJWT accepts
    without padding (its padded forms are left to it)."""
    try:
        data = segment.encode("ascii").translate(_URL_TO_STD)
        rem = len(data) & 3
        if rem == 1 or (rem and data[-1] not in _CANONICAL_LAST[rem]):
            return None
        return _a2b(data + _PADDING[rem], strict_mode=True)
    except ValueError:  # not ASCII (UnicodeEncodeError) or not base64 (binascii.Error)
        return None


def header_segment(key: SigningKey) -> str:
    """The exact header segment ``TokenIssuer`` writes for this key (PyJWT sorts the keys)."""
    token = jwt.encode({}, key.signer, algorithm=key.algorithm, headers=_headers(key))
    return token.partition(".")[0]


def _headers(key: SigningKey) -> dict[str, str]:
    return {"typ": ACCESS_TOKEN_TYPE, "kid": key.kid}


def signature_check(algorithm: str, verifier: object) -> SignatureCheck:
    """``check(signing_input, signature_segment) -> bool``: True only for a valid signature
    in canonical encoding. Usable on its own (the RFC vectors go through it)."""
    if algorithm == "HS256":
        assert isinstance(verifier, bytes)
        return _hs256(verifier)
    if algorithm == "EdDSA":
        return _eddsa(verifier)
    if algorithm == "ES256":
        assert isinstance(verifier, ec.EllipticCurvePublicKey)
        return _es256(verifier)
    raise ValueError(f"no fast path for {algorithm}")


def _hs256(secret: bytes) -> SignatureCheck:
    mac = hmac_sha256(secret)

    def check(signing_input: bytes, signature: str) -> bool:
        # 32 bytes -> 43 characters + one '=': compare the canonical unpadded form.
        expected = _b2a(mac(signing_input), newline=False)[:43].translate(_STD_TO_URL)
        return _compare(expected, signature.encode("utf-8", "surrogatepass"))

    return check


def hmac_sha256(secret: bytes) -> Callable[[bytes], bytes]:
    """HMAC-SHA256 (RFC 2104) with the key schedule done once, as Go's ``crypto/hmac`` and
    OpenSSL's reusable contexts do: each call then hashes only the message, about half the
    cost of ``hmac.digest``, which redoes the two key blocks every time. Equal to
    ``hmac.digest(secret, msg, "sha256")`` for every key and message (tested)."""
    if len(secret) > _BLOCK:
        secret = hashlib.sha256(secret).digest()
    secret = secret.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(secret.translate(_IPAD))
    outer = hashlib.sha256(secret.translate(_OPAD))
    inner_copy, outer_copy = inner.copy, outer.copy

    def digest(msg: bytes) -> bytes:
        h = inner_copy()
        h.update(msg)
        o = outer_copy()
        o.update(h.digest())
        return o.digest()

    return digest


def _eddsa(public: object) -> SignatureCheck:
    verify = public.verify  # type: ignore[attr-defined]

    def check(signing_input: bytes, signature: str) -> bool:
        raw = b64decode_strict(signature)
        if raw is None:
            return False
        try:
            verify(raw, signing_input)
        except InvalidSignature:
            return False
        return True

    return check


def _es256(public: ec.EllipticCurvePublicKey) -> SignatureCheck:
    ecdsa = ec.ECDSA(hashes.SHA256())
    verify = public.verify

    def check(signing_input: bytes, signature: str) -> bool:
        raw = b64decode_strict(signature)
        if raw is None or len(raw) != 64:  # RFC 7518 §3.4: R || S, 32 bytes each
            return False
        der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
        try:
            verify(der, signing_input, ecdsa)
        except InvalidSignature:
            return False
        return True

    return check


class FastPath:
    """``payload(token)``: the verified payload bytes of one of our tokens, or ``None``."""

    __slots__ = ("_checks",)

    def __init__(self, keys: KeyRing | None) -> None:
        # Keys with a retirement deadline are left to the PyJWT path, where the verifier
        # checks the deadline (issue 9): the active key's tokens pay nothing for it.
        self._checks: dict[str, SignatureCheck] = {
            header_segment(key): signature_check(key.algorithm, key.verifier)
            for key in (keys.keys if keys is not None else ())
            if key.not_after is None
        }

    def __repr__(self) -> str:
        return f"FastPath(keys={len(self._checks)})"

    def headers(self) -> frozenset[str]:
        """The header segments of our tokens that this path verifies."""
        return frozenset(self._checks)

    def payload(self, token: str) -> bytes | None:
        signing_input, _, signature = token.rpartition(".")
        header, _, payload = signing_input.partition(".")
        check = self._checks.get(header)
        # UTF-8 as PyJWT encodes (the verifier has already refused anything but ASCII).
        raw = signing_input.encode("utf-8", "surrogatepass")
        if check is None or not check(raw, signature):
            return None
        return b64decode_strict(payload)
