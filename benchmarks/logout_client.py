"""Figure 6: the Python client's logout (server call + reset + purge of the encrypted state),
and how long it takes to give up on a dead server, whose death a switchable TCP proxy plays:
``refuse`` closes everything (connection refused), ``blackhole`` accepts and never answers."""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from cleanexit.client import Client, StaticKey

from . import world
from .harness import Budget, Progress, percentile


class SwitchProxy:
    """127.0.0.1:<port> forwarding to ``target`` until ``refuse()`` or ``blackhole()``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.forwarding = True
        self.sockets: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(conn)
            if not self.forwarding:
                threading.Thread(target=self._pipe, args=(conn, None), daemon=True).start()
                continue
            upstream = socket.create_connection(self.target)
            self.sockets.append(upstream)
            threading.Thread(target=self._pipe, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, conn), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket | None) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if self.forwarding and dst is not None:
                    dst.sendall(data)  # else swallowed: the black hole

    def blackhole(self) -> None:
        self.forwarding = False

    def refuse(self) -> None:
        self.forwarding = False
        self.close()

    def close(self) -> None:
        for sock in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def _client(url: str, state: Path) -> Client:
    return Client(url, state_dir=state, key=StaticKey(os.urandom(32)))


def _logout_ms(client: Client) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = client.logout()
    return (time.perf_counter() - t0) * 1e3, result


def figure6(progress: Progress, *, trials: int, budget: Budget) -> dict[str, Any]:
    progress("figure 6: Python client logout round trip, and giving up on a dead server")
    with tempfile.TemporaryDirectory(prefix="cleanexit-bench-client-") as tmp_name:
        tmp = Path(tmp_name)
        server = world.cleanexit_serve("client", tmp / "data", logs=tmp / "logs", demo=True)
        target = ("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
        try:
            times = []
            for i in range(trials + 1):
                if budget.exhausted() and len(times) >= 10:
                    break
                with _client(server.url, tmp / f"state-{i}") as client:
                    client.login("alice", world.PASSWORD)
                    elapsed, result = _logout_ms(client)
                    state_left = client.state_file is not None and client.state_file.exists()
                if not (result.server_confirmed and result.local_state_reset) or state_left:
                    raise RuntimeError(f"logout was not complete: {result.describe()}")
                if i:  # the first one warms connections and imports
                    times.append(elapsed)
            dead = {}
            for mode in ("refuse", "blackhole"):
                proxy = SwitchProxy(target)
                with _client(proxy.url, tmp / f"state-{mode}") as client:
                    client.login("alice", world.PASSWORD)
                    getattr(proxy, mode)()
                    elapsed, result = _logout_ms(client)
                    timeout = client._core.logout_timeout
                proxy.close()
                if result.server_confirmed or not result.local_state_reset:
                    raise RuntimeError(f"dead-server logout looks wrong: {result.describe()}")
                dead[mode] = elapsed
        finally:
            server.stop()
    return {
        "trials": len(times),
        "p50_ms": percentile(times, 50),
        "p99_ms": percentile(times, 99),
        "refused_ms": dead["refuse"],
        "blackhole_ms": dead["blackhole"],
        "logout_timeout_s": timeout,
    }
