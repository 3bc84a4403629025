"""Figure 9 (issue 15): the hot path with metrics on vs off, side by side.

In process: ``await Guard.authenticate(token)`` (metrics off) against ``await
CountingGuard.authenticate(token)`` (metrics on: the same body plus a ``try`` and an integer
increment), on one SQLite replica and view, live tokens, interleaved rounds, paired ratios.
Over HTTP: ``cleanexit serve`` with ``CLEANEXIT_METRICS`` off and on (the collector is not
scraped during the load: a scrape costs the scraper, not the requests), wrk as in figure 3.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from cleanexit.server.counting import CountingGuard
from cleanexit.server.replica import Guard, Replica
from cleanexit.server.revocation import RevocationView
from cleanexit.server.stores.sqlite import SqliteStore
from cleanexit.server.verifier import Verifier

from . import http, world
from .harness import Budget, Progress, interleave, paired_ratio

TARGET = 1.03  # metrics on may cost at most 3% of the hot path


def _verifier() -> Verifier:
    return Verifier(keys=world.ring("HS256"), issuer=world.ISSUER, audience=world.AUDIENCE)


def _loop(loop: asyncio.AbstractEventLoop, guard: Guard, tokens: Sequence[str], repeat: int) -> Any:
    async def batch() -> float:
        authenticate = guard.authenticate
        t0 = time.perf_counter()
        for _ in range(repeat):
            for token in tokens:
                await authenticate(token)
        return (time.perf_counter() - t0) / (repeat * len(tokens))

    return lambda: loop.run_until_complete(batch())


async def _replica(path: Path) -> Replica:
    store = SqliteStore(path)
    await store.open()
    replica = store.make_replica(clock=time.time)
    await replica.start()
    view = RevocationView()
    view.apply(world.background_revocations(10_000, now=time.time()))
    replica.view = view
    return replica


def _increment_ns() -> float:
    """What metrics add to an accepted request, alone: one attribute increment (the ``try``
    costs nothing until something is raised), the best of several timings."""

    class Counted:
        accepted = 0

    counted, n = Counted(), 1_000_000
    best = float("inf")
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(n):
            counted.accepted += 1
        t1 = time.perf_counter()
        for _ in range(n):
            pass
        best = min(best, (t1 - t0) - (time.perf_counter() - t1))
    return max(best, 0.0) / n * 1e9


def in_process(progress: Progress, budget: Budget, tmp: Path) -> dict[str, Any]:
    progress("figure 9: await authenticate, metrics off (Guard) vs on (CountingGuard)")
    loop = asyncio.new_event_loop()
    try:
        replica = loop.run_until_complete(_replica(tmp / "fig7" / "cleanexit.db"))
        tokens = [t for t, _ in world.issue(world.ring("HS256"), 1000, sub="live")]
        off = Guard(verifier=_verifier(), replica=replica)
        on = CountingGuard(verifier=_verifier(), replica=replica)
        # Many short rounds, interleaved: a noisy moment falls on both sides of a pair.
        variants = {"off": _loop(loop, off, tokens, 1), "on": _loop(loop, on, tokens, 1)}
        results = interleave(variants, rounds=101, budget=budget, min_rounds=21)
        loop.run_until_complete(replica.store.close())
    finally:
        loop.close()
    assert on.accepted > 0
    return {
        "increment_ns": _increment_ns(),
        "off_us": results["off"].median * 1e6,
        "on_us": results["on"].median * 1e6,
        "ratio": paired_ratio(results["on"].rounds, results["off"].rounds),
        "rounds": len(results["on"].rounds),
    }


def over_http(
    progress: Progress, *, seconds: float, rounds: int, budget: Budget, tmp: Path
) -> dict[str, Any]:
    progress("figure 9: GET /me, cleanexit serve with metrics off vs on (interleaved)")
    tokens = [t for t, _ in world.issue(world.ring("HS256"), 500)]
    script = http.token_script(tmp / "tokens.lua", tokens)
    token = "bench-metrics-token-0123456789-abcdefghijklmnop"
    processes = [
        world.cleanexit_serve("metrics off", tmp / "off", logs=tmp / "logs"),
        world.cleanexit_serve(
            "metrics on",
            tmp / "on",
            logs=tmp / "logs",
            env={"CLEANEXIT_METRICS": "true", "CLEANEXIT_METRICS_TOKEN": token},
        ),
    ]
    try:
        for p in processes:
            httpx.get(
                p.url + "/me", headers={"Authorization": f"Bearer {tokens[0]}"}
            ).raise_for_status()
        scraped = httpx.get(
            processes[1].url + "/metrics", headers={"Authorization": f"Bearer {token}"}
        )
        scraped.raise_for_status()
        loads = [http.Load(p.name, p.url, script, seconds) for p in processes]
        http._run_loads(loads, rounds=rounds, budget=budget, progress=progress)
    finally:
        for p in processes:
            p.stop()
    off, on = loads
    return {
        "off_rps": off.median("rps"),
        "on_rps": on.median("rps"),
        "rps_ratio": paired_ratio(on.series("rps"), off.series("rps")),
        "off_p99_ms": off.median("p99_ms"),
        "on_p99_ms": on.median("p99_ms"),
        "rounds": len(on.results),
    }


def figure9(
    progress: Progress, *, seconds: float, rounds: int, budget: Budget, wrk: bool
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cleanexit-bench-metrics-") as name:
        tmp = Path(name)
        result = {"micro": in_process(progress, Budget(budget.left() * 0.4), tmp)}
        if wrk:
            result["http"] = over_http(
                progress, seconds=seconds, rounds=rounds, budget=budget, tmp=tmp
            )
    return result
