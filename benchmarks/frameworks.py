"""Figure 7 (issue 12): Flask and Django REST framework, one gunicorn worker each, side by
side in one run: cleanexit against the libraries their users run today, set up as their
documentation shows. Revocation is on wherever the library can revoke at all."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import jwt

from . import world
from .harness import Budget, Progress, paired_ratio
from .http import Load, _run_loads, token_script

FLASK = "benchmarks.refapps"


def gunicorn(name: str, target: str, *, logs: Path, env: dict[str, str]) -> world.Process:
    port = world.free_port()
    command = [
        sys.executable, "-m", "gunicorn", target, "--bind", f"127.0.0.1:{port}",
        "--workers", "1", "--log-level", "warning",
    ]  # fmt: skip
    return world.spawn(
        name, command, url=f"http://127.0.0.1:{port}", logs=logs,
        env={"BENCH_SECRET": world.SECRET, "CLEANEXIT_SECRET": world.SECRET, **env},
        ready="/me",
    )  # fmt: skip


def _django_db(tmp: Path) -> str:
    db = tmp / "drf.sqlite3"
    script = (
        "import django; django.setup()\n"
        "from django.core.management import call_command; call_command('migrate', verbosity=0)\n"
        "from django.contrib.auth.models import User; User.objects.create_user('alice')\n"
    )
    env = {**os.environ, "BENCH_DB": str(db), "DJANGO_SETTINGS_MODULE": f"{FLASK}.drf_site"}
    env.pop("CLEANEXIT_DATA_DIR", None)
    subprocess.run([sys.executable, "-c", script], cwd=world.ROOT, env=env, check=True)
    return str(db)


def simplejwt_tokens(n: int) -> list[str]:
    """What simplejwt's ``AccessToken.for_user`` issues: ``token_type``, ``user_id``, ``jti``."""
    now = int(time.time())
    payload = {"token_type": "access", "user_id": "1", "iat": now, "exp": now + world.TTL}
    return [
        jwt.encode({**payload, "jti": os.urandom(16).hex()}, world.SECRET, algorithm="HS256")
        for _ in range(n)
    ]


def figure7(
    progress: Progress, *, redis_url: str | None, seconds: float, rounds: int, budget: Budget
) -> dict[str, Any]:
    progress("figure 7: Flask and DRF, cleanexit vs flask-jwt-extended and simplejwt")
    with tempfile.TemporaryDirectory(prefix="cleanexit-bench-frameworks-") as tmp_name:
        tmp = Path(tmp_name)
        logs = tmp / "logs"
        ours = token_script(tmp / "ours.lua", [t for t, _ in world.issue(world.ring("HS256"), 500)])
        simple = token_script(tmp / "simplejwt.lua", simplejwt_tokens(500))
        db = _django_db(tmp)
        drf = f"{FLASK}.drf_site:application"
        specs: list[tuple[str, str, Path, dict[str, str]]] = [
            ("flask+cleanexit", f"{FLASK}.flask_cleanexit:app", ours,
             {"CLEANEXIT_DATA_DIR": str(tmp / "flask-data")}),
            ("drf+cleanexit", drf, ours, {"BENCH_DB": db, "BENCH_AUTH": "cleanexit",
                                          "CLEANEXIT_DATA_DIR": str(tmp / "drf-data")}),
            ("drf+simplejwt", drf, simple, {"BENCH_DB": db, "BENCH_AUTH": "simplejwt"}),
            ("drf+simplejwt stateless", drf, simple,
             {"BENCH_DB": db, "BENCH_AUTH": "simplejwt-stateless"}),
        ]  # fmt: skip
        if redis_url is not None:
            specs.insert(1, ("flask+flask-jwt-extended+redis", f"{FLASK}.flask_jwt_redis:app",
                             ours, {"BENCH_REDIS_URL": redis_url}))  # fmt: skip
        processes, loads = [], []
        try:
            for name, target, script, env in specs:
                process = gunicorn(name, target, logs=logs, env=env)
                processes.append(process)
                token = script.read_text().split('"', 2)[1]  # every app accepts every token
                bearer = {"Authorization": f"Bearer {token}"}
                httpx.get(process.url + "/me", headers=bearer).raise_for_status()
                loads.append(Load(name, process.url, script, seconds))
            _run_loads(loads, rounds=rounds, budget=budget, progress=progress)
        finally:
            for p in processes:
                p.stop()
    by_name = {load.name: load for load in loads}
    rows = []
    for load in loads:
        base = by_name["flask+cleanexit" if load.name.startswith("flask") else "drf+cleanexit"]
        rows.append({
            "app": load.name,
            "rps": load.median("rps"),
            "p50_ms": load.median("p50_ms"),
            "p99_ms": load.median("p99_ms"),
            "rps_ratio": paired_ratio(base.series("rps"), load.series("rps")),
            "p99_ratio": paired_ratio(base.series("p99_ms"), load.series("p99_ms")),
            "rounds": len(load.results),
        })  # fmt: skip
    return {"rows": rows, "connections": 16, "seconds": seconds}
