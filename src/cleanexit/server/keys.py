"""Signing keys, pinned by configuration.

The algorithm is chosen here, once, never by a token header (RFC 8725 §2.1, §3.1): a key ring
holds keys of exactly one algorithm, the newest signs, the older ones still verify until they
are dropped (rotation by ``kid``). Keys are never fetched from a token (no ``jku``/``x5u``/``jwk``).

A retired key may carry ``not_after``: the moment it stops verifying and leaves the JWKS
(issue 9, finding 7: retired keys must not verify forever). ``keystore.load_key_ring`` sets it
to the retirement moment + the longest access-token lifetime; the active key never has one,
so the hot path pays nothing for it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from .._secret import Secret, fingerprint
from ..errors import ConfigurationError

__all__ = [
    "Algorithm",
    "KeyRing",
    "SigningKey",
    "check_secret_strength",
    "generate_private_pem",
    "generate_secret",
    "key_from_pem",
]

Algorithm = Literal["HS256", "EdDSA", "ES256"]
ALGORITHMS: tuple[Algorithm, ...] = ("HS256", "EdDSA", "ES256")
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash output


@dataclass(frozen=True, repr=False)
class SigningKey:
    """One key of the ring. ``signer`` is secret; it never shows in ``repr``."""

    kid: str
    algorithm: Algorithm
    signer: Any = field(compare=False)
    verifier: Any = field(compare=False)
    not_after: float | None = None  # retired keys: stops verifying at this Unix time

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, algorithm={self.algorithm!r})"

    def usable(self, now: float) -> bool:
        return self.not_after is None or now < self.not_after

    def public_jwk(self) -> dict[str, Any] | None:
        if self.algorithm == "HS256":
            return None
        codec = OKPAlgorithm if self.algorithm == "EdDSA" else ECAlgorithm
        jwk: dict[str, Any] = codec.to_jwk(self.verifier, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


class KeyRing:
    """The keys of one pinned algorithm; ``active`` signs, every key verifies."""

    def __init__(self, *, active: SigningKey, retired: Sequence[SigningKey] = ()) -> None:
        keys = [active, *retired]
        if any(key.algorithm != active.algorithm for key in keys):
            raise ConfigurationError("all keys of a key ring must use one algorithm")
        if active.not_after is not None:
            raise ConfigurationError("the active signing key cannot have a retirement deadline")
        self.algorithm: Algorithm = active.algorithm
        self.active = active
        # A secret listed both as active and as previous is the active key, without deadline.
        self.retired = tuple(key for key in retired if key.kid != active.kid)
        self._by_kid: Mapping[str, SigningKey] = {
            active.kid: active,
            **{key.kid: key for key in self.retired},
        }

    def __repr__(self) -> str:
        return f"KeyRing(algorithm={self.algorithm!r}, kids={list(self._by_kid)!r})"

    def get(self, kid: object) -> SigningKey | None:
        return self._by_kid.get(kid) if isinstance(kid, str) else None

    @property
    def keys(self) -> list[SigningKey]:
        return list(self._by_kid.values())

    def jwks(self, *, now: float | None = None) -> dict[str, list[dict[str, Any]]]:
        """The public keys that verify at ``now`` (every key when ``now`` is None)."""
        keys = self.keys if now is None else [k for k in self.keys if k.usable(now)]
        return {"keys": [jwk for key in keys if (jwk := key.public_jwk()) is not None]}

    def retiring(self, deadlines: Mapping[str, float], *, now: float) -> KeyRing:
        """This ring with each retired key verifying only until its deadline (by ``kid``):
        keys already past it are left out, the others carry it as ``not_after``."""
        retired = [
            replace(key, not_after=deadlines.get(key.kid, key.not_after)) for key in self.retired
        ]
        return KeyRing(active=self.active, retired=[k for k in retired if k.usable(now)])

    @classmethod
    def from_secrets(cls, active: Secret, *retired: Secret) -> KeyRing:
        """An HS256 ring; each secret must be at least 32 bytes and not trivially guessable."""
        return cls(active=_hs256_key(active), retired=[_hs256_key(s) for s in retired])

    @classmethod
    def from_private_pems(cls, active: bytes, *retired: bytes) -> KeyRing:
        """An Ed25519 or ES256 ring from PEM private keys (newest first)."""
        return cls(active=key_from_pem(active), retired=[key_from_pem(p) for p in retired])


def check_secret_strength(secret: Secret) -> None:
    raw = secret.reveal().encode()
    if len(raw) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"CLEANEXIT_SECRET is too weak: {len(raw)} bytes, at least {MIN_SECRET_BYTES} needed "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    if len(set(raw)) < 10:
        raise ConfigurationError("CLEANEXIT_SECRET is too weak: too few distinct characters")


def _hs256_key(secret: Secret) -> SigningKey:
    check_secret_strength(secret)
    raw = secret.reveal().encode()
    # The kid is a hash of a hash: it names the key without helping anyone guess it.
    kid = "hs-" + fingerprint(hashlib.sha256(b"cleanexit-kid" + raw).digest())[:10]
    return SigningKey(kid=kid, algorithm="HS256", signer=raw, verifier=raw)


def key_from_pem(pem: bytes) -> SigningKey:
    """An Ed25519 or P-256 key from an unencrypted PEM private key; ``kid`` = RFC 7638."""
    try:
        private = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError("cannot load the private signing key (PEM, unencrypted)") from exc
    algorithm: Algorithm
    if isinstance(private, ed25519.Ed25519PrivateKey):
        algorithm = "EdDSA"
    elif isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == "secp256r1":
        algorithm = "ES256"
    else:
        raise ConfigurationError("signing keys must be Ed25519 or P-256 (ES256)")
    public = private.public_key()
    key = SigningKey(kid="", algorithm=algorithm, signer=private, verifier=public)
    jwk = key.public_jwk() or {}
    return SigningKey(kid=_thumbprint(jwk), algorithm=algorithm, signer=private, verifier=public)


def _thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint: SHA-256 over the required members, sorted, no spaces."""
    required = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def generate_secret() -> Secret:
    return Secret(secrets.token_urlsafe(48))


def generate_private_pem(algorithm: Algorithm) -> bytes:
    private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    if algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ConfigurationError(f"no private key for {algorithm}")
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
