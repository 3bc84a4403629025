"""HTTP figures, real processes on loopback, load from wrk in a second process: throughput and
latency against the reference apps (3), and latency with 0, 100k and 1M live revocations (4b).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from . import world
from .harness import Budget, Measured, Progress, interleave, paired_ratio

CONNECTIONS = 16
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def token_script(path: Path, tokens: Sequence[str]) -> Path:
    """A wrk script that sends ``GET /me`` with the tokens in turn."""
    listed = ",".join(f'"{t}"' for t in tokens)
    path.write_text(
        f"local tokens = {{{listed}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #tokens + 1\n"
        "  return wrk.format('GET', '/me', {['Authorization'] = 'Bearer ' .. tokens[i]})\n"
        "end\n"
    )
    return path


def wrk(url: str, script: Path, seconds: float) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency", "-s", str(script)]
    out = subprocess.run(
        [*command, url + "/me"],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if bad or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors against {url}:\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
    }


def _latency(out: str, label: str) -> float:
    value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


class Load:
    """Per-round wrk results for one server; each round yields rps, p50 and p99."""

    def __init__(self, name: str, url: str, script: Path, seconds: float) -> None:
        self.name, self.url, self.script, self.seconds = name, url, script, seconds
        self.results: list[dict[str, float]] = []

    def __call__(self) -> float:
        result = wrk(self.url, self.script, self.seconds)
        self.results.append(result)
        return result["rps"]

    def series(self, key: str) -> list[float]:
        return [r[key] for r in self.results]

    def median(self, key: str) -> float:
        return Measured(self.name, self.series(key)).median


def _run_loads(loads: list[Load], *, rounds: int, budget: Budget, progress: Progress) -> None:
    for load in loads:  # warm-up: connection pools, first-request imports, JIT-less caches
        wrk(load.url, load.script, 2)
    progress(f"  warmed up; {rounds} interleaved rounds of {loads[0].seconds:g}s each")
    interleave({load.name: load for load in loads}, rounds=rounds, budget=budget)


# -- figure 3 -----------------------------------------------------------------------------------
def figure3(
    progress: Progress, *, redis_url: str | None, seconds: float, rounds: int, budget: Budget
) -> dict[str, Any]:
    progress("figure 3: HTTP throughput and latency, cleanexit serve vs reference apps")
    with tempfile.TemporaryDirectory(prefix="cleanexit-bench-http-") as tmp_name:
        tmp = Path(tmp_name)
        tokens = [t for t, _ in world.issue(world.ring("HS256"), 500)]
        script = token_script(tmp / "tokens.lua", tokens)
        processes = [
            world.cleanexit_serve("cleanexit", tmp / "data", logs=tmp / "logs"),
            world.uvicorn_app(
                "fastapi+pyjwt", "benchmarks.refapps.pyjwt_app:app", logs=tmp / "logs", env={}
            ),
        ]
        if redis_url is not None:
            processes.append(
                world.uvicorn_app(
                    "fastapi+pyjwt+redis GET",
                    "benchmarks.refapps.pyjwt_redis_app:app",
                    logs=tmp / "logs",
                    env={"BENCH_REDIS_URL": redis_url},
                )
            )
        try:
            for p in processes:  # every app must accept every token: no fast 401s
                bearer = {"Authorization": f"Bearer {tokens[0]}"}
                httpx.get(p.url + "/me", headers=bearer).raise_for_status()
            loads = [Load(p.name, p.url, script, seconds) for p in processes]
            _run_loads(loads, rounds=rounds, budget=budget, progress=progress)
        finally:
            for p in processes:
                p.stop()
    ours = loads[0]
    rows = []
    for load in loads:
        rows.append(
            {
                "app": load.name,
                "rps": load.median("rps"),
                "p50_ms": load.median("p50_ms"),
                "p99_ms": load.median("p99_ms"),
                "rps_ratio": paired_ratio(ours.series("rps"), load.series("rps")),
                "p99_ratio": paired_ratio(ours.series("p99_ms"), load.series("p99_ms")),
                "rounds": len(load.results),
            }
        )
    return {"rows": rows, "connections": CONNECTIONS, "seconds": seconds}


# -- figure 4b ----------------------------------------------------------------------------------
def figure4(
    progress: Progress, *, sizes: Sequence[int], seconds: float, rounds: int, budget: Budget
) -> dict[str, Any]:
    progress("figure 4: latency of cleanexit serve with 0, 100k and 1M live revocations")
    with tempfile.TemporaryDirectory(prefix="cleanexit-bench-scale-") as tmp_name:
        tmp = Path(tmp_name)
        tokens = [t for t, _ in world.issue(world.ring("HS256"), 500)]
        script = token_script(tmp / "tokens.lua", tokens)
        processes = []
        try:
            for n in sizes:
                data = tmp / f"data-{n}"
                data.mkdir()
                if n:
                    progress(f"  writing {n:,} live revocations into SQLite")
                    world.fill_sqlite(data, world.background_revocations(n, now=time.time()))
                t0 = time.monotonic()
                process = world.cleanexit_serve(f"scale-{n}", data, logs=tmp / "logs")
                entries = httpx.get(process.url + "/readyz").json()["replica"]["entries"]
                if entries != n:
                    raise RuntimeError(f"server loaded {entries} entries, expected {n}")
                progress(f"  server with {n:,} entries ready in {time.monotonic() - t0:.1f}s")
                processes.append((n, process))
            loads = [Load(f"{n:,}", p.url, script, seconds) for n, p in processes]
            rss = {n: world.rss_bytes(p.pid) for n, p in processes}
            _run_loads(loads, rounds=rounds, budget=budget, progress=progress)
        finally:
            for _, p in processes:
                p.stop()
    base = loads[0]
    rows = [
        {
            "entries": n,
            "rps": load.median("rps"),
            "p50_ms": load.median("p50_ms"),
            "p99_ms": load.median("p99_ms"),
            "p99_ratio": paired_ratio(load.series("p99_ms"), base.series("p99_ms")),
            "rss_mb": rss[n] / 2**20,
            "rss_per_entry": (rss[n] - rss[sizes[0]]) / n if n else float("nan"),
            "rounds": len(load.results),
        }
        for (n, _), load in zip(processes, loads, strict=True)
    ]
    return {"rows": rows, "connections": CONNECTIONS, "seconds": seconds}
