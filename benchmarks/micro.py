"""In-process figures: verify + revocation check against PyJWT (1), the cost of the check per
replica mode (2), and memory and garbage collection per revoked entry (4a)."""

from __future__ import annotations

import asyncio
import gc
import hmac
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cleanexit.errors import RevokedTokenError
from cleanexit.server.fastpath import b64decode_strict, hmac_sha256
from cleanexit.server.keys import Algorithm, KeyRing
from cleanexit.server.replica import Guard, Replica
from cleanexit.server.revocation import RevocationView
from cleanexit.server.stores import MemoryStore, Store
from cleanexit.server.stores.sqlite import SqliteStore
from cleanexit.server.verifier import Verifier

from . import world
from .harness import Budget, Measured, Progress, interleave, median, paired_ratio

ALGORITHMS: tuple[Algorithm, ...] = ("HS256", "EdDSA", "ES256")
PYJWT_OPTIONS = {"require": ["exp", "iat", "iss", "aud", "sub", "jti"]}
Timer = Callable[[], float]


def _verifier(keys: KeyRing, *, fast_path: bool = True) -> Verifier:
    return Verifier(keys=keys, issuer=world.ISSUER, audience=world.AUDIENCE, fast_path=fast_path)


def _sync_loop(op: Callable[[str], object], tokens: Sequence[str], repeat: int) -> Timer:
    def run() -> float:
        t0 = time.perf_counter()
        for _ in range(repeat):
            for token in tokens:
                op(token)
        return (time.perf_counter() - t0) / (repeat * len(tokens))

    return run


def _pyjwt_loop(keys: KeyRing, tokens: Sequence[str], repeat: int) -> Timer:
    key, alg, decode = keys.active.verifier, keys.algorithm, jwt.decode

    def op(token: str) -> object:
        return decode(
            token,
            key,
            algorithms=[alg],
            audience=world.AUDIENCE,
            issuer=world.ISSUER,
            options=PYJWT_OPTIONS,  # type: ignore[arg-type]
        )

    return _sync_loop(op, tokens, repeat)


def _primitive_loop(keys: KeyRing, tokens: Sequence[str], repeat: int) -> Timer:
    """The signature check alone, on bytes decoded beforehand: the floor for any verifier."""
    public = keys.active.verifier
    jobs = []
    for token in tokens:
        signing_input, _, signature = token.rpartition(".")
        raw = b64decode_strict(signature)
        assert raw is not None
        jobs.append((signing_input.encode(), raw))
    if keys.algorithm == "HS256":
        secret = public

        def op(job: tuple[bytes, bytes]) -> object:
            return hmac.compare_digest(hmac.digest(secret, job[0], "sha256"), job[1])

    elif keys.algorithm == "EdDSA":

        def op(job: tuple[bytes, bytes]) -> object:
            return public.verify(job[1], job[0])

    else:
        ecdsa = ec.ECDSA(hashes.SHA256())
        jobs = [
            (m, encode_dss_signature(int.from_bytes(s[:32]), int.from_bytes(s[32:])))
            for m, s in jobs
        ]

        def op(job: tuple[bytes, bytes]) -> object:
            return public.verify(job[1], job[0], ecdsa)

    return _sync_loop(op, jobs, repeat)  # type: ignore[arg-type]


def _guard_loop(
    loop: asyncio.AbstractEventLoop, guard: Guard, tokens: Sequence[str], repeat: int
) -> Timer:
    """``await guard.authenticate(token)`` as a request handler does; revoked ones raise."""

    async def batch() -> float:
        authenticate = guard.authenticate
        t0 = time.perf_counter()
        for _ in range(repeat):
            for token in tokens:
                try:  # noqa: SIM105 - contextlib.suppress would add a call per token
                    await authenticate(token)
                except RevokedTokenError:
                    pass
        return (time.perf_counter() - t0) / (repeat * len(tokens))

    return lambda: loop.run_until_complete(batch())


def _check_loop(guard: Guard, tokens: Sequence[str], repeat: int) -> Timer:
    """verify, then the synchronous check: what a request pays when the replica is fresh.
    Shaped like ``_sync_loop`` (no extra call per token), so the two compare fairly."""
    verify, check_now = guard.verifier.verify, guard.check_now

    def run() -> float:
        t0 = time.perf_counter()
        for _ in range(repeat):
            for token in tokens:
                if not check_now(verify(token)):
                    raise RuntimeError("the replica was not fresh: this would measure I/O")
        return (time.perf_counter() - t0) / (repeat * len(tokens))

    return run


async def _replica(store: Store, view: RevocationView) -> Replica:
    await store.open()
    replica = store.make_replica(clock=time.time)
    await replica.start()
    replica.view = view  # the same entries for every mode: only freshness differs
    return replica


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def _run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> Any:
    return loop.run_until_complete(coro)


class Micro:
    """Builds the shared state once: key rings, probe tokens, the 1M and 10k views."""

    def __init__(self, progress: Progress, *, entries: int, tmp: Path) -> None:
        self.progress = progress
        self.entries = entries
        self.tmp = tmp
        self.loop = asyncio.new_event_loop()
        self.rings = {alg: world.ring(alg) for alg in ALGORITHMS}
        now = time.time()
        # Figure 1 probes: half of them revoked, a third each by jti, sid and user cutoff.
        self.probes = {alg: world.issue(self.rings[alg], 600, sub=f"{alg}-") for alg in ALGORITHMS}
        hits = [
            rev for alg in ALGORITHMS for rev in world.revoke_half([c for _, c in self.probes[alg]])
        ]
        # Figure 2 probes: live tokens only (the common case the check must not slow down).
        self.live = [t for t, _ in world.issue(self.rings["HS256"], 1000, sub="live")]
        progress(f"micro: building {entries:,} revoked entries (+{len(hits)} probe hits)")
        revs = world.background_revocations(entries - len(hits), now=now) + hits
        self.view_big = RevocationView()
        self.view_big.apply(revs)
        small = world.background_revocations(10_000 - len(hits), now=now) + hits
        self.view_small = RevocationView()
        self.view_small.apply(small)
        del revs, small
        gc.collect()
        progress(f"micro: views ready: {self.view_big!r}, {self.view_small!r}")

    def close(self) -> None:
        self.loop.close()

    # -- figure 1 -------------------------------------------------------------------------
    def figure1(self, budget: Budget) -> dict[str, Any]:
        self.progress("figure 1: verify + full revocation check vs PyJWT decode (interleaved)")
        store = SqliteStore(self.tmp / "fig1" / "cleanexit.db")
        replica = _run(self.loop, _replica(store, self.view_big))
        variants: dict[str, Timer] = {}
        for alg in ALGORITHMS:
            tokens = [t for t, _ in self.probes[alg]]
            repeat = 3 if alg == "HS256" else 1
            guard = Guard(verifier=_verifier(self.rings[alg]), replica=replica)
            variants[f"{alg} cleanexit"] = _guard_loop(self.loop, guard, tokens, repeat)
            variants[f"{alg} pyjwt"] = _pyjwt_loop(self.rings[alg], tokens, 1)
            variants[f"{alg} primitive"] = _primitive_loop(self.rings[alg], tokens, repeat)
        hs = self.rings["HS256"]
        tokens = [t for t, _ in self.probes["HS256"]]
        slow = Guard(verifier=_verifier(hs, fast_path=False), replica=replica)
        variants["HS256 cleanexit, PyJWT path"] = _guard_loop(self.loop, slow, tokens, 1)
        variants["HS256 cleanexit verify only"] = _sync_loop(_verifier(hs).verify, tokens, 3)
        secret, inputs = hs.active.signer, [t.rpartition(".")[0] for t in tokens]
        variants["HMAC-SHA256 of the signing input"] = _sync_loop(
            lambda m: hmac.digest(secret, m.encode(), "sha256"), inputs, 3
        )
        mac = hmac_sha256(secret)
        variants["the same, key schedule done once (the fast path's)"] = _sync_loop(
            lambda m: mac(m.encode()), inputs, 3
        )
        results = interleave(variants, rounds=15, budget=budget)
        _run(self.loop, store.close())
        rows = []
        for alg in ALGORITHMS:
            ours, theirs = results[f"{alg} cleanexit"], results[f"{alg} pyjwt"]
            rows.append(
                {
                    "alg": alg,
                    "ours_us": ours.median * 1e6,
                    "pyjwt_us": theirs.median * 1e6,
                    "ratio": paired_ratio(ours.rounds, theirs.rounds),
                    "primitive_us": results[f"{alg} primitive"].median * 1e6,
                    "floor": paired_ratio(results[f"{alg} primitive"].rounds, theirs.rounds),
                    "rounds": len(ours.rounds),
                }
            )
        extras = {
            name: results[name].median * 1e6
            for name in (
                "HS256 cleanexit verify only",
                "HS256 cleanexit, PyJWT path",
                "HMAC-SHA256 of the signing input",
                "the same, key schedule done once (the fast path's)",
            )
        }
        return {"rows": rows, "extras": extras, "entries": len(self.view_big)}

    # -- figure 2 -------------------------------------------------------------------------
    def figure2(
        self, budget: Budget, redis_url: str | None, postgres_url: str | None = None
    ) -> dict[str, Any]:
        self.progress("figure 2: cost of the revocation check per replica mode (interleaved)")
        verify = _verifier(self.rings["HS256"]).verify
        replicas: dict[str, tuple[Store, Replica]] = {}
        stores: list[Store] = []
        sizes = ((_size(10_000), self.view_small), (_size(self.entries), self.view_big))
        for size, view in sizes:
            for mode, store in self._stores(size, redis_url, postgres_url):
                replicas[f"{mode}, {size}"] = (store, _run(self.loop, _replica(store, view)))
                stores.append(store)
        if redis_url is not None:
            strict = self._redis_store(redis_url, "strict")
            replicas["Redis strict"] = (strict, _run(self.loop, _strict(strict, self.live)))
            stores.append(strict)
        variants: dict[str, Timer] = {"verify only": _sync_loop(verify, self.live, 2)}
        for name, (_, replica) in replicas.items():
            guard = Guard(verifier=_verifier(self.rings["HS256"]), replica=replica)
            if replica.strict:
                variants[f"{name} (await)"] = _guard_loop(self.loop, guard, self.live[:200], 1)
                continue
            variants[f"{name} (await)"] = _guard_loop(self.loop, guard, self.live, 2)
            variants[name] = _check_loop(guard, self.live, 2)
        # Between batches the event loop runs a moment, as it does between requests: the
        # Redis tailer and the PostgreSQL poll read their heartbeats; the replicas stay fresh.
        idle = lambda: _run(self.loop, asyncio.sleep(0.005))  # noqa: E731
        results = interleave(variants, rounds=15, budget=budget, between=idle)
        for _, replica in replicas.values():
            _run(self.loop, replica.stop())
        for store in stores:
            _run(self.loop, store.close())
        base = results["verify only"]
        rows = []
        for name in replicas:
            sync, awaited = results.get(name), results[f"{name} (await)"]
            rows.append(
                {
                    "mode": name,
                    "check_us": sync.median * 1e6 if sync else float("nan"),
                    "ratio": paired_ratio(sync.rounds, base.rounds) if sync else float("nan"),
                    "await_us": awaited.median * 1e6,
                    "await_ratio": paired_ratio(awaited.rounds, base.rounds),
                }
            )
        return {"rows": rows, "verify_us": base.median * 1e6, "rounds": len(base.rounds)}

    def _stores(
        self, size: str, redis_url: str | None, postgres_url: str | None
    ) -> list[tuple[str, Store]]:
        out: list[tuple[str, Store]] = [
            ("memory", MemoryStore()),
            ("SQLite", SqliteStore(self.tmp / f"fig2-{size}" / "cleanexit.db")),
        ]
        if redis_url is not None:
            out.append(("Redis replica", self._redis_store(redis_url, "replica")))
        if postgres_url is not None:
            from cleanexit.server.stores.postgres import PostgresStore

            schema = f"bench_{size.lower()}"  # each its own (empty) log: the view is set aside
            out.append(("PostgreSQL replica", PostgresStore(postgres_url, schema=schema)))
        return out

    def _redis_store(self, url: str, mode: str) -> Store:
        from cleanexit.server.stores.redis import RedisStore

        return RedisStore(url, mode=mode)  # type: ignore[arg-type]


async def _strict(store: Store, live: Sequence[str]) -> Replica:
    """A strict replica over a Redis holding real revocations (ZSCORE is O(1): their number
    does not change the round trip)."""
    await store.open()
    now = time.time()
    for rev in world.background_revocations(1000, now=now):
        if rev.kind.value == "jti":
            iss, _, jti = rev.key.partition("\x1f")
            await store.revoke_token(iss, jti, expires_at=rev.expires_at)
    replica = store.make_replica(clock=time.time)
    await replica.start()
    return replica


# -- figure 4a: memory and garbage collection ----------------------------------------------
def memory_per_entry(progress: Progress, entries: int) -> dict[str, Any]:
    """Traced bytes the view holds per entry once the input is gone, for both shapes, and what
    a full garbage collection costs with each alive (vs a set of tuples, the naive shape)."""
    gc.collect()
    rows: dict[str, dict[str, float]] = {
        "no view (baseline)": {"bytes_per_entry": float("nan"), "gc_ms": _full_gc_ms()}
    }
    default = RevocationView.COMPACT_AT
    for shape, compact_at in (("compact (this view)", default), ("dicts", 10**12)):
        progress(f"figure 4: memory of {entries:,} entries, {shape}")
        RevocationView.COMPACT_AT = compact_at
        try:
            gc.collect()
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            revs = world.background_revocations(entries, now=time.time())
            view = RevocationView()
            view.apply(revs)
            del revs
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - base
            tracemalloc.stop()
            rows[shape] = {"bytes_per_entry": held / entries, "gc_ms": _full_gc_ms()}
            del view
        finally:
            RevocationView.COMPACT_AT = default
    progress(f"figure 4: full collections with a set of {entries:,} tuples")
    naive = {(world.ISSUER, str(i), float(i)) for i in range(entries)}
    rows["set of tuples (naive)"] = {"bytes_per_entry": float("nan"), "gc_ms": _full_gc_ms()}
    del naive
    gc.collect()
    return {"rows": rows, "entries": entries}


def _full_gc_ms() -> float:
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        gc.collect()
        times.append((time.perf_counter() - t0) * 1e3)
    return median(times)


def run(
    progress: Progress,
    *,
    entries: int,
    redis_url: str | None,
    postgres_url: str | None = None,
    budget: float,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cleanexit-bench-") as tmp:
        micro = Micro(progress, entries=entries, tmp=Path(tmp))
        try:
            fig1 = micro.figure1(Budget(budget * 0.5))
            fig2 = micro.figure2(Budget(budget * 0.5), redis_url, postgres_url)
        finally:
            micro.close()
    return {"figure1": fig1, "figure2": fig2}


__all__ = ["Measured", "memory_per_entry", "run"]
