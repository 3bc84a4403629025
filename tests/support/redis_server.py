"""A real ``redis-server`` on a free loopback port in a temporary directory, for tests.

``RedisServer(dir).start()``; ``stop()`` (SIGKILL by default: a crash, not a shutdown),
``start()`` again on the same port and directory (so AOF/RDB files are reloaded),
``restart()``, ``pause()`` / ``resume()`` (SIGSTOP / SIGCONT: a silent network);
``cluster=True`` makes it a one-node Redis Cluster owning every slot, which enforces the
same-slot rules a real cluster does (CROSSSLOT) for scripts and transactions. Under
``CI=true`` a missing ``redis-server`` fails the test; elsewhere the helper installs it with
apt-get when it runs as root, or skips.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from .server import free_port

__all__ = ["RedisServer", "redis_binary", "redis_server"]


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "redis-server"],
            check=False,
            env=env,
            timeout=600,
        )
        found = shutil.which("redis-server")
        if found:
            return found
    message = "redis-server is not installed (make system-deps installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _die_with_parent() -> None:
    """Linux: SIGKILL the server when the test process dies, however it dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: stop() still runs on a normal exit
        pass


def _cluster_port() -> int:
    """A free port whose cluster bus (port + 10000) is free and valid too."""
    for _ in range(200):
        port = free_port()
        if port <= 55535:
            with socket.socket() as bus:
                try:
                    bus.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair for a cluster node")


class RedisServer:
    """One redis-server process; ``url`` stays the same across stop/start."""

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        appendonly: bool = False,
        save: str = "",
        cluster: bool = False,
        extra: Sequence[str] = (),
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or (_cluster_port() if cluster else free_port())
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.appendonly = appendonly
        self.save = save
        self.cluster = cluster
        self.extra = list(extra)
        if cluster:
            self.extra += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.directory / "redis.log"

    def start(self, timeout: float = 10.0) -> RedisServer:
        if self.process is not None:
            return self
        command = [
            redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.directory), "--save", self.save,
            "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always",
            "--daemonize", "no", "--logfile", str(self.log_path), "--protected-mode", "yes",
            *self.extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,  # a killed test run leaves no server behind
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                self.process = None
                raise RuntimeError(f"redis-server exited: {err}\n{self.log()}")
            if self.ping():
                return self._form_cluster(deadline) if self.cluster else self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server not ready after {timeout}s\n{self.log()}")

    def stop(self, sig: int = signal.SIGKILL) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused server must be able to die
            process.send_signal(sig)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr:
            process.stderr.close()

    def _form_cluster(self, deadline: float) -> RedisServer:
        self.command("CLUSTER", "ADDSLOTSRANGE", "0", "16383")  # an error once already owned
        while time.monotonic() < deadline:
            if "cluster_state:ok" in self.command("CLUSTER", "INFO", full=True):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis cluster did not form\n{self.log()}")

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def ping(self) -> bool:
        return self.command("PING") == "+PONG"

    def command(self, *args: str, full: bool = False) -> str:
        """One raw RESP command; the first reply line, or the raw reply with ``full``."""
        payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(payload.encode())
                reply = sock.recv(65536).decode(errors="replace")
                return reply if full else reply.split("\r\n", 1)[0]
        except OSError:
            return ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh, empty redis-server for one test (no persistence; see RedisServer options)."""
    with RedisServer(tmp_path / "redis") as server:
        yield server
