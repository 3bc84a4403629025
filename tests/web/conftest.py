"""Browser tests: Debian's Chromium driven by playwright-core (Node), against a real server.

Locally a missing Node or Chromium skips these tests with the command that installs them;
under CI (CI=true) it fails them, so a green CI run always includes the browser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import ServerProcess, start_server
from tests.web.driver import REPO, WEB, BrowserDriver, Context

INSTALL_HINT = "run `make system-deps` (apt: chromium, nodejs, npm) then `make web`"


def _missing(what: str) -> None:
    message = f"{what} not available for the browser tests: {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def node() -> str:
    """Node with clients/web's locked npm packages installed (npm ci when missing)."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        _missing("node/npm")
    assert node is not None
    if not (WEB / "node_modules" / ".package-lock.json").is_file():
        subprocess.run(["bash", str(REPO / "scripts" / "web-deps.sh")], check=True)
    return node


@pytest.fixture(scope="session")
def browser(node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserDriver]:
    chromium = os.environ.get("CLEANEXIT_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        _missing("chromium")
    assert chromium is not None
    driver = BrowserDriver(node, chromium, tmp_path_factory.mktemp("browser") / "driver.log")
    yield driver
    driver.close()


@pytest.fixture
def contexts(browser: BrowserDriver) -> Iterator[list[Context]]:
    """Browser contexts opened by a test, closed after it (even when it fails)."""
    opened: list[Context] = []
    yield opened
    for context in opened:
        context.close()


@pytest.fixture
def new_context(browser: BrowserDriver, contexts: list[Context]):  # type: ignore[no-untyped-def]
    def make(*, init_script: str | None = None, clock: bool = False) -> Context:
        context = browser.new_context(init_script=init_script, clock=clock)
        contexts.append(context)
        return context

    return make


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh real server per test: sessions and cutoffs never leak between scenarios."""
    with start_server(tmp_path) as server:
        yield server


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: docs/screenshots/ with CLEANEXIT_UPDATE_SCREENSHOTS=1, else tmp."""
    if os.environ.get("CLEANEXIT_UPDATE_SCREENSHOTS"):
        return REPO / "docs" / "screenshots"
    return tmp_path / "screenshots"
