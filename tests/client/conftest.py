"""Fixtures of the client tests: a test key, no OS keyring, sync/async twins, live servers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from anyio.from_thread import start_blocking_portal
from keyring.backends import fail

from cleanexit.client import Client, StateFile, StaticKey
from cleanexit.client.config import StateLayout
from tests.client.twins import AsyncTwin

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _no_os_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Never touch a developer's real keyring; a test that wants one sets its own."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    for name in ("CLEANEXIT_CLIENT_KEY", "CLEANEXIT_CLIENT_KEY_FILE", "CLEANEXIT_CLIENT_DIR"):
        monkeypatch.delenv(name, raising=False)
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def key() -> StaticKey:
    return StaticKey(os.urandom(32), description="test key")


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "client"


@pytest.fixture
def state_path(state_dir: Path) -> Path:
    return StateLayout.under(state_dir).data_dir / "auth-state.bin"


@pytest.fixture
def state_file(state_dir: Path, key: StaticKey) -> StateFile:
    return StateFile(StateLayout.under(state_dir).data_dir, key=key)


MakeClient = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def make_client(
    request: pytest.FixtureRequest, state_dir: Path, key: StaticKey
) -> Iterator[MakeClient]:
    """``make_client(base_url, **options)``: a Client, or an AsyncClient behind a portal."""
    made: list[Any] = []
    with start_blocking_portal() as portal:

        def factory(base_url: str | None = None, **options: Any) -> Any:
            options.setdefault("state_dir", state_dir)
            options.setdefault("key", key)
            if request.param == "sync":
                client: Any = Client(base_url, **options)
                client.kind = "sync"
            else:
                from cleanexit.client import AsyncClient

                client = AsyncTwin(AsyncClient(base_url, **options), portal)
            made.append(client)
            return client

        yield factory
        for client in made:
            client.close()


@pytest.fixture(scope="module")
def short_ttl_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real server whose access tokens live 2 seconds (automatic refresh tests)."""
    from tests.support.server import start_server

    server = start_server(tmp_path_factory.mktemp("ttl2"), env={"CLEANEXIT_ACCESS_TTL": "2"})
    yield server
    server.stop()


class Callbacks:
    """Counts after-logout callbacks and what they saw."""

    def __init__(self) -> None:
        self.results: list[Any] = []

    def __call__(self, result: Any) -> None:
        self.results.append(result)


@pytest.fixture
def callbacks() -> Callbacks:
    return Callbacks()


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real server for this module alone ("log out everywhere" must not disturb others)."""
    from tests.support.server import start_server

    server = start_server(tmp_path_factory.mktemp("own"))
    yield server
    server.stop()
