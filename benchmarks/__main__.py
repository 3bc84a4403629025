"""``python -m benchmarks [--quick]``: every figure, then docs/benchmarks.md and the chart.

Each section has a time budget, so the whole run stays under ten minutes on two cores; a
section that cannot run (no wrk, no redis-server, no PostgreSQL, no client SDK) is reported as
pending.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import (
    frameworks,
    http,
    logout_client,
    metrics_cost,
    micro,
    propagation,
    providers,
    report,
    world,
)
from .harness import Budget, Progress


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, short rounds")
    parser.add_argument("--out", type=Path, default=world.ROOT / "docs")
    args = parser.parse_args(argv)
    quick = args.quick
    big = 100_000 if quick else 1_000_000
    seconds, rounds = (2.0, 2) if quick else (5.0, 5)
    scale = 0.25 if quick else 1.0

    progress = Progress()
    results: dict[str, Any] = {"machine": report.machine(), "notes": []}
    progress(f"cleanexit benchmarks on {results['machine']['cpu']}")
    # Memory first, in a process that has built nothing yet: no leftovers in the collections.
    _section(results, progress, "figure4mem", lambda: micro.memory_per_entry(progress, big))
    with _redis(results, progress) as redis_url, _postgres(results, progress) as pg_url:
        _section(results, progress, "micro", lambda: micro.run(
            progress, entries=big, redis_url=redis_url, postgres_url=pg_url,
            budget=90 * scale))  # fmt: skip
        if http.wrk_available():
            _section(results, progress, "figure3", lambda: http.figure3(
                progress, redis_url=redis_url, seconds=seconds, rounds=rounds,
                budget=Budget(90 * scale)))  # fmt: skip
            sizes = [0, big // 10, big]
            _section(results, progress, "figure4", lambda: http.figure4(
                progress, sizes=sizes, seconds=seconds, rounds=rounds,
                budget=Budget(90 * scale)))  # fmt: skip
            if importlib.util.find_spec("gunicorn") is not None:
                _section(results, progress, "figure7", lambda: frameworks.figure7(
                    progress, redis_url=redis_url, seconds=seconds, rounds=rounds,
                    budget=Budget(150 * scale)))  # fmt: skip
        else:
            results["notes"].append("Figures 3, 4 and 7 (HTTP) need wrk: `make system-deps`.")
        _section(results, progress, "figure5", lambda: propagation.figure5(
            progress, redis_url=redis_url, postgres_url=pg_url, trials=100 if not quick else 8,
            budget=Budget(75 * scale)))  # fmt: skip
        _section(results, progress, "figure8", lambda: providers.figure8(
            progress, budget=Budget(40 * scale), entries=big // 10))  # fmt: skip
        _section(results, progress, "figure9", lambda: metrics_cost.figure9(
            progress, seconds=seconds, rounds=rounds, budget=Budget(60 * scale),
            wrk=http.wrk_available()))  # fmt: skip
        if importlib.util.find_spec("cleanexit.client") is not None:
            _section(results, progress, "figure6", lambda: logout_client.figure6(
                progress, trials=20 if not quick else 5, budget=Budget(20 * scale)))  # fmt: skip
        else:
            results["client_pending"] = "the Python client SDK (cleanexit.client) is missing"
    if "micro" in results:
        results.update(results.pop("micro"))
    _write(results, args.out, progress)
    return 0


@contextlib.contextmanager
def _redis(results: dict[str, Any], progress: Progress) -> Iterator[str | None]:
    if importlib.util.find_spec("cleanexit.server.stores.redis") is None:
        results["redis_pending"] = "the Redis store (issue 4) is not in this tree yet"
        yield None
        return
    try:
        with (
            tempfile.TemporaryDirectory(prefix="cleanexit-bench-redis-") as tmp,
            world.redis_server(Path(tmp)) as url,
        ):
            progress(f"redis-server at {url}")
            yield url
    except RuntimeError as exc:
        results["redis_pending"] = str(exc)
        yield None


@contextlib.contextmanager
def _postgres(results: dict[str, Any], progress: Progress) -> Iterator[str | None]:
    if importlib.util.find_spec("psycopg") is None:
        results["postgres_pending"] = "psycopg is not installed (pip install 'cleanexit[postgres]')"
        yield None
        return
    try:
        with world.postgres_server() as url:
            progress(f"PostgreSQL at {url}")
            yield url
    except RuntimeError as exc:
        results["postgres_pending"] = str(exc)
        yield None


def _section(
    results: dict[str, Any], progress: Progress, key: str, run: Callable[[], dict[str, Any]]
) -> None:
    t0 = time.monotonic()
    try:
        results[key] = run()
    except Exception as exc:  # one broken section must not cost the others their figures
        traceback.print_exc()
        results["notes"].append(f"Section {key} failed: {type(exc).__name__}: {exc}")
    progress(f"{key} done in {time.monotonic() - t0:.0f}s")


def _write(results: dict[str, Any], out: Path, progress: Progress) -> None:
    out.mkdir(parents=True, exist_ok=True)
    png = out / "benchmarks.png"
    has_chart = report.chart(results, png)
    text = report.markdown(
        results,
        command="make bench",
        seconds=progress.elapsed,
        chart=png.name if has_chart else None,
    )
    (out / "benchmarks.md").write_text(text)
    progress(f"wrote {out / 'benchmarks.md'}" + (f" and {png}" if has_chart else ""))
    for target in report.targets(results):
        met = "pending" if target.met is None else ("met" if target.met else "MISSED")
        print(f"  [{met:>7}] fig {target.figure}: {target.text}: {target.measured}")


if __name__ == "__main__":
    sys.exit(main())
