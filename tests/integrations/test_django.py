"""Django specifics beyond the conformance suite: ``manage.py cleanexit`` and the mapping of
``settings.CLEANEXIT`` onto cleanexit's settings (each check in a fresh Django process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conformance.frameworks import ROOT, _django_db

pytestmark = pytest.mark.slow


def django(tmp_path: Path, script: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLEANEXIT_")}
    env = {
        **base, **_django_db(tmp_path), "CLEANEXIT_DATA_DIR": str(tmp_path / "data"),
        "DJANGO_SETTINGS_MODULE": "tests.conformance.apps.django_site.settings", **env,
    }  # fmt: skip
    prelude = "import django; django.setup()\nfrom django.test import Client\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_manage_py_revoke_user_logs_out_everywhere(tmp_path: Path) -> None:
    done = django(tmp_path, """
        import io
        from django.core.management import call_command
        c = Client()
        login = c.post("/auth/login", {"username": "bob", "password": "correct horse battery staple"},
                       content_type="application/json").json()
        token = "Bearer " + login["access_token"]
        assert c.get("/me", HTTP_AUTHORIZATION=token).status_code == 200
        out = io.StringIO()
        call_command("cleanexit", "revoke", "--user", "bob", stdout=out)
        print(out.getvalue())
        print("after", c.get("/me", HTTP_AUTHORIZATION=token).status_code, login["session_id"])
    """)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "logged 'bob' out everywhere" in done.stdout and "cutoff set" in done.stdout
    session = done.stdout.split("after 401 ", 1)[1].strip()
    assert session in done.stdout.split("after", 1)[0]


def test_manage_py_names_an_unknown_user(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "django", "cleanexit", "revoke", "--user", "nobody"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **_django_db(tmp_path), "CLEANEXIT_DATA_DIR": str(tmp_path / "d"),
             "DJANGO_SETTINGS_MODULE": "tests.conformance.apps.django_site.settings"},
    )  # fmt: skip
    assert done.returncode == 1 and "no user 'nobody'" in done.stderr


def test_settings_map_onto_cleanexit_settings(tmp_path: Path) -> None:
    done = django(tmp_path, """
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured
        from cleanexit.integrations.django import settings_from_django
        settings.CLEANEXIT = {"ACCESS_TTL": 42, "SECRET": "x" * 40}
        print("ttl", settings_from_django().access_ttl)
        for bad in ({"ACCES_TTL": 1}, {"ACCESS_TTL": -5}, {"SECRET": "hunter2-secret", "PRODUCTION": True,
                    "COOKIE_SECURE": False}):
            settings.CLEANEXIT = bad
            try:
                settings_from_django()
            except ImproperlyConfigured as exc:
                print("refused:", exc)
    """)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ttl 42" in done.stdout
    assert "unknown setting(s) ACCES_TTL" in done.stdout
    assert "ACCESS_TTL:" in done.stdout and "-5" not in done.stdout
    assert "refused in production mode" in done.stdout and "hunter2" not in done.stdout
