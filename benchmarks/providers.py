"""Figure 8 (issue 11): an identity provider's tokens. cleanexit's verifier for an external
issuer (JWKS fetched once over HTTP by its async client, then held in memory) with its full
revocation check, side by side with PyJWT + ``PyJWKClient`` (the usual way to verify such a
token in Python, without any revocation) and with the signature primitive alone; and what
resource-server mode costs cleanexit's own tokens (``ProviderGuard`` vs ``Guard``).

Both sides fetch the same JWKS from the same loopback HTTP server before timing starts: what
is measured is verification with keys in memory, the case every request but the first is.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from cleanexit.server.fastpath import b64decode_strict
from cleanexit.server.guard import Guard, ProviderGuard
from cleanexit.server.oidc import Providers, TrustedIssuer
from cleanexit.server.replica import PollingReplica
from cleanexit.server.stores import MemoryStore

from . import world
from .harness import Budget, Progress, interleave, paired_ratio
from .micro import _guard_loop, _sync_loop, _verifier

__all__ = ["figure8"]

OP = "https://id.bench.example/"
AUD = "orders-api"
ALGORITHMS = ("RS256", "ES256")
TOKENS = 200
Timer = Callable[[], float]


@contextlib.contextmanager
def _jwks_server(documents: dict[str, bytes]) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path, b"{}")
            self.send_response(200 if self.path in documents else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _key(alg: str) -> Any:
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _jwk(alg: str, key: Any, kid: str) -> dict[str, Any]:
    codec = RSAAlgorithm if alg == "RS256" else ECAlgorithm
    return {**codec.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": alg, "use": "sig"}


def _tokens(alg: str, key: Any, kid: str, n: int) -> list[str]:
    now = int(time.time())
    return [
        jwt.encode(
            {
                "iss": OP,
                "aud": AUD,
                "sub": f"user{i}",
                "sid": secrets.token_urlsafe(16),
                "jti": secrets.token_urlsafe(16),
                "iat": now,
                "exp": now + 3000,
                "scope": "orders:read",
                "client_id": "web",
            },
            key,
            algorithm=alg,
            headers={"kid": kid, "typ": "at+jwt"},
        )
        for i in range(n)
    ]


def _primitive(alg: str, key: Any, tokens: Sequence[str], repeat: int) -> Timer:
    """The signature check alone on bytes decoded beforehand: the floor for any verifier."""
    public = key.public_key()
    jobs = []
    for token in tokens:
        signing_input, _, signature = token.rpartition(".")
        raw = b64decode_strict(signature)
        assert raw is not None
        if alg == "ES256":
            raw = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
        jobs.append((signing_input.encode(), raw))
    if alg == "RS256":
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

        def op(job: tuple[bytes, bytes]) -> object:
            return public.verify(job[1], job[0], pkcs1, sha256)

    else:
        ecdsa = ec.ECDSA(hashes.SHA256())

        def op(job: tuple[bytes, bytes]) -> object:
            return public.verify(job[1], job[0], ecdsa)

    return _sync_loop(op, jobs, repeat)  # type: ignore[arg-type]


def _pyjwt_jwks(client: jwt.PyJWKClient, alg: str, tokens: Sequence[str], repeat: int) -> Timer:
    """PyJWT's documented way for a provider's token: the key from ``PyJWKClient`` (cached
    after its first fetch), then ``jwt.decode`` with the same checks we make."""
    options = {"require": ["exp", "iat", "iss", "aud", "sub"]}

    def op(token: str) -> object:
        key = client.get_signing_key_from_jwt(token)
        return jwt.decode(
            token, key.key, algorithms=[alg], audience=AUD, issuer=OP,
            options=options,  # type: ignore[arg-type]
        )  # fmt: skip

    return _sync_loop(op, tokens, repeat)


def _external_only(
    loop: asyncio.AbstractEventLoop, providers: Providers, tokens: Sequence[str], repeat: int
) -> Timer:
    """The external verifier alone (signature and claims, no revocation check)."""
    verify = providers.verifier.verify

    async def batch() -> float:
        t0 = time.perf_counter()
        for _ in range(repeat):
            for token in tokens:
                await verify(token)
        return (time.perf_counter() - t0) / (repeat * len(tokens))

    return lambda: loop.run_until_complete(batch())


def figure8(progress: Progress, *, budget: Budget, entries: int = 100_000) -> dict[str, Any]:
    progress("figure 8: an identity provider's tokens vs PyJWT + PyJWKClient (interleaved)")
    keys = {alg: _key(alg) for alg in ALGORITHMS}
    kids = {alg: f"{alg.lower()}-key" for alg in ALGORITHMS}
    tokens = {alg: _tokens(alg, keys[alg], kids[alg], TOKENS) for alg in ALGORITHMS}
    jwks = {"keys": [_jwk(alg, keys[alg], kids[alg]) for alg in ALGORITHMS]}
    loop = asyncio.new_event_loop()
    with _jwks_server({"/jwks": json.dumps(jwks).encode()}) as base:
        issuer = TrustedIssuer(
            issuer=OP, audience=AUD, jwks_uri=base + "/jwks", algorithms=ALGORITHMS,
            typ="at+jwt", jwks_cache_ttl=3600,
        )  # fmt: skip
        store = MemoryStore()
        replica = PollingReplica(store=store, clock=time.time)
        loop.run_until_complete(replica.start())
        # A busy service's view (our own entries and a provider's), so the lookups are real.
        replica.view.apply(world.background_revocations(entries, now=time.time()))
        providers = Providers(issuers=[issuer], store=store, replica=replica)
        own = world.ring("HS256")
        guard = ProviderGuard(verifier=_verifier(own), replica=replica, external=providers.verifier)
        plain = Guard(verifier=_verifier(own), replica=replica)
        for alg in ALGORITHMS:  # the first token of each fetches the JWKS (once)
            loop.run_until_complete(guard.authenticate(tokens[alg][0]))
        pyjwk = jwt.PyJWKClient(base + "/jwks", cache_keys=True, lifespan=3600)
        for alg in ALGORITHMS:
            pyjwk.get_signing_key_from_jwt(tokens[alg][0])
        variants: dict[str, Timer] = {}
        for alg in ALGORITHMS:
            variants[f"{alg} cleanexit"] = _guard_loop(loop, guard, tokens[alg], 1)
            variants[f"{alg} cleanexit verify only"] = _external_only(
                loop, providers, tokens[alg], 1
            )
            variants[f"{alg} pyjwt+pyjwkclient"] = _pyjwt_jwks(pyjwk, alg, tokens[alg], 1)
            variants[f"{alg} primitive"] = _primitive(alg, keys[alg], tokens[alg], 1)
        own_tokens = [t for t, _ in world.issue(own, 1000, sub="own")]
        variants["own HS256, Guard"] = _guard_loop(loop, plain, own_tokens, 2)
        variants["own HS256, ProviderGuard"] = _guard_loop(loop, guard, own_tokens, 2)
        results = interleave(variants, rounds=15, budget=budget)
        loop.run_until_complete(providers.stop())
    loop.close()
    rows = []
    for alg in ALGORITHMS:
        ours, theirs = results[f"{alg} cleanexit"], results[f"{alg} pyjwt+pyjwkclient"]
        primitive = results[f"{alg} primitive"]
        rows.append(
            {
                "alg": alg,
                "ours_us": ours.median * 1e6,
                "verify_only_us": results[f"{alg} cleanexit verify only"].median * 1e6,
                "pyjwt_us": theirs.median * 1e6,
                "primitive_us": primitive.median * 1e6,
                "ratio": paired_ratio(ours.rounds, theirs.rounds),
                "over_primitive_us": (ours.median - primitive.median) * 1e6,
                "rounds": len(ours.rounds),
            }
        )
    plain_r, mixed_r = results["own HS256, Guard"], results["own HS256, ProviderGuard"]
    return {
        "rows": rows,
        "entries": entries,
        "own_guard_us": plain_r.median * 1e6,
        "own_provider_guard_us": mixed_r.median * 1e6,
        "own_ratio": paired_ratio(mixed_r.rounds, plain_r.rounds),
    }
