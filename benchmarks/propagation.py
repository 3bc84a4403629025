"""Figure 5: logout on instance A, then how soon instance B refuses the same token.

Two real ``cleanexit serve`` processes share one store: SQLite (one data directory: exactly
what two workers of one server share), Redis (the stream each instance tails) and PostgreSQL
(the revocation log each instance pulls when NOTIFY wakes it). A trial logs
in on A, checks B accepts the token, logs out on A, then asks B until it answers 401; the delay
runs from the moment logout returned to B's 401 (so it includes one request to B).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from . import world
from .harness import Budget, Progress, percentile


def _trial(a: httpx.Client, b: httpx.Client, *, give_up: float) -> tuple[float, int]:
    login = a.post("/auth/login", json={"username": "alice", "password": world.PASSWORD})
    login.raise_for_status()
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    b.get("/me", headers=bearer).raise_for_status()  # B knows the token as valid
    a.post("/auth/logout", headers=bearer).raise_for_status()
    returned = time.perf_counter()
    requests = 0
    while time.perf_counter() - returned < give_up:
        requests += 1
        if b.get("/me", headers=bearer).status_code == 401:
            return (time.perf_counter() - returned) * 1e3, requests
    raise RuntimeError(f"B still accepted a revoked token {give_up}s after logout")


def _pair(
    name: str, tmp: Path, env: dict[str, str], trials: int, budget: Budget, progress: Progress
) -> dict[str, Any]:
    data, logs = tmp / f"data-{name}", tmp / "logs"
    a = world.cleanexit_serve(f"{name}-A", data, logs=logs, env=env, demo=True)
    # Both with --demo: an instance started without it retires the demo users (issue 9,
    # finding 7), and A's logins would then fail.
    b = world.cleanexit_serve(f"{name}-B", data, logs=logs, env=env, demo=True)
    delays, requests = [], []
    try:
        with httpx.Client(base_url=a.url) as ca, httpx.Client(base_url=b.url) as cb:
            _trial(ca, cb, give_up=5.0)  # warm-up: connections, first imports
            for _ in range(trials):
                if budget.exhausted() and len(delays) >= 10:
                    break
                delay, n = _trial(ca, cb, give_up=5.0)
                delays.append(delay)
                requests.append(n)
    finally:
        a.stop()
        b.stop()
    progress(f"  {name}: {len(delays)} trials")
    return {
        "store": name,
        "trials": len(delays),
        "p50_ms": percentile(delays, 50),
        "p99_ms": percentile(delays, 99),
        "max_ms": max(delays),
        "next_request": sum(n == 1 for n in requests) / len(requests),
    }


def figure5(
    progress: Progress,
    *,
    redis_url: str | None,
    postgres_url: str | None = None,
    trials: int,
    budget: Budget,
) -> dict[str, Any]:
    progress("figure 5: propagation of a logout from instance A to instance B")
    rows = []
    with tempfile.TemporaryDirectory(prefix="cleanexit-bench-prop-") as tmp_name:
        tmp = Path(tmp_name)
        pairs: list[tuple[str, dict[str, str]]] = [("SQLite", {})]
        if redis_url is not None:
            env = {"CLEANEXIT_STORE_URL": redis_url, "CLEANEXIT_REDIS_MODE": "replica"}
            pairs.append(("Redis replica", env))
        if postgres_url is not None:
            pairs.append(("PostgreSQL replica", {"CLEANEXIT_STORE_URL": postgres_url}))
        for i, (name, env) in enumerate(pairs):
            share = Budget(budget.left() / (len(pairs) - i))
            rows.append(_pair(name, tmp, env, trials, share, progress))
    return {"rows": rows}
