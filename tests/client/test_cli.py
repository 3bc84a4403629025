"""The terminal client, by hand as a person would use it: real server, real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cleanexit.cli.client_cmds import register
from tests.client.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


class Cli:
    """``cleanexit ...`` in a child process, with its own state directory and no keyring."""

    def __init__(self, state_dir: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANEXIT_")}
        self.env |= {
            "CLEANEXIT_CLIENT_DIR": str(state_dir),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "COLUMNS": "200",
        }

    def __call__(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cleanexit", *args],
            input=stdin,
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
def cli(state_dir: Path) -> Cli:
    return Cli(state_dir)


def data_files(state_dir: Path) -> list[str]:
    data = state_dir / "data"
    return sorted(p.name for p in data.iterdir()) if data.exists() else []


def test_whole_flow_by_hand(cli: Cli, own_server: Any, state_dir: Path, app: typer.Typer) -> None:
    login = cli("login", "--server", own_server.url, "-u", "alice", stdin=PASSWORD + "\n")
    assert login.returncode == 0, login.stderr
    assert "logged in to" in login.stdout and "as alice" in login.stdout
    sid = login.stdout.split("(session ")[1].split(")")[0]
    assert data_files(state_dir) == ["auth-state.bin"]

    whoami = cli("whoami")
    assert whoami.returncode == 0 and "alice on" in whoami.stdout and sid in whoami.stdout
    sessions = cli("sessions")
    assert sessions.returncode == 0, sessions.stderr
    assert sid in sessions.stdout and "this one" in sessions.stdout

    logout = cli("logout")
    assert logout.returncode == 0, logout.stderr
    assert f"server revoked session {sid}; local state purged" in logout.stdout
    assert data_files(state_dir) == []

    after = cli("whoami")
    assert after.returncode == 1 and "not logged in" in after.stderr
    again = cli("logout")
    assert again.returncode == 0 and "nothing to purge" in again.stdout


def test_logout_with_the_server_stopped(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    from tests.support.server import start_server

    (tmp_path / "srv").mkdir()
    server = start_server(tmp_path / "srv")
    try:
        login = cli("login", "--server", server.url, "-u", "alice", stdin=PASSWORD + "\n")
        assert login.returncode == 0, login.stderr
        server.stop()
        logout = cli("logout", "--all", "--timeout", "1", "--retry-later")
        assert logout.returncode == 0, logout.stderr  # nothing left behind locally
        assert "server did NOT confirm revocation (could not connect)" in logout.stdout
        assert "refresh token queued" in logout.stdout
        assert data_files(state_dir) == ["revocation-outbox.bin"]
        server.start()
        retry = cli("logout")
        assert "revocation outbox: 1 confirmed" in retry.stdout
        assert data_files(state_dir) == []
    finally:
        server.stop()


def test_wrong_password(cli: Cli, own_server: Any, state_dir: Path) -> None:
    login = cli("login", "--server", own_server.url, "-u", "alice", stdin="nope\n")
    assert login.returncode == 1 and "wrong username or password" in login.stderr
    assert data_files(state_dir) == []


def test_unreadable_state_is_reported(cli: Cli, own_server: Any, state_dir: Path) -> None:
    assert (
        cli("login", "--server", own_server.url, "-u", "alice", stdin=PASSWORD + "\n").returncode
        == 0
    )
    (state_dir / "data" / "auth-state.bin").write_bytes(b"CXC1" + os.urandom(40))
    whoami = cli("whoami")
    assert whoami.returncode == 1
    assert "ignoring unreadable client state" in whoami.stderr and "not logged in" in whoami.stderr
    logout = cli("logout")
    assert logout.returncode == 0 and data_files(state_dir) == []


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_exit_code_when_something_is_left_behind(
    app: typer.Typer, own_server: Any, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    env = {"CLEANEXIT_CLIENT_DIR": str(state_dir)}
    args = ["login", "--server", own_server.url, "-u", "alice"]
    assert runner.invoke(app, args, input=PASSWORD + "\n", env=env).exit_code == 0
    from cleanexit.client.persistence import state_file

    monkeypatch.setattr(state_file, "_try_shred", lambda path: False)  # e.g. a read-only disk
    result = runner.invoke(app, ["logout"], env=env)
    assert result.exit_code == 1
    assert "server revoked session" in result.output
    assert "NOT fully purged" in result.output


def test_all_and_others_exclude_each_other(app: typer.Typer, state_dir: Path) -> None:
    result = CliRunner().invoke(app, ["logout", "--all", "--others", "--state-dir", str(state_dir)])
    assert result.exit_code == 2
