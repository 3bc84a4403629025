"""What every benchmark shares: keys, tokens, revocation sets, and real processes (cleanexit
serve, uvicorn reference apps, redis-server, PostgreSQL) on free loopback ports."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from cleanexit._secret import Secret
from cleanexit.server.keys import Algorithm, KeyRing, generate_private_pem
from cleanexit.server.revocation import Revocation
from cleanexit.server.tokens import AccessClaims, TokenIssuer

ISSUER, AUDIENCE = "cleanexit", "cleanexit-api"  # the server's defaults
SECRET = "bench-" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
TTL = 3600  # long enough that no token of a run expires
PASSWORD = "correct horse battery staple"  # cleanexit serve --demo
ROOT = Path(__file__).resolve().parent.parent


def ring(algorithm: Algorithm) -> KeyRing:
    if algorithm == "HS256":
        return KeyRing.from_secrets(Secret(SECRET))
    return KeyRing.from_private_pems(generate_private_pem(algorithm))


def issue(keys: KeyRing, n: int, *, sub: str = "alice") -> list[tuple[str, AccessClaims]]:
    issuer = TokenIssuer(keys=keys, issuer=ISSUER, audience=AUDIENCE, access_ttl=TTL)
    out = []
    for i in range(n):
        issued = issuer.issue(sub=f"{sub}{i}", sid=secrets.token_urlsafe(16))
        out.append((issued.token, issued.claims))
    return out


def background_revocations(n: int, *, now: float) -> list[Revocation]:
    """``n`` live entries, the mix a busy service holds: 70% single tokens (``(iss, jti)``),
    29% ended sessions (``sid``), 1% per-user cutoffs; expiries spread over ten minutes."""
    out: list[Revocation] = []
    for i in range(n):
        until = now + 600 + i % 600
        r = i % 100
        if r < 70:
            out.append(Revocation.token(ISSUER, secrets.token_urlsafe(16), expires_at=until))
        elif r < 99:
            out.append(Revocation.session(secrets.token_urlsafe(16), expires_at=until))
        else:
            sub = f"u-{secrets.token_urlsafe(8)}"
            out.append(Revocation.user(sub, cutoff=now, expires_at=until))
    return out


def revoke_half(probes: Sequence[AccessClaims]) -> list[Revocation]:
    """Revocations that hit every other probe, a third each by jti, sid and user cutoff."""
    out = []
    for i, c in enumerate(probes):
        if i % 2:
            continue
        kind = (i // 2) % 3
        if kind == 0:
            out.append(Revocation.token(c.iss, c.jti, expires_at=c.exp))
        elif kind == 1:
            out.append(Revocation.session(c.sid, expires_at=c.exp))
        else:
            out.append(Revocation.user(c.sub, cutoff=c.iat + 1, expires_at=c.exp))
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Process:
    """A real process started in its own session; ``stop()`` ends only that group."""

    name: str
    popen: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()

    @property
    def pid(self) -> int:
        return self.popen.pid


def spawn(
    name: str,
    command: Sequence[str],
    *,
    url: str,
    logs: Path,
    env: Mapping[str, str] | None = None,
    ready: str = "/healthz",
    timeout: float = 120.0,
) -> Process:
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANEXIT_")}
    full_env.update(env or {})
    popen = subprocess.Popen(
        list(command),
        cwd=ROOT,
        env=full_env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process = Process(name, popen, url, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(url + ready, timeout=1.0).status_code < 500:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.stop()
    raise RuntimeError(f"{name} not ready after {timeout:.0f}s; see {log}")


def cleanexit_serve(
    name: str,
    data_dir: Path,
    *,
    logs: Path,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    demo: bool = False,
    port: int | None = None,
) -> Process:
    port = port or free_port()
    command = [
        sys.executable, "-m", "cleanexit", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--data-dir", str(data_dir), "--workers", str(workers), "--log-level", "warning",
        *(["--demo"] if demo else []),
    ]  # fmt: skip
    return spawn(
        name,
        command,
        url=f"http://127.0.0.1:{port}",
        logs=logs,
        env={"CLEANEXIT_SECRET": SECRET, **(env or {})},
    )


def uvicorn_app(name: str, app: str, *, logs: Path, env: Mapping[str, str]) -> Process:
    """A reference app under uvicorn, with the worker count and defaults ``cleanexit serve``
    uses (uvloop and httptools when installed, as both get from uvicorn[standard])."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--log-level", "warning", "--no-server-header",
    ]  # fmt: skip
    return spawn(
        name,
        command,
        url=f"http://127.0.0.1:{port}",
        logs=logs,
        env={"BENCH_SECRET": SECRET, **env},
        ready="/docs",
    )


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A private redis-server on a free port, nothing on disk; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (make system-deps)")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)]
    popen = subprocess.Popen(
        [binary, "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        popen.terminate()
        popen.wait(timeout=10)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL cluster on a free port (the tests' helper, which knows how to run
    initdb as root); yields the URL of an empty database."""
    try:
        from tests.support.postgres_server import PostgresServer

        server = PostgresServer().start()
    except BaseException as exc:  # the helper skips (pytest's outcome) when none is installed
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise RuntimeError(f"no PostgreSQL cluster: {exc}") from None
    try:
        yield server.create_database("bench")
    finally:
        server.close()


def fill_sqlite(data_dir: Path, revocations: Sequence[Revocation]) -> None:
    """Write live revocations into a data dir's store, in the store's own table, in one
    transaction (the API would take minutes for a million; the rows are the same)."""
    from cleanexit.server.stores.sqlite import SqliteStore

    path = data_dir / "cleanexit.db"
    store = SqliteStore(path)
    store.open_sync()
    store.close_sync()
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO revocations (kind, key, cutoff, expires_at) VALUES (?,?,?,?)",
            ((r.kind.value, r.key, r.cutoff, r.expires_at) for r in revocations),
        )
    db.close()


def wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.05)
    raise TimeoutError("condition not reached")
