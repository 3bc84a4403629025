"""One real server per framework (two worker processes), shared by the suite's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import CommandProcess

from .apps.common import PASSWORD
from .frameworks import FRAMEWORKS, ROOT, Framework

CLIENT_ID, CLIENT_SECRET = "resource-server", "introspection-secret-for-tests"
ACCESS_TTL = 4  # seconds: "after a break" without a fake clock; tests use tokens at once
ENV = {
    "CLEANEXIT_ACCESS_TTL": str(ACCESS_TTL),
    "CLEANEXIT_REFRESH_GRACE": "1",
    "CLEANEXIT_COOKIE_SECURE": "false",
    "CLEANEXIT_INTROSPECTION_CLIENTS": f"{CLIENT_ID}:{CLIENT_SECRET}",
    "CLEANEXIT_SECRET": "conformance-0123456789abcdefghijklmnopqrstuvwxyz",
}


class App:
    """A framework's conformance app under its real server."""

    def __init__(self, framework: Framework, server: CommandProcess) -> None:
        self.framework = framework
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    def login(self, username: str = "alice", **extra: object) -> dict[str, str]:
        body = {"username": username, "password": PASSWORD, **extra}
        response = httpx.post(self.url + "/auth/login", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())


def start(framework: Framework, tmp: Path, *, workers: int = 2, **env: str) -> CommandProcess:
    extra = dict(framework.prepare(tmp))
    server = CommandProcess(
        framework.argv, cwd=ROOT, data_dir=tmp / "data", workers=workers,
        env={**ENV, **framework.env, **extra, **env},
    )  # fmt: skip
    return server.start(timeout=60)


@pytest.fixture(scope="session", params=FRAMEWORKS, ids=lambda f: f.name)
def framework(request: pytest.FixtureRequest) -> Framework:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def app(framework: Framework, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    server = start(framework, tmp_path_factory.mktemp(framework.name))
    try:
        yield App(framework, server)
    finally:
        server.stop()
        log = server.log()
        assert "Traceback" not in log, log[-3000:]
