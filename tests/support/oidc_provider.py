"""A real OpenID Provider (panva/oidc-provider, OpenID Certified) on a free loopback port.

``OpenIDProvider(dir, clients=..., allow=...).start()`` runs ``tests/oidc/op/op.mjs`` under
Node; ``stop()`` / ``start()`` again on the same port (its JWKS endpoint goes down and comes
back), ``restart(keys=...)`` rotates its signing keys. ``backchannel_calls()`` are the logout
tokens *it* sent (read from its stdout), for replay tests. ``Browser(op)`` signs a user in
through the OP's real endpoints (authorization code + PKCE, its development login and consent
forms) and logs the session out at ``/session/end``, which makes the OP call every client's
back-channel logout URI itself.

Under ``CI=true`` a missing Node fails the test; elsewhere it skips. The npm packages come from
``tests/oidc/op/package-lock.json`` (``scripts/web-deps.sh``, run by ``make test``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .server import free_port

__all__ = ["Browser", "OpenIDProvider", "client", "node_binary", "rsa_jwk"]

REPO = Path(__file__).resolve().parents[2]
OP_DIR = REPO / "tests" / "oidc" / "op"
RESOURCE = "https://orders.cleanexit.test"  # the API's audience at the OP
REDIRECT = "http://127.0.0.1:9/cb"  # never followed: the code is read from the Location


def node_binary() -> str:
    """Node with the OP's locked npm packages installed (npm ci when missing)."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        message = "node/npm not available for the OpenID Provider tests: run `make system-deps`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    assert node is not None
    if not (OP_DIR / "node_modules" / ".package-lock.json").is_file():
        subprocess.run(["bash", str(REPO / "scripts" / "web-deps.sh")], check=True, timeout=600)
    return node


def rsa_jwk(kid: str | None = None) -> dict[str, Any]:
    """A fresh RSA-2048 private JWK for the OP's keystore (RS256, signing)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key, as_dict=True)
    return {**jwk, "kid": kid or secrets.token_hex(6), "alg": "RS256", "use": "sig"}


def client(
    client_id: str, logout_uri: str | None, *, session_required: bool = True
) -> dict[str, Any]:
    """A confidential web client of the OP with back-channel logout to ``logout_uri``."""
    metadata: dict[str, Any] = {
        "client_id": client_id,
        "client_secret": f"secret-of-{client_id}-" + "x" * 32,
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }
    if logout_uri is not None:
        metadata["backchannel_logout_uri"] = logout_uri
        metadata["backchannel_logout_session_required"] = session_required
    return metadata


class OpenIDProvider:
    def __init__(
        self,
        directory: Path,
        *,
        clients: Sequence[dict[str, Any]],
        allow: Sequence[str],
        keys: Sequence[dict[str, Any]] | None = None,
        access_ttl: int = 600,
        port: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.clients = {c["client_id"]: c for c in clients}
        self.allow = list(allow)
        self.keys = list(keys) if keys is not None else [rsa_jwk()]
        self.access_ttl = access_ttl
        self.process: subprocess.Popen[str] | None = None
        self.events: list[dict[str, Any]] = []
        self._ready: queue.Queue[bool] = queue.Queue()
        self.log_path = self.directory / f"op-{self.port}.log"

    # -- life ----------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> OpenIDProvider:
        if self.process is not None:
            return self
        config = self.directory / f"op-{self.port}.json"
        config.write_text(
            json.dumps(
                {
                    "port": self.port,
                    "issuer": self.issuer,
                    "keys": self.keys,
                    "clients": list(self.clients.values()),
                    "allow": self.allow,
                    "resource": RESOURCE,
                    "access_ttl": self.access_ttl,
                    "access_alg": "RS256",
                    "cookie_key": secrets.token_urlsafe(32),
                }
            )
        )
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [node_binary(), str(OP_DIR / "op.mjs"), str(config)],
            cwd=OP_DIR,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "NODE_ENV": "test"},
            start_new_session=True,
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        try:
            self._ready.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise RuntimeError(
                f"OpenID Provider not ready after {timeout}s:\n{self.log()}"
            ) from None
        return self

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self.events.append(event)
            if event.get("event") == "ready":
                self._ready.put(True)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # an outage, not a shutdown
            process.wait(timeout=10)

    def restart(self, *, keys: Sequence[dict[str, Any]] | None = None) -> OpenIDProvider:
        """Stop, then start on the same port (with new signing keys: a rotation)."""
        self.stop()
        if keys is not None:
            self.keys = list(keys)
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> OpenIDProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what it did ---------------------------------------------------------------------
    def backchannel_calls(self) -> list[dict[str, Any]]:
        """Every back-channel logout the OP made: url, status, its logout_token, started."""
        return [e for e in self.events if e.get("event") == "backchannel"]

    def errors(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") in ("backchannel.error", "server_error")]


class Browser:
    """One user agent at the OP: a cookie jar, signing in and logging out through its pages."""

    def __init__(self, op: OpenIDProvider) -> None:
        self.op = op
        self.http = httpx.Client(base_url=op.issuer, follow_redirects=False, timeout=10.0)

    def close(self) -> None:
        self.http.close()

    def sign_in(self, client_id: str, user: str = "alice") -> dict[str, Any]:
        """The token response (access_token: a JWT for RESOURCE) after a real code flow."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        params = {
            "client_id": client_id,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": REDIRECT,
            "state": secrets.token_urlsafe(8),
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        response = self.http.get("/auth", params=params)
        for _ in range(10):
            location = response.headers.get("location", "")
            if location.startswith(REDIRECT):
                return self._exchange(client_id, location, verifier)
            if response.status_code in (302, 303):
                response = self.http.get(location)
                continue
            response = self._interact(response, user)
        raise AssertionError(f"no code after 10 steps: {response.status_code} {response.text}")

    def _interact(self, page: httpx.Response, user: str) -> httpx.Response:
        """Submit the OP's development login or consent form on ``page``."""
        assert page.status_code == 200, page.text
        action = re.search(r'<form autocomplete="off" action="([^"]+)"', page.text)
        assert action is not None, page.text
        if 'name="login"' in page.text:
            form = {"prompt": "login", "login": user, "password": "any"}
        else:
            form = {"prompt": "consent"}
        return self.http.post(action.group(1), data=form)

    def _exchange(self, client_id: str, location: str, verifier: str) -> dict[str, Any]:
        query = parse_qs(urlsplit(location).query)
        assert "code" in query, location
        secret = self.op.clients[client_id]["client_secret"]
        response = self.http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
            auth=(client_id, secret),
        )
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    def log_out(self) -> httpx.Response:
        """End the OP session (RP-initiated logout, confirmed): the OP then calls every
        client's back-channel logout URI and answers once those calls are done."""
        page = self.http.get("/session/end")
        assert page.status_code == 200, page.text
        xsrf = re.search(r'name="xsrf" value="([^"]+)"', page.text)
        assert xsrf is not None, page.text
        return self.http.post("/session/end/confirm", data={"xsrf": xsrf.group(1), "logout": "yes"})


@pytest.fixture
def op_browser() -> Iterator[list[Browser]]:
    """Browsers a test opens, closed after it."""
    opened: list[Browser] = []
    yield opened
    for browser in opened:
        browser.close()


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
