"""The frameworks the conformance suite runs, each as a real server process.

A new adapter proves itself by adding a ``Framework`` here and passing the suite."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = "tests.conformance.apps"


def _django_db(tmp: Path) -> dict[str, str]:
    db = tmp / "django.sqlite3"
    env = {"CONFORMANCE_DJANGO_DB": str(db)}
    if not db.exists():
        subprocess.run(
            [sys.executable, "-m", f"{APPS}.django_site.setup"],
            cwd=ROOT, env={**_base_env(), **env}, check=True, timeout=120,
        )  # fmt: skip
    return env


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("CLEANEXIT_")}


def _gunicorn(target: str) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", target, "--bind", "127.0.0.1:{port}",
        "--workers", "{workers}", "--log-level", "warning", "--graceful-timeout", "5",
    ]  # fmt: skip


def _uvicorn(target: str) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", "{port}",
        "--workers", "{workers}", "--log-level", "warning", "--lifespan", "auto",
    ]  # fmt: skip


@dataclass(frozen=True)
class Framework:
    name: str
    argv: list[str]
    protected: tuple[str, ...]  # every protected-view idiom the app shows
    prepare: Callable[[Path], Mapping[str, str]] = lambda _: {}
    env: Mapping[str, str] = field(default_factory=dict)
    subject: Callable[[str], str] | None = None  # username -> sub (None: the username)


FRAMEWORKS = [
    Framework("fastapi-uvicorn", _uvicorn(f"{APPS}.fastapi_app:app"), ("/me",)),
    Framework("flask-gunicorn", _gunicorn(f"{APPS}.flask_app:app"), ("/me", "/me/async")),
    Framework(
        "django-gunicorn",
        _gunicorn(f"{APPS}.django_site.wsgi"),
        ("/me", "/me/plain", "/me/async"),
        prepare=_django_db,
    ),
    Framework(
        "django-asgi-uvicorn",
        [*_uvicorn(f"{APPS}.django_site.asgi:application")[:-2], "--lifespan", "off"],
        ("/me", "/me/plain", "/me/async"),
        prepare=_django_db,
    ),
]
