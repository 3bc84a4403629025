"""A real PostgreSQL cluster in a temporary directory on a free loopback port, for tests.

``PostgresServer().start()``: a cluster made by ``initdb`` (once per test run, then copied),
served by ``postgres`` on 127.0.0.1 with trust authentication for the user ``cleanexit``.
``kill()`` sends SIGKILL to the postmaster and every backend at once (a crash: the next
``start()`` recovers from the WAL, on the same port and data); ``stop()`` is a fast shutdown;
``restart()``; ``pause()`` / ``resume()`` (SIGSTOP / SIGCONT to every process: a silent
server). ``url(dbname)``, ``create_database(name)``, ``sql(statement)``.

Debian keeps the binaries in ``/usr/lib/postgresql/<version>/bin`` (not on PATH); the newest
is used. ``initdb`` and ``postgres`` refuse to run as root, so as root (CI) they run as the
``postgres`` system user (created by Debian's package; otherwise one is added), in a folder
of /tmp that user owns. Under ``CI=true`` a missing PostgreSQL fails the test; elsewhere the
helper installs Debian's ``postgresql`` when it runs as root, or skips. The machine's own
PostgreSQL (port 5432) is never touched.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from .server import free_port

__all__ = ["PostgresServer", "postgres_bin"]

USER = "cleanexit"  # the database superuser of the test clusters (trust auth)
_template: Path | None = None  # one initdb per test run; each server copies it


def postgres_bin() -> Path:
    """The folder of the newest installed PostgreSQL's binaries."""
    found = _find_bin()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
            check=False,
            env=env,
            timeout=900,
        )
        found = _find_bin()
    if found is not None:
        return found
    message = "PostgreSQL is not installed (make system-deps installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _find_bin() -> Path | None:
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged user the cluster runs as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "cleanexit-pg"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "cleanexit-pg"],
        check=True,
    )
    return pwd.getpwnam("cleanexit-pg")


def _prctl() -> Any:
    # Looked up here: after the switch to the unprivileged user, the child may not be able
    # to import anything (root's home holds the interpreter).
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: kill() still runs on a normal exit
        return None


_PRCTL = _prctl()


def _die_with_parent() -> None:
    """Linux: SIGKILL the postmaster when the test process dies, however it dies (set after
    the switch to the unprivileged user, which would clear it)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _owned_dir(prefix: str, owner: pwd.struct_passwd | None) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))  # in /tmp: every user can reach it
    if owner is not None:
        os.chown(path, owner.pw_uid, owner.pw_gid)
    return path


def _initdb(bin_dir: Path, owner: pwd.struct_passwd | None) -> Path:
    """A fresh cluster's data folder, made once per test run and removed at exit."""
    global _template
    if _template is None:
        base = _owned_dir("cleanexit-pg-template-", owner)
        atexit.register(shutil.rmtree, base, ignore_errors=True)
        data = base / "data"
        command = [
            str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, **_as(owner))
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        _template = data
    return _template


def _as(owner: pwd.struct_passwd | None) -> dict[str, Any]:
    if owner is None:
        return {}
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": [], "cwd": "/tmp"}


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:  # the field after the state: the parent's pid
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie whose parent died is gone for our purposes)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class PostgresServer:
    """One PostgreSQL cluster; ``port``, its data and ``url()`` stay the same across restarts."""

    def __init__(self, *, port: int | None = None, settings: dict[str, str] | None = None) -> None:
        self.bin = postgres_bin()
        self.owner = _run_as()
        self.port = port or free_port()
        self.settings = {
            "listen_addresses": "127.0.0.1",
            "max_connections": "200",
            "shared_buffers": "32MB",
            "fsync": "on",  # crash tests kill it: what it acknowledged must be on disk
            "log_min_messages": "warning",
            **(settings or {}),
        }
        self.base = _owned_dir("cleanexit-pg-", self.owner)
        self.data = self.base / "data"
        self.log_path = self.base / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log = None

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"

    def start(self, timeout: float = 30.0) -> PostgresServer:
        if self.process is not None:
            return self
        if not self.data.exists():
            template = _initdb(self.bin, self.owner)
            subprocess.run(["cp", "-a", str(template), str(self.data)], check=True)
        command = [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        command += ["-k", str(self.base)]  # the socket: here, not in the system's folder
        for name, value in self.settings.items():
            command += ["-c", f"{name}={value}"]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not in pytest's group: a Ctrl-C is for pytest alone
            preexec_fn=_die_with_parent,
            **_as(self.owner),
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"postgres exited:\n{self.log()}")
            if self.ready():
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"postgres not ready after {timeout}s:\n{self.log()}")

    def ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url(), connect_timeout=2, autocommit=True) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def _signal_all(self, sig: int) -> None:
        """The postmaster and every child: each backend is its own process group leader
        (PostgreSQL calls setsid() in them), so killpg() would reach the postmaster alone."""
        assert self.process is not None
        for pid in [self.process.pid, *_children(self.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def kill(self) -> None:
        """SIGKILL to the postmaster and every backend: a crash."""
        process = self.process
        if process is None:
            return
        children = _children(process.pid)
        self._signal_all(signal.SIGCONT)  # a paused server must be able to die
        self._signal_all(signal.SIGKILL)
        process.wait(timeout=10)
        self.process = None
        # Gone for good before a restart: a backend still attached to the old shared memory
        # would make the next postmaster refuse to start.
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in children):
            if time.monotonic() > deadline:
                raise RuntimeError("postgres backends survived SIGKILL")
            time.sleep(0.01)

    def stop(self) -> None:
        """A fast shutdown (SIGINT), or a kill if it does not come."""
        process = self.process
        if process is None:
            return
        self._signal_all(signal.SIGCONT)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def restart(self) -> PostgresServer:
        self.stop()
        return self.start()

    def pause(self) -> None:
        self._signal_all(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_all(signal.SIGCONT)

    def sql(self, statement: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement as the superuser; its rows, if any."""
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            cur = conn.execute(statement.encode())
            return cur.fetchall() if cur.description else []

    def create_database(self, name: str) -> str:
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
