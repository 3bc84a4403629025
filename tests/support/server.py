"""A real ``cleanexit serve`` process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

DEMO_PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``url``, ``data_dir``; ``start()``, ``stop()``, ``restart()``; a context manager."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        workers: int = 1,
        args: Sequence[str] = (),
        demo: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.demo = demo
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(env or {})
        self.workers = workers
        self.args = list(args)
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    cwd: Path | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "cleanexit", "serve", *(["--demo"] if self.demo else []),
            "--host", "127.0.0.1", "--port", str(self.port),
            "--data-dir", str(self.data_dir), "--workers", str(self.workers),
            "--log-level", "warning", *self.args,
        ]  # fmt: skip

    def ready(self) -> bool:
        return httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200

    def start(self, timeout: float = 30.0) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANEXIT_")}
        env.update(self.env)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            env=env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if self.ready():
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def login(self, username: str = "alice", password: str = DEMO_PASSWORD) -> dict[str, str]:
        response = httpx.post(  # argon2 on a busy machine: many logins at once take a while
            self.url + "/auth/login", json={"username": username, "password": password}, timeout=60
        )
        response.raise_for_status()
        return dict(response.json())

    def __enter__(self) -> ServerProcess:
        return self.start() if self.process is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class AppProcess(ServerProcess):
    """Any ASGI app under a real uvicorn: ``AppProcess("app:app", cwd=..., data_dir=...)``;
    its cleanexit settings come from ``CLEANEXIT_DATA_DIR`` (``data_dir``) and ``env``."""

    def __init__(self, target: str, *, cwd: Path, data_dir: Path, **kw: object) -> None:
        super().__init__(data_dir, demo=False, **kw)  # type: ignore[arg-type]
        self.target = target
        self.cwd = cwd
        self.env.setdefault("CLEANEXIT_DATA_DIR", str(data_dir))
        # Beside the data, never in the app's folder (an example in the repository).
        self.log_path = data_dir.parent / f"app-{self.port}.log"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", self.target, "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", str(self.workers), "--log-level", "warning",
        ]  # fmt: skip

    def ready(self) -> bool:
        return httpx.get(self.url + "/auth/sessions", timeout=1.0).status_code < 500


def start_server(
    tmp_path: Path,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    args: Sequence[str] = (),
    demo: bool = True,
) -> ServerProcess:
    """Start a server whose data lives in ``tmp_path / "data"``."""
    server = ServerProcess(
        tmp_path / "data", port=port, env=env, workers=workers, args=args, demo=demo
    )
    return server.start()


class CommandProcess(ServerProcess):
    """Any server command (gunicorn, uvicorn) on ``{port}``, ready when ``ready_path`` answers
    below 500; settings from ``CLEANEXIT_DATA_DIR`` (``data_dir``) and ``env``."""

    def __init__(
        self, argv: Sequence[str], *, cwd: Path, data_dir: Path, ready_path: str = "/healthz",
        **kw: object,
    ) -> None:  # fmt: skip
        super().__init__(data_dir, demo=False, **kw)  # type: ignore[arg-type]
        self.argv = list(argv)
        self.cwd = cwd
        self.ready_path = ready_path
        self.env.setdefault("CLEANEXIT_DATA_DIR", str(data_dir))
        self.log_path = data_dir.parent / f"app-{self.port}.log"

    def command(self) -> list[str]:
        return [part.format(port=self.port, workers=self.workers) for part in self.argv]

    def ready(self) -> bool:
        return httpx.get(self.url + self.ready_path, timeout=1.0).status_code < 500
