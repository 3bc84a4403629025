"""A stand-in for an identity provider in unit tests: its keys, its JWKS, tokens it signs.

The real one (oidc-provider under Node) is in ``tests/support/oidc_provider.py``; these tests
are about pure logic — header and claim rules, caching, refusals — where a key pair and PyJWT
to sign are all that is needed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from cleanexit.server.oidc import BACKCHANNEL_LOGOUT_EVENT, FetchError, TrustedIssuer

OP = "https://op.example"
JWKS_URI = OP + "/jwks"
AUD = "orders-api"
CLIENT = "orders-web"
T0 = 1_800_000_000


def private_key(alg: str) -> Any:
    if alg in ("RS256", "PS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def public_jwk(key: Any, kid: str, alg: str | None) -> dict[str, Any]:
    codec = {rsa.RSAPrivateKey: RSAAlgorithm, ec.EllipticCurvePrivateKey: ECAlgorithm}
    kind = next((c for t, c in codec.items() if isinstance(key, t)), OKPAlgorithm)
    jwk: dict[str, Any] = kind.to_jwk(key.public_key(), as_dict=True)
    named = {"kid": kid} if kid else {}  # an empty kid: a JWK without one
    return {**jwk, **named, "use": "sig", **({"alg": alg} if alg else {})}


@dataclass
class Provider:
    """Signing keys by kid; ``jwks()`` is what its endpoint would serve."""

    issuer: str = OP
    keys: dict[str, tuple[str, Any]] = field(default_factory=dict)  # kid -> (alg, key)

    def add(self, alg: str = "RS256", kid: str | None = None) -> str:
        kid = kid if kid is not None else f"{alg.lower()}-{len(self.keys)}"
        self.keys[kid] = (alg, private_key(alg))
        return kid

    def jwks(self, *, named: bool = True) -> dict[str, Any]:
        return {
            "keys": [
                public_jwk(key, kid, alg if named else None)
                for kid, (alg, key) in self.keys.items()
            ]
        }

    def sign(
        self,
        payload: Mapping[str, Any],
        *,
        kid: str | None = None,
        headers: Mapping[str, Any] | None = None,
        typ: str | None = "at+jwt",
    ) -> str:
        kid = kid or next(iter(self.keys))
        alg, key = self.keys[kid]
        head: dict[str, Any] = {"kid": kid, **({"typ": typ} if typ else {}), **(headers or {})}
        return jwt.encode(dict(payload), key, algorithm=alg, headers=head)

    def access(self, now: float = T0, **claims: Any) -> dict[str, Any]:
        base = {"iss": self.issuer, "aud": AUD, "sub": "alice", "sid": "op-s1",
                "jti": "op-j1", "iat": int(now), "exp": int(now) + 300, "client_id": CLIENT}  # fmt: skip
        return {k: v for k, v in {**base, **claims}.items() if v is not None}

    def logout(self, now: float = T0, **claims: Any) -> dict[str, Any]:
        base = {"iss": self.issuer, "aud": CLIENT, "sub": "alice", "sid": "op-s1",
                "jti": f"lo-{time.monotonic_ns()}", "iat": int(now), "exp": int(now) + 120,
                "events": {BACKCHANNEL_LOGOUT_EVENT: {}}}  # fmt: skip
        return {k: v for k, v in {**base, **claims}.items() if v is not None}


def trusted(**overrides: Any) -> TrustedIssuer:
    options: dict[str, Any] = {
        "issuer": OP, "audience": AUD, "jwks_uri": JWKS_URI, "client_id": CLIENT,
        "algorithms": ("RS256", "PS256", "ES256", "EdDSA"), "jwks_refresh_cooldown": 10.0,
        "jwks_cache_ttl": 300.0,
    }  # fmt: skip
    return TrustedIssuer(**{**options, **overrides})


class FakeFetch:
    """Documents by URL (a callable is asked each time); records every URL asked for.
    ``gate``: when set, every fetch waits for it (a slow provider)."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.documents = documents
        self.calls: list[str] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, url: str) -> object:
        self.calls.append(url)
        if self.gate is not None:
            await self.gate.wait()
        found = self.documents.get(url)
        if found is None:
            raise FetchError(f"HTTP 404 from {url}")
        value = found() if callable(found) else found
        if isinstance(value, Exception):
            raise value
        return value
