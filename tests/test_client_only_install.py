"""Client-only install (issue 10): ``cleanexit[client]`` brings the SDK and the terminal client
without the server (FastAPI, uvicorn, argon2, pydantic-settings, PyJWT, redis).

Fast checks run in the dev venv with the server's modules blocked; the slow one builds the
wheel, installs ``cleanexit[client]`` into a fresh venv and logs in and out of a real server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.cli.run import ROOT, clean_env, cleanexit, no_traceback, one_line_error
from tests.support.server import DEMO_PASSWORD, start_server

# What only the server needs; none of it may be imported by the client side.
SERVER_ONLY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "argon2",
    "pydantic_settings",
    "jwt",
    "orjson",
    "multipart",
    "redis",
)
CLIENT_ONLY = ("httpx", "keyring", "anyio")
SERVER_HINT = "pip install 'cleanexit[server]'"


def without(*blocked: str) -> tuple[str, ...]:
    """A ``python -c`` running the ``cleanexit`` command as if ``blocked`` were not installed."""
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "sys.argv[0] = 'cleanexit'\n"
        "from cleanexit.cli import main\n"
        "main()\n"
    )
    return (sys.executable, "-c", code)


def test_the_client_side_imports_nothing_of_the_server() -> None:
    code = (
        "import sys\n"
        "import cleanexit, cleanexit.client, cleanexit.cli, cleanexit.cli.commands\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_ONLY!r}\n"
        "    or m.startswith(('cleanexit.server', 'cleanexit.integrations'))\n"
        "    or m in ('cleanexit.settings', 'cleanexit.runtime'))\n"
        "print(bad)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=clean_env()
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "command",
    [
        ("serve",),
        ("revoke", "--user", "bob"),
        ("sessions", "list", "--user", "bob"),
        ("prune",),
        ("users", "add", "carol"),
        ("keys", "rotate"),
    ],
    ids=" ".join,
)
def test_server_commands_without_the_server_give_an_install_hint(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    done = cleanexit(*command, "--data-dir", tmp_path, python=without(*SERVER_ONLY))
    assert SERVER_HINT in one_line_error(done)
    assert list(tmp_path.iterdir()) == []


def test_client_commands_work_without_the_server(tmp_path: Path) -> None:
    blocked = without(*SERVER_ONLY)
    helped = cleanexit("--help", python=blocked)
    assert helped.returncode == 0
    for name in ("login", "whoami", "logout", "sessions", "serve"):
        assert name in helped.stdout
    env = {
        "CLEANEXIT_CLIENT_DIR": str(tmp_path),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    out = cleanexit("logout", python=blocked, env=env)
    no_traceback(out)
    assert out.returncode == 0 and "not logged in; nothing to purge" in out.stdout


def test_client_commands_without_the_client_give_an_install_hint(tmp_path: Path) -> None:
    done = cleanexit(
        "login", "--server", "http://127.0.0.1:1", "-u", "a", python=without(*CLIENT_ONLY)
    )
    assert "pip install 'cleanexit[client]'" in one_line_error(done)


def test_a_bare_install_names_both_extras() -> None:
    """``pip install cleanexit`` alone: no typer, no client, no server."""
    done = cleanexit("--help", python=without("typer", *CLIENT_ONLY, *SERVER_ONLY))
    line = one_line_error(done)
    assert "pip install 'cleanexit[client]' or 'cleanexit[server]'" in line


def test_the_library_says_which_extra_is_missing() -> None:
    code = "import sys; sys.modules['jwt'] = None; import cleanexit.server"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert "cleanexit.server needs the server extra: " + SERVER_HINT in done.stderr


# -- the real thing: a wheel, a fresh venv, the client extra only --------------------------


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the built wheel's ``client`` extra; pip's cache and this machine's
    index configuration are reused, so a second run downloads nothing."""
    work = tmp_path_factory.mktemp("client-only")
    pip_env = clean_env({"PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    pip_env.pop("PIP_NO_CACHE_DIR", None)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(work / "dist"), str(ROOT)],
        check=True, env=pip_env, timeout=300, capture_output=True,
    )  # fmt: skip
    (wheel,) = (work / "dist").glob("cleanexit-*.whl")
    venv.create(work / "venv", with_pip=True)
    subprocess.run(
        [str(work / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet",
         f"{wheel}[client]"],
        check=True, env=pip_env, timeout=600, capture_output=True,
    )  # fmt: skip
    return work / "venv"


@pytest.mark.slow
def test_client_only_install_has_no_server(client_venv: Path) -> None:
    python = str(client_venv / "bin" / "python")
    for name in SERVER_ONLY:
        done = subprocess.run([python, "-c", f"import {name}"], capture_output=True, text=True)
        assert done.returncode == 1 and "ModuleNotFoundError" in done.stderr, name
    done = subprocess.run(
        [python, "-c", "import cleanexit.client, httpx, keyring, typer, cryptography"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_client_only_install_runs_the_terminal_client(client_venv: Path, tmp_path: Path) -> None:
    command = (str(client_venv / "bin" / "cleanexit"),)
    helped = cleanexit("--help", python=command)
    assert helped.returncode == 0 and "login" in helped.stdout and "logout" in helped.stdout
    assert SERVER_HINT in one_line_error(cleanexit("serve", python=command))
    assert SERVER_HINT in one_line_error(cleanexit("revoke", "--user", "x", python=command))

    env = {
        "CLEANEXIT_CLIENT_DIR": str(tmp_path / "client"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    (tmp_path / "srv").mkdir()
    with start_server(tmp_path / "srv") as server:  # the dev venv's server
        login = cleanexit(
            "login", "--server", server.url, "-u", "alice", python=command, env=env,
            stdin=DEMO_PASSWORD + "\n",
        )  # fmt: skip
        assert login.returncode == 0, login.stdout + login.stderr
        sid = login.stdout.split("(session ")[1].split(")")[0]
        whoami = cleanexit("whoami", python=command, env=env)
        assert whoami.returncode == 0 and sid in whoami.stdout
        logout = cleanexit("logout", python=command, env=env)
        assert logout.returncode == 0, logout.stdout + logout.stderr
        assert f"server ended session {sid}; local state purged" in logout.stdout
        # The server agrees: the session is over.
        listed = cleanexit("sessions", "list", "--user", "alice", "--data-dir", server.data_dir)
        assert listed.returncode == 0 and sid not in listed.stdout
    assert not os.listdir(tmp_path / "client" / "data")
