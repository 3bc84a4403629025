"""The terminal client, by hand as a person would use it: real server, real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from cleanexit.cli.client_cmds import register
from tests.client.conftest import PASSWORD
from tests.client.loopback import ScriptedServer

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
    assert f"server ended session {sid}; local state purged" in logout.stdout
    # What it did, and where: the server, the state file, its key.
    assert f"server: {own_server.url} (HTTP 200)" in logout.stdout
    assert f"state:  {state_dir / 'data' / 'auth-state.bin'} (removed)" in logout.stdout
    assert f"key:    key file {state_dir / 'keys' / 'state.key'} (shredded" in logout.stdout
    assert data_files(state_dir) == []
    assert not (state_dir / "keys" / "state.key").exists()

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
        # Nothing left behind locally, but the server did not confirm: exit 3, not 0.
        assert logout.returncode == 3, logout.stderr
        assert "server did NOT confirm revocation (could not connect)" in logout.stdout
        assert "refresh token queued" in logout.stdout
        assert "key:    key file" in logout.stdout and "outbox still needs it" in logout.stdout
        assert "did not confirm that the session ended" in logout.stderr
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
    # Purged, but the session it held was never ended on the server: not a success.
    assert logout.returncode == 3 and data_files(state_dir) == []
    assert "server not contacted; local state purged" in logout.stdout


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
    assert result.exit_code == 4
    assert "server ended session" in result.output
    assert "NOT fully purged" in result.output
    assert "(NOT removed)" in result.output


@pytest.mark.parametrize(
    ("route", "code", "said"),
    [
        ("logout-ok", 0, "server ended session sid-1; local state purged"),
        ("already-ended", 0, "server had already ended the session"),
        ("unrecognised", 3, "server did not recognise the credentials"),
        ("invalid-grant", 3, "nothing was confirmed revoked"),
        ("500", 3, "server did NOT confirm revocation (HTTP 500 server_error)"),
        ("hang", 3, "server did NOT confirm revocation (timed out)"),
    ],
)
def test_finding1_cli_exit_code_says_whether_the_server_ended_the_session(
    app: typer.Typer, state_dir: Path, route: str, code: int, said: str
) -> None:
    """``cleanexit logout`` no longer exits 0 claiming success the server never confirmed."""
    runner = CliRunner()
    env = {"CLEANEXIT_CLIENT_DIR": str(state_dir)}
    with ScriptedServer({"/auth/login": "login", "/auth/logout": route}) as server:
        login = ["login", "--server", server.url, "-u", "alice"]
        assert runner.invoke(app, login, input="pw\n", env=env).exit_code == 0
        result = runner.invoke(app, ["logout", "--timeout", "0.5"], env=env)
    assert result.exit_code == code, result.output
    assert said in result.output
    assert "local state purged" in result.output and data_files(state_dir) == []
    if code:
        assert "did not confirm that the session ended" in result.output
    else:
        assert "server ended" in said or "had already ended" in said


def test_all_and_others_exclude_each_other(app: typer.Typer, state_dir: Path) -> None:
    result = CliRunner().invoke(app, ["logout", "--all", "--others", "--state-dir", str(state_dir)])
    assert result.exit_code == 2


def test_finding1_cli_logout_after_idle_ends_server_session(
    cli: Cli, short_ttl_server: Any, state_dir: Path
) -> None:
    """`cleanexit logout` after a break (expired access token) ends the session: exit 0."""
    from cleanexit.client import open_state

    url = short_ttl_server.url
    assert cli("login", "--server", url, "-u", "alice", stdin=PASSWORD + "\n").returncode == 0
    saved = open_state(state_dir)[0].load().state
    assert saved is not None and saved.tokens is not None and saved.tokens.refresh_token
    refresh = saved.tokens.refresh_token.reveal()
    time.sleep(2.5)  # the access token (2 s) expired

    logout = cli("logout")
    assert logout.returncode == 0, logout.stdout + logout.stderr
    assert f"server ended session {saved.session_id}; local state purged" in logout.stdout
    again = httpx.post(url + "/auth/refresh", json={"refresh_token": refresh})
    assert again.status_code == 400  # the refresh token no longer refreshes
