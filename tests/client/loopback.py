"""Tiny real HTTP servers on 127.0.0.1 that misbehave on purpose (real sockets, no mocks).

Each path gets a behaviour: ``login`` (fake but well-formed tokens), ``refresh``,
``logout-ok``, ``500``, ``hang`` (never answers until the server stops), ``reset`` (reads
the request, then closes with a TCP RST), ``truncated`` (starts an answer, then RST).

The answers of the issue 9 protocol: ``already-ended`` (401 "revoked: session ended"),
``unrecognised`` (401 "no valid access or refresh token"), ``invalid-grant`` (400, no
``error_reason``), ``race`` / ``reused`` (400 ``invalid_grant`` with that ``error_reason``),
and ``me-first-expired`` (``/me`` refuses the first access token as expired, accepts others).
``on_request[path]`` runs in the server thread before the answer (to act at a precise moment).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import struct
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Recorded = tuple[str, str, dict[str, str], bytes]


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.owner.connections.append(self.connection)

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.owner.record(self.command, self.path, dict(self.headers), body)
        hook = self.server.owner.on_request.get(self.path)
        if hook is not None:
            hook(self.server.owner.requests[-1])
        mode = self.server.owner.routes.get(self.path, "404")
        getattr(self, "_" + mode.replace("-", "_"))()

    def _json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _grant(self) -> None:
        n = next(self.server.owner.counter)
        self._json(
            200,
            {
                "access_token": f"at-{n}",
                "refresh_token": f"cxr_{n}",
                "token_type": "Bearer",
                "expires_in": 600,
                "refresh_expires_in": 3600,
                "session_id": "sid-1",
            },
        )

    _login = _grant
    _refresh = _grant

    def _logout_ok(self) -> None:
        revoked = {"sessions": ["sid-1"], "access_token": True, "refresh_tokens": 1}
        self._json(200, {"scope": "current", "session_id": "sid-1", "revoked": revoked})

    def _me(self) -> None:
        self._json(200, {"sub": "alice", "session_id": "sid-1"})

    def _me_first_expired(self) -> None:
        if self.headers.get("authorization") == "Bearer at-1":
            self._invalid_token(401, "expired")
        else:
            self._me()

    def _invalid_token(self, status: int, description: str) -> None:
        challenge = f'Bearer error="invalid_token", error_description="{description}"'
        body = {"error": "invalid_token", "error_description": description}
        self._json(status, body, {"www-authenticate": challenge})

    def _already_ended(self) -> None:
        self._invalid_token(401, "revoked: session ended")

    def _unrecognised(self) -> None:
        self._invalid_token(401, "no valid access or refresh token")

    def _invalid_grant(self, reason: str | None = None) -> None:
        body = {"error": "invalid_grant", "error_description": "refresh token refused"}
        self._json(400, body | ({"error_reason": reason} if reason else {}))

    def _race(self) -> None:
        self._invalid_grant("race")

    def _reused(self) -> None:
        self._invalid_grant("reused")

    def _500(self) -> None:
        self._json(500, {"error": "server_error", "error_description": "boom"})

    def _404(self) -> None:
        self._json(404, {"error": "not_found", "error_description": "no route"})

    def _hang(self) -> None:
        self.server.owner.release.wait(30)
        self.close_connection = True

    def _reset(self) -> None:
        self._rst()

    def _truncated(self) -> None:
        self.wfile.write(b'HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n{"revo')
        self.wfile.flush()
        self._rst()

    def _rst(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: ScriptedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class ScriptedServer:
    def __init__(self, routes: dict[str, str]) -> None:
        self.routes = dict(routes)
        self.requests: list[Recorded] = []
        self.on_request: dict[str, Callable[[Recorded], None]] = {}
        self.counter = itertools.count(1)
        self.release = threading.Event()
        self.connections: list[socket.socket] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def record(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.requests.append((method, path, headers, body))

    def hits(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r[1] == path]

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        for connection in self.connections:  # keep-alive connections too: really down
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
