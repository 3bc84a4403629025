"""The Flask and Django examples, run as written under gunicorn with two workers: the seed
scenario fails for the attacker (issue 12)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.server import CommandProcess

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PASSWORD = "a long enough password"


def gunicorn(target: str) -> list[str]:
    return [sys.executable, "-m", "gunicorn", target, "--bind", "127.0.0.1:{port}",
            "--workers", "{workers}", "--log-level", "warning"]  # fmt: skip


def seed_scenario(app: CommandProcess, paths: list[str]) -> None:
    pair = httpx.post(app.url + "/auth/login", json={"username": "alice", "password": PASSWORD})
    assert pair.status_code == 200, pair.text
    stolen = {"Authorization": f"Bearer {pair.json()['access_token']}"}
    for path in paths:
        assert httpx.get(app.url + path, headers=stolen).status_code == 200
    assert httpx.post(app.url + "/auth/logout", headers=stolen).status_code == 200
    for path in paths:  # fresh connections: both workers answer
        replays = [httpx.get(app.url + path, headers=stolen) for _ in range(6)]
        assert [r.status_code for r in replays] == [401] * 6
        assert "revoked" in replays[0].headers["www-authenticate"]
    app.restart()
    assert httpx.get(app.url + paths[0], headers=stolen).status_code == 401


def test_flask_example(tmp_path: Path) -> None:
    data = tmp_path / "data"
    subprocess.run(
        [sys.executable, "-m", "cleanexit", "users", "add", "alice", "--password-stdin",
         "--data-dir", str(data)], input=PASSWORD, text=True, check=True, capture_output=True,
    )  # fmt: skip
    with CommandProcess(
        gunicorn("app:app"), cwd=EXAMPLES / "flask_app", data_dir=data, workers=2,
        ready_path="/orders", env={"CLEANEXIT_COOKIE_SECURE": "false"},
    ) as app:  # fmt: skip
        app.start()
        seed_scenario(app, ["/orders"])
    assert "Traceback" not in app.log()


def test_django_example(tmp_path: Path) -> None:
    project = tmp_path / "django_project"
    shutil.copytree(EXAMPLES / "django_project", project)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANEXIT_")}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=project, env=env, check=True)
    create = "from django.contrib.auth.models import User; "
    create += f"User.objects.create_user('alice', password='{PASSWORD}')"
    subprocess.run([*manage, "shell", "-c", create], cwd=project, env=env, check=True)
    with CommandProcess(
        gunicorn("shop.wsgi"), cwd=project, data_dir=project / ".cleanexit", workers=2,
        ready_path="/orders",
    ) as app:  # fmt: skip
        del app.env["CLEANEXIT_DATA_DIR"]  # the project's settings.CLEANEXIT says where
        app.start()
        seed_scenario(app, ["/orders", "/profile"])
        revoke = subprocess.run(
            [*manage, "cleanexit", "revoke", "--user", "alice"],
            cwd=project, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert revoke.returncode == 0 and "logged 'alice' out everywhere" in revoke.stdout
    assert "Traceback" not in app.log()
